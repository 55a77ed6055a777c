#include "provider_errors.h"

#include <cstdarg>
#include <cstdio>
#include <new>

namespace onem2m::provider {

namespace {

// OSSL_ITEM wants a mutable pointer; the core only reads the strings.
#define ONEM2M_REASON(code, text) \
  { (code), const_cast<char*>(text) }

const OSSL_ITEM kReasonStrings[] = {
    ONEM2M_REASON(kReasonMissingRootKey, "missing Root Key"),
    ONEM2M_REASON(kReasonBadRootKeyLength, "Root Key not 16 to 64 octets"),
    ONEM2M_REASON(kReasonAllZeroRootKey, "all-zero Root Key"),
    ONEM2M_REASON(kReasonMissingKeyId, "missing KeyID"),
    ONEM2M_REASON(kReasonInvalidKeyId, "invalid KeyID"),
    ONEM2M_REASON(kReasonMissingVersion, "missing KDF version"),
    ONEM2M_REASON(kReasonUnsupportedVersion, "unsupported KDF version"),
    ONEM2M_REASON(kReasonBadOutputLength, "output length differs from size"),
    ONEM2M_REASON(kReasonMissingRandom,
                  "missing originator or receiver random"),
    ONEM2M_REASON(kReasonBadRandomLength, "random not 32 octets"),
    ONEM2M_REASON(kReasonBadSessionHashLength,
                  "session hash length differs from the version's hash"),
    ONEM2M_REASON(kReasonConflictingSeeds, "both randoms and session hash set"),
    ONEM2M_REASON(kReasonWrongParameterType, "wrong parameter type"),
    ONEM2M_REASON(kReasonInnerUnavailable,
                  "HMAC/KBKDF/TLS1-PRF unavailable: load the default "
                  "provider"),
    ONEM2M_REASON(kReasonInnerDerivationFailed, "inner derivation failed"),
    ONEM2M_REASON(kReasonBufferTooSmall, "parameter buffer too small"),
    ONEM2M_REASON(kReasonInvalidArgument, "invalid argument"),
    ONEM2M_REASON(kReasonInternalError, "internal error"),
    {0, nullptr},
};

#undef ONEM2M_REASON

// CallVsetError hands |fmt| and the variadic arguments to the core's
// vset_error, which takes a va_list.
void CallVsetError(OSSL_FUNC_core_vset_error_fn* vset_error,
                   const OSSL_CORE_HANDLE* handle, uint32_t reason,
                   const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vset_error(handle, reason, fmt, args);
  va_end(args);
}

}  // namespace

const OSSL_ITEM* ReasonStrings() { return kReasonStrings; }

bool CoreErrors::Bind(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in) {
  handle_ = handle;
  for (; in != nullptr && in->function_id != 0; in++) {
    switch (in->function_id) {
      case OSSL_FUNC_CORE_NEW_ERROR:
        new_error_ = OSSL_FUNC_core_new_error(in);
        break;
      case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
        set_error_debug_ = OSSL_FUNC_core_set_error_debug(in);
        break;
      case OSSL_FUNC_CORE_VSET_ERROR:
        vset_error_ = OSSL_FUNC_core_vset_error(in);
        break;
      default:
        break;
    }
  }
  return new_error_ != nullptr && set_error_debug_ != nullptr &&
         vset_error_ != nullptr;
}

void CoreErrors::Raise(const char* file, int line, const char* func,
                       Reason reason, const char* fmt, ...) const {
  if (new_error_ == nullptr || set_error_debug_ == nullptr ||
      vset_error_ == nullptr) {
    return;
  }

  // Format here rather than in the core: its printf may lack %zu.
  char message[512];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof(message), fmt, args);
  va_end(args);

  new_error_(handle_);
  set_error_debug_(handle_, file, line, func);
  CallVsetError(vset_error_, handle_, reason, "%s", message);
}

void CoreErrors::RaiseException(const char* file, int line, const char* func,
                                const std::exception& e) const {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    Raise(file, line, func, kReasonInternalError, "out of memory");
    return;
  }
  Raise(file, line, func, kReasonInternalError, "unexpected exception: %s",
        e.what());
}

}  // namespace onem2m::provider
