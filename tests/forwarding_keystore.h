// ForwardingKeystore: a test keystore that passes every call to an inner
// one, for tests that count, fail or throw in one call and keep the rest.

#ifndef ONEM2M_TESTS_FORWARDING_KEYSTORE_H_
#define ONEM2M_TESTS_FORWARDING_KEYSTORE_H_

#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "keystore.h"

namespace onem2m::testing {

class ForwardingKeystore : public Keystore {
 public:
  explicit ForwardingKeystore(std::unique_ptr<Keystore> inner)
      : inner_(std::move(inner)) {}

  DeriveStatus DerivePsk(EVP_KDF* kdf, std::string_view key_id, Version version,
                         SecretBuffer* psk) const override {
    return inner_->DerivePsk(kdf, key_id, version, psk);
  }
  bool Contains(std::string_view key_id) const override {
    return inner_->Contains(key_id);
  }
  std::vector<KeyInfo> List() const override { return inner_->List(); }
  size_t Count() const override { return inner_->Count(); }
  bool Reload() override { return inner_->Reload(); }
  uint64_t Generation() const override { return inner_->Generation(); }
  std::optional<VersionSet> AllowedVersions(
      std::string_view key_id) const override {
    return inner_->AllowedVersions(key_id);
  }
  bool AddKey(std::string_view key_id, SecretBuffer root_key,
              VersionSet versions) override {
    return inner_->AddKey(key_id, std::move(root_key), versions);
  }
  bool RemoveKey(std::string_view key_id) override {
    return inner_->RemoveKey(key_id);
  }

 private:
  std::unique_ptr<Keystore> inner_;
};

}  // namespace onem2m::testing

#endif  // ONEM2M_TESTS_FORWARDING_KEYSTORE_H_
