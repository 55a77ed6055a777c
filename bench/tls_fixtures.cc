#include "tls_fixtures.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <vector>

#include "bench_util.h"
#include "onem2m/psk.h"

namespace onem2m::bench {

namespace {

using X509Ptr = UniquePtr<X509, X509_free>;
using EvpPkeyPtr = UniquePtr<EVP_PKEY, EVP_PKEY_free>;

// The stock side's one identity and PSK, as a fixed-PSK server has them.
// The identity has the length of ours, so both send the same octets.
struct StockPsk {
  std::string identity = "v2:" + KeyIdFor(0);
  unsigned char psk[32];
  StockPsk() { RAND_bytes(psk, sizeof(psk)); }
};

const StockPsk& Stock() {
  static const StockPsk stock;
  return stock;
}

const unsigned char kTlsAes128GcmSha256[] = {0x13, 0x01};

std::string OpensslError(const char* what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  char buf[256] = "";
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
  }
  return std::string(what) + (e != 0 ? std::string(": ") + buf : "");
}

// NewBaseCtx returns a context with |mode|'s protocol, suites and group,
// no tickets and no server session cache.
SslCtxPtr NewBaseCtx(Mode mode, bool server, std::string* error) {
  SslCtxPtr ctx(
      SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (ctx == nullptr) {
    *error = OpensslError("SSL_CTX_new");
    return nullptr;
  }
  bool tls12 = mode == Mode::kTls12Psk || mode == Mode::kTls12EcdhePsk;
  int version = tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  const char* cipher = mode == Mode::kTls12Psk ? "PSK-AES128-CBC-SHA256"
                       : mode == Mode::kTls12EcdhePsk
                           ? "ECDHE-PSK-AES128-CBC-SHA256"
                           : "PSK-AES128-CBC-SHA256";
  bool ok = SSL_CTX_set_min_proto_version(ctx.get(), version) &&
            SSL_CTX_set_max_proto_version(ctx.get(), version) &&
            SSL_CTX_set_cipher_list(ctx.get(), cipher) &&
            SSL_CTX_set_ciphersuites(ctx.get(), "TLS_AES_128_GCM_SHA256") &&
            SSL_CTX_set1_groups_list(ctx.get(), "X25519") &&
            SSL_CTX_set_num_tickets(ctx.get(), 0);
  if (!ok) {
    *error = OpensslError("configuring the SSL_CTX");
    return nullptr;
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  if (server) {
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  }
  return ctx;
}

// NewPskSession returns a TLS 1.3 session carrying |psk| for
// TLS_AES_128_GCM_SHA256, as s_server's and s_client's -psk do.
SSL_SESSION* NewPskSession(SSL* ssl, const unsigned char* psk, size_t len) {
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, kTlsAes128GcmSha256);
  SSL_SESSION* session = SSL_SESSION_new();
  if (cipher == nullptr || session == nullptr ||
      !SSL_SESSION_set1_master_key(session, psk, len) ||
      !SSL_SESSION_set_cipher(session, cipher) ||
      !SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION)) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  return session;
}

unsigned int StockServerPsk(SSL*, const char* identity, unsigned char* psk,
                            unsigned int max_psk_len) {
  const StockPsk& s = Stock();
  if (identity == nullptr || s.identity != identity ||
      sizeof(s.psk) > max_psk_len) {
    return 0;
  }
  std::memcpy(psk, s.psk, sizeof(s.psk));
  return sizeof(s.psk);
}

unsigned int StockClientPsk(SSL*, const char*, char* identity,
                            unsigned int max_identity_len, unsigned char* psk,
                            unsigned int max_psk_len) {
  const StockPsk& s = Stock();
  if (s.identity.size() > max_identity_len || sizeof(s.psk) > max_psk_len) {
    return 0;
  }
  std::memcpy(identity, s.identity.c_str(), s.identity.size() + 1);
  std::memcpy(psk, s.psk, sizeof(s.psk));
  return sizeof(s.psk);
}

int StockFindSession(SSL* ssl, const unsigned char* identity,
                     size_t identity_len, SSL_SESSION** sess) {
  const StockPsk& s = Stock();
  *sess = nullptr;
  if (identity_len != s.identity.size() ||
      std::memcmp(identity, s.identity.data(), identity_len) != 0) {
    return 1;
  }
  *sess = NewPskSession(ssl, s.psk, sizeof(s.psk));
  return *sess != nullptr;
}

int StockUseSession(SSL* ssl, const EVP_MD*, const unsigned char** id,
                    size_t* idlen, SSL_SESSION** sess) {
  const StockPsk& s = Stock();
  *sess = NewPskSession(ssl, s.psk, sizeof(s.psk));
  if (*sess == nullptr) {
    return 0;
  }
  *id = reinterpret_cast<const unsigned char*>(s.identity.data());
  *idlen = s.identity.size();
  return 1;
}

// Certificates ---------------------------------------------------------------

EvpPkeyPtr NewP256Key() { return EvpPkeyPtr(EVP_EC_gen("P-256")); }

// NewCert returns a certificate for |key| named |cn|, signed by |issuer_key|
// (issuer name |issuer|, or self-signed when |issuer| is null), valid for a
// day; a CA when |ca|.
X509Ptr NewCert(EVP_PKEY* key, const char* cn, X509* issuer,
                EVP_PKEY* issuer_key, bool ca) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) {
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  bool ok =
      X509_set_version(cert.get(), X509_VERSION_3) &&
      ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ca ? 1 : 2) &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400) != nullptr &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(cn), -1,
                                 -1, 0) &&
      X509_set_issuer_name(cert.get(), issuer != nullptr
                                           ? X509_get_subject_name(issuer)
                                           : name) &&
      X509_set_pubkey(cert.get(), key);
  if (!ok) {
    return nullptr;
  }
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : cert.get(), cert.get(),
                 nullptr, nullptr, 0);
  X509_EXTENSION* ext =
      X509V3_EXT_conf_nid(nullptr, &v3, NID_basic_constraints,
                          ca ? "critical,CA:TRUE" : "CA:FALSE");
  ok = ext != nullptr && X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return nullptr;
  }
  return cert;
}

bool UseCert(SSL_CTX* ctx, X509* cert, EVP_PKEY* key, X509* ca) {
  if (!SSL_CTX_use_certificate(ctx, cert) ||
      !SSL_CTX_use_PrivateKey(ctx, key) || !SSL_CTX_check_private_key(ctx) ||
      !X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca)) {
    return false;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  return true;
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kTls12Psk:
      return "TLS 1.2 PSK (PSK-AES128-CBC-SHA256)";
    case Mode::kTls12EcdhePsk:
      return "TLS 1.2 ECDHE-PSK (ECDHE-PSK-AES128-CBC-SHA256, X25519)";
    case Mode::kTls13PskDheKe:
      return "TLS 1.3 psk_dhe_ke (AES-128-GCM-SHA256, X25519)";
    case Mode::kTls13Certs:
      return "TLS 1.3 mutual ECDSA P-256 certificates (X25519)";
  }
  return "?";
}

SslCtxPtr NewOursServer(Mode mode, ONEM2M_KEYSTORE* ks, std::string* error) {
  SslCtxPtr ctx = NewBaseCtx(mode, true, error);
  if (ctx != nullptr && !ONEM2M_PSK_attach_server(ctx.get(), ks)) {
    *error = OpensslError("ONEM2M_PSK_attach_server");
    return nullptr;
  }
  return ctx;
}

SslCtxPtr NewOursClient(Mode mode, ONEM2M_KEYSTORE* ks,
                        const std::string& key_id, std::string* error) {
  // Attaching checks the suites for the highest version (3, SHA-384);
  // pinning version 2 then narrows them to TLS_AES_128_GCM_SHA256.
  SslCtxPtr ctx = NewBaseCtx(mode, false, error);
  if (ctx != nullptr &&
      (!SSL_CTX_set_ciphersuites(
           ctx.get(), "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384") ||
       !ONEM2M_PSK_attach_client(ctx.get(), ks, key_id.c_str()) ||
       !ONEM2M_PSK_CTX_pin_version(ctx.get(), kBenchKdfVersion))) {
    *error = OpensslError("ONEM2M_PSK_attach_client");
    return nullptr;
  }
  return ctx;
}

bool NewStockPair(Mode mode, TlsPair* pair, std::string* error) {
  pair->server = NewBaseCtx(mode, true, error);
  pair->client = NewBaseCtx(mode, false, error);
  if (pair->server == nullptr || pair->client == nullptr) {
    return false;
  }
  SSL_CTX_set_psk_server_callback(pair->server.get(), StockServerPsk);
  SSL_CTX_set_psk_find_session_callback(pair->server.get(), StockFindSession);
  SSL_CTX_set_psk_client_callback(pair->client.get(), StockClientPsk);
  SSL_CTX_set_psk_use_session_callback(pair->client.get(), StockUseSession);
  return true;
}

bool NewCertPair(TlsPair* pair, std::string* error) {
  EvpPkeyPtr ca_key = NewP256Key();
  EvpPkeyPtr server_key = NewP256Key();
  EvpPkeyPtr client_key = NewP256Key();
  if (ca_key == nullptr || server_key == nullptr || client_key == nullptr) {
    *error = OpensslError("EVP_EC_gen(P-256)");
    return false;
  }
  X509Ptr ca = NewCert(ca_key.get(), "bench CA", nullptr, ca_key.get(), true);
  X509Ptr server_cert = ca ? NewCert(server_key.get(), "cse.example.com",
                                     ca.get(), ca_key.get(), false)
                           : nullptr;
  X509Ptr client_cert = ca ? NewCert(client_key.get(), KeyIdFor(0).c_str(),
                                     ca.get(), ca_key.get(), false)
                           : nullptr;
  if (server_cert == nullptr || client_cert == nullptr) {
    *error = OpensslError("making the certificates");
    return false;
  }
  pair->server = NewBaseCtx(Mode::kTls13Certs, true, error);
  pair->client = NewBaseCtx(Mode::kTls13Certs, false, error);
  if (pair->server == nullptr || pair->client == nullptr) {
    return false;
  }
  if (!UseCert(pair->server.get(), server_cert.get(), server_key.get(),
               ca.get()) ||
      !UseCert(pair->client.get(), client_cert.get(), client_key.get(),
               ca.get())) {
    *error = OpensslError("installing the certificates");
    return false;
  }
  return true;
}

ONEM2M_KEYSTORE* NewOursMemoryKeystore(size_t count, unsigned seed) {
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_new_memory();
  for (size_t i = 0; ks != nullptr && i < count; i++) {
    // Root Key i: SHA-256 of the seed and i; any fixed non-zero key will do.
    unsigned char input[16];
    unsigned char root_key[32];
    std::memcpy(input, &seed, sizeof(seed));
    std::memcpy(input + 8, &i, sizeof(i));
    if (!EVP_Digest(input, sizeof(input), root_key, nullptr, EVP_sha256(),
                    nullptr) ||
        !ONEM2M_KEYSTORE_add_key(ks, KeyIdFor(i).c_str(), root_key,
                                 sizeof(root_key), 0)) {
      ONEM2M_KEYSTORE_free(ks);
      ks = nullptr;
    }
    OPENSSL_cleanse(root_key, sizeof(root_key));
  }
  return ks;
}

namespace {

// RunHandshake runs one handshake between new SSL objects of |server| and
// |client| over a BIO pair, and hands the server's SSL to |*server_ssl|.
bool RunHandshake(SSL_CTX* server, SSL_CTX* client, SslPtr* server_ssl,
                  std::string* error) {
  SslPtr s(SSL_new(server));
  SslPtr c(SSL_new(client));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  if (s == nullptr || c == nullptr ||
      !BIO_new_bio_pair(&server_bio, 0, &client_bio, 0)) {
    *error = OpensslError("SSL_new or BIO_new_bio_pair");
    return false;
  }
  SSL_set_bio(s.get(), server_bio, server_bio);
  SSL_set_bio(c.get(), client_bio, client_bio);
  SSL_set_accept_state(s.get());
  SSL_set_connect_state(c.get());

  // Each call moves one side as far as the other side's data allows.
  for (int step = 0; step < 32; step++) {
    int rc_client = SSL_do_handshake(c.get());
    int rc_server = SSL_do_handshake(s.get());
    if (rc_client == 1 && rc_server == 1) {
      *server_ssl = std::move(s);
      return true;
    }
    for (auto [ssl, rc] :
         {std::pair{c.get(), rc_client}, std::pair{s.get(), rc_server}}) {
      int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, rc);
      if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ &&
          e != SSL_ERROR_WANT_WRITE) {
        const char* failure = ONEM2M_PSK_get0_failure(ssl);
        *error = OpensslError(SSL_is_server(ssl) ? "server handshake"
                                                 : "client handshake") +
                 (failure != nullptr ? std::string(" (") + failure + ")" : "");
        return false;
      }
    }
  }
  *error = "the handshake did not complete";
  return false;
}

}  // namespace

bool Handshake(SSL_CTX* server, SSL_CTX* client, std::string* error) {
  SslPtr s;
  return RunHandshake(server, client, &s, error);
}

std::string DescribeHandshake(SSL_CTX* server, SSL_CTX* client,
                              std::string* error) {
  SslPtr s;
  if (!RunHandshake(server, client, &s, error)) {
    return "";
  }
  std::string text = std::string(SSL_get_version(s.get())) + " " +
                     SSL_CIPHER_get_name(SSL_get_current_cipher(s.get()));
  int v = ONEM2M_PSK_get_version(s.get());
  if (v >= 0) {
    text += " v" + std::to_string(v);
  }
  return text;
}

}  // namespace onem2m::bench
