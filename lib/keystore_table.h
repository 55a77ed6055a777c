// TableKeystore: the part the file and the in-memory keystores share. It
// holds a KeyIndex behind a reader-writer lock: lookups take the shared
// lock, a reload swaps a whole new table in under the exclusive lock, so a
// reader sees either every old key or every new one.
//
// A derivation holds the shared lock only to copy its Root Key (into a
// SecretBuffer) and runs the KDF after releasing it. glibc's shared_mutex
// prefers readers, so a lock held across KDF calls by back-to-back
// derivations would starve a reload for minutes.

#ifndef ONEM2M_LIB_KEYSTORE_TABLE_H_
#define ONEM2M_LIB_KEYSTORE_TABLE_H_

#include <shared_mutex>
#include <string_view>
#include <vector>

#include "keystore.h"

namespace onem2m {

class TableKeystore : public Keystore {
 public:
  explicit TableKeystore(KeyIndex table);

  DeriveStatus DerivePsk(EVP_KDF* kdf, std::string_view key_id, Version version,
                         SecretBuffer* psk) const override;
  bool Contains(std::string_view key_id) const override;
  std::vector<KeyInfo> List() const override;
  size_t Count() const override;
  std::optional<VersionSet> AllowedVersions(
      std::string_view key_id) const override;
  uint64_t Generation() const override {
    return generation_.load(std::memory_order_acquire);
  }

 protected:
  // ReplaceTable swaps |table| in for the current one in one step.
  void ReplaceTable(KeyIndex table);

  // The lock that guards table_ and every entry in it.
  mutable std::shared_mutex mutex_;
  KeyIndex table_;
  // Bumped under the exclusive lock whenever a key leaves the table.
  std::atomic<uint64_t> generation_{0};
};

}  // namespace onem2m

#endif  // ONEM2M_LIB_KEYSTORE_TABLE_H_
