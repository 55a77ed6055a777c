// The onem2m provider (spec section 6): its entry point, its algorithm
// table, its parameters and reason strings, and the per-instance state.

#include "provider.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>

#include <exception>
#include <memory>

#include "inner_algorithms.h"
#include "kdf_common.h"
#include "onem2m/kdf.h"
#include "provider_context.h"
#include "provider_errors.h"

#ifndef ONEM2M_PROVIDER_VERSION
#define ONEM2M_PROVIDER_VERSION "unknown"
#endif

namespace onem2m::provider {

// ProviderContext ------------------------------------------------------------

ProviderContext::ProviderContext(const CoreErrors& errors, OSSL_LIB_CTX* libctx)
    : errors_(errors), libctx_(libctx) {}

ProviderContext::~ProviderContext() {
  // The inner algorithms hold references into the child library context,
  // so they go first.
  delete inner_.load(std::memory_order_acquire);
  OSSL_LIB_CTX_free(libctx_);
}

const InnerAlgorithms* ProviderContext::Inner() {
  InnerAlgorithms* inner = inner_.load(std::memory_order_acquire);
  if (inner != nullptr) {
    return inner;
  }

  // First use: fetch under the lock, so that racing threads fetch once.
  // Not at provider init: the child library context may not see the
  // default provider until the application has loaded it.
  std::lock_guard<std::mutex> lock(inner_mutex_);
  inner = inner_.load(std::memory_order_relaxed);
  if (inner == nullptr) {
    inner = InnerAlgorithms::Fetch(libctx_, errors_).release();
    inner_.store(inner, std::memory_order_release);
  }
  return inner;
}

namespace {

const char kProviderName[] = "oneM2M symmetric-key authentication provider";
const char kBuildInfo[] =
    "onem2m " ONEM2M_PROVIDER_VERSION ", built with " OPENSSL_VERSION_TEXT;

// The KDFs of spec section 6.
const OSSL_ALGORITHM kKdfAlgorithms[] = {
    {ONEM2M_KDF_PSK, "provider=" ONEM2M_PROVIDER_NAME, kPskKdfFunctions,
     "oneM2M Root Key to PSK (KDF versions 0 to 3)"},
    {ONEM2M_KDF_MASTER, "provider=" ONEM2M_PROVIDER_NAME, kMasterKdfFunctions,
     "oneM2M Root Key to TLS 1.2 (extended) master secret"},
    {nullptr, nullptr, nullptr, nullptr},
};

const OSSL_PARAM kProviderGettableParams[] = {
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, nullptr, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, nullptr, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, nullptr, 0),
    OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, nullptr),
    OSSL_PARAM_END,
};

// Teardown frees the instance: inner algorithms, child library context.
void Teardown(void* provctx) { delete static_cast<ProviderContext*>(provctx); }

const OSSL_PARAM* GettableParams(void* /*provctx*/) {
  return kProviderGettableParams;
}

// GetParams answers name, version, build information and status.
int GetParams(void* /*provctx*/, OSSL_PARAM params[]) {
  OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
  if (p != nullptr && !OSSL_PARAM_set_utf8_ptr(p, kProviderName)) {
    return 0;
  }
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
  if (p != nullptr && !OSSL_PARAM_set_utf8_ptr(p, ONEM2M_PROVIDER_VERSION)) {
    return 0;
  }
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
  if (p != nullptr && !OSSL_PARAM_set_utf8_ptr(p, kBuildInfo)) {
    return 0;
  }
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
  if (p != nullptr && !OSSL_PARAM_set_int(p, 1)) {
    return 0;
  }
  return 1;
}

// QueryOperation lists the KDFs; the provider has no other operation.
const OSSL_ALGORITHM* QueryOperation(void* /*provctx*/, int operation_id,
                                     int* no_cache) {
  *no_cache = 0;
  return operation_id == OSSL_OP_KDF ? kKdfAlgorithms : nullptr;
}

const OSSL_ITEM* GetReasonStrings(void* /*provctx*/) { return ReasonStrings(); }

const OSSL_DISPATCH kProviderFunctions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, FunctionPointer(Teardown)},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, FunctionPointer(GettableParams)},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, FunctionPointer(GetParams)},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, FunctionPointer(QueryOperation)},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, FunctionPointer(GetReasonStrings)},
    {0, nullptr},
};

}  // namespace

}  // namespace onem2m::provider

// onem2m_provider_init sets up one provider instance, loaded as a module
// (module.cc) or registered as a built-in by the PSK library.
extern "C" int onem2m_provider_init(const OSSL_CORE_HANDLE* handle,
                                    const OSSL_DISPATCH* in,
                                    const OSSL_DISPATCH** out, void** provctx) {
  using onem2m::provider::CoreErrors;
  using onem2m::provider::ProviderContext;

  CoreErrors errors;
  errors.Bind(handle, in);

  // The child library context sees the providers that the application
  // loads, now or later; the inner algorithms come from there.
  OSSL_LIB_CTX* libctx = OSSL_LIB_CTX_new_child(handle, in);
  if (libctx == nullptr) {
    ONEM2M_PROV_RAISE(errors, onem2m::provider::kReasonInternalError,
                      "cannot create the provider's child library context");
    return 0;
  }

  try {
    *provctx = new ProviderContext(errors, libctx);
  } catch (const std::exception& e) {
    OSSL_LIB_CTX_free(libctx);
    ONEM2M_PROV_RAISE_EXCEPTION(errors, e);
    return 0;
  }
  *out = onem2m::provider::kProviderFunctions;
  return 1;
}
