#include "clients.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "tls_wire.h"

namespace onem2m::soak {

namespace {

using Clock = std::chrono::steady_clock;

// The KeyID that unknown-KeyID clients use: .invalid never names a real
// issuer (RFC 6761 section 6.4).
constexpr char kUnknownKeyId[] = "soak-unknown@soak.invalid";

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

Outcome Failed(std::string detail) { return {false, std::move(detail), 0}; }

void SetTimeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Socket closes its descriptor at scope end.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// RandomKeystore returns a memory keystore holding |key_id| with a fresh
// random Root Key, or nullptr.
ONEM2M_KEYSTORE* RandomKeystore(const std::string& key_id) {
  unsigned char root[32];
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_new_memory();
  bool ok =
      ks != nullptr && RAND_bytes(root, sizeof(root)) == 1 &&
      ONEM2M_KEYSTORE_add_key(ks, key_id.c_str(), root, sizeof(root), 0) == 1;
  OPENSSL_cleanse(root, sizeof(root));
  if (!ok) {
    ONEM2M_KEYSTORE_free(ks);
    return nullptr;
  }
  return ks;
}

// NewClientCtx returns a client SSL_CTX for one protocol with |ks|
// attached as |key_id|, pinned to |version| when it is 0 to 3.
SslCtxPtr NewClientCtx(bool tls13, ONEM2M_KEYSTORE* ks,
                       const std::string& key_id, int version) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  int proto = tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  bool ok = ctx != nullptr && ks != nullptr &&
            SSL_CTX_set_min_proto_version(ctx.get(), proto) &&
            SSL_CTX_set_max_proto_version(ctx.get(), proto) &&
            SSL_CTX_set_cipher_list(ctx.get(), "PSK") &&
            ONEM2M_PSK_attach_client(ctx.get(), ks, key_id.c_str()) &&
            (version < 0 ||
             (ONEM2M_PSK_CTX_set_versions(ctx.get(), ONEM2M_VERSIONS_ALL) &&
              ONEM2M_PSK_CTX_pin_version(ctx.get(), version)));
  return ok ? std::move(ctx) : nullptr;
}

// TimedOut tells whether a failed SSL call gave up on its socket timeout.
bool TimedOut(SSL* ssl, int rc) {
  int err = SSL_get_error(ssl, rc);
  return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ||
         (err == SSL_ERROR_SYSCALL &&
          (errno == EAGAIN || errno == EWOULDBLOCK));
}

// Drain moves what |bio| holds into a byte vector.
Bytes Drain(BIO* bio) {
  Bytes out(static_cast<size_t>(BIO_pending(bio)));
  if (!out.empty()) {
    BIO_read(bio, out.data(), static_cast<int>(out.size()));
  }
  return out;
}

std::string Seconds(int ms) { return std::to_string(ms / 1000.0).substr(0, 4); }

}  // namespace

const char* KindName(ClientKind kind) {
  switch (kind) {
    case ClientKind::kGood:
      return "good";
    case ClientKind::kWrongKey:
      return "wrong Root Key";
    case ClientKind::kUnknownKeyId:
      return "unknown KeyID";
    case ClientKind::kGarbage:
      return "garbage bytes";
    case ClientKind::kCutOff:
      return "cut off half way";
    case ClientKind::kStallSilent:
      return "stall: silent";
    case ClientKind::kStallHalfRecord:
      return "stall: half a record";
    case ClientKind::kStallTrickle:
      return "stall: trickle";
    case ClientKind::kHugeIdentity:
      return "64 KiB identity";
  }
  return "?";
}

const char* KindOption(ClientKind kind) {
  switch (kind) {
    case ClientKind::kGood:
      return "good";
    case ClientKind::kWrongKey:
      return "wrong-key";
    case ClientKind::kUnknownKeyId:
      return "unknown-key-id";
    case ClientKind::kGarbage:
      return "garbage";
    case ClientKind::kCutOff:
      return "cut-off";
    case ClientKind::kStallSilent:
      return "stall-silent";
    case ClientKind::kStallHalfRecord:
      return "stall-half-record";
    case ClientKind::kStallTrickle:
      return "stall-trickle";
    case ClientKind::kHugeIdentity:
      return "huge-identity";
  }
  return "?";
}

bool Target::Build(const std::string& host, int port, ONEM2M_KEYSTORE* keystore,
                   const std::string& key_id, unsigned versions,
                   int server_timeout_ms, std::string* error) {
  host_ = host;
  port_ = port;
  key_id_ = key_id;
  server_timeout_ms_ = server_timeout_ms;
  for (int tls13 = 0; tls13 < 2; tls13++) {
    for (int v = 0; v < 4; v++) {
      if ((versions & ONEM2M_VERSION_BIT(v)) == 0) {
        continue;
      }
      good_[tls13][v] = NewClientCtx(tls13, keystore, key_id, v);
      if (good_[tls13][v] == nullptr) {
        *error = "cannot set up a good client for KeyID " + key_id +
                 ", KDF version " + std::to_string(v);
        return false;
      }
    }
    UniquePtr<ONEM2M_KEYSTORE, ONEM2M_KEYSTORE_free> wrong(
        RandomKeystore(key_id));
    UniquePtr<ONEM2M_KEYSTORE, ONEM2M_KEYSTORE_free> unknown(
        RandomKeystore(kUnknownKeyId));
    wrong_key_[tls13] = NewClientCtx(tls13, wrong.get(), key_id, -1);
    unknown_key_id_[tls13] =
        NewClientCtx(tls13, unknown.get(), kUnknownKeyId, -1);
    if (wrong_key_[tls13] == nullptr || unknown_key_id_[tls13] == nullptr) {
      *error = "cannot set up the wrong-key and unknown-KeyID clients";
      return false;
    }
  }
  return true;
}

SSL_CTX* Target::GoodCtx(bool tls13, unsigned version) const {
  return version < 4 ? good_[tls13 ? 1 : 0][version].get() : nullptr;
}

Outcome Target::Run(const Task& task) const {
  auto start = Clock::now();
  std::mt19937_64 rng(task.seed);
  Outcome out;
  switch (task.kind) {
    case ClientKind::kGood:
      out = RunGood(task);
      break;
    case ClientKind::kWrongKey:
      out = RunRefused(wrong_key_[task.tls13 ? 1 : 0].get());
      break;
    case ClientKind::kUnknownKeyId:
      out = RunRefused(unknown_key_id_[task.tls13 ? 1 : 0].get());
      break;
    case ClientKind::kGarbage:
      out = RunGarbage(rng);
      break;
    case ClientKind::kCutOff:
      out = RunCutOff(task, rng);
      break;
    case ClientKind::kStallSilent:
    case ClientKind::kStallHalfRecord:
    case ClientKind::kStallTrickle:
      out = RunStall(task.kind, rng);
      break;
    case ClientKind::kHugeIdentity:
      out = RunHugeIdentity();
      break;
  }
  ERR_clear_error();
  out.ms = MillisecondsSince(start);
  return out;
}

Outcome Target::RunGood(const Task& task) const {
  SSL_CTX* ctx = GoodCtx(task.tls13, task.version);
  if (ctx == nullptr) {
    return Failed("no good client for version " + std::to_string(task.version));
  }
  Socket fd(ConnectTcp(host_, port_, wait_ms()));
  if (fd.get() < 0) {
    return Failed(std::string("cannot connect: ") + std::strerror(errno));
  }
  SetTimeouts(fd.get(), wait_ms());
  SslPtr ssl(SSL_new(ctx));
  if (ssl == nullptr || !SSL_set_fd(ssl.get(), fd.get())) {
    return Failed("cannot create the connection");
  }

  // The handshake must complete with the pinned version.
  int rc = SSL_connect(ssl.get());
  if (rc != 1) {
    const char* why = ONEM2M_PSK_get0_failure(ssl.get());
    return Failed(std::string("good handshake failed: ") +
                  (why != nullptr            ? why
                   : TimedOut(ssl.get(), rc) ? "no answer in time"
                                             : "connection closed"));
  }
  if (ONEM2M_PSK_get_version(ssl.get()) != static_cast<int>(task.version)) {
    return Failed("negotiated KDF version " +
                  std::to_string(ONEM2M_PSK_get_version(ssl.get())) +
                  " instead of " + std::to_string(task.version));
  }

  // Take the greeting, if the server sends one, then close politely.
  char buf[256];
  SSL_read(ssl.get(), buf, sizeof(buf));
  SSL_shutdown(ssl.get());
  return {true, "", 0};
}

Outcome Target::RunRefused(SSL_CTX* ctx) const {
  Socket fd(ConnectTcp(host_, port_, wait_ms()));
  if (fd.get() < 0) {
    return Failed(std::string("cannot connect: ") + std::strerror(errno));
  }
  SetTimeouts(fd.get(), wait_ms());
  SslPtr ssl(SSL_new(ctx));
  if (ssl == nullptr || !SSL_set_fd(ssl.get(), fd.get())) {
    return Failed("cannot create the connection");
  }
  int rc = SSL_connect(ssl.get());
  if (rc == 1) {
    SSL_shutdown(ssl.get());
    return Failed("the server accepted a key it must refuse");
  }
  if (TimedOut(ssl.get(), rc)) {
    return Failed("the server did not refuse within " + Seconds(wait_ms()) +
                  " s");
  }
  return {true, "", 0};
}

Outcome Target::RunGarbage(std::mt19937_64& rng) const {
  // 1 to 2048 random octets; half of them behind a plausible handshake
  // record header, so that the server waits for the rest of the record.
  Bytes junk(1 + rng() % 2048);
  for (auto& b : junk) {
    b = static_cast<uint8_t>(rng());
  }
  if (junk.size() >= 5 && rng() % 2 == 0) {
    size_t claimed = 1 + rng() % 16384;
    junk[0] = 22;
    junk[1] = 3;
    junk[2] = 1;
    junk[3] = static_cast<uint8_t>(claimed >> 8);
    junk[4] = static_cast<uint8_t>(claimed);
  }
  bool half_close = rng() % 2 == 0;

  Socket fd(ConnectTcp(host_, port_, wait_ms()));
  if (fd.get() < 0) {
    return Failed(std::string("cannot connect: ") + std::strerror(errno));
  }
  // A send error means the server dropped us already: what it should do.
  if (SendAll(fd.get(), junk.data(), junk.size()) && half_close) {
    shutdown(fd.get(), SHUT_WR);
  }
  if (!WaitForClose(fd.get(), wait_ms())) {
    return Failed("the server kept a connection that sent garbage for " +
                  Seconds(wait_ms()) + " s");
  }
  return {true, "", 0};
}

Outcome Target::RunCutOff(const Task& task, std::mt19937_64& rng) const {
  SSL_CTX* ctx = GoodCtx(task.tls13, task.version);
  SslPtr ssl(ctx != nullptr ? SSL_new(ctx) : nullptr);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (ssl == nullptr || rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    return Failed("cannot create the connection");
  }
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_connect_state(ssl.get());

  // The first flight is the ClientHello.
  SSL_do_handshake(ssl.get());
  Bytes first = Drain(wbio);
  Socket fd(ConnectTcp(host_, port_, wait_ms()));
  if (fd.get() < 0) {
    return Failed(std::string("cannot connect: ") + std::strerror(errno));
  }
  if (first.size() < 2) {
    return Failed("no ClientHello to cut");
  }
  if (rng() % 2 == 0) {
    SendAll(fd.get(), first.data(), 1 + rng() % (first.size() - 1));
    return {true, "", 0};
  }

  // Or send it whole, take the server's flight, and cut the second one.
  SendAll(fd.get(), first.data(), first.size());
  auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms());
  Bytes second;
  while (second.empty() && Clock::now() < deadline) {
    pollfd p = {fd.get(), POLLIN, 0};
    if (poll(&p, 1, 100) != 1) {
      continue;
    }
    uint8_t buf[4096];
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
      return Failed("the server closed on a good ClientHello");
    }
    BIO_write(rbio, buf, static_cast<int>(n));
    int rc = SSL_do_handshake(ssl.get());
    if (rc != 1 && SSL_get_error(ssl.get(), rc) != SSL_ERROR_WANT_READ) {
      return Failed("the server refused a good ClientHello");
    }
    second = Drain(wbio);
  }
  if (second.empty()) {
    return Failed("the server did not answer a good ClientHello in " +
                  Seconds(wait_ms()) + " s");
  }
  SendAll(fd.get(), second.data(), rng() % second.size());
  return {true, "", 0};
}

Outcome Target::RunStall(ClientKind kind, std::mt19937_64& rng) const {
  Tls13HelloSpec spec;
  spec.identity =
      "v2:soak-stall-" + std::to_string(rng() % 100000) + "@soak.invalid";
  Bytes hello = BuildTls13ClientHello(spec);
  Socket fd(ConnectTcp(host_, port_, wait_ms()));
  if (fd.get() < 0) {
    return Failed(std::string("cannot connect: ") + std::strerror(errno));
  }
  if (kind == ClientKind::kStallSilent) {
    if (!WaitForClose(fd.get(), wait_ms())) {
      return Failed("the server kept a silent client for " +
                    Seconds(wait_ms()) + " s");
    }
    return {true, "", 0};
  }
  if (kind == ClientKind::kStallHalfRecord) {
    SendAll(fd.get(), hello.data(), hello.size() / 2);
    if (!WaitForClose(fd.get(), wait_ms())) {
      return Failed("the server kept a client that sent half a record for " +
                    Seconds(wait_ms()) + " s");
    }
    return {true, "", 0};
  }

  // Trickle: one octet every half timeout. A server that times out each
  // read, rather than the whole handshake, never drops this client.
  int interval_ms = std::max(50, server_timeout_ms_ / 2);
  auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms());
  for (size_t sent = 0; Clock::now() < deadline;) {
    if (sent < hello.size() && !SendAll(fd.get(), &hello[sent], 1)) {
      return {true, "", 0};
    }
    sent++;
    if (WaitForClose(fd.get(), interval_ms)) {
      return {true, "", 0};
    }
  }
  return Failed(
      "the server kept a client that trickles its ClientHello "
      "(one octet every " +
      Seconds(interval_ms) + " s) for " + Seconds(wait_ms()) +
      " s, past its handshake timeout");
}

Outcome Target::RunHugeIdentity() const {
  Tls13HelloSpec spec;
  spec.identity.assign(MaxTls13IdentityLength(), 'k');
  spec.identity.replace(0, 3, "v2:");
  Bytes hello = BuildTls13ClientHello(spec);
  Socket fd(ConnectTcp(host_, port_, wait_ms()));
  if (fd.get() < 0) {
    return Failed(std::string("cannot connect: ") + std::strerror(errno));
  }
  if (!SendAll(fd.get(), hello.data(), hello.size())) {
    return {true, "", 0};  // dropped before it read it all
  }
  ServerReply reply = ReadServerReply(fd.get(), wait_ms());
  switch (reply.kind) {
    case ServerReply::Kind::kAlert:
    case ServerReply::Kind::kClosed:
      return {true, "", 0};
    case ServerReply::Kind::kHandshake:
      return Failed("the server answered a 64 KiB identity with a handshake");
    case ServerReply::Kind::kOther:
      return Failed(
          "the server answered a 64 KiB identity with a non-TLS "
          "record");
    case ServerReply::Kind::kTimeout:
      break;
  }
  return Failed("the server did not answer a 64 KiB identity in " +
                Seconds(wait_ms()) + " s");
}

void Target::RunBurst(const std::vector<Task>& tasks,
                      std::vector<Outcome>* outcomes) const {
  enum class State { kConnecting, kHandshake, kGreeting, kDone };
  struct Conn {
    int fd = -1;
    SslPtr ssl;
    State state = State::kConnecting;
    short events = POLLOUT;
    Outcome out;
  };
  std::vector<Conn> conns(tasks.size());
  outcomes->assign(tasks.size(), Outcome());
  auto start = Clock::now();
  auto finish = [&](Conn& c, bool passed, std::string detail) {
    c.state = State::kDone;
    c.out = {passed, std::move(detail), MillisecondsSince(start)};
  };

  // Every connect first, so that all of them are open at once.
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* ai = nullptr;
  if (getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &ai) !=
      0) {
    for (Conn& c : conns) {
      finish(c, false, "cannot resolve the server address");
    }
  }
  for (size_t i = 0; ai != nullptr && i < tasks.size(); i++) {
    Conn& c = conns[i];
    c.fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c.fd < 0 || (connect(c.fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
                     errno != EINPROGRESS)) {
      finish(c, false, std::string("cannot connect: ") + std::strerror(errno));
    }
  }
  if (ai != nullptr) {
    freeaddrinfo(ai);
  }

  // Then drive them together: connect, handshake, greeting.
  auto deadline =
      Clock::now() + std::chrono::milliseconds(std::max(30000, 3 * wait_ms()));
  auto step = [&](size_t i, short revents) {
    Conn& c = conns[i];
    if (c.state == State::kConnecting) {
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error != 0 || (revents & (POLLERR | POLLHUP)) != 0) {
        finish(c, false,
               std::string("cannot connect: ") +
                   std::strerror(so_error != 0 ? so_error : ECONNRESET));
        return;
      }
      c.ssl.reset(SSL_new(GoodCtx(tasks[i].tls13, tasks[i].version)));
      if (c.ssl == nullptr || !SSL_set_fd(c.ssl.get(), c.fd)) {
        finish(c, false, "cannot create the connection");
        return;
      }
      c.state = State::kHandshake;
    }
    if (c.state == State::kHandshake) {
      int rc = SSL_connect(c.ssl.get());
      if (rc == 1) {
        if (ONEM2M_PSK_get_version(c.ssl.get()) !=
            static_cast<int>(tasks[i].version)) {
          finish(c, false, "negotiated another KDF version");
          return;
        }
        c.state = State::kGreeting;
      } else {
        int err = SSL_get_error(c.ssl.get(), rc);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          const char* why = ONEM2M_PSK_get0_failure(c.ssl.get());
          finish(c, false,
                 std::string("good handshake failed: ") +
                     (why != nullptr ? why : "connection closed"));
          return;
        }
        c.events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return;
      }
    }
    // The greeting is not required; any end of it ends the client.
    char buf[256];
    int rc = SSL_read(c.ssl.get(), buf, sizeof(buf));
    if (rc <= 0 && SSL_get_error(c.ssl.get(), rc) == SSL_ERROR_WANT_READ) {
      c.events = POLLIN;
      return;
    }
    finish(c, true, "");
  };

  std::vector<pollfd> fds;
  std::vector<size_t> index;
  for (;;) {
    fds.clear();
    index.clear();
    for (size_t i = 0; i < conns.size(); i++) {
      if (conns[i].state != State::kDone) {
        fds.push_back({conns[i].fd, conns[i].events, 0});
        index.push_back(i);
      }
    }
    if (fds.empty() || Clock::now() >= deadline) {
      break;
    }
    if (poll(fds.data(), fds.size(), 100) <= 0) {
      continue;
    }
    for (size_t k = 0; k < fds.size(); k++) {
      if (fds[k].revents != 0) {
        step(index[k], fds[k].revents);
        ERR_clear_error();
      }
    }
  }

  for (size_t i = 0; i < conns.size(); i++) {
    Conn& c = conns[i];
    if (c.state != State::kDone) {
      finish(c, false, "did not finish within the burst's time limit");
    }
    c.ssl.reset();
    if (c.fd >= 0) {
      close(c.fd);
    }
    (*outcomes)[i] = std::move(c.out);
  }
}

}  // namespace onem2m::soak
