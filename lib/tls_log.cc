// The end of a handshake: marking the peer authenticated, and the one log
// line per handshake that the application may ask for. The line holds
// metadata only (peer, KeyID, version, protocol, suite, outcome, reason),
// never key bytes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>

#include "tls_state.h"

namespace onem2m {

namespace {

// PeerAddress returns "host:port" of |ssl|'s socket, or "-" if it has none.
std::string PeerAddress(const SSL* ssl) {
  int fd = SSL_get_fd(ssl);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)) {
    return "-";
  }
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "-";
}

// ExplainAlert turns a fatal alert into the reason a user can act on,
// using what the library knows about this connection.
std::string ExplainAlert(const SSL* ssl, const SslState& s, bool sent,
                         int alert) {
  const char* desc = SSL_alert_desc_string_long(alert);
  bool server = SSL_is_server(const_cast<SSL*>(ssl));
  int code = alert & 0xff;
  // A wrong key shows as a record MAC failure (TLS 1.2 Finished) or a
  // binder that does not verify (TLS 1.3; OpenSSL 3.0 sends
  // illegal_parameter for it).
  bool mac_failure =
      code == SSL_AD_DECRYPT_ERROR || code == SSL_AD_BAD_RECORD_MAC ||
      (code == SSL_AD_ILLEGAL_PARAMETER && SSL_version(ssl) == TLS1_3_VERSION);
  if (server && sent && mac_failure && s.real_key) {
    return std::string(
               "wrong Root Key (or a message altered in transit): "
               "the client's Finished or binder did not verify "
               "(alert ") +
           desc + ")";
  }
  if (!server && !sent && mac_failure) {
    return std::string(
               "PSK rejected by peer (unknown identity or wrong "
               "key): alert ") +
           desc;
  }
  if (!server && !sent && code == TLS1_AD_UNKNOWN_PSK_IDENTITY) {
    return std::string("PSK rejected by peer (unknown identity): alert ") +
           desc;
  }
  if (!server && !sent && code == SSL_AD_HANDSHAKE_FAILURE) {
    return std::string(
               "PSK rejected by peer (unknown identity or wrong "
               "key), or no common cipher suite or group: alert ") +
           desc;
  }
  return std::string(sent ? "sent" : "received") + " alert " + desc;
}

// NoteResumption records whether |ssl| resumed a session, and for a
// resumption that no PSK callback saw (TLS 1.2), which KeyID and version
// first authenticated it. OpenSSL counts a TLS 1.3 external PSK as a
// reused session too; there only a session with a ticket resumed.
void NoteResumption(const SSL* ssl, SslState* s) {
  SSL* mutable_ssl = const_cast<SSL*>(ssl);
  if (!SSL_session_reused(mutable_ssl) || s->resumed) {
    return;
  }
  if (SSL_version(ssl) == TLS1_3_VERSION) {
    const SSL_SESSION* session = SSL_get_session(ssl);
    s->resumed = !SSL_is_server(mutable_ssl) && session != nullptr &&
                 SSL_SESSION_has_ticket(session);
    return;
  }
  RecoverResumedIdentity(ssl, s);
}

}  // namespace

void LogHandshake(const SSL* ssl, bool ok) {
  const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
  SslState* s = GetSslState(ssl);
  if (ctx == nullptr || s == nullptr || s->logged) {
    return;
  }
  s->logged = true;
  if (ctx->log_cb == nullptr) {
    return;
  }

  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  std::string line =
      "peer=" + (s->peer.empty() ? PeerAddress(ssl) : s->peer) +
      " role=" + (ctx->role == Role::kServer ? "server" : "client") +
      " key_id=" + (s->key_id.empty() ? "-" : s->key_id) +
      " version=" + (s->version >= 0 ? std::to_string(s->version) : "-") +
      " protocol=" + SSL_get_version(ssl) +
      " suite=" + (cipher ? SSL_CIPHER_get_name(cipher) : "-") +
      " outcome=" + (ok ? "ok" : "failed");
  if (!s->server_name.empty()) {
    line += " sni=" + s->server_name;
  }
  if (s->resumed) {
    line += " resumed=yes";
  }
  if (!ok) {
    line += " reason=\"" + s->failure + "\"";
  }
  ctx->log_cb(ssl, line.c_str(), ctx->log_arg);
}

namespace {

// HandleInfoEvent does the library's part of an info callback: note the
// peer when a handshake starts, mark and log a completed one, explain and
// log a fatal alert.
void HandleInfoEvent(const SSL* ssl, const CtxState& ctx, int where, int ret) {
  if ((where & SSL_CB_HANDSHAKE_START) != 0 && ctx.log_cb != nullptr) {
    // The peer may be gone by the time we log; note it while it is here.
    if (SslState* s = GetSslState(ssl); s != nullptr && s->peer.empty()) {
      s->peer = PeerAddress(ssl);
    }
  }
  if ((where & SSL_CB_HANDSHAKE_DONE) != 0) {
    SslState* s = GetSslState(ssl);
    if (s != nullptr) {
      NoteResumption(ssl, s);
    }
    if (s != nullptr && (s->real_key || s->resumed) && s->version >= 0) {
      s->authenticated = true;
      s->failure.clear();
      LogHandshake(ssl, true);
    }
    return;
  }
  if ((where & SSL_CB_ALERT) != 0 && (ret >> 8) == SSL3_AL_FATAL) {
    SslState* s = GetSslState(ssl);
    if (s == nullptr || s->logged) {
      return;
    }
    bool sent = (where & SSL_CB_WRITE) != 0;
    if (s->failure.empty() ||
        (!sent && !SSL_is_server(const_cast<SSL*>(ssl)))) {
      s->failure = ExplainAlert(ssl, *s, sent, ret);
    }
    LogHandshake(ssl, false);
  }
}

// The events HandleInfoEvent acts on. OpenSSL calls an info callback
// about 16 times per handshake on each side, mostly for state changes.
constexpr int kInfoEvents =
    SSL_CB_HANDSHAKE_START | SSL_CB_HANDSHAKE_DONE | SSL_CB_ALERT;

// InfoCallback serves a context without an application info callback: it
// returns at once for the events the library ignores.
void InfoCallback(const SSL* ssl, int where, int ret) {
  if ((where & kInfoEvents) == 0) {
    return;
  }
  try {
    if (const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl))) {
      HandleInfoEvent(ssl, *ctx, where, ret);
    }
  } catch (...) {
    // Logging must never break a handshake.
  }
}

// ChainingInfoCallback serves a context whose application had set its own
// info callback before attaching: it passes every event on first.
void ChainingInfoCallback(const SSL* ssl, int where, int ret) {
  try {
    const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    if (ctx == nullptr) {
      return;
    }
    if (ctx->previous_info_cb != nullptr) {
      ctx->previous_info_cb(ssl, where, ret);
    }
    if ((where & kInfoEvents) != 0) {
      HandleInfoEvent(ssl, *ctx, where, ret);
    }
  } catch (...) {
    // Logging must never break a handshake.
  }
}

}  // namespace

void InstallInfoCallback(SSL_CTX* ctx, CtxState* state) {
  state->previous_info_cb = SSL_CTX_get_info_callback(ctx);
  SSL_CTX_set_info_callback(ctx, state->previous_info_cb != nullptr
                                     ? ChainingInfoCallback
                                     : InfoCallback);
}

}  // namespace onem2m

extern "C" void ONEM2M_PSK_log_failure(const SSL* ssl, const char* reason) {
  try {
    onem2m::SslState* s = ssl != nullptr ? onem2m::GetSslState(ssl) : nullptr;
    if (s == nullptr || s->logged) {
      return;
    }
    // DTLS drops a record that fails its check (RFC 6347 section 4.1.2.7)
    // instead of sending bad_record_mac: a server that derived the real
    // PSK and never saw a Finished that verified was most likely given a
    // wrong key.
    if (s->failure.empty() && s->real_key &&
        SSL_is_dtls(const_cast<SSL*>(ssl)) && !SSL_is_init_finished(ssl) &&
        SSL_is_server(const_cast<SSL*>(ssl))) {
      s->failure =
          "wrong Root Key (or the client went away): no Finished from the "
          "client verified before the handshake ended (DTLS drops records "
          "that fail the check)";
    }
    if (s->failure.empty() && reason != nullptr) {
      s->failure = reason;
    }
    onem2m::LogHandshake(ssl, false);
  } catch (...) {
  }
}
