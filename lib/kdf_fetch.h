// Fetching the onem2m KDFs in an application's library context.

#ifndef ONEM2M_LIB_KDF_FETCH_H_
#define ONEM2M_LIB_KDF_FETCH_H_

#include <openssl/provider.h>
#include <openssl/types.h>

#include "openssl_ptr.h"

namespace onem2m {

// Onem2mKdf is a fetched onem2m KDF together with the provider activation
// that backs it: the provider stays active while this object lives, and
// is released (not leaked, not torn down early) when it goes.
class Onem2mKdf {
 public:
  Onem2mKdf() = default;
  EVP_KDF* get() const { return kdf_.get(); }
  explicit operator bool() const { return kdf_ != nullptr; }

 private:
  friend Onem2mKdf FetchOnem2mKdf(OSSL_LIB_CTX*, const char*, const char*);
  static void Unload(OSSL_PROVIDER* p) { OSSL_PROVIDER_unload(p); }

  // Declared first so that it is released after kdf_.
  std::unique_ptr<OSSL_PROVIDER, decltype(&Unload)> provider_{nullptr, &Unload};
  EvpKdfPtr kdf_;
};

// FetchOnem2mKdf fetches |name| (ONEM2M-PSK or ONEM2M-MASTER) in |libctx|
// with |propq|. It activates the onem2m provider there: the one the
// application loaded (openssl.cnf or code), else onem2m.so from the
// modules directory, else the library's built-in copy, keeping the
// fallback (default) provider available. Returns an empty object with
// PROVIDER_UNAVAILABLE raised when all of that fails.
Onem2mKdf FetchOnem2mKdf(OSSL_LIB_CTX* libctx, const char* propq,
                         const char* name);

}  // namespace onem2m

#endif  // ONEM2M_LIB_KDF_FETCH_H_
