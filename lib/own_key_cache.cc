#include "own_key_cache.h"

#include <utility>

#include "keystore.h"

namespace onem2m {

std::optional<VersionSet> OwnKeyCache::AllowedVersions(
    const Keystore& store, std::string_view key_id) {
  uint64_t generation = store.Generation();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry* entry = FindLocked(key_id, generation, /*create=*/false);
    if (entry != nullptr && entry->allowed) {
      return entry->allowed;
    }
  }

  // Read the policy outside the lock; keep it only if no key changed
  // meanwhile (a newer generation would make it stale). An unknown KeyID
  // is not kept: adding a key does not change the generation.
  std::optional<VersionSet> allowed = store.AllowedVersions(key_id);
  if (!allowed) {
    return allowed;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Entry* entry = store.Generation() == generation
                     ? FindLocked(key_id, generation, /*create=*/true)
                     : nullptr;
  if (entry != nullptr) {
    entry->allowed = allowed;
  }
  return allowed;
}

DeriveStatus OwnKeyCache::DerivePsk(const Keystore& store, EVP_KDF* kdf,
                                    std::string_view key_id, Version version,
                                    SecretBuffer* psk) {
  uint64_t generation = store.Generation();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry* entry = FindLocked(key_id, generation, /*create=*/false);
    if (entry != nullptr && !entry->psk[version].empty()) {
      psk->Assign(entry->psk[version].data(), entry->psk[version].size());
      return DeriveStatus::kOk;
    }
  }

  // Derive outside the lock, then keep the PSK only if the generation it
  // was derived under is still current: a key removed or replaced in
  // between must not leave its PSK behind.
  DeriveStatus status = store.DerivePsk(kdf, key_id, version, psk);
  if (status != DeriveStatus::kOk) {
    return status;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Entry* entry = store.Generation() == generation
                     ? FindLocked(key_id, generation, /*create=*/true)
                     : nullptr;
  if (entry != nullptr) {
    entry->psk[version] = psk->Clone();
  }
  return status;
}

void OwnKeyCache::Wipe() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();  // each SecretBuffer cleanses itself
}

OwnKeyCache::Entry* OwnKeyCache::FindLocked(std::string_view key_id,
                                            uint64_t generation, bool create) {
  for (Entry& entry : entries_) {
    if (entry.key_id != key_id) {
      continue;
    }
    if (entry.generation > generation) {
      return nullptr;  // a reader that saw the store before a change
    }
    if (entry.generation != generation) {
      entry = Entry();
      entry.key_id = std::string(key_id);
      entry.generation = generation;
    }
    return &entry;
  }
  if (!create) {
    return nullptr;
  }

  // A new KeyID: start over when full rather than track use.
  if (entries_.size() >= kMaxEntries) {
    entries_.clear();
  }
  Entry& entry = entries_.emplace_back();
  entry.key_id = std::string(key_id);
  entry.generation = generation;
  return &entry;
}

}  // namespace onem2m
