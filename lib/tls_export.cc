// Application keys from a oneM2M handshake: the TLS exporter (RFC 5705 for
// TLS 1.2, RFC 8446 section 7.5 for TLS 1.3) behind the library's checks.

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <cstring>
#include <string_view>

#include "errors.h"
#include "onem2m/psk.h"

namespace onem2m {

namespace {

// The labels TLS 1.2 feeds its own PRF with (RFC 5246 sections 6.3, 7.4.9
// and 8.1; RFC 7627 section 4). RFC 5705 section 4 forbids exporter labels
// that collide with them. The PRF's input starts with the label, so a label
// that merely begins with one of them is refused too, as OpenSSL does.
constexpr std::string_view kReservedLabels[] = {
    "client finished", "server finished",        "master secret",
    "key expansion",   "extended master secret",
};

// ReservedPrefix returns the reserved label that |label| begins with, or
// an empty view.
std::string_view ReservedPrefix(std::string_view label) {
  for (std::string_view reserved : kReservedLabels) {
    if (label.substr(0, reserved.size()) == reserved) {
      return reserved;
    }
  }
  return {};
}

// CheckArguments raises INVALID_ARGUMENT and returns false when the call
// cannot be served whatever the connection's state.
bool CheckArguments(const SSL* ssl, const unsigned char* out, size_t out_len,
                    const char* label, const unsigned char* context,
                    size_t context_len) {
  if (ssl == nullptr || out == nullptr || label == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "ssl, out and label must not be NULL");
    return false;
  }
  if (out_len == 0) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "out_len must not be zero");
    return false;
  }
  if (context == nullptr && context_len != 0) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "context is NULL but context_len is %zu", context_len);
    return false;
  }

  std::string_view text(label);
  if (text.empty()) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "the exporter label is empty");
    return false;
  }
  std::string_view reserved = ReservedPrefix(text);
  if (!reserved.empty()) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "exporter label \"%.*s\" collides with TLS's own label "
                 "\"%.*s\" (RFC 5705 section 4): choose another, e.g. "
                 "EXPORTER-oneM2M-Connection",
                 static_cast<int>(text.size() > 64 ? 64 : text.size()),
                 text.data(), static_cast<int>(reserved.size()),
                 reserved.data());
    return false;
  }
  return true;
}

}  // namespace

}  // namespace onem2m

extern "C" int ONEM2M_PSK_export_keying_material(SSL* ssl, unsigned char* out,
                                                 size_t out_len,
                                                 const char* label,
                                                 const unsigned char* context,
                                                 size_t context_len) {
  if (!onem2m::CheckArguments(ssl, out, out_len, label, context, context_len)) {
    if (out != nullptr) {
      OPENSSL_cleanse(out, out_len);
    }
    return 0;
  }
  OPENSSL_cleanse(out, out_len);

  // Only a connection that a oneM2M key authenticated has keys to export;
  // before that (or after a failed handshake) there is nothing to trust.
  if (ONEM2M_PSK_get_version(ssl) < 0) {
    ONEM2M_RAISE(ONEM2M_R_NOT_AUTHENTICATED,
                 "no oneM2M handshake completed on this connection: export "
                 "keys only after SSL_connect/SSL_accept succeeded");
    return 0;
  }

  // RFC 5705 section 4 / RFC 8446 section 7.5: the exporter over the
  // handshake's secrets. A NULL context is "no context" (TLS 1.2 then
  // leaves the context out of the PRF seed).
  int use_context = context != nullptr ? 1 : 0;
  if (SSL_export_keying_material(ssl, out, out_len, label, std::strlen(label),
                                 context, context_len, use_context) != 1) {
    OPENSSL_cleanse(out, out_len);
    ONEM2M_RAISE(ONEM2M_R_DERIVATION_FAILED,
                 "the TLS exporter failed for this connection");
    return 0;
  }
  return 1;
}
