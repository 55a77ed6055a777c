// Small socket helpers for serve and connect (loopback or any address).

#ifndef ONEM2M_TOOLS_ONEM2M_PSK_NET_H_
#define ONEM2M_TOOLS_ONEM2M_PSK_NET_H_

#include <netdb.h>

#include <memory>
#include <string>

namespace onem2m::cli {

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

// Resolve looks host:port up for |socktype| (SOCK_STREAM or SOCK_DGRAM),
// for binding when |passive|; nullptr with |error| set on failure.
AddrInfoPtr Resolve(const std::string& host, int port, int socktype,
                    bool passive, std::string* error);

// Listen binds and listens on host:port; returns the fd or -1 with |error|
// set. |bound_port| receives the port actually bound (for port 0).
int Listen(const std::string& host, int port, int* bound_port,
           std::string* error);

// Connect opens a TCP connection within |timeout_ms|; -1 with |error|.
int Connect(const std::string& host, int port, int timeout_ms,
            std::string* error);

// SetIoTimeout makes blocking reads and writes on |fd| give up after
// |timeout_ms|.
void SetIoTimeout(int fd, int timeout_ms);

}  // namespace onem2m::cli

#endif  // ONEM2M_TOOLS_ONEM2M_PSK_NET_H_
