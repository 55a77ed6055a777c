// The OpenSSL algorithms that the onem2m KDFs are built from: HMAC,
// KBKDF and TLS1-PRF over SHA-256 and SHA-384. They are fetched once per
// provider instance, from its child library context, and kept as
// configured prototype contexts, so that a derivation fetches nothing.

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
  // Fetch fetches HMAC, KBKDF and TLS1-PRF from |libctx| and configures
  // the prototypes. Returns nullptr, with kReasonInnerUnavailable raised
  // through |errors|, when one of them is not available there (typically:
  // the default provider is not loaded in the application's library
  // context).
  static std::unique_ptr<InnerAlgorithms> Fetch(OSSL_LIB_CTX* libctx,
                                                const CoreErrors& errors);

  // NewHmacSha256 returns an unkeyed HMAC-SHA-256 context, a copy of the
  // prototype, or nullptr when memory runs out (nothing raised).
  EvpMacCtxPtr NewHmacSha256() const;

  // NewKbkdf returns a KBKDF context in counter mode over HMAC with the TLS
  // hash of |version| (2 or 3), use-l and the separator on; the caller sets
  // only key, salt and info. nullptr when that fails (nothing raised).
  EvpKdfCtxPtr NewKbkdf(Version version) const;

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

  EvpKdfPtr kbkdf_;
  EvpKdfCtxPtr kbkdf_sha256_;
  EvpKdfCtxPtr kbkdf_sha384_;
  bool kbkdf_can_dup_ = false;

  EvpKdfPtr tls1_prf_;
  EvpKdfCtxPtr tls1_prf_sha256_;
  EvpKdfCtxPtr tls1_prf_sha384_;
  bool tls1_prf_can_dup_ = false;
};

}  // namespace onem2m::provider

#endif  // ONEM2M_PROVIDER_INNER_ALGORITHMS_H_
