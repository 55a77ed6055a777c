#include "tls_wire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>

namespace onem2m::soak {

namespace {

// RFC 8446 section 4 and 5 numbers.
constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kAlertRecord = 21;
constexpr uint8_t kClientHello = 1;
constexpr size_t kMaxRecordPayload = 16384;
constexpr size_t kMaxExtensionsLength = 0xffff;

// The extensions besides pre_shared_key: supported_versions (7 octets),
// supported_groups (8), signature_algorithms (10), key_share with one
// X25519 share (42), psk_key_exchange_modes (6).
constexpr size_t kOtherExtensionsLength = 7 + 8 + 10 + 42 + 6;
// pre_shared_key around its identity and binder: the extension header (4),
// identities length (2), identity length (2), obfuscated_ticket_age (4),
// binders length (2), binder length (1).
constexpr size_t kPskExtensionOverhead = 4 + 2 + 2 + 4 + 2 + 1;

void Put8(Bytes* out, size_t v) { out->push_back(static_cast<uint8_t>(v)); }

void Put16(Bytes* out, size_t v) {
  Put8(out, (v >> 8) & 0xff);
  Put8(out, v & 0xff);
}

void Put24(Bytes* out, size_t v) {
  Put8(out, (v >> 16) & 0xff);
  Put16(out, v & 0xffff);
}

void PutRandom(Bytes* out, size_t n) {
  size_t at = out->size();
  out->resize(at + n);
  if (n != 0 && RAND_bytes(out->data() + at, static_cast<int>(n)) != 1) {
    // Without randomness the fields stay zero: still a valid test input.
    std::fill(out->begin() + static_cast<long>(at), out->end(), 0);
  }
}

void PutBytes(Bytes* out, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + n);
}

// Extensions returns every extension; pre_shared_key comes last, as RFC
// 8446 section 4.2.11 requires.
Bytes Extensions(const Tls13HelloSpec& spec) {
  Bytes e;
  // supported_versions: TLS 1.3 only.
  Put16(&e, 43);
  Put16(&e, 3);
  Put8(&e, 2);
  Put16(&e, 0x0304);
  // supported_groups: x25519.
  Put16(&e, 10);
  Put16(&e, 4);
  Put16(&e, 2);
  Put16(&e, 0x001d);
  // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256.
  Put16(&e, 13);
  Put16(&e, 6);
  Put16(&e, 4);
  Put16(&e, 0x0403);
  Put16(&e, 0x0804);
  // key_share: one X25519 share of 32 random octets.
  Put16(&e, 51);
  Put16(&e, 38);
  Put16(&e, 36);
  Put16(&e, 0x001d);
  Put16(&e, 32);
  PutRandom(&e, 32);
  // psk_key_exchange_modes: psk_dhe_ke.
  Put16(&e, 45);
  Put16(&e, 2);
  Put8(&e, 1);
  Put8(&e, 1);

  // pre_shared_key: one identity, one binder.
  size_t identities = 2 + spec.identity.size() + 4;
  size_t binders = 1 + spec.binder_length;
  Put16(&e, 41);
  Put16(&e, 2 + identities + 2 + binders);
  Put16(&e, identities);
  Put16(&e, spec.identity.size());
  PutBytes(&e, spec.identity.data(), spec.identity.size());
  PutRandom(&e, 4);
  Put16(&e, binders);
  Put8(&e, spec.binder_length);
  PutRandom(&e, spec.binder_length);
  return e;
}

// WaitReadable polls |fd| for input until |deadline|; false on timeout.
bool WaitReadable(int fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      return false;
    }
    pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left));
    if (n > 0) {
      return true;
    }
    if (n < 0 && errno != EINTR) {
      return true;  // let read() report the error
    }
  }
}

// ReadExactly reads |n| octets before |deadline|: 1 done, 0 closed or
// reset, -1 timed out.
int ReadExactly(int fd, uint8_t* buf, size_t n,
                std::chrono::steady_clock::time_point deadline) {
  size_t got = 0;
  while (got < n) {
    if (!WaitReadable(fd, deadline)) {
      return -1;
    }
    ssize_t r = recv(fd, buf + got, n - got, MSG_DONTWAIT);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r == 0 ||
               (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return 0;
    }
  }
  return 1;
}

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

}  // namespace

size_t MaxTls13IdentityLength(size_t binder_length) {
  return kMaxExtensionsLength - kOtherExtensionsLength - kPskExtensionOverhead -
         binder_length;
}

Bytes BuildTls13ClientHello(const Tls13HelloSpec& spec) {
  if (spec.binder_length > 255 ||
      spec.identity.size() > MaxTls13IdentityLength(spec.binder_length)) {
    return {};
  }

  // The ClientHello body (RFC 8446 section 4.1.2).
  Bytes extensions = Extensions(spec);
  Bytes body;
  Put16(&body, 0x0303);  // legacy_version
  PutRandom(&body, 32);  // random
  Put8(&body, 32);       // legacy_session_id, as middlebox mode sends
  PutRandom(&body, 32);
  Put16(&body, 2);  // cipher_suites
  Put16(&body, spec.cipher_suite);
  Put8(&body, 1);  // legacy_compression_methods: null
  Put8(&body, 0);
  Put16(&body, extensions.size());
  PutBytes(&body, extensions.data(), extensions.size());

  Bytes message;
  Put8(&message, kClientHello);
  Put24(&message, body.size());
  PutBytes(&message, body.data(), body.size());

  // Records of at most 2^14 octets each (section 5.1).
  Bytes records;
  for (size_t at = 0; at < message.size(); at += kMaxRecordPayload) {
    size_t n = std::min(kMaxRecordPayload, message.size() - at);
    Put8(&records, kHandshakeRecord);
    Put16(&records, 0x0301);  // legacy_record_version of a first flight
    Put16(&records, n);
    PutBytes(&records, message.data() + at, n);
  }
  return records;
}

ServerReply ReadServerReply(int fd, int timeout_ms) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  ServerReply reply;
  uint8_t header[5];
  int rc = ReadExactly(fd, header, sizeof(header), deadline);
  if (rc <= 0) {
    reply.kind =
        rc == 0 ? ServerReply::Kind::kClosed : ServerReply::Kind::kTimeout;
    return reply;
  }
  if (header[0] == kHandshakeRecord) {
    reply.kind = ServerReply::Kind::kHandshake;
    return reply;
  }
  if (header[0] != kAlertRecord) {
    reply.kind = ServerReply::Kind::kOther;
    return reply;
  }
  uint8_t alert[2];
  rc = ReadExactly(fd, alert, sizeof(alert), deadline);
  if (rc <= 0) {
    reply.kind =
        rc == 0 ? ServerReply::Kind::kClosed : ServerReply::Kind::kTimeout;
    return reply;
  }
  reply.kind = ServerReply::Kind::kAlert;
  reply.alert = alert[1];
  return reply;
}

bool WaitForClose(int fd, int timeout_ms) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  uint8_t buf[4096];
  for (;;) {
    if (!WaitReadable(fd, deadline)) {
      return false;
    }
    ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0 ||
        (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return true;
    }
  }
}

bool SendAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

int ConnectTcp(const std::string& host, int port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) !=
      0) {
    errno = EINVAL;
    return -1;
  }
  std::unique_ptr<addrinfo, AddrInfoDeleter> ai(found);
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return -1;
  }

  // Connect without blocking, wait up to the timeout, then block again.
  int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p = {fd, POLLOUT, 0};
    int so_error = ETIMEDOUT;
    if (poll(&p, 1, timeout_ms) == 1) {
      socklen_t len = sizeof(so_error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    }
    rc = so_error == 0 ? 0 : -1;
    errno = so_error;
  }
  if (rc != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool IsLoopbackAddress(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 &&
         IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace onem2m::soak
