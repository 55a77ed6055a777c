// The onem2m provider's entry point, shared by the module (module.cc, which
// exports it as OSSL_provider_init) and the PSK library (which registers it
// with OSSL_PROVIDER_add_builtin when an application has not loaded the
// module).

#ifndef ONEM2M_PROVIDER_PROVIDER_H_
#define ONEM2M_PROVIDER_PROVIDER_H_

#include <openssl/core.h>

extern "C" int onem2m_provider_init(const OSSL_CORE_HANDLE* handle,
                                    const OSSL_DISPATCH* in,
                                    const OSSL_DISPATCH** out, void** provctx);

#endif  // ONEM2M_PROVIDER_PROVIDER_H_
