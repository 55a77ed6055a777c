// OwnKeyCache: what a client derives for its own KeyID, kept between its
// handshakes.
//
// A device derives the same PSK for every handshake with the same Root Key
// and version, so a client keeps it (and its key's versions= policy) in
// the keystore handle instead of deriving it again: docs/performance.md
// measures what that saves. Servers never use it: a server that answered
// known KeyIDs from a cache would answer them faster than unknown ones,
// which spec section 7 forbids.
//
// Every entry is tagged with the keystore's Generation(), which changes
// after any key is removed or replaced, and is used only while the tag
// matches; ONEM2M_KEYSTORE_reload and ONEM2M_KEYSTORE_remove_key also wipe
// the cache at once, so no PSK of a removed key stays in memory.

#ifndef ONEM2M_LIB_OWN_KEY_CACHE_H_
#define ONEM2M_LIB_OWN_KEY_CACHE_H_

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol.h"
#include "secret_buffer.h"

namespace onem2m {

// keystore.h holds an OwnKeyCache in its C handle, so this header names
// the keystore's types without including it.
class Keystore;
enum class DeriveStatus;

class OwnKeyCache {
 public:
  // AllowedVersions returns |store|'s AllowedVersions(|key_id|), from the
  // cache when the store has not changed since it was read. Only a known
  // KeyID's policy is kept.
  std::optional<VersionSet> AllowedVersions(const Keystore& store,
                                            std::string_view key_id);

  // DerivePsk returns what |store|.DerivePsk would, reusing a PSK derived
  // earlier for (|key_id|, |version|) while the store is unchanged. Only
  // kOk results are kept.
  DeriveStatus DerivePsk(const Keystore& store, EVP_KDF* kdf,
                         std::string_view key_id, Version version,
                         SecretBuffer* psk);

  // Wipe forgets (and cleanses) every entry.
  void Wipe();

 private:
  // A client normally has one KeyID; a process that runs several clients
  // on one keystore keeps a few. Past this many the cache starts over.
  static constexpr size_t kMaxEntries = 8;

  struct Entry {
    std::string key_id;
    uint64_t generation = 0;
    std::optional<VersionSet> allowed;              // unset until read
    std::array<SecretBuffer, kMaxVersion + 1> psk;  // empty until derived
  };

  // FindLocked returns |key_id|'s entry for |generation|, resetting an
  // entry of an older generation; creates one if |create|. Returns nullptr
  // when there is none, or when the entry is newer than |generation|.
  Entry* FindLocked(std::string_view key_id, uint64_t generation, bool create);

  std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace onem2m

#endif  // ONEM2M_LIB_OWN_KEY_CACHE_H_
