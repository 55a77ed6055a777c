// State that the TLS glue keeps on OpenSSL objects: a CtxState per attached
// SSL_CTX (its configuration) and an SslState per SSL (what one handshake
// negotiated). Both live in OpenSSL ex_data and die with their object.

#ifndef ONEM2M_LIB_TLS_STATE_H_
#define ONEM2M_LIB_TLS_STATE_H_

#include <openssl/ssl.h>

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "kdf_fetch.h"
#include "keystore.h"
#include "onem2m/psk.h"
#include "openssl_ptr.h"
#include "protocol.h"
#include "secret_buffer.h"

namespace onem2m {

enum class Role { kServer, kClient };

// CookieSecrets are a DTLS server's keys for HelloVerifyRequest cookies
// (RFC 6347 section 4.2.1): the current one and the one before it, so that
// a cookie issued just before a rotation still verifies once.
struct CookieSecrets {
  std::mutex mutex;
  SecretBuffer current;
  SecretBuffer previous;  // empty until the first rotation
  std::chrono::steady_clock::time_point rotated;
};

// CtxState is an attached SSL_CTX's configuration. It is written while the
// application configures the SSL_CTX and only read during handshakes.
struct CtxState {
  Role role = Role::kServer;
  ONEM2M_KEYSTORE* keystore = nullptr;  // one reference, dropped on free
  Onem2mKdf psk_kdf;                    // ONEM2M-PSK in the app's libctx
  VersionSet versions = kDefaultServerVersions;
  int pinned_version = -1;  // client only; -1 when not pinned
  unsigned options = 0;     // ONEM2M_PSK_OPT_*
  std::string key_id;       // client only: who we are
  bool dtls = false;        // made with a DTLS method

  // A DTLS server's cookie keys (see tls_dtls.cc).
  CookieSecrets cookies;

  ONEM2M_PSK_log_cb log_cb = nullptr;
  void* log_arg = nullptr;
  void (*previous_info_cb)(const SSL*, int, int) = nullptr;

  // The application's TLS 1.3 suites, split by hash, as
  // SSL_set_ciphersuites strings ("" when none).
  std::string tls13_sha256_suites;
  std::string tls13_sha384_suites;

  ~CtxState() { ONEM2M_KEYSTORE_free(keystore); }

  Keystore& store() const { return *keystore->impl; }
};

// SslState is what one connection negotiated, and why it failed.
struct SslState {
  std::string identity;        // client: the identity sent (OpenSSL borrows it)
  std::string key_id;          // the KeyID in use, once an identity parsed
  int version = -1;            // the KDF version in use, or -1
  bool real_key = false;       // a keystore PSK (not a decoy) is in use
  bool resumed = false;        // a session it authenticated earlier resumed
  bool authenticated = false;  // the handshake completed with it
  bool logged = false;         // the one log line was written
  std::string failure;         // the library's reason, when it failed
  std::string peer;            // "host:port", taken when the handshake began
  std::string server_name;     // server: the client's SNI host_name, or ""
};

// GetCtxState returns |ctx|'s state, or nullptr when it is not attached.
CtxState* GetCtxState(const SSL_CTX* ctx);

// GetSslState returns |ssl|'s state, creating it on first use; nullptr
// only when memory runs out.
SslState* GetSslState(const SSL* ssl);

// FindSslState returns |ssl|'s state or nullptr, creating nothing.
const SslState* FindSslState(const SSL* ssl);

// Attach installs |state| on |ctx| (taking ownership) and the callbacks of
// its role. Raises and returns false on failure.
bool InstallServerCallbacks(SSL_CTX* ctx, CtxState* state);
bool InstallClientCallbacks(SSL_CTX* ctx, CtxState* state);

// ApplyClientSuites restricts a client's TLS 1.3 suites to those whose
// hash matches the PSK of the version it will offer. Raises and returns
// false when no enabled suite matches.
bool ApplyClientSuites(SSL_CTX* ctx, const CtxState& state);

// ClientVersions returns the versions a client may use: the pinned one, or
// those it allows, narrowed by its key's versions= policy in the keystore.
VersionSet ClientVersions(const CtxState& state);

// ClientTls13Version returns the version a client offers in TLS 1.3: the
// highest of ClientVersions (the highest allowed if that is empty; the
// keystore then refuses it with a message).
Version ClientTls13Version(const CtxState& state);

// HashNid returns NID_sha256 or NID_sha384 for version |v|.
int HashNid(Version v);

// DefaultTls13Suite returns a TLS 1.3 suite with version |v|'s hash
// (TLS_AES_128_GCM_SHA256 or TLS_AES_256_GCM_SHA384).
const SSL_CIPHER* DefaultTls13Suite(const SSL* ssl, Version v);

// NewTls13PskSession returns a TLS 1.3 session that carries |psk| for
// |cipher| (an external PSK, RFC 8446 section 4.2.11), or nullptr.
SslSessionPtr NewTls13PskSession(const SSL_CIPHER* cipher,
                                 const SecretBuffer& psk);

// InstallInfoCallback sets the info callback of an attached SSL_CTX: it
// marks a completed handshake as authenticated and writes the log line,
// after calling the application's own callback if it had set one.
void InstallInfoCallback(SSL_CTX* ctx, CtxState* state);

// InstallResumption sets up a server's session tickets and session IDs so
// that a session resumes only while its KeyID and Root Key are unchanged.
void InstallResumption(SSL_CTX* ctx);

// ApplySessionContext sets |ssl|'s session ID context from the keystore's
// generation: sessions of an older generation then never resume.
void ApplySessionContext(SSL* ssl, const CtxState& ctx);

// RecoverResumedIdentity fills |s| for a resumed session that no PSK
// callback saw, from the session's PSK identity. Returns false if it has
// none that parses.
bool RecoverResumedIdentity(const SSL* ssl, SslState* s);

// IsDtlsCtx tells whether |ctx| was made with a DTLS method.
bool IsDtlsCtx(const SSL_CTX* ctx);

// InstallDtlsCookies makes a DTLS server |ctx| answer a ClientHello
// without a valid cookie with a HelloVerifyRequest (SSL_OP_COOKIE_EXCHANGE
// and the cookie callbacks of tls_dtls.cc). Raises and returns false when
// no random secret can be drawn.
bool InstallDtlsCookies(SSL_CTX* ctx, CtxState* state);

// RecordServerName copies the host_name of a ClientHello's server_name
// extension (RFC 6066 section 3) into |s|, if it has one that is a valid
// DNS name.
void RecordServerName(SSL* ssl, SslState* s);

// LogHandshake writes |ssl|'s one log line if a logger is set and it was
// not written yet.
void LogHandshake(const SSL* ssl, bool ok);

}  // namespace onem2m

#endif  // ONEM2M_LIB_TLS_STATE_H_
