#include "deterministic_rand.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <cstdint>
#include <cstring>

namespace onem2m::fuzz {

namespace {

constexpr char kProviderName[] = "onem2m-fuzz-rand";
constexpr char kRandName[] = "ONEM2M-FUZZ-RAND";

// The stream position; the fuzzers run one input at a time on one thread.
uint64_t stream_position = 0;

// NextWord is SplitMix64 over the stream position: well spread octets, so
// that no derived key is all zero or otherwise degenerate.
uint64_t NextWord() {
  uint64_t z = (stream_position += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The algorithm context carries nothing: the stream is global.
int context_token;

void* NewCtx(void* /*provctx*/, void* /*parent*/,
             const OSSL_DISPATCH* /*parent_calls*/) {
  return &context_token;
}

void FreeCtx(void* /*vctx*/) {}

int Instantiate(void* /*vctx*/, unsigned int /*strength*/,
                int /*prediction_resistance*/, const unsigned char* /*pstr*/,
                size_t /*pstr_len*/, const OSSL_PARAM* /*params*/) {
  return 1;
}

int Uninstantiate(void* /*vctx*/) { return 1; }

int Generate(void* /*vctx*/, unsigned char* out, size_t outlen,
             unsigned int /*strength*/, int /*prediction_resistance*/,
             const unsigned char* /*adin*/, size_t /*adin_len*/) {
  while (outlen > 0) {
    uint64_t word = NextWord();
    size_t n = outlen < sizeof(word) ? outlen : sizeof(word);
    std::memcpy(out, &word, n);
    out += n;
    outlen -= n;
  }
  return 1;
}

int EnableLocking(void* /*vctx*/) { return 1; }

// GetCtxParams reports a ready DRBG of 256-bit strength, as the TLS stack
// and the DRBG chaining ask before they draw.
int GetCtxParams(void* /*vctx*/, OSSL_PARAM params[]) {
  OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE);
  if (p != nullptr && !OSSL_PARAM_set_int(p, EVP_RAND_STATE_READY)) {
    return 0;
  }
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH);
  if (p != nullptr && !OSSL_PARAM_set_uint(p, 256)) {
    return 0;
  }
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST);
  if (p != nullptr && !OSSL_PARAM_set_size_t(p, 1 << 16)) {
    return 0;
  }
  return 1;
}

const OSSL_PARAM* GettableCtxParams(void* /*vctx*/, void* /*provctx*/) {
  static const OSSL_PARAM kGettable[] = {
      OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, nullptr),
      OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, nullptr),
      OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, nullptr),
      OSSL_PARAM_END,
  };
  return kGettable;
}

template <typename F>
void (*Fn(F* f))(void) {
  return reinterpret_cast<void (*)(void)>(f);
}

const OSSL_DISPATCH kRandFunctions[] = {
    {OSSL_FUNC_RAND_NEWCTX, Fn(NewCtx)},
    {OSSL_FUNC_RAND_FREECTX, Fn(FreeCtx)},
    {OSSL_FUNC_RAND_INSTANTIATE, Fn(Instantiate)},
    {OSSL_FUNC_RAND_UNINSTANTIATE, Fn(Uninstantiate)},
    {OSSL_FUNC_RAND_GENERATE, Fn(Generate)},
    {OSSL_FUNC_RAND_ENABLE_LOCKING, Fn(EnableLocking)},
    {OSSL_FUNC_RAND_GET_CTX_PARAMS, Fn(GetCtxParams)},
    {OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS, Fn(GettableCtxParams)},
    {0, nullptr},
};

const OSSL_ALGORITHM kAlgorithms[] = {
    {kRandName, "provider=onem2m-fuzz-rand", kRandFunctions,
     "deterministic octets for fuzzing"},
    {nullptr, nullptr, nullptr, nullptr},
};

const OSSL_ALGORITHM* Query(void* /*provctx*/, int operation_id,
                            int* no_cache) {
  *no_cache = 0;
  return operation_id == OSSL_OP_RAND ? kAlgorithms : nullptr;
}

const OSSL_DISPATCH kProviderFunctions[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, Fn(Query)},
    {0, nullptr},
};

int ProviderInit(const OSSL_CORE_HANDLE* /*handle*/,
                 const OSSL_DISPATCH* /*in*/, const OSSL_DISPATCH** out,
                 void** provctx) {
  *out = kProviderFunctions;
  *provctx = &context_token;
  return 1;
}

}  // namespace

bool InstallDeterministicRand() {
  // Loading any provider explicitly stops the default one from loading
  // implicitly, so it is loaded here too.
  return OSSL_PROVIDER_add_builtin(nullptr, kProviderName, ProviderInit) == 1 &&
         OSSL_PROVIDER_load(nullptr, kProviderName) != nullptr &&
         OSSL_PROVIDER_load(nullptr, "default") != nullptr &&
         RAND_set_DRBG_type(nullptr, kRandName, "provider=onem2m-fuzz-rand",
                            nullptr, nullptr) == 1;
}

void ResetDeterministicRand() { stream_position = 0; }

}  // namespace onem2m::fuzz
