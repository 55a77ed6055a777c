// Session resumption (spec section 7): a resumed session reports the KeyID
// and version that first authenticated it, and a KeyID removed from the
// keystore, or whose key changed, can no longer resume.
//
// Two mechanisms, because OpenSSL resumes in two ways:
//  - tickets (TLS 1.2 and 1.3): the ticket carries "vN:KeyID" and the
//    keystore generation as application data; the decrypt callback refuses
//    a ticket of another generation or a version no longer allowed;
//  - TLS 1.2 session IDs (the server cache): every connection's session ID
//    context is derived from the keystore generation, so OpenSSL finds no
//    session of an older generation.
// Either way, a refused session falls back to a full handshake, which
// succeeds only if the key still works.

#include <openssl/err.h>

#include <cstring>

#include "tls_state.h"

namespace onem2m {

namespace {

// TicketAppData is "vN:KeyID" '\n' generation (decimal).
std::string EncodeTicketAppData(const SslState& s, uint64_t generation) {
  return EncodeIdentity(s.key_id, static_cast<Version>(s.version)) + "\n" +
         std::to_string(generation);
}

int GenerateTicket(SSL* ssl, void*) {
  try {
    const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    const SslState* s = FindSslState(ssl);
    SSL_SESSION* session = SSL_get0_session(ssl);
    if (ctx == nullptr || s == nullptr || session == nullptr ||
        s->version < 0 || !(s->real_key || s->resumed)) {
      return 1;  // a ticket without our data never resumes
    }
    std::string data = EncodeTicketAppData(*s, ctx->store().Generation());
    return SSL_SESSION_set1_ticket_appdata(session, data.data(), data.size());
  } catch (...) {
    return 0;
  }
}

SSL_TICKET_RETURN DecryptTicket(SSL* ssl, SSL_SESSION* session,
                                const unsigned char*, size_t,
                                SSL_TICKET_STATUS status, void*) {
  try {
    if (status == SSL_TICKET_FATAL_ERR_MALLOC ||
        status == SSL_TICKET_FATAL_ERR_OTHER) {
      return SSL_TICKET_RETURN_ABORT;
    }
    if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW) {
      return SSL_TICKET_RETURN_IGNORE_RENEW;  // none, or not ours
    }
    const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    SslState* s = GetSslState(ssl);
    void* data = nullptr;
    size_t len = 0;
    if (ctx == nullptr || s == nullptr ||
        !SSL_SESSION_get0_ticket_appdata(session, &data, &len)) {
      return SSL_TICKET_RETURN_IGNORE_RENEW;
    }

    // The keystore generation is unchanged only if no key was removed or
    // replaced since; the version must still be allowed.
    std::string_view text(static_cast<const char*>(data), len);
    size_t nl = text.find('\n');
    std::optional<ParsedIdentity> parsed =
        nl == std::string_view::npos ? std::nullopt
                                     : ParseIdentity(text.substr(0, nl));
    std::string generation = std::to_string(ctx->store().Generation());
    if (!parsed || text.substr(nl + 1) != generation ||
        (ctx->versions & VersionBit(parsed->version)) == 0) {
      s->failure =
          "session not resumed: its KeyID was removed, its key or "
          "the version policy changed since";
      return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    s->key_id = parsed->key_id;
    s->version = static_cast<int>(parsed->version);
    s->resumed = true;
    s->failure.clear();
    return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW
                                              : SSL_TICKET_RETURN_USE;
  } catch (...) {
    return SSL_TICKET_RETURN_ABORT;
  }
}

}  // namespace

void InstallResumption(SSL_CTX* ctx) {
  SSL_CTX_set_session_ticket_cb(ctx, GenerateTicket, DecryptTicket, nullptr);
}

void ApplySessionContext(SSL* ssl, const CtxState& ctx) {
  // "onem2m" and the 8 octets of the generation: at most 32 octets.
  unsigned char sid_ctx[14] = {'o', 'n', 'e', 'm', '2', 'm'};
  uint64_t generation = ctx.store().Generation();
  for (int i = 0; i < 8; i++) {
    sid_ctx[6 + i] = static_cast<unsigned char>(generation >> (56 - 8 * i));
  }
  SSL_set_session_id_context(ssl, sid_ctx, sizeof(sid_ctx));
}

bool RecoverResumedIdentity(const SSL* ssl, SslState* s) {
  const char* identity = SSL_get_psk_identity(ssl);
  std::optional<ParsedIdentity> parsed =
      identity != nullptr ? ParseIdentity(identity) : std::nullopt;
  if (!parsed) {
    return false;
  }
  s->key_id = parsed->key_id;
  s->version = static_cast<int>(parsed->version);
  s->resumed = true;
  return true;
}

}  // namespace onem2m
