// The in-memory keystore: for programs that provision Root Keys themselves
// through AddKey and RemoveKey. It has no file, so it cannot reload.

#include <mutex>
#include <optional>
#include <shared_mutex>
#include <utility>

#include "errors.h"
#include "keystore.h"
#include "keystore_table.h"

namespace onem2m {

namespace {

class MemoryKeystore final : public TableKeystore {
 public:
  MemoryKeystore() : TableKeystore(KeyIndex()) {}

  // Reload is refused: there is nothing to re-read.
  bool Reload() override {
    ONEM2M_RAISE(ONEM2M_R_NOT_SUPPORTED,
                 "an in-memory keystore has no file to reload; change its "
                 "keys with add_key and remove_key");
    return false;
  }

  // AddKey validates the KeyID (spec section 2), the Root Key (section 4)
  // and the versions, then inserts the key unless its KeyID is present.
  bool AddKey(std::string_view key_id, SecretBuffer root_key,
              VersionSet versions) override {
    if (std::optional<std::string> why = CheckKeyId(key_id)) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_KEY_ID, "%s", why->c_str());
      return false;
    }
    if (std::optional<std::string> why = CheckRootKey(root_key)) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_ROOT_KEY, "KeyID %s: %s",
                   std::string(key_id).c_str(), why->c_str());
      return false;
    }
    if (versions == 0 || (versions & ~kAllVersions) != 0) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                   "KeyID %s: versions 0x%x is not a non-empty set of KDF "
                   "versions 0 to 3",
                   std::string(key_id).c_str(), versions);
      return false;
    }

    // Insert under the exclusive lock; a present KeyID is left unchanged.
    std::unique_lock<std::shared_mutex> lock(mutex_);
    if (!table_.Insert(key_id, root_key, versions)) {
      lock.unlock();
      ONEM2M_RAISE(
          ONEM2M_R_KEYSTORE_DUPLICATE,
          "KeyID \"%s\" is already in the keystore; remove it first to "
          "replace its key",
          std::string(key_id).c_str());
      return false;
    }
    return true;
  }

  // RemoveKey erases a key; its Root Key is wiped as the entry goes.
  bool RemoveKey(std::string_view key_id) override {
    if (std::optional<std::string> why = CheckKeyId(key_id)) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_KEY_ID, "%s", why->c_str());
      return false;
    }
    std::unique_lock<std::shared_mutex> lock(mutex_);
    if (!table_.Erase(key_id)) {
      lock.unlock();
      ONEM2M_RAISE(ONEM2M_R_UNKNOWN_KEY_ID,
                   "KeyID \"%s\" is not in the keystore; nothing to remove",
                   std::string(key_id).c_str());
      return false;
    }
    generation_.fetch_add(1, std::memory_order_release);
    return true;
  }
};

}  // namespace

std::unique_ptr<Keystore> MakeMemoryKeystore() {
  return std::make_unique<MemoryKeystore>();
}

}  // namespace onem2m
