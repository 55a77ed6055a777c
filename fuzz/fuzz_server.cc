#include "fuzz_server.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <cstdio>
#include <cstring>

#include "deterministic_rand.h"

namespace onem2m::fuzz {

namespace {

SSL_CTX* server_ctx[kServerConfigCount];

// DiscardLogLine takes the library's one line per handshake, so that the
// logging code runs, and drops it.
void DiscardLogLine(const SSL* /*ssl*/, const char* line, void* arg) {
  *static_cast<size_t*>(arg) += std::strlen(line);
}

size_t log_octets = 0;

// NewServerCtx builds the server of |config| the way onem2m-psk serve
// does: TLS 1.2 and 1.3, every PSK suite, the library attached.
SSL_CTX* NewServerCtx(ONEM2M_KEYSTORE* ks, unsigned config) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    return nullptr;
  }

  // A session cache would carry state from one input to the next.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  unsigned options =
      ((config & kServerConfigRevealUnknown) ? ONEM2M_PSK_OPT_REVEAL_UNKNOWN
                                             : 0) |
      ((config & kServerConfigAllowPskKe) ? ONEM2M_PSK_OPT_ALLOW_PSK_KE : 0);
  unsigned versions = (config & kServerConfigAllVersions)
                          ? ONEM2M_VERSIONS_ALL
                          : ONEM2M_VERSIONS_DEFAULT;
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
      !SSL_CTX_set_cipher_list(ctx, "PSK") ||
      !ONEM2M_PSK_attach_server(ctx, ks) ||
      !ONEM2M_PSK_CTX_set_versions(ctx, versions) ||
      !ONEM2M_PSK_CTX_set_options(ctx, options) ||
      !ONEM2M_PSK_CTX_set_log_callback(ctx, DiscardLogLine, &log_octets)) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

const std::vector<FuzzKey>& FuzzKeys() {
  static const std::vector<FuzzKey> keys = [] {
    std::vector<FuzzKey> k;
    std::vector<unsigned char> root32(32);
    std::vector<unsigned char> root16(16);
    std::vector<unsigned char> root64(64);
    for (size_t i = 0; i < root64.size(); i++) {
      if (i < root32.size()) {
        root32[i] = static_cast<unsigned char>(i);
      }
      if (i < root16.size()) {
        root16[i] = static_cast<unsigned char>(0xa0 + i);
      }
      root64[i] = static_cast<unsigned char>(0xff - i);
    }
    k.push_back({"dev-0001@sp.example.com", root32, 0});
    k.push_back({"meter-17@m2m.operator.example", root16,
                 ONEM2M_VERSION_BIT(2) | ONEM2M_VERSION_BIT(3)});
    k.push_back({"gw.v3", root64, ONEM2M_VERSION_BIT(3)});
    return k;
  }();
  return keys;
}

ONEM2M_KEYSTORE* NewKeystore(const std::vector<FuzzKey>& keys) {
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_new_memory();
  if (ks == nullptr) {
    return nullptr;
  }
  for (const FuzzKey& key : keys) {
    if (!ONEM2M_KEYSTORE_add_key(ks, key.key_id, key.root_key.data(),
                                 key.root_key.size(), key.versions)) {
      ONEM2M_KEYSTORE_free(ks);
      return nullptr;
    }
  }
  return ks;
}

bool InitFuzzServer() {
  if (!InstallDeterministicRand()) {
    std::fprintf(stderr, "cannot install the deterministic RAND\n");
    ERR_print_errors_fp(stderr);
    return false;
  }
  ONEM2M_KEYSTORE* ks = NewKeystore(FuzzKeys());
  bool ok = ks != nullptr;
  for (unsigned config = 0; ok && config < kServerConfigCount; config++) {
    server_ctx[config] = NewServerCtx(ks, config);
    ok = server_ctx[config] != nullptr;
  }
  ONEM2M_KEYSTORE_free(ks);  // each SSL_CTX keeps a reference
  if (!ok) {
    std::fprintf(stderr, "cannot build the fuzzed server\n");
    ERR_print_errors_fp(stderr);
  }
  return ok;
}

SSL_CTX* FuzzServerCtx(unsigned config) {
  return server_ctx[config % kServerConfigCount];
}

SSL* NewFuzzServerSsl(unsigned config) {
  ResetDeterministicRand();
  SSL* ssl = SSL_new(FuzzServerCtx(config));
  if (ssl != nullptr) {
    SSL_set_accept_state(ssl);
  }
  return ssl;
}

bool RunServerOnInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return false;
  }
  SSL* ssl = NewFuzzServerSsl(data[0]);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (ssl == nullptr || in == nullptr || out == nullptr) {
    SSL_free(ssl);
    BIO_free(in);
    BIO_free(out);
    return false;
  }
  if (size > 1) {
    BIO_write(in, data + 1, static_cast<int>(size - 1));
  }
  SSL_set_bio(ssl, in, out);  // the SSL owns both now

  // The client's bytes are all there: the handshake ends, or stops when
  // it wants more than the input holds.
  bool done = SSL_do_handshake(ssl) == 1;

  // Whatever follows the Finished is application data (or an alert).
  if (done) {
    unsigned char buf[4096];
    while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
      SSL_write(ssl, buf, 1);
    }
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ERR_clear_error();
  return done;
}

}  // namespace onem2m::fuzz
