// DTLS over UDP for serve --dtls and connect --dtls: sockets, a handshake
// bounded by a deadline, and the little CoAP (RFC 7252) that the server
// answers and the client can send.

#ifndef ONEM2M_TOOLS_ONEM2M_PSK_DTLS_H_
#define ONEM2M_TOOLS_ONEM2M_PSK_DTLS_H_

#include <openssl/ssl.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace onem2m::cli {

using Clock = std::chrono::steady_clock;

// BindUdp opens a non-blocking UDP socket bound to host:port with
// SO_REUSEPORT, so that per-client sockets can share its port (Linux lets
// only the same user share it), after checking that no other socket holds
// the port. Returns the fd, or -1 with |error| set ("Address already in
// use" for a taken port); |bound_port| gets the port (for port 0).
int BindUdp(const std::string& host, int port, int* bound_port,
            std::string* error);

// ConnectUdp opens a non-blocking UDP socket connected to host:port;
// -1 with |error| set.
int ConnectUdp(const std::string& host, int port, std::string* error);

// AcceptUdpPeer opens a non-blocking UDP socket bound to |listen_fd|'s
// local address and connected to |peer|: the kernel then delivers that
// peer's datagrams to it rather than to the listening socket (a connected
// socket matches more exactly). -1 on failure.
int AcceptUdpPeer(int listen_fd, const BIO_ADDR* peer);

// SetConnectedDgramBio gives |ssl| a datagram BIO on the connected socket
// |fd| (not closed with the BIO). False on failure.
bool SetConnectedDgramBio(SSL* ssl, int fd);

enum class HandshakeEnd { kOk, kFailed, kTimedOut, kStopped };

// DtlsHandshake runs SSL_accept (server) or SSL_connect on the
// non-blocking |fd| until it completes, fails, |deadline| passes or |*stop|
// becomes non-zero, retransmitting on OpenSSL's DTLS timer
// (DTLSv1_get_timeout / DTLSv1_handle_timeout).
HandshakeEnd DtlsHandshake(SSL* ssl, int fd, bool server,
                           Clock::time_point deadline,
                           const volatile sig_atomic_t* stop);

// DtlsRead reads one record into |buf| within |timeout_ms|; returns its
// length, 0 when nothing came, -1 on an error or close.
int DtlsRead(SSL* ssl, int fd, unsigned char* buf, int size, int timeout_ms);

// CoapMessage is a parsed CoAP message (RFC 7252 section 3).
struct CoapMessage {
  unsigned type = 0;  // 0 CON, 1 NON, 2 ACK, 3 RST
  unsigned code = 0;  // class << 5 | detail: 0x01 GET, 0x45 2.05 Content
  uint16_t message_id = 0;
  std::string token;
  std::optional<unsigned> content_format;
  std::string payload;
};

// ParseCoap parses |data| as a CoAP message of version 1 with well-formed
// options; std::nullopt otherwise.
std::optional<CoapMessage> ParseCoap(const unsigned char* data, size_t len);

// EncodeCoap writes |m| (with its Content-Format option, and the Uri-Path
// options of |path|, "/a/b", if any).
std::string EncodeCoap(const CoapMessage& m, const std::string& path = "");

// CoapCodeText gives "2.05" for 0x45.
std::string CoapCodeText(unsigned code);

}  // namespace onem2m::cli

#endif  // ONEM2M_TOOLS_ONEM2M_PSK_DTLS_H_
