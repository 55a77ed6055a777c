// ONEM2M-PSK: Root Key, KeyID and version to the PSK of spec section 4.

#include <openssl/core_dispatch.h>
#include <openssl/params.h>

#include <exception>

#include "kdf_common.h"
#include "onem2m/kdf.h"

namespace onem2m::provider {

namespace {

const OSSL_PARAM kPskSettableCtxParams[] = {
    OSSL_PARAM_octet_string(ONEM2M_KDF_PARAM_KEY, nullptr, 0),
    OSSL_PARAM_utf8_string(ONEM2M_KDF_PARAM_KEY_ID, nullptr, 0),
    OSSL_PARAM_uint(ONEM2M_KDF_PARAM_VERSION, nullptr),
    OSSL_PARAM_END,
};

void* PskNewCtx(void* provctx) { return KdfNewCtx(provctx, KdfKind::kPsk); }

const OSSL_PARAM* PskSettableCtxParams(void* /*vctx*/, void* /*provctx*/) {
  return kPskSettableCtxParams;
}

// PskDerive applies |params|, then writes the PSK to |out|; |outlen| must
// equal the size of the configured version.
int PskDerive(void* vctx, unsigned char* out, size_t outlen,
              const OSSL_PARAM params[]) {
  auto* ctx = static_cast<KdfContext*>(vctx);
  try {
    if (!ctx->SetParams(params) || !ctx->CheckPskInputs() ||
        !ctx->CheckOutputLength(outlen)) {
      return 0;
    }
    if (out == nullptr) {
      ONEM2M_PROV_RAISE(ctx->errors(), kReasonInvalidArgument,
                        "no output buffer");
      return 0;
    }
    return ctx->DerivePsk(out, outlen) ? 1 : 0;
  } catch (const std::exception& e) {
    ONEM2M_PROV_RAISE_EXCEPTION(ctx->errors(), e);
    return 0;
  }
}

}  // namespace

const OSSL_DISPATCH kPskKdfFunctions[] = {
    {OSSL_FUNC_KDF_NEWCTX, FunctionPointer(PskNewCtx)},
    {OSSL_FUNC_KDF_DUPCTX, FunctionPointer(KdfDupCtx)},
    {OSSL_FUNC_KDF_FREECTX, FunctionPointer(KdfFreeCtx)},
    {OSSL_FUNC_KDF_RESET, FunctionPointer(KdfReset)},
    {OSSL_FUNC_KDF_DERIVE, FunctionPointer(PskDerive)},
    {OSSL_FUNC_KDF_SETTABLE_CTX_PARAMS, FunctionPointer(PskSettableCtxParams)},
    {OSSL_FUNC_KDF_SET_CTX_PARAMS, FunctionPointer(KdfSetCtxParams)},
    {OSSL_FUNC_KDF_GETTABLE_CTX_PARAMS, FunctionPointer(KdfGettableCtxParams)},
    {OSSL_FUNC_KDF_GET_CTX_PARAMS, FunctionPointer(KdfGetCtxParams)},
    {0, nullptr},
};

}  // namespace onem2m::provider
