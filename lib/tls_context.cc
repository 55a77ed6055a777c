// Attaching the library to an SSL_CTX: the C API's configuration calls and
// the ex_data that carries CtxState and SslState.

#include <openssl/err.h>
#include <openssl/objects.h>

#include <mutex>
#include <new>

#include "errors.h"
#include "kdf_fetch.h"
#include "onem2m/kdf.h"
#include "tls_state.h"

namespace onem2m {

namespace {

void FreeCtxState(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<CtxState*>(ptr);
}

void FreeSslState(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<SslState*>(ptr);
}

// SSL_dup copies ex_data pointers; a duplicate starts with no state rather
// than sharing (and later double-freeing) the original's.
int DupSslState(CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int,
                long, void*) {
  *from_d = nullptr;
  return 1;
}

struct ExIndices {
  int ctx = -1;
  int ssl = -1;
};

const ExIndices& Indices() {
  static const ExIndices indices = [] {
    ExIndices i;
    i.ctx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, nullptr,
                                    nullptr, nullptr, FreeCtxState);
    i.ssl = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, nullptr, nullptr,
                                    DupSslState, FreeSslState);
    return i;
  }();
  return indices;
}

// IsTls13Suite tells a TLS 1.3 suite (RFC 8446 B.4: 0x13,0x0N).
bool IsTls13Suite(const SSL_CIPHER* c) {
  return (SSL_CIPHER_get_protocol_id(c) >> 8) == 0x13;
}

// SplitTls13Suites records |ctx|'s enabled TLS 1.3 suites by hash.
void SplitTls13Suites(SSL_CTX* ctx, CtxState* state) {
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx);
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    if (!IsTls13Suite(c)) {
      continue;
    }
    const EVP_MD* md = SSL_CIPHER_get_handshake_digest(c);
    std::string* list = nullptr;
    if (md != nullptr && EVP_MD_get_type(md) == NID_sha256) {
      list = &state->tls13_sha256_suites;
    } else if (md != nullptr && EVP_MD_get_type(md) == NID_sha384) {
      list = &state->tls13_sha384_suites;
    } else {
      continue;
    }
    if (!list->empty()) {
      *list += ':';
    }
    *list += SSL_CIPHER_get_name(c);
  }
}

// MayUseTls13 tells whether |ctx|'s protocol range includes TLS 1.3 (never
// for DTLS: DTLS 1.3 is not in OpenSSL 3.0).
bool MayUseTls13(const SSL_CTX* ctx, const CtxState& state) {
  if (state.dtls) {
    return false;
  }
  long max = SSL_CTX_get_max_proto_version(const_cast<SSL_CTX*>(ctx));
  return max == 0 || max >= TLS1_3_VERSION;
}

// HasTls12PskSuite tells whether |ctx| enables a TLS 1.2 PSK suite.
bool HasTls12PskSuite(SSL_CTX* ctx) {
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx);
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    if (!IsTls13Suite(c) && SSL_CIPHER_get_auth_nid(c) == NID_auth_psk) {
      return true;
    }
  }
  return false;
}

// Attach is the common part of both roles' attach calls.
bool Attach(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks, Role role, const char* key_id,
            OSSL_LIB_CTX* libctx, const char* propq) {
  if (ctx == nullptr || ks == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "SSL_CTX and keystore are "
                 "required");
    return false;
  }
  if (GetCtxState(ctx) != nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "this SSL_CTX is already attached");
    return false;
  }

  auto state = std::make_unique<CtxState>();
  state->role = role;
  ONEM2M_KEYSTORE_up_ref(ks);
  state->keystore = ks;
  state->dtls = IsDtlsCtx(ctx);
  state->psk_kdf = FetchOnem2mKdf(libctx, propq, ONEM2M_KDF_PSK);
  if (!state->psk_kdf) {
    return false;
  }
  SplitTls13Suites(ctx, state.get());

  // A server must be able to negotiate some PSK suite, or every client
  // would fail; say so now rather than at the first handshake.
  bool tls13 =
      MayUseTls13(ctx, *state) && !(state->tls13_sha256_suites.empty() &&
                                    state->tls13_sha384_suites.empty());
  if (!tls13 && !HasTls12PskSuite(ctx)) {
    ONEM2M_RAISE(ONEM2M_R_NO_PSK_CIPHER,
                 "the SSL_CTX enables no PSK cipher suite: allow TLS 1.3, or "
                 "add TLS 1.2 PSK suites with SSL_CTX_set_cipher_list (e.g. "
                 "\"PSK\")");
    return false;
  }

  if (role == Role::kClient) {
    if (auto why = CheckKeyId(key_id != nullptr ? key_id : "")) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_KEY_ID, "%s", why->c_str());
      return false;
    }
    if (!ks->impl->Contains(key_id)) {
      ONEM2M_RAISE(ONEM2M_R_UNKNOWN_KEY_ID,
                   "the keystore has no Root Key for KeyID %s", key_id);
      return false;
    }
    state->key_id = key_id;
  }

  bool installed = role == Role::kServer
                       ? InstallServerCallbacks(ctx, state.get())
                       : InstallClientCallbacks(ctx, state.get());
  if (!installed) {
    return false;
  }
  if (!SSL_CTX_set_ex_data(ctx, Indices().ctx, state.get())) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "cannot store state on SSL_CTX");
    return false;
  }
  state.release();
  return true;
}

// WithCtxState runs |fn| on |ctx|'s state, raising NOT_ATTACHED if none.
template <typename Fn>
int WithCtxState(SSL_CTX* ctx, Fn fn) {
  try {
    CtxState* state = ctx != nullptr ? GetCtxState(ctx) : nullptr;
    if (state == nullptr) {
      ONEM2M_RAISE(ONEM2M_R_NOT_ATTACHED,
                   "the SSL_CTX is not attached: call ONEM2M_PSK_attach_server "
                   "or ONEM2M_PSK_attach_client first");
      return 0;
    }
    return fn(state) ? 1 : 0;
  } catch (...) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "out of memory");
    return 0;
  }
}

}  // namespace

CtxState* GetCtxState(const SSL_CTX* ctx) {
  return static_cast<CtxState*>(SSL_CTX_get_ex_data(ctx, Indices().ctx));
}

SslState* GetSslState(const SSL* ssl) {
  auto* state = static_cast<SslState*>(SSL_get_ex_data(ssl, Indices().ssl));
  if (state != nullptr) {
    return state;
  }
  state = new (std::nothrow) SslState();
  if (state == nullptr ||
      !SSL_set_ex_data(const_cast<SSL*>(ssl), Indices().ssl, state)) {
    delete state;
    return nullptr;
  }
  return state;
}

const SslState* FindSslState(const SSL* ssl) {
  return static_cast<const SslState*>(SSL_get_ex_data(ssl, Indices().ssl));
}

int HashNid(Version v) { return v == 3 ? NID_sha384 : NID_sha256; }

const SSL_CIPHER* DefaultTls13Suite(const SSL* ssl, Version v) {
  static const unsigned char kAes128GcmSha256[] = {0x13, 0x01};
  static const unsigned char kAes256GcmSha384[] = {0x13, 0x02};
  return SSL_CIPHER_find(const_cast<SSL*>(ssl), HashNid(v) == NID_sha384
                                                    ? kAes256GcmSha384
                                                    : kAes128GcmSha256);
}

SslSessionPtr NewTls13PskSession(const SSL_CIPHER* cipher,
                                 const SecretBuffer& psk) {
  SslSessionPtr session(SSL_SESSION_new());
  if (cipher == nullptr || session == nullptr ||
      !SSL_SESSION_set1_master_key(session.get(), psk.data(), psk.size()) ||
      !SSL_SESSION_set_cipher(session.get(), cipher) ||
      !SSL_SESSION_set_protocol_version(session.get(), TLS1_3_VERSION)) {
    return nullptr;
  }
  return session;
}

VersionSet ClientVersions(const CtxState& state) {
  VersionSet ours = state.pinned_version >= 0
                        ? VersionBit(static_cast<Version>(state.pinned_version))
                        : state.versions;
  return ours &
         state.keystore->own_keys.AllowedVersions(state.store(), state.key_id)
             .value_or(ours);
}

Version ClientTls13Version(const CtxState& state) {
  VersionSet ours = ClientVersions(state);
  return HighestVersion(ours != 0 ? ours : state.versions);
}

bool ApplyClientSuites(SSL_CTX* ctx, const CtxState& state) {
  if (!MayUseTls13(ctx, state)) {
    return true;
  }
  Version v = ClientTls13Version(state);
  const std::string& suites = HashNid(v) == NID_sha384
                                  ? state.tls13_sha384_suites
                                  : state.tls13_sha256_suites;
  if (suites.empty()) {
    ONEM2M_RAISE(ONEM2M_R_HASH_MISMATCH,
                 "version %u needs a TLS 1.3 suite with %s, and none is "
                 "enabled: add one with SSL_CTX_set_ciphersuites, or limit "
                 "the SSL_CTX to TLS 1.2",
                 v, v == 3 ? "SHA-384" : "SHA-256");
    return false;
  }
  if (!SSL_CTX_set_ciphersuites(ctx, suites.c_str())) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "cannot set TLS 1.3 suites");
    return false;
  }
  return true;
}

}  // namespace onem2m

using onem2m::CtxState;
using onem2m::Role;

extern "C" {

int ONEM2M_PSK_attach_server_ex(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks,
                                OSSL_LIB_CTX* libctx, const char* propq) {
  try {
    return onem2m::Attach(ctx, ks, Role::kServer, nullptr, libctx, propq);
  } catch (...) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "out of memory");
    return 0;
  }
}

int ONEM2M_PSK_attach_server(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks) {
  return ONEM2M_PSK_attach_server_ex(ctx, ks, nullptr, nullptr);
}

int ONEM2M_PSK_attach_client_ex(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks,
                                const char* key_id, OSSL_LIB_CTX* libctx,
                                const char* propq) {
  try {
    return onem2m::Attach(ctx, ks, Role::kClient, key_id, libctx, propq);
  } catch (...) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "out of memory");
    return 0;
  }
}

int ONEM2M_PSK_attach_client(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks,
                             const char* key_id) {
  return ONEM2M_PSK_attach_client_ex(ctx, ks, key_id, nullptr, nullptr);
}

int ONEM2M_PSK_CTX_set_versions(SSL_CTX* ctx, unsigned int versions) {
  return onem2m::WithCtxState(ctx, [&](CtxState* state) {
    if (versions == 0 || (versions & ~onem2m::kAllVersions) != 0) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                   "versions must be a non-empty set of versions 0 to 3 "
                   "(got 0x%x)",
                   versions);
      return false;
    }
    if (state->pinned_version >= 0 &&
        (versions & onem2m::VersionBit(state->pinned_version)) == 0) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                   "versions %s exclude the pinned version %d; unpin it "
                   "first (ONEM2M_PSK_CTX_pin_version(ctx, -1))",
                   onem2m::FormatVersionSet(versions).c_str(),
                   state->pinned_version);
      return false;
    }
    unsigned previous = state->versions;
    state->versions = versions;
    if (state->role == Role::kServer) {
      std::string hint = onem2m::EncodeHint(versions);
      return SSL_CTX_use_psk_identity_hint(ctx, hint.c_str()) == 1;
    }
    if (!onem2m::ApplyClientSuites(ctx, *state)) {
      state->versions = previous;
      return false;
    }
    return true;
  });
}

unsigned int ONEM2M_PSK_CTX_get_versions(const SSL_CTX* ctx) {
  const CtxState* state = ctx != nullptr ? onem2m::GetCtxState(ctx) : nullptr;
  return state != nullptr ? state->versions : 0;
}

int ONEM2M_PSK_CTX_pin_version(SSL_CTX* ctx, int version) {
  return onem2m::WithCtxState(ctx, [&](CtxState* state) {
    if (state->role != Role::kClient) {
      ONEM2M_RAISE(ONEM2M_R_WRONG_ROLE,
                   "only a client pins a version; a server sets the versions "
                   "it allows with ONEM2M_PSK_CTX_set_versions");
      return false;
    }
    if (version < -1 || version > static_cast<int>(onem2m::kMaxVersion)) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                   "version %d is not 0 to 3 (or -1 to unpin)", version);
      return false;
    }
    if (version >= 0 && (state->versions & onem2m::VersionBit(version)) == 0) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                   "cannot pin version %d: the client allows only %s (set "
                   "them with ONEM2M_PSK_CTX_set_versions)",
                   version, onem2m::FormatVersionSet(state->versions).c_str());
      return false;
    }
    int previous = state->pinned_version;
    state->pinned_version = version;
    if (!onem2m::ApplyClientSuites(ctx, *state)) {
      state->pinned_version = previous;
      return false;
    }
    return true;
  });
}

int ONEM2M_PSK_CTX_set_options(SSL_CTX* ctx, unsigned int options) {
  return onem2m::WithCtxState(ctx, [&](CtxState* state) {
    const unsigned known =
        ONEM2M_PSK_OPT_REVEAL_UNKNOWN | ONEM2M_PSK_OPT_ALLOW_PSK_KE;
    if ((options & ~known) != 0) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "unknown option bits 0x%x",
                   options & ~known);
      return false;
    }
    state->options = options;
    if ((options & ONEM2M_PSK_OPT_ALLOW_PSK_KE) != 0) {
      SSL_CTX_set_options(ctx, SSL_OP_ALLOW_NO_DHE_KEX);
    } else {
      SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_NO_DHE_KEX);
    }
    return true;
  });
}

int ONEM2M_PSK_CTX_set_log_callback(SSL_CTX* ctx, ONEM2M_PSK_log_cb cb,
                                    void* arg) {
  return onem2m::WithCtxState(ctx, [&](CtxState* state) {
    state->log_cb = cb;
    state->log_arg = arg;
    return true;
  });
}

const char* ONEM2M_PSK_get0_key_id(const SSL* ssl) {
  const onem2m::SslState* s = ssl ? onem2m::FindSslState(ssl) : nullptr;
  return s != nullptr && s->authenticated ? s->key_id.c_str() : nullptr;
}

int ONEM2M_PSK_get_version(const SSL* ssl) {
  const onem2m::SslState* s = ssl ? onem2m::FindSslState(ssl) : nullptr;
  return s != nullptr && s->authenticated ? s->version : -1;
}

int ONEM2M_PSK_session_resumed(const SSL* ssl) {
  const onem2m::SslState* s = ssl ? onem2m::FindSslState(ssl) : nullptr;
  return s != nullptr && s->authenticated && s->resumed ? 1 : 0;
}

const char* ONEM2M_PSK_get0_failure(const SSL* ssl) {
  const onem2m::SslState* s = ssl ? onem2m::FindSslState(ssl) : nullptr;
  return s != nullptr && !s->failure.empty() ? s->failure.c_str() : nullptr;
}

}  // extern "C"
