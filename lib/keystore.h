// The keystore behind include/onem2m/keystore.h.
//
// Design rule: a keystore derives, it does not hand out Root Keys. Its only
// output that depends on a Root Key is a PSK (through the ONEM2M-PSK KDF
// that the caller fetched in its own library context) or a fingerprint.

#ifndef ONEM2M_LIB_KEYSTORE_H_
#define ONEM2M_LIB_KEYSTORE_H_

#include <openssl/evp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "keystore_index.h"
#include "own_key_cache.h"
#include "protocol.h"
#include "secret_buffer.h"

namespace onem2m {

// KeyInfo is what may be shown about a key: never its bytes.
struct KeyInfo {
  std::string key_id;
  VersionSet versions;      // the versions= attribute, kAllVersions if none
  std::string fingerprint;  // Fingerprint() of the Root Key
};

enum class DeriveStatus {
  kOk,
  kUnknownKeyId,       // no such KeyID
  kVersionNotAllowed,  // the key's versions= attribute excludes it
  kFailed,             // the KDF failed; the reason is on the error queue
};

// Keystore is the interface the TLS code sees.
class Keystore {
 public:
  virtual ~Keystore() = default;

  // DerivePsk sets |psk| to the PSK of (|key_id|, |version|), computed with
  // |kdf| (ONEM2M-PSK, fetched by the caller). Safe to call concurrently
  // with every other member, including Reload. Raises an error only for
  // kFailed; the other statuses are policy outcomes the caller reports.
  virtual DeriveStatus DerivePsk(EVP_KDF* kdf, std::string_view key_id,
                                 Version version, SecretBuffer* psk) const = 0;

  // Contains tells whether |key_id| is present (for configuration checks).
  virtual bool Contains(std::string_view key_id) const = 0;

  // List returns the metadata of every key, sorted by KeyID.
  virtual std::vector<KeyInfo> List() const = 0;

  virtual size_t Count() const = 0;

  // Reload re-reads the backing store; on failure it raises an error and
  // keeps every key. Stores without a backing file raise NOT_SUPPORTED.
  virtual bool Reload() = 0;

  // Generation changes whenever a key may have been removed or replaced
  // (a reload, a removal). A session that an older generation
  // authenticated must not resume: its key may be gone.
  // The default suits a store whose keys never change.
  virtual uint64_t Generation() const { return 0; }

  // AllowedVersions returns the versions the key's policy allows
  // (the file's versions= attribute), kAllVersions for a key without one,
  // or std::nullopt for an unknown KeyID. The default: no per-key policy.
  virtual std::optional<VersionSet> AllowedVersions(
      std::string_view key_id) const {
    return Contains(key_id) ? std::optional<VersionSet>(kAllVersions)
                            : std::nullopt;
  }

  // AddKey / RemoveKey change an in-memory store; others raise
  // NOT_SUPPORTED.
  virtual bool AddKey(std::string_view key_id, SecretBuffer root_key,
                      VersionSet versions) = 0;
  virtual bool RemoveKey(std::string_view key_id) = 0;
};

// RootKeyEntry is one key as a table holds it.
struct RootKeyEntry {
  SecretBuffer root_key;
  VersionSet versions = kAllVersions;
};

// KeyTable maps KeyIDs to keys: what ParseKeystoreText gives a caller that
// wants to look at each entry. The keystores hold a KeyIndex instead.
using KeyTable = std::unordered_map<std::string, RootKeyEntry>;

// CheckRootKey validates a Root Key against spec section 4 (16 to 64
// octets, not all zero). Returns std::nullopt or a message without bytes.
std::optional<std::string> CheckRootKey(const SecretBuffer& root_key);

// DecodeRootKey decodes the RootKey field of spec section 8: hex (either
// case, even length, no 0x) or "base64:" and base64. On failure returns
// false with |why| set (a message that quotes no key material).
bool DecodeRootKey(std::string_view text, SecretBuffer* root_key,
                   std::string* why);

// Fingerprint returns a short public identifier of a Root Key: the first 8
// octets of HMAC-SHA-256(RootKey, "oneM2M key fingerprint") as
// colon-separated hex. An HMAC so that a token can compute it too; it
// reveals nothing usable about the key.
std::string Fingerprint(const SecretBuffer& root_key);

// kFingerprintLabel is the HMAC message of Fingerprint(), for a store that
// computes the HMAC elsewhere (a token); FormatFingerprint turns that
// HMAC's first octets into the fingerprint.
inline constexpr std::string_view kFingerprintLabel = "oneM2M key fingerprint";
std::string FormatFingerprint(const unsigned char* mac);

// ParseKeystoreText parses a whole keystore file's text into |table|.
// |name| is used in messages ("name:line: ..."). On the first error it
// raises it (KEYSTORE_SYNTAX, KEYSTORE_DUPLICATE, INVALID_KEY_ID or
// INVALID_ROOT_KEY) and returns false; |table| is then unspecified.
bool ParseKeystoreText(std::string_view text, const std::string& name,
                       KeyTable* table);
bool ParseKeystoreText(std::string_view text, const std::string& name,
                       KeyIndex* index);

// ReadKeystoreFile checks the file's mode (no group or other access),
// reads and parses it. Raises KEYSTORE_IO, KEYSTORE_PERMISSIONS or a parse
// error and returns false on failure.
bool ReadKeystoreFile(const std::string& path, KeyIndex* index);

// MakeFileKeystore loads |path|; returns nullptr with the error raised.
std::unique_ptr<Keystore> MakeFileKeystore(const std::string& path);

// MakeMemoryKeystore returns an empty in-memory keystore.
std::unique_ptr<Keystore> MakeMemoryKeystore();

// DeriveWithKdf runs ONEM2M-PSK (|kdf|) on a Root Key: the one place where
// Root Key bytes meet the provider. Raises DERIVATION_FAILED on failure.
bool DeriveWithKdf(EVP_KDF* kdf, const SecretBuffer& root_key,
                   std::string_view key_id, Version version, SecretBuffer* psk);

}  // namespace onem2m

// The C handle of include/onem2m/keystore.h.
struct onem2m_keystore_st {
  std::unique_ptr<onem2m::Keystore> impl;
  // What clients derived for their own KeyIDs; wiped by reload and
  // remove_key (lib/own_key_cache.h).
  onem2m::OwnKeyCache own_keys;
  std::atomic<int> references{1};
};

#endif  // ONEM2M_LIB_KEYSTORE_H_
