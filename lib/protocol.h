// The wire contract of ../shared/spec/protocol.md that every component
// shares: KeyIDs (section 2), PSK identities (section 3), the per-version
// parameters of the Root Key to PSK derivation (section 4) and the TLS 1.2
// identity hint (section 7). Pure functions, no OpenSSL state.

#ifndef ONEM2M_LIB_PROTOCOL_H_
#define ONEM2M_LIB_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace onem2m {

// Version is the KDF version of spec section 4 (0 to 3).
using Version = unsigned int;

inline constexpr Version kMinVersion = 0;
inline constexpr Version kMaxVersion = 3;

// VersionSet is a bit set of versions: bit N stands for version N.
using VersionSet = unsigned int;

inline constexpr VersionSet VersionBit(Version v) { return 1u << v; }
inline constexpr VersionSet kAllVersions = 0x0f;
// The server's default: versions 1, 2 and 3 (spec section 7).
inline constexpr VersionSet kDefaultServerVersions = 0x0e;

// Root Key bounds of spec section 4.
inline constexpr size_t kMinRootKeyLength = 16;
inline constexpr size_t kMaxRootKeyLength = 64;

// KeyID bounds of spec section 2, identity bound of RFC 4279 section 5.3.
inline constexpr size_t kMaxKeyIdLength = 120;
inline constexpr size_t kMaxIdentityLength = 128;

// L1 of spec section 4, version 1: 44 ASCII octets.
inline constexpr std::string_view kPskLabelV1 =
    "oneM2M Root Key to Pre-Shared Key derivation";
// The SP 800-108r1 Label of versions 2 and 3.
inline constexpr std::string_view kPskLabelKbkdf = "oneM2M-PSK";

// The TLS 1.2 identity hint prefix of spec section 7.
inline constexpr std::string_view kHintPrefix = "onem2m-versions=";

// IsSupportedVersion tells whether |v| is one of versions 0 to 3.
inline constexpr bool IsSupportedVersion(uint64_t v) {
  return v <= kMaxVersion;
}

// TlsHashName returns the OpenSSL digest name of version |v|'s TLS hash
// ("SHA256" or "SHA384"). |v| must be supported.
const char* TlsHashName(Version v);

// PskLength returns the PSK length of version |v| for versions 1 to 3, and
// |root_key_length| for version 0 (the PSK is the Root Key).
size_t PskLength(Version v, size_t root_key_length);

// CheckKeyId validates a KeyID against spec section 2: 1 to 120 octets of
// A-Z a-z 0-9 . _ - @. Returns std::nullopt when valid, or a message a user
// can act on. The message quotes no key material (a KeyID is not secret).
std::optional<std::string> CheckKeyId(std::string_view key_id);

// EncodeIdentity returns the wire identity of spec section 3 for a valid
// |key_id| and supported |version|: the KeyID itself for version 0,
// "vN:" KeyID otherwise.
std::string EncodeIdentity(std::string_view key_id, Version version);

// ParsedIdentity is what a wire identity names.
struct ParsedIdentity {
  Version version;
  std::string key_id;
};

// ParseIdentity parses a wire identity of spec section 3. It returns
// std::nullopt for anything that is not exactly "vN:KeyID" with N in 1..3
// or a bare valid KeyID (version 0): an empty identity, one over 128 octets,
// one with a NUL, an invalid KeyID, an unknown "vN:" prefix.
std::optional<ParsedIdentity> ParseIdentity(std::string_view identity);

// FormatVersionSet renders |set| as "1,2,3" (ascending; "" when empty).
std::string FormatVersionSet(VersionSet set);

// ParseVersionList parses "1,2,3" (any order, no spaces, no repeats) into a
// set. Returns std::nullopt on anything else.
std::optional<VersionSet> ParseVersionList(std::string_view text);

// EncodeHint returns the TLS 1.2 identity hint "onem2m-versions=1,2,3".
std::string EncodeHint(VersionSet allowed);

// ParseHint returns the versions that an "onem2m-versions=" hint lists, or
// std::nullopt for no hint, an empty one or a foreign one.
std::optional<VersionSet> ParseHint(std::string_view hint);

// HighestVersion returns the highest version in a non-empty |set|.
Version HighestVersion(VersionSet set);

// HexValue returns the value of hex digit |c| (either case), or -1: for
// Root Keys in hex (spec section 8) and %XX escapes in URIs.
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace onem2m

#endif  // ONEM2M_LIB_PROTOCOL_H_
