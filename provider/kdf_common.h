// What the two onem2m KDFs share: the context that holds their parameters
// (spec section 6), the validation of each parameter, the Root Key to PSK
// derivation of spec section 4, and the dispatch functions that do not
// depend on the KDF. kdf_psk.cc and kdf_master.cc add newctx, derive and
// the settable parameter lists.

#ifndef ONEM2M_PROVIDER_KDF_COMMON_H_
#define ONEM2M_PROVIDER_KDF_COMMON_H_

#include <openssl/core.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inner_algorithms.h"
#include "openssl_ptr.h"
#include "protocol.h"
#include "provider_context.h"
#include "provider_errors.h"
#include "secret_buffer.h"

namespace onem2m::provider {

// The dispatch tables of ONEM2M-PSK (kdf_psk.cc) and ONEM2M-MASTER
// (kdf_master.cc).
extern const OSSL_DISPATCH kPskKdfFunctions[];
extern const OSSL_DISPATCH kMasterKdfFunctions[];

// KdfKind tells which KDF a context belongs to.
enum class KdfKind { kPsk, kMaster };

// The length of a TLS random (RFC 5246 section 7.4.1.2).
inline constexpr size_t kTlsRandomLength = 32;
// The length of the TLS 1.2 master secret (RFC 5246 section 8.1).
inline constexpr size_t kMasterKeyLength = 48;

// TlsHashLength returns the output length of version |v|'s TLS hash.
inline constexpr size_t TlsHashLength(Version v) { return v == 3 ? 48 : 32; }

// KdfContext is one EVP_KDF_CTX of either KDF. A parameter is present only
// after a set that passed validation; a set that fails clears it, so that
// a reused context behaves exactly like a fresh one fed the same values.
class KdfContext {
 public:
  KdfContext(ProviderContext* provctx, KdfKind kind)
      : provctx_(provctx), kind_(kind) {}

  KdfContext(const KdfContext&) = delete;
  KdfContext& operator=(const KdfContext&) = delete;

  // Clone returns a deep copy. Throws std::bad_alloc.
  std::unique_ptr<KdfContext> Clone() const;

  // Reset wipes every parameter: the context is as new.
  void Reset();

  // SetParams applies the parameters this KDF knows from |params| (NULL is
  // fine) and ignores the others. Returns false, with the reason raised,
  // at the first invalid one.
  bool SetParams(const OSSL_PARAM params[]);

  // GetParams answers "size" and "identity". Returns false, with the
  // reason raised, when "identity" is asked before key-id and version are
  // set or when a buffer is too small.
  bool GetParams(OSSL_PARAM params[]) const;

  // Size returns the output length: 48 for ONEM2M-MASTER; for ONEM2M-PSK
  // the PSK length of the version (the Root Key's for version 0), or 0 when
  // it cannot be told yet.
  size_t Size() const;

  // CheckPskInputs tells whether Root Key, KeyID and version are all set,
  // raising the reason for the first that is missing.
  bool CheckPskInputs() const;

  // CheckOutputLength tells whether |outlen| equals Size(), raising
  // kReasonBadOutputLength otherwise.
  bool CheckOutputLength(size_t outlen) const;

  // DerivePsk writes the PSK of spec section 4 to |psk|, which must hold
  // PskLength(version, root key length) octets. CheckPskInputs must have
  // passed. Returns false with the reason raised.
  bool DerivePsk(unsigned char* psk, size_t psk_len) const;

  ProviderContext& provctx() const { return *provctx_; }
  const CoreErrors& errors() const { return provctx_->errors(); }
  KdfKind kind() const { return kind_; }
  Version version() const { return version_.value_or(0); }
  size_t root_key_length() const { return root_key_.size(); }
  const std::optional<std::vector<unsigned char>>& originator_random() const {
    return originator_random_;
  }
  const std::optional<std::vector<unsigned char>>& receiver_random() const {
    return receiver_random_;
  }
  const std::optional<std::vector<unsigned char>>& session_hash() const {
    return session_hash_;
  }

 private:
  bool SetRootKey(const OSSL_PARAM& p);
  bool SetKeyId(const OSSL_PARAM& p);
  bool SetVersion(const OSSL_PARAM& p);
  bool SetRandom(const OSSL_PARAM& p,
                 std::optional<std::vector<unsigned char>>* field);
  bool SetSessionHash(const OSSL_PARAM& p);

  // Hmac returns this context's HMAC context with |v|'s TLS hash: a copy
  // of the provider's prototype made on first use and kept for the next
  // derivation on this context. nullptr when memory runs out.
  EVP_MAC_CTX* Hmac(const InnerAlgorithms& inner, Version v) const;

  ProviderContext* provctx_;
  KdfKind kind_;
  SecretBuffer root_key_;  // empty: not set
  std::optional<std::string> key_id_;
  std::optional<Version> version_;
  std::optional<std::vector<unsigned char>> originator_random_;
  std::optional<std::vector<unsigned char>> receiver_random_;
  std::optional<std::vector<unsigned char>> session_hash_;
  // Keyed with the last Root Key after a derivation, as root_key_ holds
  // it; freed, and so wiped, by Reset and when the context goes.
  mutable EvpMacCtxPtr hmac_[2];  // SHA-256, SHA-384
};

// FunctionPointer casts a dispatch function to the generic type that
// OSSL_DISPATCH holds.
template <typename F>
void (*FunctionPointer(F* f))(void) {
  return reinterpret_cast<void (*)(void)>(f);
}

// Dispatch functions shared by both KDFs. None lets an exception out.
void* KdfNewCtx(void* provctx, KdfKind kind);
void KdfFreeCtx(void* vctx);
void* KdfDupCtx(void* vctx);
void KdfReset(void* vctx);
int KdfSetCtxParams(void* vctx, const OSSL_PARAM params[]);
int KdfGetCtxParams(void* vctx, OSSL_PARAM params[]);
const OSSL_PARAM* KdfGettableCtxParams(void* vctx, void* provctx);

}  // namespace onem2m::provider

#endif  // ONEM2M_PROVIDER_KDF_COMMON_H_
