// The Originator (TLS client) side: choosing the version and sending
// "vN:KeyID" with the PSK that the keystore derives.
//
// TLS 1.2 asks through the PSK client callback, with the server's identity
// hint: the client takes the highest version both sides allow (spec section
// 7). TLS 1.3 has no hint, so the client offers its pinned or highest
// allowed version through the use-session callback.

#include <openssl/err.h>

#include <cstring>

#include "errors.h"
#include "tls_state.h"

namespace onem2m {

namespace {

// NoVersionLeft explains an empty ClientVersions: the client's own
// setting and its key's versions= attribute share no version.
std::string NoVersionLeft(const CtxState& ctx) {
  VersionSet configured =
      ctx.pinned_version >= 0
          ? VersionBit(static_cast<Version>(ctx.pinned_version))
          : ctx.versions;
  return "no KDF version left: the client allows " +
         FormatVersionSet(configured) + ", the keystore's versions= for " +
         ctx.key_id + " allows " +
         FormatVersionSet(
             ctx.keystore->own_keys.AllowedVersions(ctx.store(), ctx.key_id)
                 .value_or(0));
}

// ChooseTls12Version picks the version for a TLS 1.2 handshake given the
// server's hint, or returns std::nullopt with |why| set.
std::optional<Version> ChooseTls12Version(const CtxState& ctx, const char* hint,
                                          std::string* why) {
  VersionSet ours = ClientVersions(ctx);
  if (ours == 0) {
    *why = NoVersionLeft(ctx);
    return std::nullopt;
  }
  // No hint, an empty one or a foreign one: our own highest version.
  VersionSet server = hint != nullptr ? ParseHint(hint).value_or(0) : 0;
  if (server == 0) {
    return HighestVersion(ours);
  }
  VersionSet common = ours & server;
  if (common == 0) {
    *why = "no common KDF version: server allows " + FormatVersionSet(server) +
           ", client allows " + FormatVersionSet(ours);
    return std::nullopt;
  }
  return HighestVersion(common);
}

// DeriveClientPsk asks the keystore for our PSK of |v| and records what
// this connection uses; false with |ssl_state->failure| set on failure.
bool DeriveClientPsk(const CtxState& ctx, SslState* ssl_state, Version v,
                     SecretBuffer* psk) {
  ssl_state->key_id = ctx.key_id;
  ssl_state->version = static_cast<int>(v);
  ssl_state->identity = EncodeIdentity(ctx.key_id, v);
  // The client's own PSK comes from the keystore's cache of it
  // (lib/own_key_cache.h): the same for every handshake until a key changes.
  switch (ctx.keystore->own_keys.DerivePsk(ctx.store(), ctx.psk_kdf.get(),
                                           ctx.key_id, v, psk)) {
    case DeriveStatus::kOk:
      ssl_state->real_key = true;
      return true;
    case DeriveStatus::kUnknownKeyId:
      ssl_state->failure = "the keystore no longer holds KeyID " + ctx.key_id;
      return false;
    case DeriveStatus::kVersionNotAllowed:
      ssl_state->failure = "the keystore does not allow version " +
                           std::to_string(v) + " for KeyID " + ctx.key_id;
      return false;
    case DeriveStatus::kFailed:
      ssl_state->failure = "PSK derivation failed";
      return false;
  }
  return false;
}

unsigned int Tls12ClientCallback(SSL* ssl, const char* hint, char* identity,
                                 unsigned int max_identity_len,
                                 unsigned char* psk_out,
                                 unsigned int max_psk_len) {
  try {
    const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    SslState* ssl_state = GetSslState(ssl);
    if (ctx == nullptr || ssl_state == nullptr) {
      return 0;
    }
    std::optional<Version> v =
        ChooseTls12Version(*ctx, hint, &ssl_state->failure);
    SecretBuffer psk;
    if (!v || !DeriveClientPsk(*ctx, ssl_state, *v, &psk)) {
      return 0;
    }
    // OpenSSL's identity buffer has room for max_identity_len octets and
    // a NUL; our identities are at most 123 octets.
    if (ssl_state->identity.size() > max_identity_len ||
        psk.size() > max_psk_len) {
      ssl_state->failure = "identity or PSK too long for OpenSSL";
      return 0;
    }
    std::memcpy(identity, ssl_state->identity.c_str(),
                ssl_state->identity.size() + 1);
    std::memcpy(psk_out, psk.data(), psk.size());
    return static_cast<unsigned int>(psk.size());
  } catch (...) {
    ERR_clear_error();
    return 0;
  }
}

int Tls13UseSessionCallback(SSL* ssl, const EVP_MD* md,
                            const unsigned char** id, size_t* idlen,
                            SSL_SESSION** sess) {
  *sess = nullptr;
  *id = nullptr;
  *idlen = 0;
  try {
    const CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    SslState* ssl_state = GetSslState(ssl);
    if (ctx == nullptr || ssl_state == nullptr) {
      return 0;
    }
    if (ClientVersions(*ctx) == 0) {
      ssl_state->failure = NoVersionLeft(*ctx);
      return 0;
    }
    Version v = ClientTls13Version(*ctx);

    // After a HelloRetryRequest |md| is the hash of the suite the server
    // chose; a PSK of another hash cannot be used with it.
    if (md != nullptr && EVP_MD_get_type(md) != HashNid(v)) {
      ssl_state->failure =
          std::string("the server chose a TLS 1.3 suite with ") +
          EVP_MD_get0_name(md) + ", but the version " + std::to_string(v) +
          " PSK needs " + (v == 3 ? "SHA-384" : "SHA-256");
      return 0;
    }
    SecretBuffer psk;
    if (!DeriveClientPsk(*ctx, ssl_state, v, &psk)) {
      return 0;
    }
    SslSessionPtr session = NewTls13PskSession(DefaultTls13Suite(ssl, v), psk);
    if (session == nullptr) {
      ssl_state->failure = "cannot build the TLS 1.3 PSK session";
      return 0;
    }
    *id = reinterpret_cast<const unsigned char*>(ssl_state->identity.data());
    *idlen = ssl_state->identity.size();
    *sess = session.release();
    return 1;
  } catch (...) {
    ERR_clear_error();
    return 0;
  }
}

}  // namespace

bool InstallClientCallbacks(SSL_CTX* ctx, CtxState* state) {
  if (!ApplyClientSuites(ctx, *state)) {
    return false;
  }
  SSL_CTX_set_psk_client_callback(ctx, Tls12ClientCallback);
  SSL_CTX_set_psk_use_session_callback(ctx, Tls13UseSessionCallback);
  InstallInfoCallback(ctx, state);
  return true;
}

}  // namespace onem2m
