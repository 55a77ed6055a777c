// The TLS set-ups the handshake benchmarks compare, each a server SSL_CTX
// and a client SSL_CTX in one mode:
//   - ours: the library attached to both ends, with in-memory keystores;
//   - stock: OpenSSL's own PSK callbacks returning one fixed PSK, as
//     s_server/s_client -psk do;
//   - certificates: TLS 1.3 with mutual ECDSA P-256 certificates from a
//     CA made in-process, both ends verifying the other.
// Every mode has tickets off (SSL_OP_NO_TICKET, no TLS 1.3 tickets) and
// the server's session cache off, so every handshake is a full one.

#ifndef ONEM2M_BENCH_TLS_FIXTURES_H_
#define ONEM2M_BENCH_TLS_FIXTURES_H_

#include <openssl/ssl.h>

#include <string>

#include "onem2m/keystore.h"
#include "openssl_ptr.h"

namespace onem2m::bench {

enum class Mode {
  kTls12Psk,       // PSK-AES128-CBC-SHA256
  kTls12EcdhePsk,  // ECDHE-PSK-AES128-CBC-SHA256, X25519
  kTls13PskDheKe,  // TLS_AES_128_GCM_SHA256, psk_dhe_ke, X25519
  kTls13Certs,     // TLS_AES_128_GCM_SHA256, X25519, ECDSA P-256 both ways
};

// ModeName names |mode| for the table.
const char* ModeName(Mode mode);

// The KDF version our clients pin: 2 (KBKDF with HMAC-SHA-256), so that
// every PSK mode runs with a SHA-256 PSK as the stock side does.
inline constexpr int kBenchKdfVersion = 2;

// TlsPair is one server context and one client context.
struct TlsPair {
  SslCtxPtr server;
  SslCtxPtr client;
};

// NewOursServer returns a server context in |mode| with the library
// attached to |ks|; nullptr with |error| set on failure.
SslCtxPtr NewOursServer(Mode mode, ONEM2M_KEYSTORE* ks, std::string* error);

// NewOursClient returns a client context in |mode| authenticating as
// |key_id| from |ks|, version pinned to kBenchKdfVersion.
SslCtxPtr NewOursClient(Mode mode, ONEM2M_KEYSTORE* ks,
                        const std::string& key_id, std::string* error);

// NewStockPair returns stock contexts with a fixed PSK in |mode|.
bool NewStockPair(Mode mode, TlsPair* pair, std::string* error);

// NewCertPair returns kTls13Certs contexts with fresh certificates.
bool NewCertPair(TlsPair* pair, std::string* error);

// NewOursMemoryKeystore returns an in-memory keystore holding |count| keys
// (KeyIdFor(0..count-1)) with random Root Keys, the same for every call
// with the same |seed| so that a server and a client keystore agree.
ONEM2M_KEYSTORE* NewOursMemoryKeystore(size_t count, unsigned seed);

// Handshake runs one complete handshake between new SSL objects of
// |server| and |client| over a BIO pair in this thread and frees them.
// Returns false with |error| set if it does not complete.
bool Handshake(SSL_CTX* server, SSL_CTX* client, std::string* error);

// DescribeHandshake runs one handshake and returns "protocol suite" and,
// for our contexts, " v<version>", to check what a mode negotiates; "" with
// |error| set when it fails.
std::string DescribeHandshake(SSL_CTX* server, SSL_CTX* client,
                              std::string* error);

}  // namespace onem2m::bench

#endif  // ONEM2M_BENCH_TLS_FIXTURES_H_
