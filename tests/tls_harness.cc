#include "tls_harness.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <stdexcept>

#include "test_support.h"

namespace onem2m::testing {

namespace {

constexpr int kIoTimeoutMs = 5000;

// A peer that closes first must not kill the test process: a write to its
// socket then fails with EPIPE, and the handshake reports that. (Without
// this, Matrix/FinishedTest died of SIGPIPE under ASan timing.)
[[maybe_unused]] const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

void SetTimeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    throw std::runtime_error("connect to 127.0.0.1 failed");
  }
  SetTimeouts(fd, kIoTimeoutMs);
  return fd;
}

// Alerts are recorded through the info callback into the HandshakeResult
// that SSL_set_app_data points at.
void RecordAlerts(const SSL* ssl, int where, int ret) {
  auto* r = static_cast<HandshakeResult*>(SSL_get_app_data(ssl));
  if (r == nullptr || (where & SSL_CB_ALERT) == 0 ||
      (ret >> 8) != SSL3_AL_FATAL) {
    return;
  }
  ((where & SSL_CB_WRITE) ? r->alert_sent : r->alert_received) = ret & 0xff;
}

void ApplyProtocol(SSL_CTX* ctx, const std::optional<TlsProtocol>& p) {
  SSL_CTX_set_min_proto_version(ctx, p ? ProtocolVersion(*p) : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, p ? ProtocolVersion(*p) : 0);
}

void Configure(SSL_CTX* ctx, const std::optional<TlsProtocol>& protocol,
               const std::string& cipher, const std::string& ciphersuites,
               const std::string& groups) {
  ApplyProtocol(ctx, protocol);
  if (!SSL_CTX_set_cipher_list(ctx, cipher.c_str()) ||
      (!ciphersuites.empty() &&
       !SSL_CTX_set_ciphersuites(ctx, ciphersuites.c_str())) ||
      (!groups.empty() && !SSL_CTX_set1_groups_list(ctx, groups.c_str()))) {
    throw std::runtime_error("bad cipher, ciphersuites or groups");
  }
  SSL_CTX_set_info_callback(ctx, RecordAlerts);
}

void FillOutcome(SSL* ssl, bool ok, HandshakeResult* r) {
  r->ok = ok;
  const char* key_id = ONEM2M_PSK_get0_key_id(ssl);
  r->key_id = key_id != nullptr ? key_id : "";
  r->version = ONEM2M_PSK_get_version(ssl);
  r->protocol = SSL_get_version(ssl);
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  r->cipher = c != nullptr ? SSL_CIPHER_get_name(c) : "";
  const char* failure = ONEM2M_PSK_get0_failure(ssl);
  r->failure = failure != nullptr ? failure : "";
  r->resumed = ONEM2M_PSK_session_resumed(ssl) == 1;
  if (ok) {  // OpenSSL 3.0 crashes on this after a failed handshake
    r->group = static_cast<int>(SSL_get_negotiated_group(ssl));
  }
  if (const SSL_SESSION* session = SSL_get_session(ssl)) {
    unsigned int len = 0;
    const unsigned char* id = SSL_SESSION_get_id(session, &len);
    r->session_id_hex = ToHex(id, len);
  }
  if (!ok) {
    char buf[256];
    ERR_error_string_n(ERR_peek_error(), buf, sizeof(buf));
    r->openssl_error = buf;
  }
}

// ReadGreeting reads what the server wrote after the handshake (TLS 1.3
// tickets are consumed on the way).
std::string ReadGreeting(SSL* ssl) {
  char buf[512];
  int n = SSL_read(ssl, buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Raw client state for its callbacks.
struct RawClient {
  std::string identity;
  std::vector<unsigned char> psk;
  std::string tls13_suite;
};
int raw_client_index =
    SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);

unsigned int RawTls12(SSL* ssl, const char*, char* identity,
                      unsigned int max_identity_len, unsigned char* psk,
                      unsigned int max_psk_len) {
  auto* raw = static_cast<RawClient*>(SSL_get_ex_data(ssl, raw_client_index));
  if (raw->identity.size() > max_identity_len ||
      raw->psk.size() > max_psk_len) {
    return 0;
  }
  std::memcpy(identity, raw->identity.c_str(), raw->identity.size() + 1);
  std::memcpy(psk, raw->psk.data(), raw->psk.size());
  return static_cast<unsigned int>(raw->psk.size());
}

int RawTls13(SSL* ssl, const EVP_MD*, const unsigned char** id, size_t* idlen,
             SSL_SESSION** sess) {
  auto* raw = static_cast<RawClient*>(SSL_get_ex_data(ssl, raw_client_index));
  const SSL_CIPHER* cipher = nullptr;
  STACK_OF(SSL_CIPHER)* all = SSL_get_ciphers(ssl);
  for (int i = 0; i < sk_SSL_CIPHER_num(all); i++) {
    if (raw->tls13_suite == SSL_CIPHER_get_name(sk_SSL_CIPHER_value(all, i))) {
      cipher = sk_SSL_CIPHER_value(all, i);
    }
  }
  SSL_SESSION* s = SSL_SESSION_new();
  if (cipher == nullptr || s == nullptr ||
      !SSL_SESSION_set1_master_key(s, raw->psk.data(), raw->psk.size()) ||
      !SSL_SESSION_set_cipher(s, cipher) ||
      !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
    SSL_SESSION_free(s);
    return 0;
  }
  *id = reinterpret_cast<const unsigned char*>(raw->identity.data());
  *idlen = raw->identity.size();
  *sess = s;
  return 1;
}

}  // namespace

const char* ProtocolName(TlsProtocol p) {
  return p == TlsProtocol::kTls12 ? "TLSv1.2" : "TLSv1.3";
}

int ProtocolVersion(TlsProtocol p) {
  return p == TlsProtocol::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
}

OurServer::OurServer(ONEM2M_KEYSTORE* ks, const ServerOptions& options) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  Configure(ctx_, options.protocol, options.cipher, options.ciphersuites,
            options.groups);
  if (!ONEM2M_PSK_attach_server(ctx_, ks) ||
      !ONEM2M_PSK_CTX_set_versions(ctx_, options.versions) ||
      !ONEM2M_PSK_CTX_set_options(ctx_, options.options)) {
    std::string why = ERR_reason_error_string(ERR_peek_last_error());
    SSL_CTX_free(ctx_);
    throw std::runtime_error("attach_server failed: " + why);
  }
  ONEM2M_PSK_CTX_set_log_callback(
      ctx_,
      [](const SSL*, const char* line, void* arg) {
        auto* self = static_cast<OurServer*>(arg);
        std::lock_guard<std::mutex> lock(self->mu_);
        self->log_lines_.push_back(line);
      },
      this);
  if (!options.tickets) {
    SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
  }
  if (!options.session_cache) {
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  }
  if (options.hint_override) {
    SSL_CTX_use_psk_identity_hint(ctx_, options.hint_override->empty()
                                            ? nullptr
                                            : options.hint_override->c_str());
  }

  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len)) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Run(); });
}

OurServer::~OurServer() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
  SSL_CTX_free(ctx_);
}

void OurServer::Run() {
  while (!stop_) {
    pollfd p = {listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) != 1) {
      continue;
    }
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    SetTimeouts(fd, kIoTimeoutMs);
    HandshakeResult r;
    SSL* ssl = SSL_new(ctx_);
    SSL_set_app_data(ssl, &r);
    SSL_set_fd(ssl, fd);
    bool ok = SSL_accept(ssl) == 1;
    if (!ok) {
      ONEM2M_PSK_log_failure(ssl, "connection closed during the handshake");
    }
    FillOutcome(ssl, ok, &r);
    if (ok) {
      std::string greeting =
          "hello " + r.key_id + " v" + std::to_string(r.version) + "\n";
      SSL_write(ssl, greeting.data(), static_cast<int>(greeting.size()));
      SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    results_.push_back(r);
  }
}

HandshakeResult OurServer::WaitForResult(size_t index) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (results_.size() > index) {
        return results_[index];
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  throw std::runtime_error("the server saw no handshake in time");
}

std::vector<std::string> OurServer::LogLines() {
  std::lock_guard<std::mutex> lock(mu_);
  return log_lines_;
}

HandshakeResult RunOurClient(int port, ONEM2M_KEYSTORE* ks,
                             const std::string& key_id,
                             const ClientOptions& options) {
  HandshakeResult r;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  Configure(ctx, options.protocol, options.cipher, options.ciphersuites,
            options.groups);
  bool configured = ONEM2M_PSK_attach_client(ctx, ks, key_id.c_str()) &&
                    (options.versions == 0 ||
                     ONEM2M_PSK_CTX_set_versions(ctx, options.versions)) &&
                    (options.pinned_version < 0 ||
                     ONEM2M_PSK_CTX_pin_version(ctx, options.pinned_version));
  if (!configured) {
    SSL_CTX_free(ctx);
    r.failure = "client configuration failed";
    return r;
  }
  int fd = ConnectLoopback(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_app_data(ssl, &r);
  SSL_set_fd(ssl, fd);
  if (options.resume != nullptr) {
    SSL_set_session(ssl, options.resume);
  }
  bool ok = SSL_connect(ssl) == 1;
  FillOutcome(ssl, ok, &r);
  if (ok && !options.send.empty()) {
    ok = SSL_write(ssl, options.send.data(),
                   static_cast<int>(options.send.size())) > 0;
  }
  if (ok) {
    r.greeting = ReadGreeting(ssl);  // TLS 1.3 tickets arrive before it
    r.session.reset(SSL_get1_session(ssl), SSL_SESSION_free);
    SSL_shutdown(ssl);
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return r;
}

HandshakeResult RunRawPskClient(int port, const std::string& identity,
                                const std::vector<unsigned char>& psk,
                                TlsProtocol protocol,
                                const std::string& tls13_suite) {
  HandshakeResult r;
  RawClient raw{identity, psk, tls13_suite};
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  Configure(ctx, protocol, "PSK", "", "");
  SSL_CTX_set_psk_client_callback(ctx, RawTls12);
  SSL_CTX_set_psk_use_session_callback(ctx, RawTls13);
  int fd = ConnectLoopback(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_app_data(ssl, &r);
  SSL_set_ex_data(ssl, raw_client_index, &raw);
  SSL_set_fd(ssl, fd);
  bool ok = SSL_connect(ssl) == 1;
  r.ok = ok;
  r.protocol = SSL_get_version(ssl);
  if (ok) {
    r.greeting = ReadGreeting(ssl);
    SSL_shutdown(ssl);
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return r;
}

ONEM2M_KEYSTORE* MemoryKeystore(const std::string& key_id,
                                const std::string& root_key_hex,
                                unsigned versions) {
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_new_memory();
  std::vector<unsigned char> root = FromHex(root_key_hex);
  if (ks == nullptr || !ONEM2M_KEYSTORE_add_key(ks, key_id.c_str(), root.data(),
                                                root.size(), versions)) {
    ONEM2M_KEYSTORE_free(ks);
    throw std::runtime_error("cannot build memory keystore");
  }
  return ks;
}

}  // namespace onem2m::testing
