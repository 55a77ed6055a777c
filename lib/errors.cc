#include "errors.h"

#include <openssl/err.h>

#include <cstdarg>
#include <mutex>

namespace onem2m {

namespace {

// Reason strings, as OpenSSL prints them before our text.
ERR_STRING_DATA kReasonStrings[] = {
    {ERR_PACK(0, 0, ONEM2M_R_INVALID_ARGUMENT), "invalid argument"},
    {ERR_PACK(0, 0, ONEM2M_R_INVALID_KEY_ID), "invalid KeyID"},
    {ERR_PACK(0, 0, ONEM2M_R_INVALID_ROOT_KEY), "invalid Root Key"},
    {ERR_PACK(0, 0, ONEM2M_R_KEYSTORE_SYNTAX), "keystore syntax"},
    {ERR_PACK(0, 0, ONEM2M_R_KEYSTORE_DUPLICATE), "duplicate KeyID"},
    {ERR_PACK(0, 0, ONEM2M_R_KEYSTORE_PERMISSIONS),
     "keystore permissions too open"},
    {ERR_PACK(0, 0, ONEM2M_R_KEYSTORE_IO), "keystore unreadable"},
    {ERR_PACK(0, 0, ONEM2M_R_UNKNOWN_KEY_ID), "unknown KeyID"},
    {ERR_PACK(0, 0, ONEM2M_R_VERSION_NOT_ALLOWED), "version not allowed"},
    {ERR_PACK(0, 0, ONEM2M_R_NO_COMMON_VERSION), "no common KDF version"},
    {ERR_PACK(0, 0, ONEM2M_R_PROVIDER_UNAVAILABLE),
     "onem2m provider unavailable"},
    {ERR_PACK(0, 0, ONEM2M_R_DERIVATION_FAILED), "derivation failed"},
    {ERR_PACK(0, 0, ONEM2M_R_NO_PSK_CIPHER), "no PSK cipher suite enabled"},
    {ERR_PACK(0, 0, ONEM2M_R_HASH_MISMATCH), "TLS 1.3 suite hash mismatch"},
    {ERR_PACK(0, 0, ONEM2M_R_NOT_ATTACHED), "SSL_CTX not attached"},
    {ERR_PACK(0, 0, ONEM2M_R_WRONG_ROLE), "wrong role"},
    {ERR_PACK(0, 0, ONEM2M_R_NOT_SUPPORTED), "not supported"},
    {ERR_PACK(0, 0, ONEM2M_R_INTERNAL_ERROR), "internal error"},
    {ERR_PACK(0, 0, ONEM2M_R_NOT_AUTHENTICATED),
     "no oneM2M handshake completed"},
    {ERR_PACK(0, 0, ONEM2M_R_CONFIG), "configuration error"},
    {ERR_PACK(0, 0, ONEM2M_R_PKCS11_URI), "invalid PKCS#11 URI"},
    {ERR_PACK(0, 0, ONEM2M_R_PKCS11_ERROR), "PKCS#11 error"},
    {ERR_PACK(0, 0, ONEM2M_R_PKCS11_LOGIN), "PKCS#11 login failed"},
    {0, nullptr},
};

ERR_STRING_DATA kLibraryName[] = {
    {0, "oneM2M PSK"},
    {0, nullptr},
};

int LibraryCode() {
  static int lib = [] {
    int code = ERR_get_next_error_library();
    kLibraryName[0].error = ERR_PACK(code, 0, 0);
    ERR_load_strings(code, kLibraryName);
    ERR_load_strings(code, kReasonStrings);
    return code;
  }();
  return lib;
}

}  // namespace

void RaiseErrorAt(const char* file, int line, const char* func, int reason,
                  const char* fmt, ...) {
  int lib = LibraryCode();
  va_list args;
  va_start(args, fmt);
  ERR_new();
  ERR_set_debug(file, line, func);
  ERR_vset_error(lib, reason, fmt, args);
  va_end(args);
}

}  // namespace onem2m

extern "C" int ONEM2M_get_error_library(void) { return onem2m::LibraryCode(); }
