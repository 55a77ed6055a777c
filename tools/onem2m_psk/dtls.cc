#include "dtls.h"

#include <netdb.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "net.h"

namespace onem2m::cli {

namespace {

// ToBioAddr converts a socket address into OpenSSL's form.
bool ToBioAddr(const sockaddr_storage& addr, BIO_ADDR* out) {
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    return BIO_ADDR_rawmake(out, AF_INET, &in->sin_addr, sizeof(in->sin_addr),
                            in->sin_port) == 1;
  }
  if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    return BIO_ADDR_rawmake(out, AF_INET6, &in6->sin6_addr,
                            sizeof(in6->sin6_addr), in6->sin6_port) == 1;
  }
  return false;
}

// MillisUntil returns the whole milliseconds from now to |t|, at least 0.
int MillisUntil(Clock::time_point t) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// AppendOption writes one CoAP option (RFC 7252 section 3.1): the delta
// from the previous number and the length, each a nibble or extended.
void AppendOption(std::string* out, unsigned* previous, unsigned number,
                  const std::string& value) {
  auto nibble = [](size_t v, std::string* ext) -> unsigned {
    if (v < 13) {
      return static_cast<unsigned>(v);
    }
    if (v < 269) {
      ext->push_back(static_cast<char>(v - 13));
      return 13;
    }
    ext->push_back(static_cast<char>((v - 269) >> 8));
    ext->push_back(static_cast<char>((v - 269) & 0xff));
    return 14;
  };
  std::string delta_ext;
  std::string length_ext;
  unsigned delta = nibble(number - *previous, &delta_ext);
  unsigned length = nibble(value.size(), &length_ext);
  out->push_back(static_cast<char>(delta << 4 | length));
  *out += delta_ext + length_ext + value;
  *previous = number;
}

constexpr unsigned kUriPath = 11;
constexpr unsigned kContentFormat = 12;

}  // namespace

namespace {

// PortOf returns the port of |fd|'s local address.
int PortOf(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return addr.ss_family == AF_INET6
             ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
             : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

// BindReusePort binds a new socket to |ai| with SO_REUSEPORT set first:
// Linux lets only sockets of the same user share such a port.
int BindReusePort(const addrinfo* ai) {
  int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  if (fd < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    int saved = errno;
    if (fd >= 0) {
      close(fd);
    }
    errno = saved;
    return -1;
  }
  return fd;
}

// ClaimFreshPort binds a socket without any reuse option to |ai| (port 0:
// a port the kernel picks) and returns the port, or -1 with errno set: a
// port that another socket holds, even one with SO_REUSEPORT, is refused
// here, so the server never shares a port it did not open first.
int ClaimFreshPort(const addrinfo* ai) {
  int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    int saved = errno;
    if (fd >= 0) {
      close(fd);
    }
    errno = saved;
    return -1;
  }
  int port = PortOf(fd);
  close(fd);
  return port;
}

void SetPort(addrinfo* ai, int port) {
  if (ai->ai_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_port = htons(port);
  }
}

}  // namespace

int BindUdp(const std::string& host, int port, int* bound_port,
            std::string* error) {
  AddrInfoPtr ai = Resolve(host, port, SOCK_DGRAM, true, error);
  if (ai == nullptr) {
    return -1;
  }

  // The per-client sockets share the listening port (SO_REUSEPORT, same
  // user only). First make sure nobody holds the port: a second server,
  // of this user or another, must fail here as a TCP one would, not share
  // the clients. Port 0: a few tries, in case another program takes the
  // port between the check and the bind.
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < (port == 0 ? 5 : 1); attempt++) {
    int fresh = ClaimFreshPort(ai.get());
    if (fresh < 0) {
      break;
    }
    SetPort(ai.get(), fresh);
    fd = BindReusePort(ai.get());
    SetPort(ai.get(), port);
  }
  if (fd < 0) {
    *error = "cannot bind UDP " + host + ":" + std::to_string(port) + ": " +
             std::strerror(errno);
    return -1;
  }
  *bound_port = PortOf(fd);
  return fd;
}

int ConnectUdp(const std::string& host, int port, std::string* error) {
  AddrInfoPtr ai = Resolve(host, port, SOCK_DGRAM, false, error);
  if (ai == nullptr) {
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    *error = "cannot open UDP to " + host + ":" + std::to_string(port) + ": " +
             std::strerror(errno);
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  return fd;
}

int AcceptUdpPeer(int listen_fd, const BIO_ADDR* peer) {
  sockaddr_storage local{};
  socklen_t local_len = sizeof(local);
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&local), &local_len) !=
      0) {
    return -1;
  }
  // The peer as a sockaddr of the listening socket's family.
  sockaddr_storage remote{};
  socklen_t remote_len = 0;
  size_t raw_len = 0;
  if (BIO_ADDR_family(peer) == AF_INET && local.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&remote);
    in->sin_family = AF_INET;
    in->sin_port = BIO_ADDR_rawport(peer);
    BIO_ADDR_rawaddress(peer, &in->sin_addr, &raw_len);
    remote_len = sizeof(*in);
  } else if (BIO_ADDR_family(peer) == AF_INET6 && local.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&remote);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = BIO_ADDR_rawport(peer);
    BIO_ADDR_rawaddress(peer, &in6->sin6_addr, &raw_len);
    remote_len = sizeof(*in6);
  } else {
    return -1;
  }

  int fd =
      socket(local.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  if (fd < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&local), local_len) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), remote_len) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  return fd;
}

bool SetConnectedDgramBio(SSL* ssl, int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  BIO_ADDR* peer = BIO_ADDR_new();
  BIO* bio = BIO_new_dgram(fd, BIO_NOCLOSE);
  bool ok = peer != nullptr && bio != nullptr &&
            getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
            ToBioAddr(addr, peer) && BIO_dgram_set_peer(bio, peer) > 0 &&
            BIO_ctrl_set_connected(bio, peer) > 0;
  BIO_ADDR_free(peer);
  if (!ok) {
    BIO_free(bio);
    return false;
  }
  SSL_set_bio(ssl, bio, bio);
  return true;
}

HandshakeEnd DtlsHandshake(SSL* ssl, int fd, bool server,
                           Clock::time_point deadline,
                           const volatile sig_atomic_t* stop) {
  for (;;) {
    int rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (rc == 1) {
      return HandshakeEnd::kOk;
    }
    int err = SSL_get_error(ssl, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      return HandshakeEnd::kFailed;
    }

    // Wait for a datagram, the retransmission timer, the deadline or a
    // stop, whichever comes first (a stop is checked every 200 ms).
    int wait = std::min(MillisUntil(deadline), 200);
    timeval tv{};
    if (DTLSv1_get_timeout(ssl, &tv)) {
      int timer =
          static_cast<int>(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
      wait = std::min(wait, timer);
    }
    pollfd p = {
        fd, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT),
        0};
    int n = poll(&p, 1, wait);
    if (stop != nullptr && *stop) {
      return HandshakeEnd::kStopped;
    }
    if (Clock::now() >= deadline) {
      return HandshakeEnd::kTimedOut;
    }
    // OpenSSL gives up after 12 retransmissions; we give up at the deadline
    // first with any realistic timeout.
    if (n == 0 && DTLSv1_handle_timeout(ssl) < 0) {
      return HandshakeEnd::kTimedOut;
    }
  }
}

int DtlsRead(SSL* ssl, int fd, unsigned char* buf, int size, int timeout_ms) {
  Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int n = SSL_read(ssl, buf, size);
    if (n > 0) {
      return n;
    }
    int err = SSL_get_error(ssl, n);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      return -1;
    }
    int wait = MillisUntil(deadline);
    if (wait == 0) {
      return 0;
    }
    pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, wait);
  }
}

std::optional<CoapMessage> ParseCoap(const unsigned char* data, size_t len) {
  // Header (RFC 7252 section 3): Ver(2) T(2) TKL(4), Code, Message ID.
  if (len < 4 || (data[0] >> 6) != 1 || (data[0] & 0x0f) > 8) {
    return std::nullopt;
  }
  CoapMessage m;
  m.type = (data[0] >> 4) & 0x3;
  m.code = data[1];
  m.message_id = static_cast<uint16_t>(data[2] << 8 | data[3]);
  size_t tkl = data[0] & 0x0f;
  if (len < 4 + tkl) {
    return std::nullopt;
  }
  m.token.assign(reinterpret_cast<const char*>(data + 4), tkl);

  // Options, each a delta and length nibble with extensions, until the
  // payload marker or the end.
  size_t pos = 4 + tkl;
  unsigned number = 0;
  auto extended = [&](unsigned nibble, size_t* value) {
    if (nibble < 13) {
      *value = nibble;
      return true;
    }
    if (nibble == 13 && pos + 1 <= len) {
      *value = 13 + data[pos++];
      return true;
    }
    if (nibble == 14 && pos + 2 <= len) {
      *value = 269 + (size_t{data[pos]} << 8 | data[pos + 1]);
      pos += 2;
      return true;
    }
    return false;
  };
  while (pos < len && data[pos] != 0xff) {
    unsigned byte = data[pos++];
    size_t delta = 0;
    size_t length = 0;
    if (!extended(byte >> 4, &delta) || !extended(byte & 0x0f, &length) ||
        pos + length > len) {
      return std::nullopt;
    }
    number += static_cast<unsigned>(delta);
    if (number == kContentFormat && length <= 2) {
      unsigned value = 0;
      for (size_t i = 0; i < length; i++) {
        value = value << 8 | data[pos + i];
      }
      m.content_format = value;
    }
    pos += length;
  }
  if (pos < len) {
    // A payload marker must be followed by a payload (section 3).
    if (pos + 1 == len) {
      return std::nullopt;
    }
    m.payload.assign(reinterpret_cast<const char*>(data + pos + 1),
                     len - pos - 1);
  }
  return m;
}

std::string EncodeCoap(const CoapMessage& m, const std::string& path) {
  std::string out;
  out.push_back(static_cast<char>(1 << 6 | m.type << 4 | m.token.size()));
  out.push_back(static_cast<char>(m.code));
  out.push_back(static_cast<char>(m.message_id >> 8));
  out.push_back(static_cast<char>(m.message_id & 0xff));
  out += m.token;

  unsigned previous = 0;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    size_t end = slash == std::string::npos ? path.size() : slash;
    if (end > start) {
      AppendOption(&out, &previous, kUriPath, path.substr(start, end - start));
    }
    start = end + 1;
  }
  if (m.content_format) {
    // A uint option: 0 is the empty string (section 3.2).
    std::string value;
    for (unsigned v = *m.content_format; v != 0; v >>= 8) {
      value.insert(value.begin(), static_cast<char>(v & 0xff));
    }
    AppendOption(&out, &previous, kContentFormat, value);
  }
  if (!m.payload.empty()) {
    out.push_back(static_cast<char>(0xff));
    out += m.payload;
  }
  return out;
}

std::string CoapCodeText(unsigned code) {
  char text[16];
  std::snprintf(text, sizeof(text), "%u.%02u", (code >> 5) & 0x7, code & 0x1f);
  return text;
}

}  // namespace onem2m::cli
