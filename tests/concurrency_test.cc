// Many handshakes at once against one server SSL_CTX whose file keystore
// is rewritten and reloaded underneath them (issue 4, item 3). Every good
// handshake must succeed and every wrong key must fail, whatever the
// reload is doing. Suites are named Concurrency* so that CI can run them
// alone under ThreadSanitizer (-DONEM2M_SANITIZE=thread).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "onem2m/psk.h"
#include "openssl_ptr.h"
#include "test_support.h"
#include "tls_harness.h"

namespace onem2m::testing {
namespace {

constexpr int kThreads = 8;
// Each thread runs at least its share of handshakes, and goes on until
// the keystore was reloaded this often (or a minute passed), so that the
// reloads overlap the handshakes even on a slow, busy machine.
constexpr int kMinReloads = 20;
constexpr auto kMaxRun = std::chrono::seconds(60);

const char kKeyId[] = "dev-0001@sp.example.com";
const char kRootHex[] =
    "3c9e0a7b5d1f4e8a2c6b9d0e3f7a1c5b8d2e6f0a4c7b1d9e5f3a8c2b6d0e4f7a";
const char kRootHexUpper[] =
    "3C9E0A7B5D1F4E8A2C6B9D0E3F7A1C5B8D2E6F0A4C7B1D9E5F3A8C2B6D0E4F7A";
const char kWrongRootHex[] =
    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5";

// Two generations of the keystore file. Both hold kKeyId with the same
// Root Key (in another spelling) among other keys, so that a handshake as
// kKeyId must succeed whichever generation it meets.
const std::string kGenerationA =
    std::string("# generation A\n") + kKeyId + ":" + kRootHex +
    "\n"
    "meter-17@m2m.operator.example:0f1e2d3c4b5a69788796a5b4c3d2e1f0\n";
const std::string kGenerationB =
    std::string("# generation B\r\n") +
    "gateway-9@m2m.operator.example:base64:AAECAwQFBgcICQoLDA0ODw==\r\n" +
    kKeyId + ":" + kRootHexUpper + ":versions=1,2,3\r\n";
// A broken generation: its reload must fail and keep the keys.
const std::string kBrokenGeneration = std::string(kKeyId) + ":not-a-root-key\n";

// KeystoreFile is a keystore file that a writer replaces atomically
// (write, then rename), as an administrator's tools should.
class KeystoreFile {
 public:
  KeystoreFile() : path_(dir_.WriteFile("keys", kGenerationA)) {}

  const std::string& path() const { return path_; }

  void Replace(const std::string& content) {
    std::string tmp = dir_.WriteFile("keys.new", content);
    ASSERT_EQ(std::rename(tmp.c_str(), path_.c_str()), 0);
  }

 private:
  ScopedTempDir dir_;
  std::string path_;
};

// Reloader rewrites and reloads the keystore on its own thread until told
// to stop: A, B, A, B, broken, and again.
class Reloader {
 public:
  Reloader(KeystoreFile* file, ONEM2M_KEYSTORE* ks) : file_(file), ks_(ks) {}

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() {
    stop_ = true;
    thread_.join();
    // The file ends as a good generation for whatever runs next.
    file_->Replace(kGenerationA);
  }

  int good_reloads() const { return good_reloads_; }
  int wrong_outcomes() const { return wrong_outcomes_; }

  // KeepGoing tells a handshake thread that has done |done| of its
  // |share| whether to run another one.
  bool KeepGoing(int done, int share,
                 std::chrono::steady_clock::time_point start) const {
    return done < share || (good_reloads_ < kMinReloads &&
                            std::chrono::steady_clock::now() - start < kMaxRun);
  }

 private:
  void Run() {
    for (int i = 0; !stop_; i++) {
      int step = i % 5;
      bool broken = step == 4;
      file_->Replace(broken          ? kBrokenGeneration
                     : step % 2 == 0 ? kGenerationA
                                     : kGenerationB);
      int rc = ONEM2M_KEYSTORE_reload(ks_);
      ERR_clear_error();
      if (rc != (broken ? 0 : 1) || ONEM2M_KEYSTORE_count(ks_) != 2) {
        wrong_outcomes_++;
      }
      good_reloads_ += rc;
      std::this_thread::yield();
    }
  }

  KeystoreFile* file_;
  ONEM2M_KEYSTORE* ks_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::atomic<int> good_reloads_{0};
  std::atomic<int> wrong_outcomes_{0};
};

// ServerCtx is a PSK server SSL_CTX attached with |ks| (both protocols,
// versions 1 to 3) that counts its log lines from every thread.
class ServerCtx {
 public:
  explicit ServerCtx(ONEM2M_KEYSTORE* ks)
      : ctx_(SSL_CTX_new(TLS_server_method())) {
    EXPECT_TRUE(SSL_CTX_set_cipher_list(ctx_.get(), "PSK"));
    EXPECT_EQ(ONEM2M_PSK_attach_server(ctx_.get(), ks), 1);
    ONEM2M_PSK_CTX_set_log_callback(
        ctx_.get(),
        [](const SSL*, const char* line, void* arg) {
          auto* self = static_cast<ServerCtx*>(arg);
          std::lock_guard<std::mutex> lock(self->mu_);
          self->log_lines_++;
          self->last_line_ = line;
        },
        this);
  }

  SSL_CTX* get() const { return ctx_.get(); }
  int log_lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_lines_;
  }

 private:
  SslCtxPtr ctx_;
  std::mutex mu_;
  int log_lines_ = 0;
  std::string last_line_;
};

// ClientCtxs holds one client SSL_CTX per protocol and KDF version for
// kKeyId with the right Root Key, and one per protocol with a wrong one.
class ClientCtxs {
 public:
  ClientCtxs()
      : right_(MemoryKeystore(kKeyId, kRootHex)),
        wrong_(MemoryKeystore(kKeyId, kWrongRootHex)) {
    for (int p = 0; p < 2; p++) {
      for (int v = 1; v <= 3; v++) {
        good_[p][v] = Make(p, right_.get(), v);
      }
      wrong_key_[p] = Make(p, wrong_.get(), 2);
    }
  }

  SSL_CTX* good(int tls13, int version) { return good_[tls13][version].get(); }
  SSL_CTX* wrong(int tls13) { return wrong_key_[tls13].get(); }

 private:
  static SslCtxPtr Make(int tls13, ONEM2M_KEYSTORE* ks, int version) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    int proto = tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    EXPECT_TRUE(SSL_CTX_set_min_proto_version(ctx.get(), proto));
    EXPECT_TRUE(SSL_CTX_set_max_proto_version(ctx.get(), proto));
    EXPECT_TRUE(SSL_CTX_set_cipher_list(ctx.get(), "PSK"));
    EXPECT_EQ(ONEM2M_PSK_attach_client(ctx.get(), ks, kKeyId), 1);
    EXPECT_EQ(ONEM2M_PSK_CTX_pin_version(ctx.get(), version), 1);
    return ctx;
  }

  KeystorePtr right_;
  KeystorePtr wrong_;
  SslCtxPtr good_[2][4];
  SslCtxPtr wrong_key_[2];
};

// InMemoryResult is what one handshake through a BIO pair gave.
struct InMemoryResult {
  bool ok = false;
  std::string server_key_id;
  int server_version = -1;
};

// HandshakeInMemory runs one handshake between a new server SSL of
// |server_ctx| and a new client SSL of |client_ctx| through a BIO pair.
InMemoryResult HandshakeInMemory(SSL_CTX* server_ctx, SSL_CTX* client_ctx) {
  InMemoryResult r;
  SslPtr server(SSL_new(server_ctx));
  SslPtr client(SSL_new(client_ctx));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  if (server == nullptr || client == nullptr ||
      !BIO_new_bio_pair(&server_bio, 0, &client_bio, 0)) {
    return r;
  }
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());

  // Each side moves until both are done or one fails for good.
  auto blocked = [](SSL* ssl, int rc) {
    int err = SSL_get_error(ssl, rc);
    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
  };
  for (int round = 0; round < 50; round++) {
    int c = SSL_do_handshake(client.get());
    int s = SSL_do_handshake(server.get());
    if (c == 1 && s == 1) {
      r.ok = true;
      break;
    }
    bool client_failed = c != 1 && !blocked(client.get(), c);
    if (client_failed || (s != 1 && !blocked(server.get(), s))) {
      // Let the other side read the alert, then stop.
      SSL_do_handshake(client_failed ? server.get() : client.get());
      break;
    }
  }
  const char* key_id = ONEM2M_PSK_get0_key_id(server.get());
  r.server_key_id = key_id != nullptr ? key_id : "";
  r.server_version = ONEM2M_PSK_get_version(server.get());
  ERR_clear_error();
  return r;
}

TEST(ConcurrencyInMemory, EveryGoodHandshakeSucceedsWhileTheKeystoreReloads) {
  KeystoreFile file;
  KeystorePtr ks(ONEM2M_KEYSTORE_load_file(file.path().c_str()));
  ASSERT_NE(ks, nullptr);
  ServerCtx server(ks.get());
  ClientCtxs clients;
  Reloader reloader(&file, ks.get());

  // Eight threads, each through every protocol and version, every fifth
  // handshake with a wrong Root Key; the reloads run all along.
  constexpr int kPerThread = 60;
  std::atomic<int> good_failed{0}, wrong_succeeded{0}, good_ok{0};
  std::atomic<int> wrong_identity{0}, total{0}, wrong_total{0};
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  reloader.Start();
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; reloader.KeepGoing(i, kPerThread, start); i++) {
        total++;
        int tls13 = (t + i) % 2;
        int version = 1 + (t + i / 2) % 3;
        bool wrong = i % 5 == 4;
        InMemoryResult r = HandshakeInMemory(
            server.get(),
            wrong ? clients.wrong(tls13) : clients.good(tls13, version));
        if (wrong) {
          wrong_succeeded += r.ok;
          wrong_total++;
          continue;
        }
        good_failed += !r.ok;
        good_ok += r.ok;
        wrong_identity +=
            r.ok && (r.server_key_id != kKeyId || r.server_version != version);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  reloader.Stop();

  EXPECT_EQ(good_failed.load(), 0);
  EXPECT_EQ(good_ok.load(), total.load() - wrong_total.load());
  EXPECT_GE(wrong_total.load(), kThreads * kPerThread / 5);
  EXPECT_EQ(wrong_succeeded.load(), 0);
  EXPECT_EQ(wrong_identity.load(), 0);
  EXPECT_EQ(reloader.wrong_outcomes(), 0);
  // The reloads really overlapped the handshakes.
  EXPECT_GE(reloader.good_reloads(), kMinReloads);
  EXPECT_EQ(server.log_lines(), total.load());
}

// PoolServer accepts on 127.0.0.1 with kThreads threads sharing one
// SSL_CTX and one listening socket; each runs the handshakes it accepts.
class PoolServer {
 public:
  explicit PoolServer(SSL_CTX* ctx) : ctx_(ctx) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listen_fd_, 128) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len)) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(addr.sin_port);
    for (int t = 0; t < kThreads; t++) {
      threads_.emplace_back([this] { Run(); });
    }
  }

  ~PoolServer() {
    stop_ = true;
    for (std::thread& t : threads_) {
      t.join();
    }
    close(listen_fd_);
  }

  int port() const { return port_; }
  int ok() const { return ok_; }
  int failed() const { return failed_; }

 private:
  void Run() {
    while (!stop_) {
      pollfd p = {listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) != 1) {
        continue;
      }
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;  // another thread took it
      }
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      SslPtr ssl(SSL_new(ctx_));
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) == 1) {
        ok_++;
        std::string greeting =
            std::string("hello ") + ONEM2M_PSK_get0_key_id(ssl.get()) + "\n";
        SSL_write(ssl.get(), greeting.data(),
                  static_cast<int>(greeting.size()));
        SSL_shutdown(ssl.get());
      } else {
        failed_++;
      }
      ERR_clear_error();
      ssl.reset();
      close(fd);
    }
  }

  SSL_CTX* ctx_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  std::vector<std::thread> threads_;
};

TEST(ConcurrencyLoopback, EveryGoodHandshakeSucceedsWhileTheKeystoreReloads) {
  KeystoreFile file;
  KeystorePtr ks(ONEM2M_KEYSTORE_load_file(file.path().c_str()));
  ASSERT_NE(ks, nullptr);
  ServerCtx server_ctx(ks.get());
  PoolServer server(server_ctx.get());
  KeystorePtr right(MemoryKeystore(kKeyId, kRootHex));
  KeystorePtr wrong(MemoryKeystore(kKeyId, kWrongRootHex));
  Reloader reloader(&file, ks.get());

  constexpr int kPerThread = 25;
  std::atomic<int> good_failed{0}, wrong_succeeded{0};
  std::atomic<int> total{0}, wrong_total{0};
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  reloader.Start();
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; reloader.KeepGoing(i, kPerThread, start); i++) {
        total++;
        ClientOptions o;
        o.protocol =
            (t + i) % 2 == 0 ? TlsProtocol::kTls12 : TlsProtocol::kTls13;
        o.pinned_version = 1 + (t + i / 2) % 3;
        bool is_wrong = i % 5 == 4;
        HandshakeResult r = RunOurClient(
            server.port(), is_wrong ? wrong.get() : right.get(), kKeyId, o);
        if (is_wrong) {
          wrong_succeeded += r.ok;
          wrong_total++;
        } else {
          good_failed +=
              !r.ok || r.greeting != std::string("hello ") + kKeyId + "\n";
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  reloader.Stop();

  EXPECT_EQ(good_failed.load(), 0);
  EXPECT_EQ(wrong_succeeded.load(), 0);
  EXPECT_EQ(reloader.wrong_outcomes(), 0);
  EXPECT_GE(reloader.good_reloads(), kMinReloads);
  // Every connection ended on the server too.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server.ok() + server.failed() < total.load() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server.ok(), total.load() - wrong_total.load());
  EXPECT_EQ(server.failed(), wrong_total.load());
}

TEST(ConcurrencyAttach, ContextsAttachAndDieOnManyThreadsSharingOneKeystore) {
  // Attaching fetches the provider's KDF and takes keystore references
  // from every thread at once; freeing drops them. The keystore lives on
  // after its last SSL_CTX and still answers.
  KeystoreFile file;
  KeystorePtr ks(ONEM2M_KEYSTORE_load_file(file.path().c_str()));
  ASSERT_NE(ks, nullptr);
  Reloader reloader(&file, ks.get());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  reloader.Start();
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; i++) {
        bool server = (t + i) % 2 == 0;
        SslCtxPtr ctx(
            SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
        int ok = server ? ONEM2M_PSK_attach_server(ctx.get(), ks.get())
                        : ONEM2M_PSK_attach_client(ctx.get(), ks.get(), kKeyId);
        failures += ok != 1;
        ERR_clear_error();
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  reloader.Stop();

  EXPECT_EQ(failures.load(), 0);
  ServerCtx server(ks.get());
  ClientCtxs clients;
  EXPECT_TRUE(HandshakeInMemory(server.get(), clients.good(1, 3)).ok);
}

}  // namespace
}  // namespace onem2m::testing
