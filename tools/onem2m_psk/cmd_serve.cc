// onem2m-psk serve: a oneM2M Receiver (TLS-PSK server) that greets each
// authenticated client with its KeyID and version.
//
// One thread per connection, each with a handshake timeout, so that a
// stalled client blocks nobody; any failed handshake is logged and the
// server keeps serving. SIGHUP reloads the keystore; SIGINT or SIGTERM
// stops the server after a summary.
//
// With --dtls the listening socket is UDP: DTLSv1_listen answers every
// ClientHello without a valid cookie with a HelloVerifyRequest (the library's
// cookie callbacks) and no other work; a ClientHello with a valid cookie
// gets its own socket, bound to the same port and connected to the client,
// and its own thread, as a TCP connection does.

#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "commands.h"
#include "dtls.h"
#include "net.h"
#include "onem2m/psk.h"
#include "openssl_ptr.h"

namespace onem2m::cli {
namespace {

volatile sig_atomic_t stop_requested = 0;
volatile sig_atomic_t reload_requested = 0;

void OnStopSignal(int) { stop_requested = 1; }
void OnReloadSignal(int) { reload_requested = 1; }

struct ServerStats {
  std::atomic<int> active{0};
  std::atomic<long> ok{0};
  std::atomic<long> failed{0};
  std::atomic<long> refused_busy{0};
  // The sockets of connections in progress, so that a stop can end them
  // at once instead of waiting for their timeouts.
  std::mutex fds_mutex;
  std::set<int> fds;
  // DTLS: the peers (PeerKey) with an association in progress. A second
  // verified ClientHello from one of them (a retransmission that reached
  // the listening socket before the peer's own socket was connected) is
  // dropped rather than given a second association.
  std::set<std::string> dtls_peers;

  // TrackFd adds |fd| to |fds|; the function it returns takes it out and
  // closes it (out first: the number may be reused at once).
  std::function<void()> TrackFd(int fd) {
    {
      std::lock_guard<std::mutex> lock(fds_mutex);
      fds.insert(fd);
    }
    return [this, fd] {
      {
        std::lock_guard<std::mutex> lock(fds_mutex);
        fds.erase(fd);
      }
      close(fd);
    };
  }
};

// PeerKey names a DTLS peer by family, address and port.
std::string PeerKey(const BIO_ADDR* peer) {
  unsigned char raw[16];
  size_t len = 0;
  if (!BIO_ADDR_rawaddress(peer, raw, &len) || len > sizeof(raw)) {
    return "";
  }
  return std::to_string(BIO_ADDR_family(peer)) + "/" +
         std::to_string(BIO_ADDR_rawport(peer)) + "/" +
         std::string(reinterpret_cast<const char*>(raw), len);
}

std::mutex log_mutex;

void LogLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(log_mutex);
  std::fprintf(stderr, "onem2m-psk serve: %s\n", line.c_str());
  std::fflush(stderr);
}

void LogHandshakeLine(const SSL*, const char* line, void*) { LogLine(line); }

// AcceptWithDeadline runs the server handshake on |fd| within |timeout_ms|
// in all: a per-read timeout would let a client that sends one byte at a
// time hold its thread for ever. Returns true on success; on failure
// |timed_out| says whether the deadline passed.
bool AcceptWithDeadline(SSL* ssl, int fd, int timeout_ms, bool* timed_out) {
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool ok = false;
  for (;;) {
    int rc = SSL_accept(ssl);
    if (rc == 1) {
      ok = true;
      break;
    }
    int err = SSL_get_error(ssl, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p = {
        fd, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT),
        0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      *timed_out = true;
      break;
    }
  }
  fcntl(fd, F_SETFL, flags);
  return ok;
}

std::string Greeting(SSL* ssl);

// ServeClient runs one connection: handshake, greeting, close.
void ServeClient(SSL_CTX* ctx, int fd, int timeout_ms, ServerStats* stats) {
  std::function<void()> close_fd = stats->TrackFd(fd);

  SslPtr ssl(SSL_new(ctx));
  if (ssl == nullptr || !SSL_set_fd(ssl.get(), fd)) {
    close_fd();
    stats->failed++;
    return;
  }
  ERR_clear_error();
  bool timed_out = false;
  if (!AcceptWithDeadline(ssl.get(), fd, timeout_ms, &timed_out)) {
    ONEM2M_PSK_log_failure(
        ssl.get(), timed_out
                       ? "handshake timed out"
                       : "connection closed or broken during the handshake");
    ERR_clear_error();
    stats->failed++;
    close_fd();
    return;
  }
  SetIoTimeout(fd, timeout_ms);
  stats->ok++;

  std::string greeting = Greeting(ssl.get());
  SSL_write(ssl.get(), greeting.data(), static_cast<int>(greeting.size()));
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  close_fd();
}

// Greeting is the line an authenticated client gets.
std::string Greeting(SSL* ssl) {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  return std::string("hello ") + ONEM2M_PSK_get0_key_id(ssl) +
         ": authenticated with oneM2M KDF version " +
         std::to_string(ONEM2M_PSK_get_version(ssl)) + " over " +
         SSL_get_version(ssl) + " (" + SSL_CIPHER_get_name(cipher) + ")\n";
}

// How long a DTLS server waits for a first record (a CoAP request) before
// it sends the greeting unasked.
constexpr int kFirstRecordWaitMs = 500;

// AnswerDtlsClient sends the greeting: as the payload of a 2.05 Content
// response (RFC 7252 section 5.2.1: piggy-backed in the ACK of a CON, or a
// NON for a NON, with the request's message ID and token) if the client's
// first record is a CoAP GET, else as a plain record.
void AnswerDtlsClient(SSL* ssl, int fd) {
  std::string greeting = Greeting(ssl);
  unsigned char buf[2048];
  int n = DtlsRead(ssl, fd, buf, sizeof(buf), kFirstRecordWaitMs);
  std::optional<CoapMessage> request =
      n > 0 ? ParseCoap(buf, static_cast<size_t>(n)) : std::nullopt;
  constexpr unsigned kGet = 0x01;
  constexpr unsigned kContent = 0x45;  // 2.05
  if (request && request->code == kGet && request->type <= 1) {
    CoapMessage reply;
    reply.type = request->type == 0 ? 2 : 1;  // CON -> ACK, NON -> NON
    reply.code = kContent;
    reply.message_id = request->message_id;
    reply.token = request->token;
    reply.content_format = 0;  // text/plain; charset=utf-8
    reply.payload = greeting;
    std::string bytes = EncodeCoap(reply);
    SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()));
    return;
  }
  SSL_write(ssl, greeting.data(), static_cast<int>(greeting.size()));
}

// ServeDtlsClient runs one DTLS association on its connected socket |fd|:
// the rest of the handshake (from the ClientHello DTLSv1_listen kept), the
// answer, close.
void ServeDtlsClient(SSL* raw_ssl, int fd, int timeout_ms, ServerStats* stats) {
  SslPtr ssl(raw_ssl);
  std::function<void()> close_fd = stats->TrackFd(fd);

  ERR_clear_error();
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  HandshakeEnd end =
      DtlsHandshake(ssl.get(), fd, true, deadline, &stop_requested);
  if (end != HandshakeEnd::kOk) {
    ONEM2M_PSK_log_failure(
        ssl.get(), end == HandshakeEnd::kTimedOut ? "handshake timed out"
                   : end == HandshakeEnd::kStopped
                       ? "server stopping"
                       : "connection broken during the handshake");
    ERR_clear_error();
    stats->failed++;
    close_fd();
    return;
  }
  stats->ok++;
  AnswerDtlsClient(ssl.get(), fd);
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  close_fd();
}

// AcceptDtlsClient reads what waits on the listening socket: a ClientHello
// without a valid cookie gets a HelloVerifyRequest and nothing else; one
// with a valid cookie returns its SSL, with |peer| set, to go on with.
SslPtr AcceptDtlsClient(SSL_CTX* ctx, int listen_fd, BIO_ADDR* peer) {
  SslPtr ssl(SSL_new(ctx));
  BIO* bio = BIO_new_dgram(listen_fd, BIO_NOCLOSE);
  if (ssl == nullptr || bio == nullptr) {
    BIO_free(bio);
    return nullptr;
  }
  SSL_set_bio(ssl.get(), bio, bio);
  ERR_clear_error();
  // 1: a verified ClientHello; 0: nothing more to read (after answering
  // with a HelloVerifyRequest, or dropping a datagram that is not one);
  // below 0: an error.
  int rc = DTLSv1_listen(ssl.get(), peer);
  ERR_clear_error();
  return rc == 1 ? std::move(ssl) : nullptr;
}

int RunServe(const ParsedArgs& args) {
  if (!args.positional.empty()) {
    return Usage("serve takes no positional argument (use --accept)");
  }
  if (!args.Has("keystore") || !args.Has("accept")) {
    return Usage("serve needs --keystore FILE|URI and --accept HOST:PORT");
  }
  std::string host;
  int port = 0;
  if (!SplitHostPort(args.Get("accept"), &host, &port)) {
    return Usage("--accept takes HOST:PORT, e.g. 127.0.0.1:4433");
  }
  int timeout_ms = 10000;
  if (args.Has("handshake-timeout")) {
    std::string t = args.Get("handshake-timeout");
    if (t.empty() || t.size() > 4 ||
        t.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(t) == 0) {
      return Usage("--handshake-timeout takes seconds, 1 to 9999");
    }
    timeout_ms = std::stoi(t) * 1000;
  }
  int max_clients = 1024;
  if (args.Has("max-clients")) {
    std::string m = args.Get("max-clients");
    if (m.empty() || m.size() > 6 ||
        m.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(m) == 0) {
      return Usage("--max-clients takes a number, 1 to 999999");
    }
    max_clients = std::stoi(m);
  }
  VersionSet versions = kDefaultServerVersions;
  if (args.Has("versions")) {
    auto parsed = ParseVersionList(args.Get("versions"));
    if (!parsed) {
      return Usage("--versions takes a list such as 1,2,3 of versions 0-3");
    }
    versions = *parsed;
  }

  // The TLS side: protocol options, then the oneM2M layer on top.
  bool dtls = args.Has("dtls");
  SslCtxPtr ctx(SSL_CTX_new(dtls ? DTLS_server_method() : TLS_server_method()));
  if (ctx == nullptr || !ApplyProtocolOptions(ctx.get(), args)) {
    return ctx == nullptr ? FailWithErrors("cannot create SSL_CTX")
                          : kExitFailure;
  }
  ONEM2M_KEYSTORE* ks = OpenKeystoreAt(args.Get("keystore"));
  if (ks == nullptr) {
    return kExitFailure;
  }
  unsigned options =
      (args.Has("allow-psk-ke") ? ONEM2M_PSK_OPT_ALLOW_PSK_KE : 0) |
      (args.Has("reveal-unknown") ? ONEM2M_PSK_OPT_REVEAL_UNKNOWN : 0);
  bool attached =
      ONEM2M_PSK_attach_server(ctx.get(), ks) &&
      ONEM2M_PSK_CTX_set_versions(ctx.get(), versions) &&
      ONEM2M_PSK_CTX_set_options(ctx.get(), options) &&
      ONEM2M_PSK_CTX_set_log_callback(ctx.get(), LogHandshakeLine, nullptr);
  if (!attached) {
    ONEM2M_KEYSTORE_free(ks);
    return FailWithErrors("cannot start the server");
  }

  std::string error;
  int bound_port = 0;
  int listen_fd = dtls ? BindUdp(host, port, &bound_port, &error)
                       : Listen(host, port, &bound_port, &error);
  if (listen_fd < 0) {
    ONEM2M_KEYSTORE_free(ks);
    return Fail(error);
  }

  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = OnReloadSignal;
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  size_t key_count = ONEM2M_KEYSTORE_count(ks);
  std::printf(
      "onem2m-psk serve: listening on %s:%d (%s%s, KDF versions %s, "
      "%zu key%s)\n",
      host.c_str(), bound_port,
      dtls                                        ? "DTLS 1.2 over UDP"
      : args.Has("tls1_2") || args.Has("profile") ? "TLS 1.2"
      : args.Has("tls1_3")                        ? "TLS 1.3"
                                                  : "TLS 1.2 and 1.3",
      args.Has("profile") ? ", profile onem2m" : "",
      FormatVersionSet(versions).c_str(), key_count, key_count == 1 ? "" : "s");
  std::fflush(stdout);
  if (key_count == 0) {
    LogLine("warning: the keystore " + args.Get("keystore") +
            " holds no keys: every client will be refused until keys are "
            "added and the server reloads (SIGHUP)");
  }

  // Accept until a stop signal; each client on its own thread. A reload
  // runs on its own thread too, so that parsing a large file does not stop
  // the accepting.
  ServerStats stats;
  std::atomic<bool> reloading{false};
  bool busy_logged = false;
  while (!stop_requested) {
    if (reload_requested && !reloading.exchange(true)) {
      reload_requested = 0;
      std::thread([ks, &reloading] {
        if (ONEM2M_KEYSTORE_reload(ks)) {
          size_t n = ONEM2M_KEYSTORE_count(ks);
          LogLine("keystore reloaded: " + std::to_string(n) + " keys" +
                  (n == 0 ? " (warning: every client will be refused)" : ""));
        } else {
          LogLine("keystore reload failed, keeping the old keys: " +
                  ErrorQueueText());
        }
        reloading = false;
      }).detach();
    }
    pollfd p = {listen_fd, POLLIN, 0};
    if (poll(&p, 1, 200) != 1) {
      continue;
    }
    if (dtls) {
      std::unique_ptr<BIO_ADDR, void (*)(BIO_ADDR*)> peer(BIO_ADDR_new(),
                                                          BIO_ADDR_free);
      SslPtr ssl =
          peer ? AcceptDtlsClient(ctx.get(), listen_fd, peer.get()) : nullptr;
      if (ssl == nullptr) {
        continue;
      }
      if (stats.active.load() >= max_clients) {
        // Dropped: the client retransmits and may find room later.
        stats.refused_busy++;
        if (!busy_logged) {
          LogLine("busy: " + std::to_string(max_clients) +
                  " associations in progress (--max-clients); dropping new "
                  "clients until one ends");
          busy_logged = true;
        }
        continue;
      }
      std::string key = PeerKey(peer.get());
      {
        std::lock_guard<std::mutex> lock(stats.fds_mutex);
        if (!stats.dtls_peers.insert(key).second) {
          continue;
        }
      }
      auto forget_peer = [&stats, key] {
        std::lock_guard<std::mutex> lock(stats.fds_mutex);
        stats.dtls_peers.erase(key);
      };
      int fd = AcceptUdpPeer(listen_fd, peer.get());
      if (fd < 0 || !SetConnectedDgramBio(ssl.get(), fd)) {
        forget_peer();
        LogLine(std::string("cannot open a socket for a DTLS client: ") +
                std::strerror(errno));
        if (fd >= 0) {
          close(fd);
        }
        continue;
      }
      busy_logged = false;
      stats.active++;
      std::thread([ssl = ssl.release(), fd, timeout_ms, &stats, forget_peer] {
        ServeDtlsClient(ssl, fd, timeout_ms, &stats);
        forget_peer();
        stats.active--;
      }).detach();
      continue;
    }
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    if (stats.active.load() >= max_clients) {
      stats.refused_busy++;
      close(fd);
      if (!busy_logged) {
        LogLine("busy: " + std::to_string(max_clients) +
                " connections in progress (--max-clients); refusing new "
                "clients until one ends");
        busy_logged = true;
      }
      continue;
    }
    busy_logged = false;
    stats.active++;
    std::thread([ctx = ctx.get(), fd, timeout_ms, &stats] {
      ServeClient(ctx, fd, timeout_ms, &stats);
      stats.active--;
    }).detach();
  }

  // Stop: no new clients; end the connections in progress at once.
  close(listen_fd);
  {
    std::lock_guard<std::mutex> lock(stats.fds_mutex);
    if (!stats.fds.empty()) {
      LogLine("stopping: closing " + std::to_string(stats.fds.size()) +
              " connections in progress");
    }
    for (int fd : stats.fds) {
      shutdown(fd, SHUT_RDWR);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((stats.active.load() > 0 || reloading.load()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf(
      "onem2m-psk serve: stopped: %ld handshakes, %ld ok, %ld "
      "failed, %ld refused (busy)\n",
      stats.ok.load() + stats.failed.load(), stats.ok.load(),
      stats.failed.load(), stats.refused_busy.load());
  std::fflush(stdout);
  if (stats.active.load() > 0 || reloading.load()) {
    // Detached threads still use the SSL_CTX or the keystore: leave both
    // to the process exit.
    ctx.release();
    return kExitOk;
  }
  ONEM2M_KEYSTORE_free(ks);
  return kExitOk;
}

}  // namespace

const Command& ServeCommand() {
  static std::vector<OptionSpec> options = [] {
    std::vector<OptionSpec> o = {
        {"keystore", true, "keystore file (spec section 8) or pkcs11: URI"},
        {"accept", true, "HOST:PORT to listen on (port 0: any free port)"},
        {"versions", true, "KDF versions allowed, e.g. 2,3 (default 1,2,3)"},
        {"allow-psk-ke", false, "also accept TLS 1.3 psk_ke (no DHE)"},
        {"reveal-unknown", false,
         "refuse unknown KeyIDs openly instead of with a decoy PSK"},
        {"handshake-timeout", true, "seconds per handshake (default 10)"},
        {"max-clients", true,
         "connections at once (default 1024); more are refused and logged"},
    };
    for (auto& p : ProtocolOptionSpecs()) {
      o.push_back(p);
    }
    return o;
  }();
  static const Command cmd = {
      "serve",
      "serve --keystore FILE|URI --accept HOST:PORT [options]",
      "Runs a TLS-PSK server (TLS 1.2 and 1.3 unless told otherwise) that\n"
      "authenticates oneM2M clients with the keystore's Root Keys. Each\n"
      "authenticated client gets one line naming its KeyID and version.\n"
      "One log line per handshake goes to stderr (never key bytes). The\n"
      "first line on stdout says where it listens. SIGHUP reloads the\n"
      "keystore (a bad file keeps the old keys); SIGINT/SIGTERM stop it\n"
      "and print a summary line ('stopped: N handshakes, N ok, N failed,\n"
      "N refused (busy)'). HOST may be a name, IPv4 or [IPv6].\n\n"
      "--dtls serves DTLS 1.2 over UDP (default suites: ECDHE-PSK,\n"
      "PSK-AES128-CCM8, PSK-AES128-GCM-SHA256). A ClientHello without a\n"
      "valid cookie gets a HelloVerifyRequest and no key work. A client\n"
      "whose first record is a CoAP GET (RFC 7252) gets the greeting as a\n"
      "2.05 Content response (text/plain; an ACK for a CON, a NON for a\n"
      "NON); one that sends nothing within 0.5 s, or something else, gets\n"
      "the plain greeting. DTLS drops records that fail their check, so a\n"
      "wrong key ends at the handshake timeout, logged as 'wrong Root Key\n"
      "(or the client went away)'.\n"
      "--profile onem2m: only TS-0003 clause 10.2's suite (TLS 1.2\n"
      "PSK-AES128-CBC-SHA256; with --dtls, DTLS 1.2 PSK-AES128-CCM8).\n"
      "A client without SNI is served all the same (it may know the\n"
      "server by IP address only); the log shows the SNI it sent.\n\n"
      "Log line: peer=ADDR role=server key_id=ID version=N protocol=P\n"
      "suite=S outcome=ok|failed [sni=NAME] [resumed=yes]\n"
      "[reason=\"...\"].",
      options,
      RunServe,
  };
  return cmd;
}

}  // namespace onem2m::cli
