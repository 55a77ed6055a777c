// identity_fuzzer: the wire contract's parsers (spec sections 2, 3 and 7)
// on arbitrary octets. Besides not crashing, every parse must round-trip:
//   - an identity that parses is re-encoded to exactly the input;
//   - a valid KeyID parses as a version 0 identity of itself, and its
//     "vN:" identities parse back to it for N = 1 to 3;
//   - a hint or version list that parses is re-encoded to a string that
//     parses to the same set.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol.h"

namespace {

using namespace onem2m;

// Check aborts, so that libFuzzer records the input, when |ok| is false.
void Check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void CheckIdentity(std::string_view input) {
  std::optional<ParsedIdentity> parsed = ParseIdentity(input);
  if (!parsed) {
    return;
  }
  Check(IsSupportedVersion(parsed->version));
  Check(!CheckKeyId(parsed->key_id).has_value());
  Check(EncodeIdentity(parsed->key_id, parsed->version) == input);
  Check(input.size() <= kMaxIdentityLength);
  Check(input.find('\0') == std::string_view::npos);
}

void CheckKeyIdRoundTrip(std::string_view input) {
  if (CheckKeyId(input).has_value()) {
    return;
  }
  for (Version v = kMinVersion; v <= kMaxVersion; v++) {
    std::optional<ParsedIdentity> parsed =
        ParseIdentity(EncodeIdentity(input, v));
    Check(parsed.has_value());
    Check(parsed->version == v);
    Check(parsed->key_id == input);
  }
}

void CheckVersionSet(std::optional<VersionSet> set) {
  if (!set) {
    return;
  }
  Check(*set != 0 && (*set & ~kAllVersions) == 0);
  Check(ParseVersionList(FormatVersionSet(*set)) == set);
  Check(ParseHint(EncodeHint(*set)) == set);
  Check(HighestVersion(*set) <= kMaxVersion);
  Check((*set & VersionBit(HighestVersion(*set))) != 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckIdentity(input);
  CheckKeyIdRoundTrip(input);
  CheckVersionSet(ParseHint(input));
  CheckVersionSet(ParseVersionList(input));
  return 0;
}
