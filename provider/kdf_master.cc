// ONEM2M-MASTER: the TLS 1.2 master secret of a plain PSK key exchange
// (spec section 5), from the PSK of section 4 and either both randoms or,
// for the extended master secret of RFC 7627, the session hash.

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstring>
#include <exception>
#include <string_view>

#include "inner_algorithms.h"
#include "kdf_common.h"
#include "onem2m/kdf.h"

namespace onem2m::provider {

namespace {

// The PRF labels of RFC 5246 section 8.1 and RFC 7627 section 4.
constexpr std::string_view kMasterSecretLabel = "master secret";
constexpr std::string_view kExtendedMasterSecretLabel =
    "extended master secret";

const OSSL_PARAM kMasterSettableCtxParams[] = {
    OSSL_PARAM_octet_string(ONEM2M_KDF_PARAM_KEY, nullptr, 0),
    OSSL_PARAM_utf8_string(ONEM2M_KDF_PARAM_KEY_ID, nullptr, 0),
    OSSL_PARAM_uint(ONEM2M_KDF_PARAM_VERSION, nullptr),
    OSSL_PARAM_octet_string(ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, nullptr, 0),
    OSSL_PARAM_octet_string(ONEM2M_KDF_PARAM_RECEIVER_RANDOM, nullptr, 0),
    OSSL_PARAM_octet_string(ONEM2M_KDF_PARAM_SESSION_HASH, nullptr, 0),
    OSSL_PARAM_END,
};

// SeedParam makes a TLS1-PRF seed parameter over |bytes|; consecutive seed
// parameters concatenate.
OSSL_PARAM SeedParam(const void* bytes, size_t len) {
  return OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
                                           const_cast<void*>(bytes), len);
}

// CheckSeeds tells whether |ctx| holds exactly one usable seed: both
// randoms, or a session hash of the version's hash length.
bool CheckSeeds(const KdfContext& ctx) {
  const auto& originator = ctx.originator_random();
  const auto& receiver = ctx.receiver_random();
  const auto& session_hash = ctx.session_hash();
  if (session_hash.has_value()) {
    if (originator.has_value() || receiver.has_value()) {
      ONEM2M_PROV_RAISE(ctx.errors(), kReasonConflictingSeeds,
                        "set either originator-random and receiver-random "
                        "(master secret) or session-hash (extended master "
                        "secret), not both");
      return false;
    }
    size_t expected = TlsHashLength(ctx.version());
    if (session_hash->size() != expected) {
      ONEM2M_PROV_RAISE(ctx.errors(), kReasonBadSessionHashLength,
                        "session-hash is %zu octets, but version %u uses %s "
                        "and needs %zu",
                        session_hash->size(), ctx.version(),
                        TlsHashName(ctx.version()), expected);
      return false;
    }
    return true;
  }
  if (!originator.has_value() || !receiver.has_value()) {
    ONEM2M_PROV_RAISE(ctx.errors(), kReasonMissingRandom,
                      "%s is not set: " ONEM2M_KDF_MASTER
                      " needs originator-random and receiver-random (32 "
                      "octets each), or session-hash for the extended "
                      "master secret",
                      originator.has_value()
                          ? ONEM2M_KDF_PARAM_RECEIVER_RANDOM
                          : ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM);
    return false;
  }
  return true;
}

// DeriveMasterKey computes, per spec section 5,
//   premaster = [len(PSK)]16 || 0x00 * len(PSK) || [len(PSK)]16 || PSK
//   Master    = PRF(premaster, label, seed)[0..47]
// with the PRF of RFC 5246 section 5 over the version's TLS hash.
bool DeriveMasterKey(const KdfContext& ctx, unsigned char* out, size_t outlen) {
  const InnerAlgorithms* inner = ctx.provctx().Inner();
  if (inner == nullptr) {
    return false;
  }
  Version v = ctx.version();

  // The PSK of spec section 4.
  SecretBuffer psk(PskLength(v, ctx.root_key_length()));
  if (!ctx.DerivePsk(psk.data(), psk.size())) {
    return false;
  }

  // The premaster secret of a plain PSK key exchange (RFC 4279 section 2).
  size_t n = psk.size();
  SecretBuffer premaster(2 + n + 2 + n);
  unsigned char* pms = premaster.data();
  pms[0] = static_cast<unsigned char>(n >> 8);
  pms[1] = static_cast<unsigned char>(n);
  pms[2 + n] = static_cast<unsigned char>(n >> 8);
  pms[3 + n] = static_cast<unsigned char>(n);
  std::memcpy(pms + 4 + n, psk.data(), n);

  // The seed: label || OriginatorRandom || ReceiverRandom, or
  // label || session_hash for the extended master secret.
  OSSL_PARAM params[5];
  OSSL_PARAM* p = params;
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
                                           premaster.data(), premaster.size());
  if (ctx.session_hash().has_value()) {
    *p++ = SeedParam(kExtendedMasterSecretLabel.data(),
                     kExtendedMasterSecretLabel.size());
    *p++ = SeedParam(ctx.session_hash()->data(), ctx.session_hash()->size());
  } else {
    *p++ = SeedParam(kMasterSecretLabel.data(), kMasterSecretLabel.size());
    *p++ = SeedParam(ctx.originator_random()->data(), kTlsRandomLength);
    *p++ = SeedParam(ctx.receiver_random()->data(), kTlsRandomLength);
  }
  *p = OSSL_PARAM_construct_end();

  EvpKdfCtxPtr prf = inner->NewTls1Prf(v);
  if (prf == nullptr || !EVP_KDF_derive(prf.get(), out, outlen, params)) {
    ONEM2M_PROV_RAISE(ctx.errors(), kReasonInnerDerivationFailed,
                      "TLS1-PRF (%s) failed for version %u", TlsHashName(v), v);
    return false;
  }
  return true;
}

void* MasterNewCtx(void* provctx) {
  return KdfNewCtx(provctx, KdfKind::kMaster);
}

const OSSL_PARAM* MasterSettableCtxParams(void* /*vctx*/, void* /*provctx*/) {
  return kMasterSettableCtxParams;
}

// MasterDerive applies |params|, then writes the 48-octet Master Key to
// |out|.
int MasterDerive(void* vctx, unsigned char* out, size_t outlen,
                 const OSSL_PARAM params[]) {
  auto* ctx = static_cast<KdfContext*>(vctx);
  try {
    if (!ctx->SetParams(params) || !ctx->CheckPskInputs() ||
        !CheckSeeds(*ctx) || !ctx->CheckOutputLength(outlen)) {
      return 0;
    }
    if (out == nullptr) {
      ONEM2M_PROV_RAISE(ctx->errors(), kReasonInvalidArgument,
                        "no output buffer");
      return 0;
    }
    return DeriveMasterKey(*ctx, out, outlen) ? 1 : 0;
  } catch (const std::exception& e) {
    ONEM2M_PROV_RAISE_EXCEPTION(ctx->errors(), e);
    return 0;
  }
}

}  // namespace

const OSSL_DISPATCH kMasterKdfFunctions[] = {
    {OSSL_FUNC_KDF_NEWCTX, FunctionPointer(MasterNewCtx)},
    {OSSL_FUNC_KDF_DUPCTX, FunctionPointer(KdfDupCtx)},
    {OSSL_FUNC_KDF_FREECTX, FunctionPointer(KdfFreeCtx)},
    {OSSL_FUNC_KDF_RESET, FunctionPointer(KdfReset)},
    {OSSL_FUNC_KDF_DERIVE, FunctionPointer(MasterDerive)},
    {OSSL_FUNC_KDF_SETTABLE_CTX_PARAMS,
     FunctionPointer(MasterSettableCtxParams)},
    {OSSL_FUNC_KDF_SET_CTX_PARAMS, FunctionPointer(KdfSetCtxParams)},
    {OSSL_FUNC_KDF_GETTABLE_CTX_PARAMS, FunctionPointer(KdfGettableCtxParams)},
    {OSSL_FUNC_KDF_GET_CTX_PARAMS, FunctionPointer(KdfGetCtxParams)},
    {0, nullptr},
};

}  // namespace onem2m::provider
