// Hand-built TLS bytes for hostile clients: a TLS 1.3 ClientHello whose
// pre_shared_key extension carries whatever identity and binder a test
// wants (RFC 8446 section 4.2.11), and a reader that tells what the server
// answered (an alert, a handshake message, a close, or nothing in time).
// Shared by onem2m-soak and the failure-kinds test.

#ifndef ONEM2M_TOOLS_ONEM2M_SOAK_TLS_WIRE_H_
#define ONEM2M_TOOLS_ONEM2M_SOAK_TLS_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace onem2m::soak {

using Bytes = std::vector<uint8_t>;

// Tls13HelloSpec describes the one PSK a hand-built ClientHello offers.
struct Tls13HelloSpec {
  std::string identity;            // any octets, any length that fits
  size_t binder_length = 32;       // RFC 8446: 32 to 255; shorter is malformed
  uint16_t cipher_suite = 0x1301;  // TLS_AES_128_GCM_SHA256
};

// MaxTls13IdentityLength returns the longest identity that
// BuildTls13ClientHello can carry with a |binder_length| binder: the
// extensions block is limited to 2^16-1 octets (RFC 8446 section 4.1.2),
// so an identity of exactly 64 KiB cannot be sent; this is the nearest.
size_t MaxTls13IdentityLength(size_t binder_length = 32);

// BuildTls13ClientHello returns a TLS 1.3 ClientHello offering |spec|'s PSK
// with psk_dhe_ke and an X25519 key share, split into TLS records of at
// most 2^14 octets (RFC 8446 section 5.1). Random fields come from
// RAND_bytes. Returns an empty vector when the identity does not fit.
// The binder is random: it never verifies.
Bytes BuildTls13ClientHello(const Tls13HelloSpec& spec);

// ServerReply is what a server sent back first.
struct ServerReply {
  enum class Kind {
    kAlert,      // a plaintext alert record; |alert| holds its description
    kHandshake,  // a handshake record (ServerHello, HelloRetryRequest...)
    kOther,      // another record type
    kClosed,     // EOF or a reset before any complete record header
    kTimeout,    // nothing within the time given
  };
  Kind kind = Kind::kTimeout;
  int alert = -1;  // AlertDescription, for kAlert
};

// ReadServerReply reads the first record header (and, for an alert, its
// body) from |fd| within |timeout_ms|.
ServerReply ReadServerReply(int fd, int timeout_ms);

// WaitForClose reads and discards what |fd| receives until the peer
// closes (EOF or reset) or |timeout_ms| passes; returns true if it closed.
bool WaitForClose(int fd, int timeout_ms);

// SendAll writes |data| to |fd| (blocking); false on any error.
bool SendAll(int fd, const uint8_t* data, size_t size);

// ConnectLoopback opens a TCP connection to |host| (a numeric loopback
// address) and |port| within |timeout_ms|; -1 on failure, errno set.
int ConnectTcp(const std::string& host, int port, int timeout_ms);

// IsLoopbackAddress tells whether |host| is numeric 127.0.0.0/8 or ::1.
bool IsLoopbackAddress(const std::string& host);

}  // namespace onem2m::soak

#endif  // ONEM2M_TOOLS_ONEM2M_SOAK_TLS_WIRE_H_
