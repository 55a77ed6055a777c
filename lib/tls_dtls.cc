// DTLS 1.2 (RFC 6347) and the TS-0003 profile.
//
// The PSK callbacks are the same for DTLS as for TLS 1.2; what DTLS adds is
// the cookie exchange. A DTLS server answers a ClientHello without a valid
// cookie with a HelloVerifyRequest and keeps no state for it, so a spoofed
// source address can make it neither derive a PSK nor send more than it
// received (RFC 6347 section 4.2.1). The cookie is
//   HMAC-SHA-256(secret, "onem2m-dtls-cookie" || family || port || address)
// over the client's address as the datagram BIO saw it. The secret is 32
// random octets per SSL_CTX, replaced every kCookieSecretLifetime; a cookie
// made with the secret before is still accepted, so a client caught by a
// rotation between its two ClientHellos is not refused.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/tls1.h>
#include <sys/socket.h>

#include <cstring>

#include "errors.h"
#include "tls_state.h"

namespace onem2m {

namespace {

constexpr std::chrono::minutes kCookieSecretLifetime{5};
constexpr size_t kCookieSecretSize = 32;
constexpr char kCookieLabel[] = "onem2m-dtls-cookie";

// TS-0003 clause 10.2, as issue #5 reads it: TLS_PSK_WITH_AES_128_CBC_SHA256
// is the mandatory suite for TLS, TLS_PSK_WITH_AES_128_CCM_8 (RFC 6655) for
// DTLS, both on version 1.2. The profile enables exactly these and nothing
// else, so that a conformance test sees only what the clause names.
constexpr char kOnem2mTlsSuite[] = "PSK-AES128-CBC-SHA256";
constexpr char kOnem2mDtlsSuite[] = "PSK-AES128-CCM8";

// NewCookieSecret fills |secret| with fresh random octets.
bool NewCookieSecret(SecretBuffer* secret) {
  SecretBuffer fresh(kCookieSecretSize);
  if (RAND_priv_bytes(fresh.data(), static_cast<int>(fresh.size())) != 1) {
    return false;
  }
  *secret = std::move(fresh);
  return true;
}

// PeerOctets returns what the cookie binds: the family, port and address
// of |ssl|'s peer, from the datagram BIO (DTLSv1_listen's recvfrom or a
// connected BIO's peer), else from the socket. Empty when neither knows.
std::string PeerOctets(SSL* ssl) {
  sockaddr_storage addr{};
  BIO_ADDR* peer = BIO_ADDR_new();
  if (peer != nullptr && BIO_dgram_get_peer(SSL_get_rbio(ssl), peer) > 0 &&
      BIO_ADDR_family(peer) != AF_UNSPEC) {
    unsigned char raw[16];
    size_t raw_len = 0;
    std::string out;
    if (BIO_ADDR_rawaddress(peer, nullptr, &raw_len) && raw_len <= 16 &&
        BIO_ADDR_rawaddress(peer, raw, &raw_len)) {
      unsigned short port = BIO_ADDR_rawport(peer);  // network order
      out.push_back(static_cast<char>(BIO_ADDR_family(peer)));
      out.append(reinterpret_cast<const char*>(&port), sizeof(port));
      out.append(reinterpret_cast<const char*>(raw), raw_len);
    }
    BIO_ADDR_free(peer);
    return out;
  }
  BIO_ADDR_free(peer);

  socklen_t len = sizeof(addr);
  int fd = SSL_get_fd(ssl);
  if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)) {
    return "";
  }
  std::string out(1, static_cast<char>(addr.ss_family));
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    out.append(reinterpret_cast<const char*>(&in->sin_port), 2);
    out.append(reinterpret_cast<const char*>(&in->sin_addr), 4);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    out.append(reinterpret_cast<const char*>(&in6->sin6_port), 2);
    out.append(reinterpret_cast<const char*>(&in6->sin6_addr), 16);
  }
  return out;
}

// CookieFor computes the cookie of |peer| under |secret| into |out|.
bool CookieFor(const SecretBuffer& secret, const std::string& peer,
               unsigned char out[EVP_MAX_MD_SIZE], unsigned int* out_len) {
  std::string message = kCookieLabel + peer;
  return HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(message.data()),
              message.size(), out, out_len) != nullptr;
}

int GenerateCookie(SSL* ssl, unsigned char* cookie, unsigned int* cookie_len) {
  try {
    CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    if (ctx == nullptr) {
      return 0;
    }
    std::string peer = PeerOctets(ssl);

    // Rotate the secret when it is old; keep the one before for verifying.
    std::lock_guard<std::mutex> lock(ctx->cookies.mutex);
    auto now = std::chrono::steady_clock::now();
    if (now - ctx->cookies.rotated >= kCookieSecretLifetime) {
      SecretBuffer fresh;
      if (!NewCookieSecret(&fresh)) {
        return 0;
      }
      ctx->cookies.previous = std::move(ctx->cookies.current);
      ctx->cookies.current = std::move(fresh);
      ctx->cookies.rotated = now;
    }
    // OpenSSL's buffer holds DTLS1_COOKIE_LENGTH (255) octets; ours is 32.
    return CookieFor(ctx->cookies.current, peer, cookie, cookie_len) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int VerifyCookie(SSL* ssl, const unsigned char* cookie,
                 unsigned int cookie_len) {
  try {
    CtxState* ctx = GetCtxState(SSL_get_SSL_CTX(ssl));
    if (ctx == nullptr) {
      return 0;
    }
    std::string peer = PeerOctets(ssl);
    std::lock_guard<std::mutex> lock(ctx->cookies.mutex);
    for (const SecretBuffer* secret :
         {&ctx->cookies.current, &ctx->cookies.previous}) {
      unsigned char expected[EVP_MAX_MD_SIZE];
      unsigned int expected_len = 0;
      if (secret->size() == 0 ||
          !CookieFor(*secret, peer, expected, &expected_len)) {
        continue;
      }
      if (cookie_len == expected_len &&
          CRYPTO_memcmp(cookie, expected, expected_len) == 0) {
        return 1;
      }
    }
    return 0;
  } catch (...) {
    return 0;
  }
}

// IsDnsName tells whether |name| may be an SNI host_name: letters, digits,
// '-', '.' and '_', at most 255 octets, not an IPv4 or IPv6 literal
// (RFC 6066 section 3).
bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 255 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") !=
          std::string_view::npos) {
    return false;
  }
  std::string text(name);
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) != 1;
}

}  // namespace

bool IsDtlsCtx(const SSL_CTX* ctx) {
  // OpenSSL 3.0 has SSL_is_dtls but no SSL_CTX equivalent.
  SslPtr probe(SSL_new(const_cast<SSL_CTX*>(ctx)));
  bool dtls = probe != nullptr && SSL_is_dtls(probe.get());
  ERR_clear_error();
  return dtls;
}

bool InstallDtlsCookies(SSL_CTX* ctx, CtxState* state) {
  if (!NewCookieSecret(&state->cookies.current)) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "cannot draw the cookie secret");
    return false;
  }
  state->cookies.rotated = std::chrono::steady_clock::now();
  SSL_CTX_set_cookie_generate_cb(ctx, GenerateCookie);
  SSL_CTX_set_cookie_verify_cb(ctx, VerifyCookie);
  SSL_CTX_set_options(ctx, SSL_OP_COOKIE_EXCHANGE);
  return true;
}

void RecordServerName(SSL* ssl, SslState* s) {
  // ServerNameList: list<2>, then { type<1>, HostName<2> } entries.
  const unsigned char* ext = nullptr;
  size_t len = 0;
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) ||
      len < 2) {
    return;
  }
  size_t list_len = (size_t{ext[0]} << 8) | ext[1];
  size_t pos = 2;
  while (list_len + 2 <= len && pos + 3 <= 2 + list_len) {
    unsigned type = ext[pos];
    size_t name_len = (size_t{ext[pos + 1]} << 8) | ext[pos + 2];
    if (pos + 3 + name_len > 2 + list_len) {
      return;
    }
    std::string_view name(reinterpret_cast<const char*>(ext + pos + 3),
                          name_len);
    if (type == TLSEXT_NAMETYPE_host_name) {
      if (IsDnsName(name)) {
        s->server_name = std::string(name);
      }
      return;
    }
    pos += 3 + name_len;
  }
}

}  // namespace onem2m

extern "C" {

int ONEM2M_PSK_CTX_set_profile(SSL_CTX* ctx, const char* name) {
  using onem2m::IsDtlsCtx;
  if (ctx == nullptr || name == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "SSL_CTX and profile required");
    return 0;
  }
  if (std::strcmp(name, "onem2m") != 0) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "unknown profile \"%s\": the profile is \"onem2m\" "
                 "(TS-0003 clause 10.2)",
                 name);
    return 0;
  }
  bool dtls = IsDtlsCtx(ctx);
  int version = dtls ? DTLS1_2_VERSION : TLS1_2_VERSION;
  const char* suite = dtls ? onem2m::kOnem2mDtlsSuite : onem2m::kOnem2mTlsSuite;
  if (!SSL_CTX_set_min_proto_version(ctx, version) ||
      !SSL_CTX_set_max_proto_version(ctx, version) ||
      !SSL_CTX_set_cipher_list(ctx, suite)) {
    ERR_clear_error();
    ONEM2M_RAISE(ONEM2M_R_NO_PSK_CIPHER,
                 "this OpenSSL cannot enable %s on %s 1.2 for the onem2m "
                 "profile",
                 suite, dtls ? "DTLS" : "TLS");
    return 0;
  }
  return 1;
}

const char* ONEM2M_PSK_get0_server_name(const SSL* ssl) {
  const onem2m::SslState* s = ssl ? onem2m::FindSslState(ssl) : nullptr;
  return s != nullptr && !s->server_name.empty() ? s->server_name.c_str()
                                                 : nullptr;
}

}  // extern "C"
