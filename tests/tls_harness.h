// Real TLS over real loopback sockets for the handshake tests: our server
// in a thread of the test process, our client, and a raw PSK client that
// sends whatever identity and PSK a test wants.

#ifndef ONEM2M_TESTS_TLS_HARNESS_H_
#define ONEM2M_TESTS_TLS_HARNESS_H_

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "onem2m/psk.h"
#include "openssl_ptr.h"

namespace onem2m::testing {

// TlsProtocol names the protocol a handshake is pinned to.
enum class TlsProtocol { kTls12, kTls13 };

const char* ProtocolName(TlsProtocol p);  // "TLSv1.2" / "TLSv1.3"
int ProtocolVersion(TlsProtocol p);       // TLS1_2_VERSION / TLS1_3_VERSION

// HandshakeResult is what one side saw of one handshake.
struct HandshakeResult {
  bool ok = false;
  std::string key_id;  // ONEM2M_PSK_get0_key_id, "" if none
  int version = -1;    // ONEM2M_PSK_get_version
  std::string protocol;
  std::string cipher;
  std::string failure;         // ONEM2M_PSK_get0_failure, "" if none
  int alert_sent = -1;         // last fatal alert description sent, or -1
  int alert_received = -1;     // last fatal alert description received, or -1
  std::string greeting;        // client: what the server wrote after it
  std::string openssl_error;   // OpenSSL's first error text, for diagnosis
  int group = 0;               // SSL_get_negotiated_group: 0 without (EC)DHE
  bool resumed = false;        // ONEM2M_PSK_session_resumed
  std::string session_id_hex;  // the session's ID ("" when empty)
  std::shared_ptr<SSL_SESSION> session;  // client: to resume later
};

struct ServerOptions {
  std::optional<TlsProtocol> protocol;  // both when unset
  unsigned versions = ONEM2M_VERSIONS_ALL;
  unsigned options = 0;  // ONEM2M_PSK_OPT_*
  std::string cipher = "PSK";
  std::string ciphersuites;  // OpenSSL's default when empty
  std::string groups;
  std::optional<std::string> hint_override;  // replaces our TLS 1.2 hint
  bool tickets = true;                       // SSL_OP_NO_TICKET when false
  bool session_cache = true;                 // SSL_SESS_CACHE_OFF when false
};

// OurServer accepts connections on 127.0.0.1 (a port it picks) on its own
// thread, one at a time, runs the handshake with the library attached,
// writes a greeting on success and records each result.
class OurServer {
 public:
  OurServer(ONEM2M_KEYSTORE* ks, const ServerOptions& options = {});
  ~OurServer();
  OurServer(const OurServer&) = delete;
  OurServer& operator=(const OurServer&) = delete;

  int port() const { return port_; }
  SSL_CTX* ctx() { return ctx_; }
  // WaitForResult blocks until the |index|th handshake (0-based) ended.
  HandshakeResult WaitForResult(size_t index);
  std::vector<std::string> LogLines();

 private:
  void Run();

  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<HandshakeResult> results_;
  std::vector<std::string> log_lines_;
  std::thread thread_;
};

struct ClientOptions {
  std::optional<TlsProtocol> protocol;
  unsigned versions = 0;  // library default when 0
  int pinned_version = -1;
  std::string cipher = "PSK";
  std::string ciphersuites;
  std::string groups;
  SSL_SESSION* resume = nullptr;  // offered for resumption when set
  // Written after the handshake, before the greeting is read: for servers
  // that only answer (openssl s_server -rev).
  std::string send;
};

// RunOurClient handshakes as |key_id| with the library attached and reads
// the greeting, if any, within a short wait.
HandshakeResult RunOurClient(int port, ONEM2M_KEYSTORE* ks,
                             const std::string& key_id,
                             const ClientOptions& options = {});

// RunRawPskClient handshakes with exactly |identity| and |psk| (no library):
// TLS 1.2 through the PSK client callback, TLS 1.3 through a session with
// suite |tls13_suite| (e.g. "TLS_AES_128_GCM_SHA256").
HandshakeResult RunRawPskClient(
    int port, const std::string& identity,
    const std::vector<unsigned char>& psk, TlsProtocol protocol,
    const std::string& tls13_suite = "TLS_AES_128_GCM_SHA256");

using KeystorePtr = UniquePtr<ONEM2M_KEYSTORE, ONEM2M_KEYSTORE_free>;

// MemoryKeystore returns a memory keystore holding one key (hex Root Key).
ONEM2M_KEYSTORE* MemoryKeystore(const std::string& key_id,
                                const std::string& root_key_hex,
                                unsigned versions = 0);

}  // namespace onem2m::testing

#endif  // ONEM2M_TESTS_TLS_HARNESS_H_
