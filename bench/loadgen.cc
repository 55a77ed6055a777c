// onem2m-loadgen: a small load generator for onem2m-psk serve on loopback.
//
//   onem2m-loadgen --connect 127.0.0.1:PORT --keystore FILE [--key-ids N]
//                  [--clients N] [--seconds T] [--tls1_2]
//
// N client threads, each with its own SSL_CTX attached as the Originator of
// one KeyID (dev-0000000@fleet.example.com, ... as bench/ writes them),
// connect, complete a handshake, read the server's greeting line and close,
// over and over for T seconds. It prints one line:
//   ok=... failed=... seconds=... rate=... p50_us=... p90_us=... p99_us=...
//   protocol=... suite=... version=...
// where a latency runs from the start of connect() to the greeting's end.
// It connects to loopback addresses only.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "onem2m/psk.h"
#include "openssl_ptr.h"

namespace onem2m::bench {

namespace {

struct Options {
  std::string host;
  int port = 0;
  std::string keystore;
  size_t key_ids = 1000;
  int clients = 8;
  int seconds = 5;
  bool tls12 = false;
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "onem2m-loadgen: %s\nusage: onem2m-loadgen --connect "
               "127.0.0.1:PORT --keystore FILE [--key-ids N] [--clients N] "
               "[--seconds T] [--tls1_2]\n",
               why);
  return 2;
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--tls1_2") {
      o->tls12 = true;
    } else if (arg == "--connect" && has_value) {
      std::string v = argv[++i];
      size_t colon = v.rfind(':');
      if (colon == std::string::npos) {
        return false;
      }
      o->host = v.substr(0, colon);
      o->port = std::atoi(v.c_str() + colon + 1);
    } else if (arg == "--keystore" && has_value) {
      o->keystore = argv[++i];
    } else if (arg == "--key-ids" && has_value) {
      o->key_ids = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--clients" && has_value) {
      o->clients = std::atoi(argv[++i]);
    } else if (arg == "--seconds" && has_value) {
      o->seconds = std::atoi(argv[++i]);
    } else {
      return false;
    }
  }
  return !o->host.empty() && o->port > 0 && o->port < 65536 &&
         !o->keystore.empty() && o->key_ids > 0 && o->clients > 0 &&
         o->clients <= 1024 && o->seconds > 0;
}

// ConnectLoopback opens a TCP connection to |addr|; -1 on failure.
int ConnectLoopback(const sockaddr_in& addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<long> failed{0};
  std::mutex mutex;
  std::vector<double> latencies_us;
  std::string negotiated;  // from the first success
};

// OneConnection connects, handshakes, reads the greeting and closes;
// returns false on any failure.
bool OneConnection(SSL_CTX* ctx, const sockaddr_in& addr, Shared* shared) {
  int fd = ConnectLoopback(addr);
  if (fd < 0) {
    return false;
  }
  SslPtr ssl(SSL_new(ctx));
  bool ok = ssl != nullptr && SSL_set_fd(ssl.get(), fd) == 1 &&
            SSL_connect(ssl.get()) == 1;
  std::string greeting;
  char buf[256];
  while (ok && greeting.find('\n') == std::string::npos) {
    int n = SSL_read(ssl.get(), buf, sizeof(buf));
    if (n <= 0) {
      ok = false;
      break;
    }
    greeting.append(buf, static_cast<size_t>(n));
  }
  if (ok) {
    std::lock_guard<std::mutex> lock(shared->mutex);
    if (shared->negotiated.empty()) {
      shared->negotiated =
          std::string("protocol=") + SSL_get_version(ssl.get()) +
          " suite=" + SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get())) +
          " version=" + std::to_string(ONEM2M_PSK_get_version(ssl.get()));
    }
  }
  ERR_clear_error();
  ssl.reset();
  close(fd);
  return ok;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

int Run(const Options& o) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1 ||
      (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
    return Usage("--connect takes a loopback IPv4 address (127.x.x.x)");
  }
  signal(SIGPIPE, SIG_IGN);

  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_load_file(o.keystore.c_str());
  if (ks == nullptr) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  std::vector<SslCtxPtr> ctxs;
  for (int t = 0; t < o.clients; t++) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (ctx == nullptr ||
        (o.tls12 &&
         !SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION)) ||
        (o.tls12 && !SSL_CTX_set_cipher_list(ctx.get(), "PSK")) ||
        !ONEM2M_PSK_attach_client(
            ctx.get(), ks,
            KeyIdFor(static_cast<size_t>(t) % o.key_ids).c_str())) {
      ERR_print_errors_fp(stderr);
      ONEM2M_KEYSTORE_free(ks);
      return 1;
    }
    ctxs.push_back(std::move(ctx));
  }
  ONEM2M_KEYSTORE_free(ks);

  // Every client loops until the time is up.
  Shared shared;
  std::vector<std::thread> threads;
  int64_t start = WallNs();
  for (int t = 0; t < o.clients; t++) {
    threads.emplace_back([&, t] {
      std::vector<double> mine;
      while (!shared.stop.load(std::memory_order_relaxed)) {
        int64_t begin = WallNs();
        if (OneConnection(ctxs[t].get(), addr, &shared)) {
          mine.push_back(static_cast<double>(WallNs() - begin) / 1000);
        } else {
          shared.failed++;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
      std::lock_guard<std::mutex> lock(shared.mutex);
      shared.latencies_us.insert(shared.latencies_us.end(), mine.begin(),
                                 mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  shared.stop = true;
  for (std::thread& t : threads) {
    t.join();
  }
  double seconds = static_cast<double>(WallNs() - start) / 1e9;

  std::vector<double>& l = shared.latencies_us;
  std::sort(l.begin(), l.end());
  std::printf(
      "ok=%zu failed=%ld seconds=%.3f rate=%.1f p50_us=%.0f p90_us=%.0f "
      "p99_us=%.0f clients=%d %s\n",
      l.size(), shared.failed.load(), seconds,
      static_cast<double>(l.size()) / seconds, Percentile(l, 0.50),
      Percentile(l, 0.90), Percentile(l, 0.99), o.clients,
      shared.negotiated.c_str());
  return l.empty() ? 1 : 0;
}

}  // namespace

}  // namespace onem2m::bench

int main(int argc, char** argv) {
  onem2m::bench::Options options;
  if (!onem2m::bench::ParseOptions(argc, argv, &options)) {
    return onem2m::bench::Usage("bad or missing options");
  }
  return onem2m::bench::Run(options);
}
