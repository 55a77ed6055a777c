// The loadable module onem2m.so: OpenSSL calls OSSL_provider_init, the only
// symbol it exports (module.map), when it loads the provider through
// openssl.cnf, OSSL_PROVIDER_load or -provider.

#include <openssl/core.h>

#include "provider.h"

// OSSL_provider_init hands over to the provider's real entry point.
extern "C" __attribute__((visibility("default"))) int OSSL_provider_init(
    const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
    const OSSL_DISPATCH** out, void** provctx) {
  return onem2m_provider_init(handle, in, out, provctx);
}
