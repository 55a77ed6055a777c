// The client's cache of its own PSK (lib/own_key_cache.h): it derives once
// per (KeyID, version) while the keystore is unchanged, and never uses a
// PSK of a key that was removed, replaced or reloaded away.

#include "own_key_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "forwarding_keystore.h"
#include "kdf_fetch.h"
#include "keystore.h"
#include "onem2m/kdf.h"
#include "test_support.h"
#include "tls_harness.h"

namespace onem2m {
namespace {

using testing::HandshakeResult;
using testing::KeystorePtr;
using testing::MemoryKeystore;
using testing::OurServer;
using testing::RunOurClient;
using testing::TlsProtocol;

constexpr char kKeyId[] = "dev-0001@sp.example.com";
constexpr char kRootKeyA[] = "000102030405060708090a0b0c0d0e0f";
constexpr char kRootKeyB[] = "f0e0d0c0b0a090807060504030201000";

EVP_KDF* PskKdf() {
  static Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
  return kdf.get();
}

// CountingKeystore counts the derivations and policy reads that reach a
// memory keystore.
class CountingKeystore final : public testing::ForwardingKeystore {
 public:
  CountingKeystore() : ForwardingKeystore(MakeMemoryKeystore()) {}

  DeriveStatus DerivePsk(EVP_KDF* kdf, std::string_view key_id, Version version,
                         SecretBuffer* psk) const override {
    derivations.fetch_add(1);
    return ForwardingKeystore::DerivePsk(kdf, key_id, version, psk);
  }
  std::optional<VersionSet> AllowedVersions(
      std::string_view key_id) const override {
    policy_reads.fetch_add(1);
    return ForwardingKeystore::AllowedVersions(key_id);
  }

  mutable std::atomic<int> derivations{0};
  mutable std::atomic<int> policy_reads{0};
};

SecretBuffer RootKey(const char* hex) {
  std::vector<unsigned char> bytes = testing::FromHex(hex);
  return SecretBuffer(bytes.data(), bytes.size());
}

// Derived returns the PSK of |root_hex| for (kKeyId, |v|) as hex, straight
// from a fresh store: the value the cache must agree with.
std::string Derived(const char* root_hex, Version v) {
  std::unique_ptr<Keystore> store = MakeMemoryKeystore();
  EXPECT_TRUE(store->AddKey(kKeyId, RootKey(root_hex), kAllVersions));
  SecretBuffer psk;
  EXPECT_EQ(store->DerivePsk(PskKdf(), kKeyId, v, &psk), DeriveStatus::kOk);
  return testing::ToHex(psk.data(), psk.size());
}

std::string CachedHex(OwnKeyCache* cache, const Keystore& store, Version v) {
  SecretBuffer psk;
  if (cache->DerivePsk(store, PskKdf(), kKeyId, v, &psk) != DeriveStatus::kOk) {
    return "";
  }
  return testing::ToHex(psk.data(), psk.size());
}

TEST(OwnKeyCache, DerivesOncePerVersionWhileTheStoreIsUnchanged) {
  CountingKeystore store;
  ASSERT_TRUE(store.AddKey(kKeyId, RootKey(kRootKeyA), kAllVersions));
  OwnKeyCache cache;

  for (Version v = 0; v <= kMaxVersion; ++v) {
    EXPECT_EQ(CachedHex(&cache, store, v), Derived(kRootKeyA, v)) << v;
    EXPECT_EQ(CachedHex(&cache, store, v), Derived(kRootKeyA, v)) << v;
  }
  EXPECT_EQ(store.derivations.load(), 4);

  EXPECT_EQ(cache.AllowedVersions(store, kKeyId), kAllVersions);
  EXPECT_EQ(cache.AllowedVersions(store, kKeyId), kAllVersions);
  EXPECT_EQ(store.policy_reads.load(), 1);
}

TEST(OwnKeyCache, DerivesTheNewKeyAfterTheOldOneWasReplaced) {
  CountingKeystore store;
  ASSERT_TRUE(store.AddKey(kKeyId, RootKey(kRootKeyA), ONEM2M_VERSION_BIT(2)));
  OwnKeyCache cache;
  ASSERT_EQ(CachedHex(&cache, store, 2), Derived(kRootKeyA, 2));
  ASSERT_EQ(cache.AllowedVersions(store, kKeyId), ONEM2M_VERSION_BIT(2));

  // Removing the key changes the generation: the cached PSK is not used.
  ASSERT_TRUE(store.RemoveKey(kKeyId));
  SecretBuffer psk;
  EXPECT_EQ(cache.DerivePsk(store, PskKdf(), kKeyId, 2, &psk),
            DeriveStatus::kUnknownKeyId);
  EXPECT_EQ(cache.AllowedVersions(store, kKeyId), std::nullopt);

  ASSERT_TRUE(store.AddKey(kKeyId, RootKey(kRootKeyB), kAllVersions));
  EXPECT_EQ(CachedHex(&cache, store, 2), Derived(kRootKeyB, 2));
  EXPECT_EQ(cache.AllowedVersions(store, kKeyId), kAllVersions);
}

TEST(OwnKeyCache, KeepsNoFailedDerivation) {
  CountingKeystore store;
  ASSERT_TRUE(store.AddKey(kKeyId, RootKey(kRootKeyA), ONEM2M_VERSION_BIT(1)));
  OwnKeyCache cache;
  SecretBuffer psk;

  EXPECT_EQ(cache.DerivePsk(store, PskKdf(), kKeyId, 3, &psk),
            DeriveStatus::kVersionNotAllowed);
  EXPECT_EQ(cache.DerivePsk(store, PskKdf(), kKeyId, 3, &psk),
            DeriveStatus::kVersionNotAllowed);
  EXPECT_EQ(cache.DerivePsk(store, PskKdf(), "nobody@sp.example.com", 1, &psk),
            DeriveStatus::kUnknownKeyId);
  EXPECT_EQ(store.derivations.load(), 3);
}

TEST(OwnKeyCache, WipeForgetsEveryEntry) {
  CountingKeystore store;
  ASSERT_TRUE(store.AddKey(kKeyId, RootKey(kRootKeyA), kAllVersions));
  OwnKeyCache cache;
  ASSERT_FALSE(CachedHex(&cache, store, 1).empty());

  cache.Wipe();
  EXPECT_EQ(CachedHex(&cache, store, 1), Derived(kRootKeyA, 1));
  EXPECT_EQ(store.derivations.load(), 2);
}

// Many KeyIDs on one keystore: the cache stays small and stays right.
TEST(OwnKeyCache, StartsOverPastItsSizeAndStaysRight) {
  std::unique_ptr<Keystore> store = MakeMemoryKeystore();
  OwnKeyCache cache;
  for (int i = 0; i < 20; ++i) {
    std::string key_id = "dev-" + std::to_string(i) + "@sp.example.com";
    ASSERT_TRUE(store->AddKey(key_id, RootKey(kRootKeyA), kAllVersions));
    SecretBuffer cached;
    SecretBuffer direct;
    ASSERT_EQ(cache.DerivePsk(*store, PskKdf(), key_id, 2, &cached),
              DeriveStatus::kOk);
    ASSERT_EQ(store->DerivePsk(PskKdf(), key_id, 2, &direct),
              DeriveStatus::kOk);
    EXPECT_TRUE(cached.Equals(direct)) << key_id;
  }
}

// Handshakes through the library: the client's keystore handle holds the
// cache, and the C API's remove_key and reload must make the next
// handshake use the keystore's current key.
class OwnKeyCacheHandshake : public ::testing::TestWithParam<TlsProtocol> {};

TEST_P(OwnKeyCacheHandshake, ReplacedKeyIsUsedOnTheNextHandshake) {
  KeystorePtr server_a(MemoryKeystore(kKeyId, kRootKeyA));
  KeystorePtr server_b(MemoryKeystore(kKeyId, kRootKeyB));
  KeystorePtr client(MemoryKeystore(kKeyId, kRootKeyA));
  OurServer with_a(server_a.get());
  OurServer with_b(server_b.get());
  testing::ClientOptions options;
  options.protocol = GetParam();

  ASSERT_TRUE(RunOurClient(with_a.port(), client.get(), kKeyId, options).ok);
  ASSERT_TRUE(RunOurClient(with_a.port(), client.get(), kKeyId, options).ok);

  // The device's key is replaced: the next handshake must use the new key.
  ASSERT_EQ(ONEM2M_KEYSTORE_remove_key(client.get(), kKeyId), 1);
  std::vector<unsigned char> b = testing::FromHex(kRootKeyB);
  ASSERT_EQ(
      ONEM2M_KEYSTORE_add_key(client.get(), kKeyId, b.data(), b.size(), 0), 1);
  EXPECT_FALSE(RunOurClient(with_a.port(), client.get(), kKeyId, options).ok);
  EXPECT_TRUE(RunOurClient(with_b.port(), client.get(), kKeyId, options).ok);
}

TEST_P(OwnKeyCacheHandshake, ReloadedFileKeyIsUsedOnTheNextHandshake) {
  testing::ScopedTempDir dir;
  std::string path = dir.WriteFile(
      "client.keys", std::string(kKeyId) + ":" + kRootKeyA + "\n");
  KeystorePtr client(ONEM2M_KEYSTORE_load_file(path.c_str()));
  ASSERT_NE(client, nullptr);
  KeystorePtr server_b(MemoryKeystore(kKeyId, kRootKeyB));
  OurServer with_b(server_b.get());
  testing::ClientOptions options;
  options.protocol = GetParam();
  ASSERT_FALSE(RunOurClient(with_b.port(), client.get(), kKeyId, options).ok);

  dir.WriteFile("client.keys", std::string(kKeyId) + ":" + kRootKeyB + "\n");
  ASSERT_EQ(ONEM2M_KEYSTORE_reload(client.get()), 1);
  EXPECT_TRUE(RunOurClient(with_b.port(), client.get(), kKeyId, options).ok);
}

INSTANTIATE_TEST_SUITE_P(Protocols, OwnKeyCacheHandshake,
                         ::testing::Values(TlsProtocol::kTls12,
                                           TlsProtocol::kTls13),
                         [](const auto& info) {
                           return info.param == TlsProtocol::kTls12
                                      ? std::string("Tls12")
                                      : std::string("Tls13");
                         });

// ConcurrentOwnKeyCache: clients derive while another thread replaces the
// key; once the churn stops, every client gets the final key's PSK.
TEST(ConcurrentOwnKeyCache, ConvergesOnTheFinalKeyWhileKeysChange) {
  std::unique_ptr<Keystore> store = MakeMemoryKeystore();
  ASSERT_TRUE(store->AddKey(kKeyId, RootKey(kRootKeyA), kAllVersions));
  OwnKeyCache cache;
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  const std::string psk_a = Derived(kRootKeyA, 2);
  const std::string psk_b = Derived(kRootKeyB, 2);

  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        std::string got = CachedHex(&cache, *store, 2);
        // Between a removal and the next add the key is absent ("").
        if (!got.empty() && got != psk_a && got != psk_b) {
          bad.fetch_add(1);
        }
      }
    });
  }
  for (int round = 0; round < 200; ++round) {
    ASSERT_TRUE(store->RemoveKey(kKeyId));
    cache.Wipe();
    ASSERT_TRUE(store->AddKey(
        kKeyId, RootKey(round % 2 ? kRootKeyA : kRootKeyB), kAllVersions));
  }
  stop.store(true);
  for (std::thread& t : clients) {
    t.join();
  }

  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(CachedHex(&cache, *store, 2), psk_a);  // round 199 added A
}

}  // namespace
}  // namespace onem2m
