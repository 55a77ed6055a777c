// keystore_fuzzer: the keystore file parser (spec section 8) on arbitrary
// text. It must never crash; a load that succeeds holds only keys that
// pass CheckKeyId and CheckRootKey with a non-empty set of known versions;
// a load that fails has raised its error. The same input is also decoded
// as one RootKey field, which must round-trip: hex back to the same digits
// (either case), base64 back to the same canonical text.

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "keystore.h"

namespace {

using namespace onem2m;

constexpr std::string_view kBase64Prefix = "base64:";

void Check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void CheckKeystore(std::string_view text) {
  KeyTable table;
  bool ok = ParseKeystoreText(text, "fuzz", &table);
  if (!ok) {
    Check(ERR_peek_error() != 0);
    ERR_clear_error();
    return;
  }
  for (const auto& [key_id, entry] : table) {
    Check(!CheckKeyId(key_id).has_value());
    Check(!CheckRootKey(entry.root_key).has_value());
    Check(entry.versions != 0 && (entry.versions & ~kAllVersions) == 0);
  }
}

std::string LowerHex(const SecretBuffer& key) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < key.size(); i++) {
    out += kDigits[key.data()[i] >> 4];
    out += kDigits[key.data()[i] & 0x0f];
  }
  return out;
}

void CheckRootKeyField(std::string_view text) {
  SecretBuffer key;
  std::string why;
  if (!DecodeRootKey(text, &key, &why)) {
    Check(!why.empty());
    return;
  }
  if (text.substr(0, kBase64Prefix.size()) == kBase64Prefix) {
    std::string_view base64 = text.substr(kBase64Prefix.size());
    std::string encoded(4 * ((key.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                            key.data(), static_cast<int>(key.size()));
    Check(n >= 0 && std::string_view(encoded.data(), n) == base64);
    return;
  }
  std::string lower(text);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  Check(LowerHex(key) == lower);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckKeystore(text);
  CheckRootKeyField(text);
  return 0;
}
