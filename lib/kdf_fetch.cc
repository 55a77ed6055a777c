#include "kdf_fetch.h"

#include <openssl/err.h>
#include <openssl/provider.h>

#include <mutex>

#include "errors.h"
#include "onem2m/kdf.h"
#include "provider.h"

namespace onem2m {

namespace {

// Serialises the load of the built-in provider so that two threads that
// attach at once do not both register it.
std::mutex load_mutex;

}  // namespace

EvpKdfPtr FetchOnem2mKdf(OSSL_LIB_CTX* libctx, const char* propq,
                         const char* name) {
  // The common case: the application (or its openssl.cnf) loaded it.
  ERR_set_mark();
  EvpKdfPtr kdf(EVP_KDF_fetch(libctx, name, propq));
  if (kdf != nullptr) {
    ERR_pop_to_mark();
    return kdf;
  }

  // Otherwise load the built-in copy into this library context. try_load
  // with retain_fallbacks keeps the default provider loadable, as it would
  // have been had we not loaded anything.
  {
    std::lock_guard<std::mutex> lock(load_mutex);
    if (!OSSL_PROVIDER_available(libctx, ONEM2M_PROVIDER_NAME)) {
      OSSL_PROVIDER_add_builtin(libctx, ONEM2M_PROVIDER_NAME,
                                onem2m_provider_init);
      // The provider stays loaded for the life of |libctx|.
      OSSL_PROVIDER_try_load(libctx, ONEM2M_PROVIDER_NAME, 1);
    }
  }
  kdf.reset(EVP_KDF_fetch(libctx, name, propq));
  if (kdf != nullptr) {
    ERR_pop_to_mark();
    return kdf;
  }
  ERR_clear_last_mark();
  ONEM2M_RAISE(ONEM2M_R_PROVIDER_UNAVAILABLE,
               "cannot fetch %s from the onem2m provider (property query "
               "\"%s\"); load it from openssl.cnf or check OPENSSL_MODULES",
               name, propq != nullptr ? propq : "");
  return nullptr;
}

}  // namespace onem2m
