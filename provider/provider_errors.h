// The onem2m provider's reason codes and the way it raises them: through the
// core's error functions (provider-base(7)), so that the application sees
// "onem2m" as the library and our reason strings, whichever libcrypto it
// runs. One error is raised where a failure happens; callers pass the
// failure on and never raise again. No message holds key bytes.

#ifndef ONEM2M_PROVIDER_PROVIDER_ERRORS_H_
#define ONEM2M_PROVIDER_PROVIDER_ERRORS_H_

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <cstdint>
#include <exception>

namespace onem2m::provider {

// Reason codes, local to the provider. The core loads their strings (see
// ReasonStrings) under the library number it gave this provider instance.
enum Reason : uint32_t {
  kReasonMissingRootKey = 1,
  kReasonBadRootKeyLength = 2,
  kReasonAllZeroRootKey = 3,
  kReasonMissingKeyId = 4,
  kReasonInvalidKeyId = 5,
  kReasonMissingVersion = 6,
  kReasonUnsupportedVersion = 7,
  kReasonBadOutputLength = 8,
  kReasonMissingRandom = 9,
  kReasonBadRandomLength = 10,
  kReasonBadSessionHashLength = 11,
  kReasonConflictingSeeds = 12,
  kReasonWrongParameterType = 13,
  kReasonInnerUnavailable = 14,
  kReasonInnerDerivationFailed = 15,
  kReasonBufferTooSmall = 16,
  kReasonInvalidArgument = 17,
  kReasonInternalError = 18,
};

// ReasonStrings returns the table that OSSL_FUNC_PROVIDER_GET_REASON_STRINGS
// hands to the core: one OSSL_ITEM per Reason, ended by {0, NULL}.
const OSSL_ITEM* ReasonStrings();

// CoreErrors raises errors on the application's error queue through the
// core's new_error, set_error_debug and vset_error functions, on behalf of
// one provider instance (its core handle).
class CoreErrors {
 public:
  CoreErrors() = default;

  // Bind takes the error functions out of the core's dispatch table |in|.
  // Returns false when the core lacks one; Raise then does nothing.
  bool Bind(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in);

  // Raise pushes |reason| with a printf-style message and the caller's
  // location. Use ONEM2M_PROV_RAISE, which fills in the location. The
  // message must say what to do and must hold no key bytes.
  void Raise(const char* file, int line, const char* func, Reason reason,
             const char* fmt, ...) const __attribute__((format(printf, 6, 7)));

  // RaiseException turns an exception caught at a C boundary into an
  // error: out of memory for std::bad_alloc, an internal error otherwise.
  void RaiseException(const char* file, int line, const char* func,
                      const std::exception& e) const;

 private:
  const OSSL_CORE_HANDLE* handle_ = nullptr;
  OSSL_FUNC_core_new_error_fn* new_error_ = nullptr;
  OSSL_FUNC_core_set_error_debug_fn* set_error_debug_ = nullptr;
  OSSL_FUNC_core_vset_error_fn* vset_error_ = nullptr;
};

}  // namespace onem2m::provider

// ONEM2M_PROV_RAISE raises |reason| through the CoreErrors |errors|.
#define ONEM2M_PROV_RAISE(errors, reason, ...) \
  (errors).Raise(__FILE__, __LINE__, __func__, (reason), __VA_ARGS__)

// ONEM2M_PROV_RAISE_EXCEPTION reports a caught exception through |errors|.
#define ONEM2M_PROV_RAISE_EXCEPTION(errors, e) \
  (errors).RaiseException(__FILE__, __LINE__, __func__, (e))

#endif  // ONEM2M_PROVIDER_PROVIDER_ERRORS_H_
