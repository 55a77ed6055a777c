// record_client_flights writes the seed corpus of server_fuzzer: it runs
// real handshakes of a client against the fuzzed server of fuzz_server.h,
// in memory, and saves everything the client sent, after the server's
// configuration octet. Because the server draws from the deterministic
// RAND, the saved flights (Finished included) complete the handshake again
// when server_fuzzer replays them; the recorder checks that they do.
//
//   record_client_flights DIR      writes DIR/<case name>, one per case
//
// The clients: our library attached as an Originator (TLS 1.2 and 1.3,
// versions 0 to 3, a wrong key, an unknown KeyID), and a plain OpenSSL PSK
// client that sends identities our client never would.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_server.h"

namespace {

using namespace onem2m::fuzz;

// ClientCase is one recorded handshake.
struct ClientCase {
  const char* name;
  int protocol;          // TLS1_2_VERSION or TLS1_3_VERSION
  unsigned config;       // the server's configuration octet
  const char* key_id;    // our client: its KeyID
  int pin;               // our client: pinned version, -1 for none
  bool wrong_key;        // our client: a Root Key the server does not have
  const char* identity;  // non-null: a plain PSK client with this identity
  bool expect_ok;        // whether the handshake should complete
};

OSSL_LIB_CTX* client_libctx = nullptr;

// The plain client's identity and PSK (TLS 1.2 callback, TLS 1.3 session).
std::string raw_identity;
const unsigned char kRawPsk[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

unsigned int RawTls12Callback(SSL* /*ssl*/, const char* /*hint*/,
                              char* identity, unsigned int max_identity_len,
                              unsigned char* psk, unsigned int max_psk_len) {
  if (raw_identity.size() + 1 > max_identity_len ||
      sizeof(kRawPsk) > max_psk_len) {
    return 0;
  }
  raw_identity.copy(identity, raw_identity.size());
  identity[raw_identity.size()] = '\0';
  std::copy(kRawPsk, kRawPsk + sizeof(kRawPsk), psk);
  return sizeof(kRawPsk);
}

int RawTls13Callback(SSL* ssl, const EVP_MD* /*md*/, const unsigned char** id,
                     size_t* idlen, SSL_SESSION** sess) {
  const SSL_CIPHER* cipher =
      SSL_CIPHER_find(ssl, reinterpret_cast<const unsigned char*>("\x13\x01"));
  SSL_SESSION* session = SSL_SESSION_new();
  if (cipher == nullptr || session == nullptr ||
      !SSL_SESSION_set1_master_key(session, kRawPsk, sizeof(kRawPsk)) ||
      !SSL_SESSION_set_cipher(session, cipher) ||
      !SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION)) {
    SSL_SESSION_free(session);
    return 0;
  }
  *id = reinterpret_cast<const unsigned char*>(raw_identity.data());
  *idlen = raw_identity.size();
  *sess = session;
  return 1;
}

// NewClientCtx makes the client of |c| in its own library context, so
// that it draws real random octets and leaves the server's stream alone.
SSL_CTX* NewClientCtx(const ClientCase& c) {
  SSL_CTX* ctx = SSL_CTX_new_ex(client_libctx, nullptr, TLS_client_method());
  if (ctx == nullptr || !SSL_CTX_set_min_proto_version(ctx, c.protocol) ||
      !SSL_CTX_set_max_proto_version(ctx, c.protocol) ||
      !SSL_CTX_set_cipher_list(ctx, "PSK")) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  if (c.identity != nullptr) {
    raw_identity = c.identity;
    SSL_CTX_set_psk_client_callback(ctx, RawTls12Callback);
    SSL_CTX_set_psk_use_session_callback(ctx, RawTls13Callback);
    return ctx;
  }

  // Our client, with the server's key for its KeyID or a wrong one.
  std::vector<FuzzKey> keys = {
      {c.key_id, std::vector<unsigned char>(32, 0x5a), ONEM2M_VERSIONS_ALL}};
  for (const FuzzKey& key : FuzzKeys()) {
    if (!c.wrong_key && std::string(key.key_id) == c.key_id) {
      keys[0].root_key = key.root_key;
    }
  }
  ONEM2M_KEYSTORE* ks = NewKeystore(keys);
  bool ok =
      ks != nullptr &&
      ONEM2M_PSK_attach_client_ex(ctx, ks, c.key_id, client_libctx, nullptr) &&
      ONEM2M_PSK_CTX_set_versions(ctx, ONEM2M_VERSIONS_ALL) &&
      (c.pin < 0 || ONEM2M_PSK_CTX_pin_version(ctx, c.pin));
  ONEM2M_KEYSTORE_free(ks);
  if (!ok) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

// Move appends what |from| holds to |to| (and to |record|, if given).
void Move(BIO* from, BIO* to, std::string* record) {
  char buf[4096];
  int n;
  while ((n = BIO_read(from, buf, sizeof(buf))) > 0) {
    BIO_write(to, buf, n);
    if (record != nullptr) {
      record->append(buf, static_cast<size_t>(n));
    }
  }
}

// Record runs |c| and returns the server_fuzzer input, or "" on failure.
std::string Record(const ClientCase& c, bool* handshake_ok) {
  SSL_CTX* client_ctx = NewClientCtx(c);
  if (client_ctx == nullptr) {
    return "";
  }
  SSL* client = SSL_new(client_ctx);
  SSL* server = NewFuzzServerSsl(c.config);
  BIO* c2s = BIO_new(BIO_s_mem());  // the server reads it
  BIO* s2c = BIO_new(BIO_s_mem());  // the client reads it
  BIO* client_out = BIO_new(BIO_s_mem());
  BIO* server_out = BIO_new(BIO_s_mem());
  SSL_set_bio(client, s2c, client_out);
  SSL_set_bio(server, c2s, server_out);
  SSL_set_connect_state(client);

  // Step both sides until neither makes progress.
  std::string record(1, static_cast<char>(c.config));
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 20 && !(client_done && server_done); round++) {
    client_done = client_done || SSL_do_handshake(client) == 1;
    Move(client_out, c2s, &record);
    server_done = server_done || SSL_do_handshake(server) == 1;
    Move(server_out, s2c, nullptr);
  }

  // A little application data after the handshake.
  if (client_done) {
    SSL_write(client, "hello", 5);
    Move(client_out, c2s, &record);
    char buf[64];
    SSL_read(server, buf, sizeof(buf));
  }
  *handshake_ok = client_done && server_done;

  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(client_ctx);
  ERR_clear_error();
  return record;
}

const ClientCase kCases[] = {
    // name, protocol, config, key_id, pin, wrong_key, identity, expect_ok
    {"tls12_v1", TLS1_2_VERSION, 0, "dev-0001@sp.example.com", 1, false,
     nullptr, true},
    {"tls12_v2", TLS1_2_VERSION, 0, "dev-0001@sp.example.com", 2, false,
     nullptr, true},
    {"tls12_v3", TLS1_2_VERSION, 0, "gw.v3", -1, false, nullptr, true},
    {"tls12_v0", TLS1_2_VERSION, kServerConfigAllVersions,
     "dev-0001@sp.example.com", 0, false, nullptr, true},
    {"tls12_wrong_key", TLS1_2_VERSION, 0, "dev-0001@sp.example.com", 2, true,
     nullptr, false},
    {"tls12_unknown_key_id", TLS1_2_VERSION, 0, "nobody@nowhere.example", 2,
     false, nullptr, false},
    {"tls12_unknown_reveal", TLS1_2_VERSION, kServerConfigRevealUnknown,
     "nobody@nowhere.example", 2, false, nullptr, false},
    {"tls12_version_refused", TLS1_2_VERSION, 0,
     "meter-17@m2m.operator.example", 1, false, nullptr, false},
    {"tls13_v1", TLS1_3_VERSION, 0, "dev-0001@sp.example.com", 1, false,
     nullptr, true},
    {"tls13_v2", TLS1_3_VERSION, 0, "meter-17@m2m.operator.example", 2, false,
     nullptr, true},
    {"tls13_v3", TLS1_3_VERSION, 0, "gw.v3", 3, false, nullptr, true},
    {"tls13_v0", TLS1_3_VERSION, kServerConfigAllVersions,
     "dev-0001@sp.example.com", 0, false, nullptr, true},
    {"tls13_v2_psk_ke", TLS1_3_VERSION, kServerConfigAllowPskKe,
     "dev-0001@sp.example.com", 2, false, nullptr, true},
    {"tls13_wrong_key", TLS1_3_VERSION, 0, "dev-0001@sp.example.com", 2, true,
     nullptr, false},
    {"tls13_unknown_key_id", TLS1_3_VERSION, 0, "nobody@nowhere.example", 2,
     false, nullptr, false},
    {"tls13_unknown_reveal", TLS1_3_VERSION, kServerConfigRevealUnknown,
     "nobody@nowhere.example", 2, false, nullptr, false},
    {"tls12_raw_unparsable", TLS1_2_VERSION, 0, nullptr, -1, false,
     "v9:dev-0001@sp.example.com", false},
    {"tls12_raw_empty_identity", TLS1_2_VERSION, 0, nullptr, -1, false, "",
     false},
    {"tls13_raw_unparsable", TLS1_3_VERSION, 0, nullptr, -1, false, "dev 0001",
     false},
    {"tls13_raw_long_identity", TLS1_3_VERSION, 0, nullptr, -1, false,
     "v2:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     false},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  client_libctx = OSSL_LIB_CTX_new();
  OSSL_PROVIDER* client_default =
      client_libctx == nullptr ? nullptr
                               : OSSL_PROVIDER_load(client_libctx, "default");
  if (client_default == nullptr || !InitFuzzServer()) {
    ERR_print_errors_fp(stderr);
    return 1;
  }

  int failures = 0;
  for (const ClientCase& c : kCases) {
    bool ok = false;
    std::string input = Record(c, &ok);
    bool replayed =
        !input.empty() &&
        RunServerOnInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
    std::string path = std::string(argv[1]) + "/" + c.name;
    FILE* f = input.empty() ? nullptr : std::fopen(path.c_str(), "wb");
    bool written = f != nullptr && std::fwrite(input.data(), 1, input.size(),
                                               f) == input.size();
    if (f != nullptr) {
      written = std::fclose(f) == 0 && written;
    }
    bool as_expected = written && ok == c.expect_ok && replayed == ok;
    std::printf("%-26s %5zu octets  handshake %-6s replay %-6s %s\n", c.name,
                input.size(), ok ? "ok" : "failed", replayed ? "ok" : "failed",
                as_expected ? "as expected" : "UNEXPECTED");
    failures += as_expected ? 0 : 1;
  }
  OSSL_PROVIDER_unload(client_default);
  OSSL_LIB_CTX_free(client_libctx);
  return failures == 0 ? 0 : 1;
}
