#include "kdf_fetch.h"

#include <openssl/err.h>

#include <mutex>

#include "errors.h"
#include "onem2m/kdf.h"
#include "provider.h"

namespace onem2m {

namespace {

// Serialises registering the built-in provider, so that two threads that
// attach at once do not both add it.
std::mutex builtin_mutex;

// Activate takes one activation of the onem2m provider in |libctx|: the
// loaded one if any (try_load finds it), else the module, else the
// built-in copy. retain_fallbacks keeps the default provider loadable, as
// it would have been had we loaded nothing.
OSSL_PROVIDER* Activate(OSSL_LIB_CTX* libctx) {
  ERR_set_mark();
  // The provider computes HMAC, KBKDF and TLS1-PRF with what |libctx|'s
  // other providers offer, through a child library context that sees only
  // activated providers. Asking whether "default" is available activates
  // it, as the fallback, when the application loaded no provider itself.
  OSSL_PROVIDER_available(libctx, "default");
  OSSL_PROVIDER* prov = OSSL_PROVIDER_try_load(libctx, ONEM2M_PROVIDER_NAME, 1);
  if (prov == nullptr) {
    std::lock_guard<std::mutex> lock(builtin_mutex);
    OSSL_PROVIDER_add_builtin(libctx, ONEM2M_PROVIDER_NAME,
                              onem2m_provider_init);
    prov = OSSL_PROVIDER_try_load(libctx, ONEM2M_PROVIDER_NAME, 1);
  }
  ERR_pop_to_mark();
  return prov;
}

}  // namespace

Onem2mKdf FetchOnem2mKdf(OSSL_LIB_CTX* libctx, const char* propq,
                         const char* name) {
  Onem2mKdf out;
  out.provider_.reset(Activate(libctx));
  if (out.provider_ != nullptr) {
    out.kdf_.reset(EVP_KDF_fetch(libctx, name, propq));
  }
  if (!out) {
    ERR_clear_error();
    ONEM2M_RAISE(ONEM2M_R_PROVIDER_UNAVAILABLE,
                 "cannot fetch %s from the onem2m provider (property query "
                 "\"%s\"): load it from openssl.cnf, or check "
                 "OPENSSL_MODULES",
                 name, propq != nullptr ? propq : "");
    return Onem2mKdf();
  }
  return out;
}

}  // namespace onem2m
