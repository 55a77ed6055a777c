// The onem2m provider in process, through EVP_KDF: the known answers of
// ../shared/spec/vectors.json (spec sections 3 to 5), one reason per bad
// parameter (section 6), the context lifecycle, and loading, unloading and
// concurrent use of the module.

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "onem2m/kdf.h"
#include "test_support.h"

namespace onem2m::testing {

// PrintTo names a vector by Name() in test output, rather than its bytes.
// static: each test file has its own, found by argument-dependent lookup.
static void PrintTo(const KnownAnswer& ka, std::ostream* os) {
  *os << ka.Name();
}

namespace {

// The reason strings the provider promises (provider/provider_errors.cc).
constexpr char kMissingRootKey[] = "missing Root Key";
constexpr char kBadRootKeyLength[] = "Root Key not 16 to 64 octets";
constexpr char kAllZeroRootKey[] = "all-zero Root Key";
constexpr char kMissingKeyId[] = "missing KeyID";
constexpr char kInvalidKeyId[] = "invalid KeyID";
constexpr char kMissingVersion[] = "missing KDF version";
constexpr char kUnsupportedVersion[] = "unsupported KDF version";
constexpr char kBadOutputLength[] = "output length differs from size";
constexpr char kMissingRandom[] = "missing originator or receiver random";
constexpr char kBadRandomLength[] = "random not 32 octets";
constexpr char kBadSessionHashLength[] =
    "session hash length differs from the version's hash";
constexpr char kConflictingSeeds[] = "both randoms and session hash set";
constexpr char kWrongParameterType[] = "wrong parameter type";
constexpr char kInnerUnavailable[] =
    "HMAC/KBKDF/TLS1-PRF unavailable: load the default provider";

// A Root Key and KeyID of vectors.json, for the cases that need any good
// value.
constexpr char kRootKeyHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kKeyId[] = "dev-0001@sp.example.com";
constexpr char kRandomHex[] =
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

// ProviderSet is a library context with onem2m (and, unless told
// otherwise, the default provider) loaded. onem2m.so is found through
// OPENSSL_MODULES (ctest sets it) or else the build's modules directory.
class ProviderSet {
 public:
  explicit ProviderSet(bool with_default = true) : libctx_(OSSL_LIB_CTX_new()) {
    if (std::getenv("OPENSSL_MODULES") == nullptr) {
      OSSL_PROVIDER_set_default_search_path(libctx_, ModulesDir().c_str());
    }
    if (with_default) {
      default_ = OSSL_PROVIDER_load(libctx_, "default");
    }
    onem2m_ = OSSL_PROVIDER_load(libctx_, ONEM2M_PROVIDER_NAME);
  }

  ~ProviderSet() {
    if (onem2m_ != nullptr) {
      OSSL_PROVIDER_unload(onem2m_);
    }
    if (default_ != nullptr) {
      OSSL_PROVIDER_unload(default_);
    }
    OSSL_LIB_CTX_free(libctx_);
  }

  ProviderSet(const ProviderSet&) = delete;
  ProviderSet& operator=(const ProviderSet&) = delete;

  OSSL_LIB_CTX* libctx() const { return libctx_; }
  OSSL_PROVIDER* onem2m() const { return onem2m_; }

 private:
  OSSL_LIB_CTX* libctx_;
  OSSL_PROVIDER* default_ = nullptr;
  OSSL_PROVIDER* onem2m_ = nullptr;
};

// Shared returns the library context that most tests use. One for the
// whole binary: each provider load takes an error library number, and
// OpenSSL has few of them.
ProviderSet& Shared() {
  static ProviderSet* set = new ProviderSet();
  return *set;
}

// ParamList builds an OSSL_PARAM array and owns what it points at.
class ParamList {
 public:
  ParamList& Octets(const char* name, const std::vector<unsigned char>& v) {
    entries_.push_back(
        {name, OSSL_PARAM_OCTET_STRING, std::string(v.begin(), v.end()), 0});
    return *this;
  }
  ParamList& Hex(const char* name, const std::string& hex) {
    return Octets(name, FromHex(hex));
  }
  // Utf8 passes |s| with its explicit length, embedded NULs included.
  ParamList& Utf8(const char* name, const std::string& s) {
    entries_.push_back({name, OSSL_PARAM_UTF8_STRING, s, 0});
    return *this;
  }
  ParamList& Uint(const char* name, unsigned value) {
    entries_.push_back({name, OSSL_PARAM_UNSIGNED_INTEGER, "", value});
    return *this;
  }

  OSSL_PARAM* get() {
    params_.clear();
    for (auto& e : entries_) {
      switch (e.type) {
        case OSSL_PARAM_OCTET_STRING:
          params_.push_back(OSSL_PARAM_construct_octet_string(
              e.name, e.bytes.data(), e.bytes.size()));
          break;
        case OSSL_PARAM_UTF8_STRING:
          params_.push_back(OSSL_PARAM_construct_utf8_string(
              e.name, e.bytes.data(), e.bytes.size()));
          // construct_utf8_string takes 0 as "use strlen"; keep 0.
          params_.back().data_size = e.bytes.size();
          break;
        default:
          params_.push_back(OSSL_PARAM_construct_uint(e.name, &e.uint));
          break;
      }
    }
    params_.push_back(OSSL_PARAM_construct_end());
    return params_.data();
  }

 private:
  struct Entry {
    const char* name;
    unsigned type;
    std::string bytes;
    unsigned uint;
  };
  std::deque<Entry> entries_;
  std::vector<OSSL_PARAM> params_;
};

// PskParams are the key, key-id and version of a vector.
ParamList PskParams(const KnownAnswer& ka) {
  ParamList params;
  params.Hex(ONEM2M_KDF_PARAM_KEY, ka.root_key_hex)
      .Utf8(ONEM2M_KDF_PARAM_KEY_ID, ka.key_id)
      .Uint(ONEM2M_KDF_PARAM_VERSION, ka.version);
  return params;
}

// LastError is the newest error on the queue: the provider raises at the
// leaf, after anything an inner call left.
struct LastError {
  std::string library;
  std::string reason;
  std::string data;
};

LastError TakeLastError() {
  LastError error;
  const char* data = nullptr;
  int flags = 0;
  unsigned long e = ERR_peek_last_error_data(&data, &flags);
  if (e != 0) {
    const char* lib = ERR_lib_error_string(e);
    const char* reason = ERR_reason_error_string(e);
    error.library = lib != nullptr ? lib : "";
    error.reason = reason != nullptr ? reason : "";
    error.data = (data != nullptr && (flags & ERR_TXT_STRING)) ? data : "";
  }
  ERR_clear_error();
  return error;
}

// Outcome is what one derivation gave.
struct Outcome {
  bool ok = false;
  std::string out_hex;
  LastError error;
};

// KdfCtx is an EVP_KDF_CTX of |name| in |libctx|, freed at scope end.
class KdfCtx {
 public:
  KdfCtx(OSSL_LIB_CTX* libctx, const char* name) {
    EVP_KDF* kdf = EVP_KDF_fetch(libctx, name, nullptr);
    ctx_ = kdf != nullptr ? EVP_KDF_CTX_new(kdf) : nullptr;
    EVP_KDF_free(kdf);
  }
  explicit KdfCtx(EVP_KDF_CTX* ctx) : ctx_(ctx) {}
  ~KdfCtx() { EVP_KDF_CTX_free(ctx_); }
  KdfCtx(const KdfCtx&) = delete;
  KdfCtx& operator=(const KdfCtx&) = delete;

  EVP_KDF_CTX* get() const { return ctx_; }

  Outcome Derive(size_t outlen, const OSSL_PARAM* params = nullptr) {
    ERR_clear_error();
    Outcome outcome;
    std::vector<unsigned char> out(outlen);
    outcome.ok = EVP_KDF_derive(ctx_, out.data(), outlen, params) == 1;
    if (outcome.ok) {
      outcome.out_hex = ToHex(out);
    }
    outcome.error = TakeLastError();
    return outcome;
  }

  Outcome Set(const OSSL_PARAM* params) {
    ERR_clear_error();
    Outcome outcome;
    outcome.ok = EVP_KDF_CTX_set_params(ctx_, params) == 1;
    outcome.error = TakeLastError();
    return outcome;
  }

  size_t Size() { return EVP_KDF_CTX_get_kdf_size(ctx_); }

  // Identity returns the "identity" parameter, or "" with the error kept.
  std::string Identity(LastError* error = nullptr) {
    char buf[256] = {0};
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(
                               ONEM2M_KDF_PARAM_IDENTITY, buf, sizeof(buf)),
                           OSSL_PARAM_construct_end()};
    ERR_clear_error();
    bool ok = EVP_KDF_CTX_get_params(ctx_, params) == 1;
    LastError e = TakeLastError();
    if (error != nullptr) {
      *error = e;
    }
    return ok ? std::string(buf) : "";
  }

 private:
  EVP_KDF_CTX* ctx_ = nullptr;
};

std::string VectorName(const ::testing::TestParamInfo<KnownAnswer>& info) {
  return info.param.Name();
}

// Known answers -------------------------------------------------------------

class PskKdfOnEachVector : public ::testing::TestWithParam<KnownAnswer> {};

// vectors.json "psk": ONEM2M-PSK gives it for the vector's Root Key, KeyID
// and version.
TEST_P(PskKdfOnEachVector, DerivesTheVectorPsk) {
  const KnownAnswer& ka = GetParam();
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_PSK);
  ASSERT_NE(ctx.get(), nullptr);
  ParamList params = PskParams(ka);

  Outcome outcome = ctx.Derive(ka.psk_hex.size() / 2, params.get());

  ASSERT_TRUE(outcome.ok) << outcome.error.reason << ": " << outcome.error.data;
  EXPECT_EQ(outcome.out_hex, ka.psk_hex);
}

// vectors.json "identity", and the PSK length as "size".
TEST_P(PskKdfOnEachVector, ReportsTheVectorIdentityAndSize) {
  const KnownAnswer& ka = GetParam();
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_PSK);
  ASSERT_NE(ctx.get(), nullptr);
  ParamList params = PskParams(ka);

  ASSERT_TRUE(ctx.Set(params.get()).ok);

  EXPECT_EQ(ctx.Identity(), ka.identity);
  EXPECT_EQ(ctx.Size(), ka.psk_hex.size() / 2);
}

class MasterKdfOnEachVector : public ::testing::TestWithParam<KnownAnswer> {};

// vectors.json "master_key": ONEM2M-MASTER from both randoms.
TEST_P(MasterKdfOnEachVector, DerivesTheMasterKeyFromBothRandoms) {
  const KnownAnswer& ka = GetParam();
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_MASTER);
  ASSERT_NE(ctx.get(), nullptr);
  ParamList params = PskParams(ka);
  params.Hex(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, ka.originator_random_hex)
      .Hex(ONEM2M_KDF_PARAM_RECEIVER_RANDOM, ka.receiver_random_hex);

  Outcome outcome = ctx.Derive(48, params.get());

  ASSERT_TRUE(outcome.ok) << outcome.error.reason << ": " << outcome.error.data;
  EXPECT_EQ(outcome.out_hex, ka.master_key_hex);
}

// vectors.json "extended_master_key": ONEM2M-MASTER from the session hash.
TEST_P(MasterKdfOnEachVector, DerivesTheExtendedMasterKeyFromTheSessionHash) {
  const KnownAnswer& ka = GetParam();
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_MASTER);
  ASSERT_NE(ctx.get(), nullptr);
  ParamList params = PskParams(ka);
  params.Hex(ONEM2M_KDF_PARAM_SESSION_HASH, ka.session_hash_hex);

  Outcome outcome = ctx.Derive(48, params.get());

  ASSERT_TRUE(outcome.ok) << outcome.error.reason << ": " << outcome.error.data;
  EXPECT_EQ(outcome.out_hex, ka.extended_master_key_hex);
}

// vectors.json "identity", and 48 as "size", for ONEM2M-MASTER too.
TEST_P(MasterKdfOnEachVector, ReportsTheVectorIdentityAndSize) {
  const KnownAnswer& ka = GetParam();
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_MASTER);
  ASSERT_NE(ctx.get(), nullptr);
  ParamList params = PskParams(ka);

  ASSERT_TRUE(ctx.Set(params.get()).ok);

  EXPECT_EQ(ctx.Identity(), ka.identity);
  EXPECT_EQ(ctx.Size(), 48u);
}

INSTANTIATE_TEST_SUITE_P(VectorsJson, PskKdfOnEachVector,
                         ::testing::ValuesIn(LoadKnownAnswers()), VectorName);
INSTANTIATE_TEST_SUITE_P(VectorsJson, MasterKdfOnEachVector,
                         ::testing::ValuesIn(LoadKnownAnswers()), VectorName);

// The copy in tests/vectors must be the contract's file, byte for byte.
TEST(VectorsCopy, EqualsTheSharedSpecVectors) {
  std::string shared = SourceDir() + "/../shared/spec/vectors.json";
  if (!std::filesystem::exists(shared)) {
    GTEST_SKIP() << shared << " is not there to compare with";
  }
  EXPECT_EQ(ReadFile(SourceDir() + "/tests/vectors/vectors.json"),
            ReadFile(shared));
}

// Bad parameters ------------------------------------------------------------

// BadParameterCase is one invalid input and the reason it must fail with.
struct BadParameterCase {
  const char* name;
  const char* kdf;
  ParamList (*params)();
  size_t outlen;
  const char* reason;
  const char* detail;  // a part of the error text, or ""
};

ParamList GoodPsk() {
  ParamList p;
  p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
      .Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId)
      .Uint(ONEM2M_KDF_PARAM_VERSION, 2);
  return p;
}

ParamList PskWithKey(const std::vector<unsigned char>& key) {
  ParamList p;
  p.Octets(ONEM2M_KDF_PARAM_KEY, key)
      .Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId)
      .Uint(ONEM2M_KDF_PARAM_VERSION, 2);
  return p;
}

ParamList PskWithKeyId(const std::string& key_id) {
  ParamList p;
  p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
      .Utf8(ONEM2M_KDF_PARAM_KEY_ID, key_id)
      .Uint(ONEM2M_KDF_PARAM_VERSION, 2);
  return p;
}

ParamList MasterWithSessionHash(unsigned version, size_t hash_len) {
  ParamList p;
  p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
      .Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId)
      .Uint(ONEM2M_KDF_PARAM_VERSION, version)
      .Octets(ONEM2M_KDF_PARAM_SESSION_HASH,
              std::vector<unsigned char>(hash_len, 0x54));
  return p;
}

const BadParameterCase kBadParameterCases[] = {
    {"NoRootKey", ONEM2M_KDF_PSK,
     [] {
       ParamList p;
       p.Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId)
           .Uint(ONEM2M_KDF_PARAM_VERSION, 2);
       return p;
     },
     32, kMissingRootKey, "hexkey"},
    {"AnEmptyRootKey", ONEM2M_KDF_PSK, [] { return PskWithKey({}); }, 32,
     kBadRootKeyLength, "0 octets"},
    {"A15OctetRootKey", ONEM2M_KDF_PSK,
     [] { return PskWithKey(std::vector<unsigned char>(15, 1)); }, 32,
     kBadRootKeyLength, "15 octets"},
    {"A65OctetRootKey", ONEM2M_KDF_PSK,
     [] { return PskWithKey(std::vector<unsigned char>(65, 1)); }, 32,
     kBadRootKeyLength, "65 octets"},
    {"AnAllZeroRootKey", ONEM2M_KDF_PSK,
     [] { return PskWithKey(std::vector<unsigned char>(32, 0)); }, 32,
     kAllZeroRootKey, "all zero"},
    {"AKeyIdWithAColon", ONEM2M_KDF_PSK,
     [] { return PskWithKeyId("v2:dev-0001@sp.example.com"); }, 32,
     kInvalidKeyId, "':' at position 3"},
    {"AKeyIdWithAnEmbeddedNul", ONEM2M_KDF_PSK,
     [] { return PskWithKeyId(std::string("dev\0001", 5)); }, 32, kInvalidKeyId,
     "octet 0 at position 4"},
    {"AnEmptyKeyId", ONEM2M_KDF_PSK, [] { return PskWithKeyId(""); }, 32,
     kInvalidKeyId, "empty"},
    {"AKeyIdOf121Octets", ONEM2M_KDF_PSK,
     [] { return PskWithKeyId(std::string(121, 'a')); }, 32, kInvalidKeyId,
     "121 octets"},
    {"NoKeyId", ONEM2M_KDF_PSK,
     [] {
       ParamList p;
       p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
           .Uint(ONEM2M_KDF_PARAM_VERSION, 2);
       return p;
     },
     32, kMissingKeyId, "key-id"},
    {"NoVersion", ONEM2M_KDF_PSK,
     [] {
       ParamList p;
       p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
           .Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId);
       return p;
     },
     32, kMissingVersion, "0, 1, 2 or 3"},
    {"Version4", ONEM2M_KDF_PSK,
     [] {
       ParamList p;
       p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
           .Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId)
           .Uint(ONEM2M_KDF_PARAM_VERSION, 4);
       return p;
     },
     32, kUnsupportedVersion, "version 4"},
    {"A31OctetOutputForVersion2", ONEM2M_KDF_PSK, GoodPsk, 31, kBadOutputLength,
     "exactly 32"},
    {"A33OctetOutputForVersion2", ONEM2M_KDF_PSK, GoodPsk, 33, kBadOutputLength,
     "exactly 32"},
    {"AVersionGivenAsAString", ONEM2M_KDF_PSK,
     [] {
       ParamList p;
       p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
           .Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId)
           .Utf8(ONEM2M_KDF_PARAM_VERSION, "2");
       return p;
     },
     32, kWrongParameterType, "unsigned integer"},
    {"ARootKeyGivenAsAString", ONEM2M_KDF_PSK,
     [] {
       ParamList p;
       p.Utf8(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
           .Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId)
           .Uint(ONEM2M_KDF_PARAM_VERSION, 2);
       return p;
     },
     32, kWrongParameterType, "octet string"},
    {"AKeyIdGivenAsOctets", ONEM2M_KDF_PSK,
     [] {
       ParamList p;
       p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex)
           .Octets(ONEM2M_KDF_PARAM_KEY_ID, {'d', 'e', 'v'})
           .Uint(ONEM2M_KDF_PARAM_VERSION, 2);
       return p;
     },
     32, kWrongParameterType, "UTF-8"},
    {"MasterWithoutRandoms", ONEM2M_KDF_MASTER, GoodPsk, 48, kMissingRandom,
     "originator-random"},
    {"MasterWithOnlyTheOriginatorRandom", ONEM2M_KDF_MASTER,
     [] {
       ParamList p = GoodPsk();
       p.Hex(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, kRandomHex);
       return p;
     },
     48, kMissingRandom, "receiver-random"},
    {"MasterWithA31OctetRandom", ONEM2M_KDF_MASTER,
     [] {
       ParamList p = GoodPsk();
       p.Hex(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, kRandomHex)
           .Octets(ONEM2M_KDF_PARAM_RECEIVER_RANDOM,
                   std::vector<unsigned char>(31, 0x60));
       return p;
     },
     48, kBadRandomLength, "31 octets"},
    {"MasterWithA48OctetSessionHashForVersion2", ONEM2M_KDF_MASTER,
     [] { return MasterWithSessionHash(2, 48); }, 48, kBadSessionHashLength,
     "needs 32"},
    {"MasterWithA32OctetSessionHashForVersion3", ONEM2M_KDF_MASTER,
     [] { return MasterWithSessionHash(3, 32); }, 48, kBadSessionHashLength,
     "needs 48"},
    {"MasterWithA20OctetSessionHash", ONEM2M_KDF_MASTER,
     [] { return MasterWithSessionHash(2, 20); }, 48, kBadSessionHashLength,
     "20 octets"},
    {"MasterWithBothRandomsAndTheSessionHash", ONEM2M_KDF_MASTER,
     [] {
       ParamList p = MasterWithSessionHash(2, 32);
       p.Hex(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, kRandomHex)
           .Hex(ONEM2M_KDF_PARAM_RECEIVER_RANDOM, kRandomHex);
       return p;
     },
     48, kConflictingSeeds, "not both"},
    {"MasterWithA32OctetOutput", ONEM2M_KDF_MASTER,
     [] { return MasterWithSessionHash(2, 32); }, 32, kBadOutputLength,
     "exactly 48"},
};

// PrintTo names a case in test output.
void PrintTo(const BadParameterCase& c, std::ostream* os) { *os << c.name; }

class AnInvalidParameter : public ::testing::TestWithParam<BadParameterCase> {};

// Spec section 6: each invalid input fails with its own reason, from the
// onem2m library, with a text that holds no key bytes.
TEST_P(AnInvalidParameter, FailsWithItsOwnReason) {
  const BadParameterCase& c = GetParam();
  KdfCtx ctx(Shared().libctx(), c.kdf);
  ASSERT_NE(ctx.get(), nullptr);
  ParamList params = c.params();

  Outcome outcome = ctx.Derive(c.outlen, params.get());

  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.error.library, ONEM2M_PROVIDER_NAME);
  EXPECT_EQ(outcome.error.reason, c.reason);
  EXPECT_NE(outcome.error.data.find(c.detail), std::string::npos)
      << outcome.error.data;
  EXPECT_EQ(outcome.error.data.find("0c0d0e0f"), std::string::npos);
  EXPECT_EQ(outcome.error.data.find("0C0D0E0F"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    ProviderReasons, AnInvalidParameter,
    ::testing::ValuesIn(kBadParameterCases),
    [](const ::testing::TestParamInfo<BadParameterCase>& info) {
      return std::string(info.param.name);
    });

// Spec section 3: the identity needs both KeyID and version.
TEST(IdentityParameter, IsRefusedUntilKeyIdAndVersionAreSet) {
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_PSK);
  ParamList key_id;
  key_id.Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId);
  ParamList version;
  version.Uint(ONEM2M_KDF_PARAM_VERSION, 2);
  LastError error;

  EXPECT_EQ(ctx.Identity(&error), "");
  EXPECT_EQ(error.reason, kMissingKeyId);
  ASSERT_TRUE(ctx.Set(key_id.get()).ok);
  EXPECT_EQ(ctx.Identity(&error), "");
  EXPECT_EQ(error.reason, kMissingVersion);
  ASSERT_TRUE(ctx.Set(version.get()).ok);
  EXPECT_EQ(ctx.Identity(&error), "v2:dev-0001@sp.example.com");
}

// Context lifecycle ---------------------------------------------------------

// The vector used below: version 3, root32 (vectors.json).
KnownAnswer Vector(unsigned version) {
  for (const KnownAnswer& ka : LoadKnownAnswers()) {
    if (ka.version == version && ka.key_id == kKeyId &&
        ka.root_key_hex == kRootKeyHex) {
      return ka;
    }
  }
  ADD_FAILURE() << "vectors.json lacks version " << version;
  return {};
}

TEST(KdfContextLifecycle, SizeIsZeroUntilTheVersionAndKeyTellIt) {
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_PSK);
  ParamList v0;
  v0.Uint(ONEM2M_KDF_PARAM_VERSION, 0);
  ParamList key;
  key.Octets(ONEM2M_KDF_PARAM_KEY, std::vector<unsigned char>(20, 7));

  EXPECT_EQ(ctx.Size(), 0u);
  ASSERT_TRUE(ctx.Set(v0.get()).ok);
  EXPECT_EQ(ctx.Size(), 0u);
  ASSERT_TRUE(ctx.Set(key.get()).ok);
  EXPECT_EQ(ctx.Size(), 20u);
}

TEST(KdfContextLifecycle, ResetForgetsEveryParameter) {
  KnownAnswer ka = Vector(3);
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_PSK);
  ParamList params = PskParams(ka);
  ASSERT_TRUE(ctx.Set(params.get()).ok);
  ASSERT_EQ(ctx.Size(), 48u);

  EVP_KDF_CTX_reset(ctx.get());

  EXPECT_EQ(ctx.Size(), 0u);
  Outcome outcome = ctx.Derive(48);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.error.reason, kMissingRootKey);
}

TEST(KdfContextLifecycle, AResetContextDerivesLikeAFreshOne) {
  KnownAnswer first = Vector(3);
  KnownAnswer second = Vector(1);
  KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_MASTER);
  ParamList first_params = PskParams(first);
  first_params.Hex(ONEM2M_KDF_PARAM_SESSION_HASH, first.session_hash_hex);
  ASSERT_TRUE(ctx.Derive(48, first_params.get()).ok);

  EVP_KDF_CTX_reset(ctx.get());
  ParamList second_params = PskParams(second);
  second_params
      .Hex(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, second.originator_random_hex)
      .Hex(ONEM2M_KDF_PARAM_RECEIVER_RANDOM, second.receiver_random_hex);
  Outcome outcome = ctx.Derive(48, second_params.get());

  ASSERT_TRUE(outcome.ok) << outcome.error.reason;
  EXPECT_EQ(outcome.out_hex, second.master_key_hex);
}

TEST(KdfContextLifecycle, ADupMidConfigurationDerivesLikeTheOriginal) {
  KnownAnswer ka = Vector(2);
  KdfCtx original(Shared().libctx(), ONEM2M_KDF_MASTER);
  ParamList half;
  half.Hex(ONEM2M_KDF_PARAM_KEY, ka.root_key_hex)
      .Utf8(ONEM2M_KDF_PARAM_KEY_ID, ka.key_id)
      .Hex(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, ka.originator_random_hex);
  ASSERT_TRUE(original.Set(half.get()).ok);

  KdfCtx copy(EVP_KDF_CTX_dup(original.get()));
  ASSERT_NE(copy.get(), nullptr);
  ParamList rest;
  rest.Uint(ONEM2M_KDF_PARAM_VERSION, ka.version)
      .Hex(ONEM2M_KDF_PARAM_RECEIVER_RANDOM, ka.receiver_random_hex);
  Outcome from_original = original.Derive(48, rest.get());
  Outcome from_copy = copy.Derive(48, rest.get());

  ASSERT_TRUE(from_original.ok) << from_original.error.reason;
  ASSERT_TRUE(from_copy.ok) << from_copy.error.reason;
  EXPECT_EQ(from_original.out_hex, ka.master_key_hex);
  EXPECT_EQ(from_copy.out_hex, ka.master_key_hex);
}

TEST(KdfContextLifecycle, ADupDoesNotFollowLaterChangesToTheOriginal) {
  KnownAnswer ka = Vector(2);
  KdfCtx original(Shared().libctx(), ONEM2M_KDF_PSK);
  ParamList params = PskParams(ka);
  ASSERT_TRUE(original.Set(params.get()).ok);
  KdfCtx copy(EVP_KDF_CTX_dup(original.get()));
  ASSERT_NE(copy.get(), nullptr);

  EVP_KDF_CTX_reset(original.get());
  Outcome outcome = copy.Derive(32);

  ASSERT_TRUE(outcome.ok) << outcome.error.reason;
  EXPECT_EQ(outcome.out_hex, ka.psk_hex);
}

// Each case: a good value, then an empty or bad one for the same
// parameter, on ONEM2M-MASTER with everything else set.
struct ReplacedValue {
  const char* what;
  std::string param;
  ParamList good;
  ParamList bad;
};

std::vector<ReplacedValue> ReplacedValues() {
  std::vector<ReplacedValue> cases;
  auto add = [&cases](const char* what, const char* name,
                      const std::vector<unsigned char>& good,
                      const std::vector<unsigned char>& bad) {
    ReplacedValue c{what, name, {}, {}};
    c.good.Octets(name, good);
    c.bad.Octets(name, bad);
    cases.push_back(std::move(c));
  };
  add("an empty key", ONEM2M_KDF_PARAM_KEY, FromHex(kRootKeyHex), {});
  add("a short key", ONEM2M_KDF_PARAM_KEY, FromHex(kRootKeyHex),
      std::vector<unsigned char>(15, 1));
  add("an empty originator random", ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM,
      FromHex(kRandomHex), {});
  add("an empty session hash", ONEM2M_KDF_PARAM_SESSION_HASH,
      FromHex(kRandomHex), {});
  ReplacedValue key_id{"an empty key-id", ONEM2M_KDF_PARAM_KEY_ID, {}, {}};
  key_id.good.Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId);
  key_id.bad.Utf8(ONEM2M_KDF_PARAM_KEY_ID, "");
  cases.push_back(std::move(key_id));
  ReplacedValue version{
      "an unsupported version", ONEM2M_KDF_PARAM_VERSION, {}, {}};
  version.good.Uint(ONEM2M_KDF_PARAM_VERSION, 2);
  version.bad.Uint(ONEM2M_KDF_PARAM_VERSION, 9);
  cases.push_back(std::move(version));
  return cases;
}

// MasterBaseExcept is a MASTER configuration without |param| (and, when
// |param| is the session hash, without the randoms it excludes).
ParamList MasterBaseExcept(const std::string& param) {
  ParamList p;
  if (param != ONEM2M_KDF_PARAM_KEY) {
    p.Hex(ONEM2M_KDF_PARAM_KEY, kRootKeyHex);
  }
  if (param != ONEM2M_KDF_PARAM_KEY_ID) {
    p.Utf8(ONEM2M_KDF_PARAM_KEY_ID, kKeyId);
  }
  if (param != ONEM2M_KDF_PARAM_VERSION) {
    p.Uint(ONEM2M_KDF_PARAM_VERSION, 2);
  }
  if (param == ONEM2M_KDF_PARAM_SESSION_HASH) {
    return p;
  }
  if (param != ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM) {
    p.Hex(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, kRandomHex);
  }
  p.Hex(ONEM2M_KDF_PARAM_RECEIVER_RANDOM, kRandomHex);
  return p;
}

TEST(KdfContextLifecycle, ABadValueAfterAGoodOneBehavesAsOnAFreshContext) {
  for (ReplacedValue& c : ReplacedValues()) {
    SCOPED_TRACE(c.what);
    ParamList base = MasterBaseExcept(c.param);
    KdfCtx fresh(Shared().libctx(), ONEM2M_KDF_MASTER);
    KdfCtx reused(Shared().libctx(), ONEM2M_KDF_MASTER);
    ASSERT_TRUE(fresh.Set(base.get()).ok);
    ASSERT_TRUE(reused.Set(base.get()).ok);
    ASSERT_TRUE(reused.Set(c.good.get()).ok);

    Outcome fresh_set = fresh.Set(c.bad.get());
    Outcome reused_set = reused.Set(c.bad.get());
    Outcome fresh_derive = fresh.Derive(48);
    Outcome reused_derive = reused.Derive(48);

    EXPECT_FALSE(fresh_set.ok);
    EXPECT_EQ(reused_set.ok, fresh_set.ok);
    EXPECT_EQ(reused_set.error.reason, fresh_set.error.reason);
    EXPECT_FALSE(fresh_derive.ok);
    EXPECT_EQ(reused_derive.ok, fresh_derive.ok);
    EXPECT_EQ(reused_derive.error.reason, fresh_derive.error.reason);
    EXPECT_EQ(reused_derive.out_hex, fresh_derive.out_hex);
  }
}

// The provider ---------------------------------------------------------------

void CollectKdf(EVP_KDF* kdf, void* arg) {
  auto* names = static_cast<std::set<std::string>*>(arg);
  const OSSL_PROVIDER* prov = EVP_KDF_get0_provider(kdf);
  names->insert(std::string(EVP_KDF_get0_name(kdf)) + "@" +
                OSSL_PROVIDER_get0_name(prov));
}

TEST(Onem2mProvider, ProvidesBothKdfs) {
  std::set<std::string> names;

  EVP_KDF_do_all_provided(Shared().libctx(), CollectKdf, &names);

  EXPECT_EQ(names.count("ONEM2M-PSK@onem2m"), 1u);
  EXPECT_EQ(names.count("ONEM2M-MASTER@onem2m"), 1u);
}

TEST(Onem2mProvider, ReportsItsNameVersionAndStatus) {
  const char* name = nullptr;
  const char* version = nullptr;
  int status = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_NAME,
                                    const_cast<char**>(&name), 0),
      OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_VERSION,
                                    const_cast<char**>(&version), 0),
      OSSL_PARAM_construct_int(OSSL_PROV_PARAM_STATUS, &status),
      OSSL_PARAM_construct_end()};

  ASSERT_EQ(OSSL_PROVIDER_get_params(Shared().onem2m(), params), 1);

  ASSERT_NE(name, nullptr);
  EXPECT_NE(std::string(name).find("oneM2M"), std::string::npos);
  ASSERT_NE(version, nullptr);
  EXPECT_STRNE(version, "");
  EXPECT_EQ(status, 1);
}

TEST(Onem2mProvider, WithoutTheDefaultProviderFailsWithItsOwnReason) {
  ProviderSet alone(/*with_default=*/false);
  ASSERT_NE(alone.onem2m(), nullptr);
  KnownAnswer v0 = Vector(0);
  KnownAnswer v2 = Vector(2);

  // Version 0 needs no inner algorithm; version 2 and the master key do.
  KdfCtx psk(alone.libctx(), ONEM2M_KDF_PSK);
  ParamList v0_params = PskParams(v0);
  Outcome plain = psk.Derive(32, v0_params.get());
  ParamList v2_params = PskParams(v2);
  Outcome derived = psk.Derive(32, v2_params.get());
  KdfCtx master(alone.libctx(), ONEM2M_KDF_MASTER);
  ParamList master_params = PskParams(v0);
  master_params.Hex(ONEM2M_KDF_PARAM_SESSION_HASH, v0.session_hash_hex);
  Outcome master_key = master.Derive(48, master_params.get());

  EXPECT_TRUE(plain.ok);
  EXPECT_EQ(plain.out_hex, v0.psk_hex);
  EXPECT_FALSE(derived.ok);
  EXPECT_EQ(derived.error.reason, kInnerUnavailable);
  EXPECT_FALSE(master_key.ok);
  EXPECT_EQ(master_key.error.reason, kInnerUnavailable);
}

// DeriveAll derives the PSK and both master keys of |ka| in |libctx|;
// returns the number of mismatches or failures.
int DeriveAll(OSSL_LIB_CTX* libctx, const KnownAnswer& ka) {
  int failures = 0;
  KdfCtx psk(libctx, ONEM2M_KDF_PSK);
  KdfCtx master(libctx, ONEM2M_KDF_MASTER);
  if (psk.get() == nullptr || master.get() == nullptr) {
    return 3;
  }
  ParamList p = PskParams(ka);
  failures += psk.Derive(ka.psk_hex.size() / 2, p.get()).out_hex != ka.psk_hex;
  ParamList randoms = PskParams(ka);
  randoms.Hex(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, ka.originator_random_hex)
      .Hex(ONEM2M_KDF_PARAM_RECEIVER_RANDOM, ka.receiver_random_hex);
  failures += master.Derive(48, randoms.get()).out_hex != ka.master_key_hex;
  EVP_KDF_CTX_reset(master.get());
  ParamList session = PskParams(ka);
  session.Hex(ONEM2M_KDF_PARAM_SESSION_HASH, ka.session_hash_hex);
  failures +=
      master.Derive(48, session.get()).out_hex != ka.extended_master_key_hex;
  return failures;
}

// Run in a child process (a death test): every load takes an error library
// number that OpenSSL never gives back, and a few hundred of them would
// wrap onto OpenSSL's own libraries for the tests that follow.
TEST(ProviderReloadDeathTest,
     LoadsUnloadsAndReloads100TimesInOneLibraryContext) {
  std::vector<KnownAnswer> vectors = LoadKnownAnswers();
  auto reload = [&vectors] {
    OSSL_LIB_CTX* libctx = OSSL_LIB_CTX_new();
    if (std::getenv("OPENSSL_MODULES") == nullptr) {
      OSSL_PROVIDER_set_default_search_path(libctx, ModulesDir().c_str());
    }
    OSSL_PROVIDER* def = OSSL_PROVIDER_load(libctx, "default");
    int failures = def == nullptr;
    for (int i = 0; i < 100; i++) {
      OSSL_PROVIDER* prov = OSSL_PROVIDER_load(libctx, ONEM2M_PROVIDER_NAME);
      if (prov == nullptr) {
        fprintf(stderr, "load %d failed\n", i);
        failures++;
        continue;
      }
      failures += DeriveAll(libctx, vectors[i % vectors.size()]);
      if (!OSSL_PROVIDER_unload(prov)) {
        fprintf(stderr, "unload %d failed\n", i);
        failures++;
      }
      ERR_set_mark();
      EVP_KDF* gone = EVP_KDF_fetch(libctx, ONEM2M_KDF_PSK, nullptr);
      ERR_pop_to_mark();
      if (gone != nullptr) {
        fprintf(stderr, "ONEM2M-PSK still there after unload %d\n", i);
        EVP_KDF_free(gone);
        failures++;
      }
    }
    OSSL_PROVIDER_unload(def);
    OSSL_LIB_CTX_free(libctx);
    fprintf(stderr, "failures: %d\n", failures);
    std::exit(failures == 0 ? 0 : 1);
  };

  EXPECT_EXIT(reload(), ::testing::ExitedWithCode(0), "failures: 0");
}

// OpenSSL's own answer for spec section 4 on |root_key| and |key_id|:
// version 1 from EVP_MAC HMAC-SHA-256, versions 2 and 3 from EVP_KDF KBKDF
// in counter mode (salt = Label, info = Context), as the spec defines them.
std::string OpensslPsk(OSSL_LIB_CTX* libctx, unsigned version,
                       const std::vector<unsigned char>& root_key,
                       const std::string& key_id) {
  std::vector<unsigned char> out(version == 3 ? 48 : 32);
  std::string label = "oneM2M-PSK";
  char mode[] = "COUNTER";
  char mac_name[] = "HMAC";
  char digest[] = "SHA256";
  char digest384[] = "SHA384";
  if (version == 1) {
    EVP_MAC* mac = EVP_MAC_fetch(libctx, "HMAC", nullptr);
    EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    std::string l1 = "oneM2M Root Key to Pre-Shared Key derivation";
    std::string message = l1 + key_id;
    size_t written = 0;
    bool ok = ctx != nullptr &&
              EVP_MAC_init(ctx, root_key.data(), root_key.size(), params) &&
              EVP_MAC_update(
                  ctx, reinterpret_cast<const unsigned char*>(message.data()),
                  message.size()) &&
              EVP_MAC_final(ctx, out.data(), &written, out.size());
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok && written == out.size() ? ToHex(out) : "";
  }
  EVP_KDF* kdf = EVP_KDF_fetch(libctx, "KBKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf != nullptr ? EVP_KDF_CTX_new(kdf) : nullptr;
  std::string info = key_id;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, mode, 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, mac_name, 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       version == 3 ? digest384 : digest, 0),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(root_key.data()),
          root_key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, label.data(),
                                        label.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  bool ok = ctx != nullptr &&
            EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok ? ToHex(out) : "";
}

// The provider computes versions 1 to 3 on OpenSSL's HMAC itself (for
// speed, docs/performance.md); on random Root Keys and KeyIDs of every
// allowed length it must give exactly what OpenSSL's HMAC and KBKDF give.
TEST(PskKdfCrossCheck, MatchesOpensslHmacAndKbkdfOnRandomInputs) {
  const char kKeyIdChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@";
  const unsigned seed = 20261204;  // fixed: a failure reproduces
  std::mt19937 rng(seed);
  int compared = 0;

  for (int round = 0; round < 300; round++) {
    std::vector<unsigned char> root_key(16 + rng() % 49);
    for (unsigned char& octet : root_key) {
      octet = static_cast<unsigned char>(rng());
    }
    root_key[0] |= 1;  // never all zero
    std::string key_id(1 + rng() % 120, 'x');
    for (char& c : key_id) {
      c = kKeyIdChars[rng() % (sizeof(kKeyIdChars) - 1)];
    }
    for (unsigned version = 1; version <= 3; version++) {
      ParamList params;
      params.Octets(ONEM2M_KDF_PARAM_KEY, root_key)
          .Utf8(ONEM2M_KDF_PARAM_KEY_ID, key_id)
          .Uint(ONEM2M_KDF_PARAM_VERSION, version);
      KdfCtx ctx(Shared().libctx(), ONEM2M_KDF_PSK);
      Outcome ours = ctx.Derive(version == 3 ? 48 : 32, params.get());
      std::string openssl =
          OpensslPsk(Shared().libctx(), version, root_key, key_id);
      ASSERT_TRUE(ours.ok) << ours.error.data;
      ASSERT_FALSE(openssl.empty());
      ASSERT_EQ(ours.out_hex, openssl)
          << "seed " << seed << " round " << round << " version " << version
          << " KeyID " << key_id;
      compared++;
    }
  }
  EXPECT_EQ(compared, 900);
}

TEST(ProviderUnderLoad, FetchesAndDerivesFrom50ThreadsAtOnce) {
  // A fresh context, so that the threads also race for the first fetch of
  // the inner algorithms.
  ProviderSet set;
  ASSERT_NE(set.onem2m(), nullptr);
  std::vector<KnownAnswer> vectors = LoadKnownAnswers();
  std::atomic<bool> go{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;

  for (int t = 0; t < 50; t++) {
    threads.emplace_back([&, t] {
      while (!go.load()) {
        std::this_thread::yield();
      }
      for (int i = 0; i < 8; i++) {
        failures += DeriveAll(set.libctx(), vectors[(t + i) % vectors.size()]);
      }
    });
  }
  go = true;
  for (std::thread& thread : threads) {
    thread.join();
  }

  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace onem2m::testing
