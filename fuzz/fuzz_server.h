// The server that server_fuzzer drives and record_client_flights records
// against: our library attached to OpenSSL SSL_CTXs as a Receiver, with a
// memory keystore, fed the client's bytes through memory BIOs (the way
// OpenSSL's own fuzz/server target feeds its server).
//
// A server_fuzzer input is one configuration octet (kServerConfig* bits,
// the rest ignored) followed by everything the client sends.

#ifndef ONEM2M_FUZZ_FUZZ_SERVER_H_
#define ONEM2M_FUZZ_FUZZ_SERVER_H_

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "onem2m/psk.h"

namespace onem2m::fuzz {

// Configuration bits of the first input octet.
inline constexpr unsigned kServerConfigRevealUnknown = 0x01;
inline constexpr unsigned kServerConfigAllowPskKe = 0x02;
inline constexpr unsigned kServerConfigAllVersions = 0x04;  // version 0 too
inline constexpr unsigned kServerConfigCount = 8;

// FuzzKey is one key of the server's keystore. Public test keys.
struct FuzzKey {
  const char* key_id;
  std::vector<unsigned char> root_key;
  unsigned versions;  // ONEM2M_VERSION_BIT set; 0 for all
};

// FuzzKeys returns the server's keys.
const std::vector<FuzzKey>& FuzzKeys();

// NewKeystore returns a memory keystore holding |keys|, or nullptr.
ONEM2M_KEYSTORE* NewKeystore(const std::vector<FuzzKey>& keys);

// InitFuzzServer installs the deterministic RAND and builds one server
// SSL_CTX per configuration. Call it once, first. Returns false (and
// prints OpenSSL's errors) on failure.
bool InitFuzzServer();

// FuzzServerCtx returns the server SSL_CTX of |config| (low bits used).
SSL_CTX* FuzzServerCtx(unsigned config);

// NewFuzzServerSsl restarts the deterministic RAND and returns a server SSL
// of |config| in accept state, with no BIOs yet.
SSL* NewFuzzServerSsl(unsigned config);

// RunServerOnInput runs a handshake of a fresh server SSL over |data| (a
// whole server_fuzzer input, configuration octet first), then reads what
// application data follows. Returns true when the handshake completed.
bool RunServerOnInput(const uint8_t* data, size_t size);

}  // namespace onem2m::fuzz

#endif  // ONEM2M_FUZZ_FUZZ_SERVER_H_
