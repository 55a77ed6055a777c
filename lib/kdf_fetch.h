// Fetching the onem2m KDFs in an application's library context.

#ifndef ONEM2M_LIB_KDF_FETCH_H_
#define ONEM2M_LIB_KDF_FETCH_H_

#include <openssl/types.h>

#include "openssl_ptr.h"

namespace onem2m {

// FetchOnem2mKdf fetches |name| (ONEM2M-PSK or ONEM2M-MASTER) in |libctx|
// with |propq|. When the onem2m provider is not loaded there, it registers
// the library's built-in copy and loads it, keeping the fallback (default)
// provider available, then fetches again. Returns nullptr with
// PROVIDER_UNAVAILABLE raised when that fails too.
EvpKdfPtr FetchOnem2mKdf(OSSL_LIB_CTX* libctx, const char* propq,
                         const char* name);

}  // namespace onem2m

#endif  // ONEM2M_LIB_KDF_FETCH_H_
