// The OpenSSL algorithms that the onem2m KDFs are built from: HMAC and
// TLS1-PRF over SHA-256 and SHA-384. They are fetched once per provider
// instance, from its child library context, and kept as configured
// prototype contexts, so that a derivation fetches nothing. (SP 800-108
// KBKDF, versions 2 and 3, is computed from HMAC in kdf_common.cc: OpenSSL
// 3.0 cannot copy a KBKDF context, and configuring a new one fetched HMAC
// and the digest on every derivation.)

#ifndef ONEM2M_PROVIDER_INNER_ALGORITHMS_H_
#define ONEM2M_PROVIDER_INNER_ALGORITHMS_H_

#include <openssl/types.h>

#include <memory>

#include "openssl_ptr.h"
#include "protocol.h"
#include "provider_errors.h"

namespace onem2m::provider {

class InnerAlgorithms {
 public:
  // Fetch fetches HMAC and TLS1-PRF from |libctx| and configures
  // the prototypes. Returns nullptr, with kReasonInnerUnavailable raised
  // through |errors|, when one of them is not available there (typically:
  // the default provider is not loaded in the application's library
  // context).
  static std::unique_ptr<InnerAlgorithms> Fetch(OSSL_LIB_CTX* libctx,
                                                const CoreErrors& errors);

  // NewHmac returns an unkeyed HMAC context with the TLS hash of |version|
  // (SHA-384 for 3, else SHA-256), a copy of a prototype, or nullptr when
  // memory runs out (nothing raised).
  EvpMacCtxPtr NewHmac(Version version) const;

  // NewTls1Prf returns a TLS1-PRF context with the TLS hash of |version|;
  // the caller sets only secret and seed. nullptr when that fails.
  EvpKdfCtxPtr NewTls1Prf(Version version) const;

 private:
  InnerAlgorithms() = default;

  // NewKdfCtx copies |prototype| when the implementation can duplicate
  // contexts, and otherwise makes a new context of |kdf| configured with
  // |settings|.
  static EvpKdfCtxPtr NewKdfCtx(EVP_KDF* kdf, const EVP_KDF_CTX* prototype,
                                bool can_dup, const OSSL_PARAM* settings);

  EvpMacPtr hmac_;
  EvpMacCtxPtr hmac_sha256_;
  EvpMacCtxPtr hmac_sha384_;

  EvpKdfPtr tls1_prf_;
  EvpKdfCtxPtr tls1_prf_sha256_;
  EvpKdfCtxPtr tls1_prf_sha384_;
  bool tls1_prf_can_dup_ = false;
};

}  // namespace onem2m::provider

#endif  // ONEM2M_PROVIDER_INNER_ALGORITHMS_H_
