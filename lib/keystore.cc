// Root Key checks and encodings, the fingerprint, the one call that feeds a
// Root Key to the ONEM2M-PSK KDF, the table both keystores share, and the C
// API of include/onem2m/keystore.h.

#include "keystore.h"

#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <new>
#include <utility>

#include "errors.h"
#include "keystore_pkcs11.h"
#include "keystore_table.h"
#include "onem2m/kdf.h"
#include "onem2m/keystore.h"
#include "openssl_ptr.h"

namespace onem2m {

namespace {

// The octets of the HMAC that a fingerprint shows.
constexpr size_t kFingerprintOctets = 8;

constexpr std::string_view kBase64Prefix = "base64:";

// Base64Value returns the 6-bit value of a character of the standard
// alphabet (RFC 4648 section 4), or -1 (also for the pad '=').
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

// DecodeHex decodes an even number of hex digits; none of |text| is quoted
// in |why|.
bool DecodeHex(std::string_view text, SecretBuffer* out, std::string* why) {
  if (text.size() >= 2 && text[0] == '0' &&
      (text[1] == 'x' || text[1] == 'X')) {
    *why =
        "root key starts with 0x; write its hex digits without a prefix, or "
        "base64: followed by base64";
    return false;
  }
  for (size_t i = 0; i < text.size(); i++) {
    if (HexValue(text[i]) < 0) {
      *why = "root key has a character that is not a hex digit at position " +
             std::to_string(i + 1) +
             "; write it as hex, or as base64: followed by base64";
      return false;
    }
  }
  if (text.size() % 2 != 0) {
    *why = "root key has an odd number of hex digits (" +
           std::to_string(text.size()) + "); write two digits per octet";
    return false;
  }

  // Two digits per octet, straight into wiped memory.
  SecretBuffer decoded(text.size() / 2);
  for (size_t i = 0; i < decoded.size(); i++) {
    decoded.data()[i] = static_cast<unsigned char>(
        (HexValue(text[2 * i]) << 4) | HexValue(text[2 * i + 1]));
  }
  *out = std::move(decoded);
  return true;
}

// DecodeBase64 decodes padded standard base64 (RFC 4648 section 4) and
// refuses anything else: other characters, missing or misplaced padding,
// non-zero unused bits.
bool DecodeBase64(std::string_view text, SecretBuffer* out, std::string* why) {
  if (text.empty()) {
    *why = "nothing follows base64:; write the root key in base64 after it";
    return false;
  }
  if (text.size() % 4 != 0 || text.size() > INT_MAX / 2) {
    *why = "root key base64 is " + std::to_string(text.size()) +
           " characters long, not a multiple of 4; pad it with '='";
    return false;
  }

  // Padding: at most two '=' and only at the end.
  size_t pad = 0;
  while (pad < 2 && text[text.size() - 1 - pad] == '=') {
    pad++;
  }
  for (size_t i = 0; i < text.size() - pad; i++) {
    if (Base64Value(text[i]) < 0) {
      *why =
          "root key base64 has a character outside the base64 alphabet at "
          "position " +
          std::to_string(i + 1) +
          "; use A-Z a-z 0-9 + / and '=' padding only at the end";
      return false;
    }
  }

  // The bits after the last octet must be zero in canonical base64.
  int last = Base64Value(text[text.size() - 1 - pad]);
  if ((pad == 1 && (last & 0x03) != 0) || (pad == 2 && (last & 0x0f) != 0)) {
    *why =
        "root key base64 is not canonical (its last character carries bits "
        "beyond the key); re-encode the key";
    return false;
  }

  // EVP_DecodeBlock counts the padding as zero octets; drop them.
  SecretBuffer block(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(block.data(),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) != block.size()) {
    *why = "root key base64 cannot be decoded; re-encode the key";
    return false;
  }
  *out = SecretBuffer(block.data(), block.size() - pad);
  return true;
}

// CallCatching runs |body| and turns any exception into INTERNAL_ERROR and
// |failure|, so that no exception crosses the C API.
template <typename T, typename Body>
T CallCatching(T failure, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "out of memory");
  } catch (const std::exception& e) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "unexpected exception: %s", e.what());
  } catch (...) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "unexpected exception");
  }
  return failure;
}

// NewHandle wraps |impl| in a C handle with one reference, or passes on a
// null |impl| (whose error is already raised).
ONEM2M_KEYSTORE* NewHandle(std::unique_ptr<Keystore> impl) {
  if (impl == nullptr) {
    return nullptr;
  }
  auto handle = std::make_unique<onem2m_keystore_st>();
  handle->impl = std::move(impl);
  return handle.release();
}

}  // namespace

std::optional<std::string> CheckRootKey(const SecretBuffer& root_key) {
  if (root_key.size() < kMinRootKeyLength ||
      root_key.size() > kMaxRootKeyLength) {
    return "root key is " + std::to_string(root_key.size()) +
           " octets; it must be 16 to 64 (32 to 128 hex digits)";
  }
  if (root_key.IsAllZero()) {
    return "root key is all zero; use a random key (e.g. from openssl rand "
           "-hex 32)";
  }
  return std::nullopt;
}

bool DecodeRootKey(std::string_view text, SecretBuffer* root_key,
                   std::string* why) {
  if (text.empty()) {
    *why =
        "root key is empty; write 16 to 64 octets as hex, or base64: followed "
        "by base64";
    return false;
  }
  if (text.substr(0, kBase64Prefix.size()) == kBase64Prefix) {
    return DecodeBase64(text.substr(kBase64Prefix.size()), root_key, why);
  }
  return DecodeHex(text, root_key, why);
}

std::string Fingerprint(const SecretBuffer& root_key) {
  // HMAC-SHA-256(RootKey, "oneM2M key fingerprint"), first 8 octets.
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  if (EVP_Q_mac(
          nullptr, "HMAC", nullptr, "SHA256", nullptr, root_key.data(),
          root_key.size(),
          reinterpret_cast<const unsigned char*>(kFingerprintLabel.data()),
          kFingerprintLabel.size(), mac, sizeof(mac), &mac_len) == nullptr ||
      mac_len < kFingerprintOctets) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR,
                 "cannot compute a key fingerprint: HMAC-SHA-256 is "
                 "unavailable in the default library context");
    return std::string();
  }

  std::string out = FormatFingerprint(mac);
  OPENSSL_cleanse(mac, sizeof(mac));
  return out;
}

std::string FormatFingerprint(const unsigned char* mac) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < kFingerprintOctets; i++) {
    if (i != 0) {
      out += ':';
    }
    out += kDigits[mac[i] >> 4];
    out += kDigits[mac[i] & 0x0f];
  }
  return out;
}

bool DeriveWithKdf(EVP_KDF* kdf, const SecretBuffer& root_key,
                   std::string_view key_id, Version version,
                   SecretBuffer* psk) {
  if (kdf == nullptr || psk == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "no ONEM2M-PSK KDF or output given; fetch the KDF with "
                 "FetchOnem2mKdf first");
    return false;
  }
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf));
  if (ctx == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_DERIVATION_FAILED,
                 "cannot create an ONEM2M-PSK context");
    return false;
  }

  // The parameters of spec section 6; the KeyID as a NUL-terminated copy.
  std::string id(key_id);
  unsigned int version_param = version;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(
          ONEM2M_KDF_PARAM_KEY, const_cast<unsigned char*>(root_key.data()),
          root_key.size()),
      OSSL_PARAM_construct_utf8_string(ONEM2M_KDF_PARAM_KEY_ID, id.data(),
                                       id.size()),
      OSSL_PARAM_construct_uint(ONEM2M_KDF_PARAM_VERSION, &version_param),
      OSSL_PARAM_construct_end(),
  };

  // Derive into a fresh buffer so that |psk| changes only on success.
  SecretBuffer out(PskLength(version, root_key.size()));
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) <= 0) {
    ONEM2M_RAISE(ONEM2M_R_DERIVATION_FAILED,
                 "ONEM2M-PSK failed for KeyID %s, version %u", id.c_str(),
                 version);
    return false;
  }
  *psk = std::move(out);
  return true;
}

TableKeystore::TableKeystore(KeyIndex table) : table_(std::move(table)) {}

DeriveStatus TableKeystore::DerivePsk(EVP_KDF* kdf, std::string_view key_id,
                                      Version version,
                                      SecretBuffer* psk) const {
  if (psk == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "no output buffer for the PSK");
    return DeriveStatus::kFailed;
  }
  psk->Clear();

  // Copy the Root Key out under the shared lock, so that the KDF runs
  // without it and a Reload or RemoveKey never waits for a KDF.
  try {
    SecretBuffer root_key;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      std::optional<KeyIndex::Key> key = table_.Find(key_id);
      if (!key.has_value()) {
        return DeriveStatus::kUnknownKeyId;
      }
      if (!IsSupportedVersion(version) ||
          (key->versions & VersionBit(version)) == 0) {
        return DeriveStatus::kVersionNotAllowed;
      }
      root_key = SecretBuffer(key->root_key, key->root_key_size);
    }
    if (!DeriveWithKdf(kdf, root_key, key_id, version, psk)) {
      return DeriveStatus::kFailed;
    }
    return DeriveStatus::kOk;
  } catch (const std::exception&) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "out of memory while deriving a PSK");
    return DeriveStatus::kFailed;
  }
}

bool TableKeystore::Contains(std::string_view key_id) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return table_.Find(key_id).has_value();
}

std::vector<KeyInfo> TableKeystore::List() const {
  std::vector<KeyInfo> out;
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    out.reserve(table_.size());
    table_.ForEach([&out](const KeyIndex::Key& key) {
      out.push_back(
          KeyInfo{std::string(key.key_id), key.versions,
                  Fingerprint(SecretBuffer(key.root_key, key.root_key_size))});
    });
  }
  std::sort(out.begin(), out.end(), [](const KeyInfo& a, const KeyInfo& b) {
    return a.key_id < b.key_id;
  });
  return out;
}

std::optional<VersionSet> TableKeystore::AllowedVersions(
    std::string_view key_id) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  std::optional<KeyIndex::Key> key = table_.Find(key_id);
  if (!key.has_value()) {
    return std::nullopt;
  }
  return key->versions;
}

size_t TableKeystore::Count() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return table_.size();
}

void TableKeystore::ReplaceTable(KeyIndex table) {
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    table_.Swap(table);
    generation_.fetch_add(1, std::memory_order_release);
  }
  // |table| now holds the old keys; they are wiped here, outside the lock.
}

}  // namespace onem2m

using onem2m::CallCatching;

extern "C" {

ONEM2M_KEYSTORE* ONEM2M_KEYSTORE_open(const char* location) {
  if (location == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "no keystore path or URI given");
    return nullptr;
  }
  return CallCatching<ONEM2M_KEYSTORE*>(nullptr, [&] {
    if (onem2m::IsPkcs11Uri(location)) {
      return onem2m::NewHandle(onem2m::MakePkcs11Keystore(location));
    }
    return onem2m::NewHandle(onem2m::MakeFileKeystore(location));
  });
}

ONEM2M_KEYSTORE* ONEM2M_KEYSTORE_load_file(const char* path) {
  return ONEM2M_KEYSTORE_open(path);
}

ONEM2M_KEYSTORE* ONEM2M_KEYSTORE_new_memory(void) {
  return CallCatching<ONEM2M_KEYSTORE*>(
      nullptr, [] { return onem2m::NewHandle(onem2m::MakeMemoryKeystore()); });
}

int ONEM2M_KEYSTORE_add_key(ONEM2M_KEYSTORE* ks, const char* key_id,
                            const unsigned char* root_key, size_t root_key_len,
                            unsigned int versions) {
  if (ks == nullptr || key_id == nullptr || root_key == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "ONEM2M_KEYSTORE_add_key needs a keystore, a KeyID and a "
                 "Root Key");
    return 0;
  }
  if ((versions & ~onem2m::kAllVersions) != 0) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "versions 0x%x names a version above %u; use "
                 "ONEM2M_VERSION_BIT(0) to ONEM2M_VERSION_BIT(3), or 0 for all",
                 versions, onem2m::kMaxVersion);
    return 0;
  }
  return CallCatching(0, [&] {
    onem2m::VersionSet set = versions == 0 ? onem2m::kAllVersions : versions;
    return ks->impl->AddKey(key_id,
                            onem2m::SecretBuffer(root_key, root_key_len), set)
               ? 1
               : 0;
  });
}

int ONEM2M_KEYSTORE_remove_key(ONEM2M_KEYSTORE* ks, const char* key_id) {
  if (ks == nullptr || key_id == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "ONEM2M_KEYSTORE_remove_key needs a keystore and a KeyID");
    return 0;
  }
  return CallCatching(0, [&] {
    bool removed = ks->impl->RemoveKey(key_id);
    ks->own_keys.Wipe();
    return removed ? 1 : 0;
  });
}

int ONEM2M_KEYSTORE_reload(ONEM2M_KEYSTORE* ks) {
  if (ks == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "no keystore given to reload");
    return 0;
  }
  return CallCatching(0, [&] {
    bool reloaded = ks->impl->Reload();
    ks->own_keys.Wipe();
    return reloaded ? 1 : 0;
  });
}

size_t ONEM2M_KEYSTORE_count(const ONEM2M_KEYSTORE* ks) {
  if (ks == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "no keystore given to count");
    return 0;
  }
  return CallCatching<size_t>(0, [&] { return ks->impl->Count(); });
}

int ONEM2M_KEYSTORE_up_ref(ONEM2M_KEYSTORE* ks) {
  if (ks == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "no keystore given to up_ref");
    return 0;
  }
  ks->references.fetch_add(1, std::memory_order_relaxed);
  return 1;
}

void ONEM2M_KEYSTORE_free(ONEM2M_KEYSTORE* ks) {
  if (ks == nullptr) {
    return;
  }
  // The last reference wipes every Root Key (SecretBuffer destructors).
  if (ks->references.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete ks;
  }
}

}  // extern "C"
