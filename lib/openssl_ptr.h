// UniquePtr aliases for the OpenSSL handles this project owns. A handle is
// released to C (.release()) only on the success path.

#ifndef ONEM2M_LIB_OPENSSL_PTR_H_
#define ONEM2M_LIB_OPENSSL_PTR_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include <memory>

namespace onem2m {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

template <typename T, void (*Free)(T*)>
using UniquePtr = std::unique_ptr<T, Deleter<T, Free>>;

using EvpKdfPtr = UniquePtr<EVP_KDF, EVP_KDF_free>;
using EvpKdfCtxPtr = UniquePtr<EVP_KDF_CTX, EVP_KDF_CTX_free>;
using EvpMacPtr = UniquePtr<EVP_MAC, EVP_MAC_free>;
using EvpMacCtxPtr = UniquePtr<EVP_MAC_CTX, EVP_MAC_CTX_free>;
using SslCtxPtr = UniquePtr<SSL_CTX, SSL_CTX_free>;
using SslPtr = UniquePtr<SSL, SSL_free>;
using SslSessionPtr = UniquePtr<SSL_SESSION, SSL_SESSION_free>;
using BioPtr = UniquePtr<BIO, BIO_free_all>;

}  // namespace onem2m

#endif  // ONEM2M_LIB_OPENSSL_PTR_H_
