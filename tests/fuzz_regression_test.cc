// Regression tests for what fuzz/ found (docs/reliability.md). Each case
// names the fuzz target and the corpus file that reproduces it; the fuzz
// smoke run of scripts/test.sh replays those files too.

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include <cstdlib>
#include <string>

#include "onem2m/kdf.h"
#include "test_support.h"

namespace onem2m::testing {
namespace {

// Onem2mLibctx is a library context with onem2m.so and the default
// provider, one for the binary (each load takes an error library number).
OSSL_LIB_CTX* Onem2mLibctx() {
  static OSSL_LIB_CTX* libctx = [] {
    OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
    if (std::getenv("OPENSSL_MODULES") == nullptr) {
      OSSL_PROVIDER_set_default_search_path(ctx, ModulesDir().c_str());
    }
    OSSL_PROVIDER_load(ctx, "default");
    OSSL_PROVIDER_load(ctx, ONEM2M_PROVIDER_NAME);
    return ctx;
  }();
  return libctx;
}

// SetOne sets |p| alone on a fresh context of the KDF |kdf_name| and
// returns the reason string of the error raised, or "" when it succeeded.
std::string SetOne(const char* kdf_name, const OSSL_PARAM& p) {
  ERR_clear_error();
  EVP_KDF* kdf = EVP_KDF_fetch(Onem2mLibctx(), kdf_name, nullptr);
  EVP_KDF_CTX* ctx = kdf == nullptr ? nullptr : EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) {
    ADD_FAILURE() << "cannot fetch " << kdf_name;
    return "no KDF";
  }
  OSSL_PARAM params[] = {p, OSSL_PARAM_construct_end()};
  int ok = EVP_KDF_CTX_set_params(ctx, params);
  EVP_KDF_CTX_free(ctx);
  unsigned long e = ERR_peek_last_error();
  std::string reason = ok == 1 || e == 0 ? "" : ERR_reason_error_string(e);
  ERR_clear_error();
  return ok == 1 ? "" : reason.empty() ? "failed, no reason" : reason;
}

OSSL_PARAM RawParam(const char* key, unsigned int type, void* data,
                    size_t size) {
  OSSL_PARAM p = OSSL_PARAM_construct_end();
  p.key = key;
  p.data_type = type;
  p.data = data;
  p.data_size = size;
  p.return_size = OSSL_PARAM_UNMODIFIED;
  return p;
}

class FuzzRegression : public ::testing::TestWithParam<const char*> {};

// kdf_params_fuzzer, corpus file regress_version_without_data: OpenSSL
// 3.0's OSSL_PARAM_get_uint64 read the octet before the data of an integer
// without octets, a crash when data was NULL.
TEST_P(FuzzRegression, AnIntegerVersionWithoutOctetsIsAWrongTypeNotARead) {
  unsigned char none[1] = {0};
  for (unsigned int type : {OSSL_PARAM_INTEGER, OSSL_PARAM_UNSIGNED_INTEGER}) {
    EXPECT_EQ(SetOne(GetParam(),
                     RawParam(ONEM2M_KDF_PARAM_VERSION, type, nullptr, 0)),
              "wrong parameter type");
    EXPECT_EQ(
        SetOne(GetParam(), RawParam(ONEM2M_KDF_PARAM_VERSION, type, none, 0)),
        "wrong parameter type");
  }
}

// kdf_params_fuzzer, the same kind: OpenSSL 3.0's
// OSSL_PARAM_get_octet_string_ptr reads an OCTET_PTR parameter through its
// data pointer, a crash when that is NULL. It is an empty value.
TEST_P(FuzzRegression, AnOctetPointerWithoutDataIsAnEmptyValue) {
  EXPECT_EQ(SetOne(GetParam(), RawParam(ONEM2M_KDF_PARAM_KEY,
                                        OSSL_PARAM_OCTET_PTR, nullptr, 0)),
            "Root Key not 16 to 64 octets");
  EXPECT_EQ(SetOne(GetParam(), RawParam(ONEM2M_KDF_PARAM_KEY,
                                        OSSL_PARAM_OCTET_STRING, nullptr, 0)),
            "Root Key not 16 to 64 octets");
}

INSTANTIATE_TEST_SUITE_P(Kdfs, FuzzRegression,
                         ::testing::Values(ONEM2M_KDF_PSK, ONEM2M_KDF_MASTER),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           return std::string(i.param) == ONEM2M_KDF_PSK
                                      ? "OnOnem2mPsk"
                                      : "OnOnem2mMaster";
                         });

// The same for the seeds of ONEM2M-MASTER, which only it reads.
TEST(FuzzRegressionMaster, ARandomPointerWithoutDataIsAnEmptyValue) {
  EXPECT_EQ(
      SetOne(ONEM2M_KDF_MASTER, RawParam(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM,
                                         OSSL_PARAM_OCTET_PTR, nullptr, 0)),
      "random not 32 octets");
  EXPECT_EQ(
      SetOne(ONEM2M_KDF_MASTER, RawParam(ONEM2M_KDF_PARAM_SESSION_HASH,
                                         OSSL_PARAM_OCTET_PTR, nullptr, 0)),
      "session hash length differs from the version's hash");
}

}  // namespace
}  // namespace onem2m::testing
