// The Receiver (TLS server) side: from an offered identity to a PSK.
//
// TLS 1.2 asks through the PSK server callback (RFC 4279), TLS 1.3 through
// the find-session callback (RFC 8446 section 4.2.11). Both go through
// ResolveServerPsk, so both answer every identity the same way:
//   - an identity that does not parse (spec section 3) is declined;
//   - an unknown KeyID or a refused version gets a decoy PSK, so that it
//     fails exactly like a wrong key (spec section 7, RFC 8446 E.6), unless
//     ONEM2M_PSK_OPT_REVEAL_UNKNOWN says to decline it;
//   - a known KeyID with an allowed version gets its derived PSK.
// There is no default key: nothing else ever yields a PSK.

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/tls1.h>

#include <cstring>

#include "errors.h"
#include "tls_state.h"

namespace onem2m {

namespace {

enum class Answer { kKey, kDecoy, kDecline };

// DecoyPsk fills |psk| with a PSK of version |v|'s length derived from a
// random Root Key: random bytes, at the cost of a real derivation, so that
// the time taken does not tell an unknown KeyID from a known one.
bool DecoyPsk(const CtxState& ctx, std::string_view key_id, Version v,
              SecretBuffer* psk) {
  SecretBuffer random_root(32);
  if (RAND_priv_bytes(random_root.data(), (int)random_root.size()) != 1) {
    return false;
  }
  return DeriveWithKdf(ctx.psk_kdf.get(), random_root, key_id, v, psk);
}

// LastErrorText returns the text of the newest error on the queue (our
// errors hold no key bytes), or "no reason given".
std::string LastErrorText() {
  const char* data = nullptr;
  int flags = 0;
  unsigned long e =
      ERR_peek_last_error_all(nullptr, nullptr, nullptr, &data, &flags);
  if (e == 0) {
    return "no reason given";
  }
  if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
    return data;
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// Refuse records why an identity is refused and picks decoy or decline.
Answer Refuse(const CtxState& ctx, SslState* ssl_state, std::string reason) {
  ssl_state->failure = std::move(reason);
  return (ctx.options & ONEM2M_PSK_OPT_REVEAL_UNKNOWN) != 0 ? Answer::kDecline
                                                            : Answer::kDecoy;
}

// ResolveServerPsk decides what |identity| gets, and sets |psk| for kKey
// and kDecoy.
Answer ResolveServerPsk(const CtxState& ctx, SslState* ssl_state,
                        std::string_view identity, SecretBuffer* psk) {
  std::optional<ParsedIdentity> parsed = ParseIdentity(identity);
  if (!parsed) {
    ssl_state->failure = "unparsable identity (not vN:KeyID or a KeyID)";
    return Answer::kDecline;
  }
  ssl_state->key_id = parsed->key_id;
  ssl_state->version = static_cast<int>(parsed->version);
  ssl_state->real_key = false;

  // Policy first, then the keystore. Each refusal gets the same decoy.
  Answer answer = Answer::kKey;
  if ((ctx.versions & VersionBit(parsed->version)) == 0) {
    answer = Refuse(ctx, ssl_state,
                    "version " + std::to_string(parsed->version) +
                        " not allowed (server allows " +
                        FormatVersionSet(ctx.versions) + ")");
  } else {
    switch (ctx.store().DerivePsk(ctx.psk_kdf.get(), parsed->key_id,
                                  parsed->version, psk)) {
      case DeriveStatus::kOk:
        ssl_state->real_key = true;
        ssl_state->failure.clear();
        return Answer::kKey;
      case DeriveStatus::kUnknownKeyId:
        answer = Refuse(ctx, ssl_state, "unknown KeyID");
        break;
      case DeriveStatus::kVersionNotAllowed:
        answer = Refuse(ctx, ssl_state,
                        "version " + std::to_string(parsed->version) +
                            " not allowed for this KeyID by the keystore");
        break;
      case DeriveStatus::kFailed:
        // The keystore's reason (a token error's CKR_ name) goes to the log.
        ssl_state->failure = "PSK derivation failed: " + LastErrorText();
        return Answer::kDecline;
    }
  }
  if (answer == Answer::kDecoy &&
      !DecoyPsk(ctx, parsed->key_id, parsed->version, psk)) {
    ssl_state->failure += " (and the decoy PSK failed)";
    return Answer::kDecline;
  }
  return answer;
}

// Tls12ServerCallback answers a TLS 1.2 ClientKeyExchange identity.
unsigned int Tls12ServerCallback(SSL* ssl, const char* identity,
                                 unsigned char* psk_out,
                                 unsigned int max_psk_len) {
  try {
    // In TLS 1.3 OpenSSL offers an identity here too after the
    // find-session callback declined it; that decision stands.
    if (SSL_version(ssl) == TLS1_3_VERSION) {
      return 0;
    }
    const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    SslState* ssl_state = GetSslState(ssl);
    if (ctx == nullptr || ssl_state == nullptr || identity == nullptr) {
      return 0;
    }
    SecretBuffer psk;
    if (ResolveServerPsk(*ctx, ssl_state, identity, &psk) == Answer::kDecline ||
        psk.size() > max_psk_len) {
      return 0;
    }
    std::memcpy(psk_out, psk.data(), psk.size());
    return static_cast<unsigned int>(psk.size());
  } catch (...) {
    ERR_clear_error();
    return 0;
  }
}

// Tls13CipherFor returns a TLS 1.3 suite with version |v|'s hash: the one
// being negotiated if it matches, else any matching one.
const SSL_CIPHER* Tls13CipherFor(SSL* ssl, Version v) {
  const SSL_CIPHER* pending = SSL_get_pending_cipher(ssl);
  if (pending != nullptr) {
    const EVP_MD* md = SSL_CIPHER_get_handshake_digest(pending);
    if (md != nullptr && EVP_MD_get_type(md) == HashNid(v)) {
      return pending;
    }
  }
  return DefaultTls13Suite(ssl, v);
}

// Tls13FindSessionCallback answers a TLS 1.3 pre_shared_key identity.
int Tls13FindSessionCallback(SSL* ssl, const unsigned char* identity,
                             size_t identity_len, SSL_SESSION** sess) {
  *sess = nullptr;
  try {
    const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    SslState* ssl_state = GetSslState(ssl);
    if (ctx == nullptr || ssl_state == nullptr) {
      return 1;
    }
    SecretBuffer psk;
    std::string_view id(reinterpret_cast<const char*>(identity), identity_len);
    if (ResolveServerPsk(*ctx, ssl_state, id, &psk) == Answer::kDecline) {
      return 1;
    }

    // The session carries the PSK and a suite of its hash; OpenSSL ignores
    // it if the suite being negotiated has another hash, which the
    // ClientHello callback prevents.
    Version v = static_cast<Version>(ssl_state->version);
    const SSL_CIPHER* cipher = Tls13CipherFor(ssl, v);
    const SSL_CIPHER* pending = SSL_get_pending_cipher(ssl);
    if (pending != nullptr && pending != cipher) {
      ssl_state->failure =
          std::string("TLS 1.3 suite ") + SSL_CIPHER_get_name(pending) +
          " does not use " + (v == 3 ? "SHA-384" : "SHA-256") +
          ", the hash of version " + std::to_string(v) + "'s PSK";
    }
    SslSessionPtr session = NewTls13PskSession(cipher, psk);
    if (session == nullptr) {
      ssl_state->failure = "cannot build the TLS 1.3 PSK session";
      return 0;
    }
    *sess = session.release();
    return 1;
  } catch (...) {
    ERR_clear_error();
    return 0;
  }
}

// FirstOneM2MIdentity returns the first identity of a pre_shared_key
// extension (RFC 8446 section 4.2.11) that parses as spec section 3; a
// resumption ticket may come before it. The extension is
// identities<7..2^16-1> of
// { opaque identity<1..2^16-1>; uint32 obfuscated_ticket_age; }, then the
// binders.
std::optional<ParsedIdentity> FirstOneM2MIdentity(const unsigned char* ext,
                                                  size_t len) {
  if (len < 2) {
    return std::nullopt;
  }
  size_t list_len = (size_t{ext[0]} << 8) | ext[1];
  if (list_len + 2 > len) {
    return std::nullopt;
  }
  size_t pos = 2;
  while (pos + 2 <= 2 + list_len) {
    size_t id_len = (size_t{ext[pos]} << 8) | ext[pos + 1];
    if (pos + 2 + id_len + 4 > 2 + list_len) {
      return std::nullopt;
    }
    std::string_view id(reinterpret_cast<const char*>(ext + pos + 2), id_len);
    if (std::optional<ParsedIdentity> parsed = ParseIdentity(id)) {
      return parsed;
    }
    pos += 2 + id_len + 4;
  }
  return std::nullopt;
}

// ClientsChoiceHasHash tells whether OpenSSL 3.0, left alone, is sure to
// pick a TLS 1.3 suite with hash |nid|. Without
// SSL_OP_CIPHER_SERVER_PREFERENCE it walks the client's suites that the
// server enables, in the client's order, and takes the first; but a
// server with a PSK callback and no certificate takes the first SHA-256
// one instead, if there is one (ssl3_choose_cipher, "prefer_sha256").
// So the choice is certain when the first mutual suite is SHA-256 and a
// SHA-256 PSK is offered, or when no mutual suite is SHA-256 and a
// SHA-384 PSK is. Our own clients offer only suites of their PSK's hash,
// so for them the server need not parse a suite string per handshake.
// Works on the raw suite codes: no lookup, no allocation.
bool ClientsChoiceHasHash(SSL* ssl, int nid) {
  if ((SSL_get_options(ssl) & SSL_OP_CIPHER_SERVER_PREFERENCE) != 0) {
    return false;
  }
  const unsigned char* offered = nullptr;
  size_t offered_len = SSL_client_hello_get0_ciphers(ssl, &offered);
  STACK_OF(SSL_CIPHER)* enabled = SSL_get_ciphers(ssl);
  bool first = true;
  for (size_t i = 0; i + 1 < offered_len; i += 2) {
    if (offered[i] != 0x13) {
      continue;  // not a TLS 1.3 suite (RFC 8446 appendix B.4)
    }
    uint16_t code = static_cast<uint16_t>(offered[i] << 8 | offered[i + 1]);
    bool mutual = false;
    for (int j = 0; j < sk_SSL_CIPHER_num(enabled) && !mutual; j++) {
      mutual =
          SSL_CIPHER_get_protocol_id(sk_SSL_CIPHER_value(enabled, j)) == code;
    }
    if (!mutual) {
      continue;
    }
    // TLS_AES_256_GCM_SHA384 (0x1302) is the one SHA-384 suite.
    bool sha256 = code != 0x1302;
    if (nid == NID_sha256) {
      return first && sha256;
    }
    if (sha256) {
      return false;  // it may be preferred over the SHA-384 suites
    }
    first = false;
  }
  return nid == NID_sha384 && !first;
}

}  // namespace

bool InstallServerCallbacks(SSL_CTX* ctx, CtxState* state) {
  std::string hint = EncodeHint(state->versions);
  if (SSL_CTX_use_psk_identity_hint(ctx, hint.c_str()) != 1) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "cannot set the identity hint");
    return false;
  }
  SSL_CTX_set_psk_server_callback(ctx, Tls12ServerCallback);
  SSL_CTX_set_psk_find_session_callback(ctx, Tls13FindSessionCallback);
  SSL_CTX_set_client_hello_cb(ctx, ONEM2M_PSK_client_hello_cb, nullptr);
  InstallResumption(ctx);
  InstallInfoCallback(ctx, state);
  // psk_dhe_ke only, unless ONEM2M_PSK_OPT_ALLOW_PSK_KE; no 0-RTT.
  SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_NO_DHE_KEX);
  SSL_CTX_set_max_early_data(ctx, 0);
  // DTLS: no key work for a source address that has not answered.
  return !state->dtls || InstallDtlsCookies(ctx, state);
}

}  // namespace onem2m

// Sets the session ID context (see tls_resumption.cc), and restricts the
// TLS 1.3 suites of this connection to those whose hash matches the PSK
// the client offers, before OpenSSL picks the suite:
// OpenSSL would otherwise pick by its own order (stock clients list
// TLS_AES_256_GCM_SHA384 first) and then silently drop a SHA-256 PSK.
extern "C" int ONEM2M_PSK_client_hello_cb(SSL* ssl, int* alert, void*) {
  using namespace onem2m;
  try {
    const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    if (ctx == nullptr || ctx->role != Role::kServer) {
      return SSL_CLIENT_HELLO_SUCCESS;
    }
    // Before OpenSSL looks up a session to resume.
    ApplySessionContext(ssl, *ctx);
    if (SslState* s = GetSslState(ssl)) {
      RecordServerName(ssl, s);
    }

    const unsigned char* ext = nullptr;
    size_t ext_len = 0;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &ext, &ext_len)) {
      return SSL_CLIENT_HELLO_SUCCESS;
    }
    std::optional<ParsedIdentity> parsed = FirstOneM2MIdentity(ext, ext_len);
    if (!parsed) {
      return SSL_CLIENT_HELLO_SUCCESS;  // only tickets, or nothing of ours
    }
    const std::string& suites = HashNid(parsed->version) == NID_sha384
                                    ? ctx->tls13_sha384_suites
                                    : ctx->tls13_sha256_suites;
    if (suites.empty()) {
      if (SslState* s = GetSslState(ssl)) {
        s->failure = std::string("no TLS 1.3 suite with ") +
                     (parsed->version == 3 ? "SHA-384" : "SHA-256") +
                     " is enabled for the version " +
                     std::to_string(parsed->version) + " PSK";
      }
      return SSL_CLIENT_HELLO_SUCCESS;
    }
    if (ClientsChoiceHasHash(ssl, HashNid(parsed->version))) {
      return SSL_CLIENT_HELLO_SUCCESS;  // nothing to restrict
    }
    if (!SSL_set_ciphersuites(ssl, suites.c_str())) {
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
  } catch (...) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
}
