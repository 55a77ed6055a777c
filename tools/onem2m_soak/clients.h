// The clients onem2m-soak sends at a server: good ones (the right key,
// each KDF version, TLS 1.2 and 1.3) and hostile ones. Each runs to its end
// on the calling thread and reports whether the server behaved: a good
// handshake must succeed, a hostile client must be refused or dropped
// within the server's handshake timeout.

#ifndef ONEM2M_TOOLS_ONEM2M_SOAK_CLIENTS_H_
#define ONEM2M_TOOLS_ONEM2M_SOAK_CLIENTS_H_

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "onem2m/psk.h"
#include "openssl_ptr.h"

namespace onem2m::soak {

// ClientKind names each kind of client; the hostile ones follow kGood.
enum class ClientKind {
  kGood,             // our client, the right key, a pinned KDF version
  kWrongKey,         // our client, the right KeyID with a random Root Key
  kUnknownKeyId,     // our client, a KeyID the server does not hold
  kGarbage,          // random octets instead of a ClientHello
  kCutOff,           // a real handshake that stops half way and closes
  kStallSilent,      // connects and sends nothing
  kStallHalfRecord,  // sends half a ClientHello record, then nothing
  kStallTrickle,     // sends a ClientHello one octet at a time, slowly
  kHugeIdentity,     // TLS 1.3 ClientHello with a ~64 KiB PSK identity
};

// The hostile kinds, in the order a plan cycles through them.
inline constexpr std::array<ClientKind, 8> kHostileKinds = {
    ClientKind::kWrongKey,     ClientKind::kUnknownKeyId,
    ClientKind::kGarbage,      ClientKind::kCutOff,
    ClientKind::kStallSilent,  ClientKind::kStallHalfRecord,
    ClientKind::kStallTrickle, ClientKind::kHugeIdentity,
};

// KindName names a kind in the results table; KindOption in --skip.
const char* KindName(ClientKind kind);
const char* KindOption(ClientKind kind);

// Task is one client of a plan.
struct Task {
  ClientKind kind = ClientKind::kGood;
  bool tls13 = true;
  unsigned version = 2;  // the KDF version of good clients
  uint64_t seed = 0;     // this client's own random choices
};

// Outcome is how one client went.
struct Outcome {
  bool passed = false;
  std::string detail;  // why it failed; empty when it passed
  double ms = 0;       // wall time of the client
};

// Target is the server and what the clients need to talk to it. Built
// once; read-only (and so shared by every thread) while clients run.
class Target {
 public:
  // Build makes the SSL_CTXs: good ones from |keystore| for |key_id| (one
  // per protocol and version in |versions|), wrong-key and unknown-KeyID
  // ones from random Root Keys. False with |error| set on failure.
  bool Build(const std::string& host, int port, ONEM2M_KEYSTORE* keystore,
             const std::string& key_id, unsigned versions,
             int server_timeout_ms, std::string* error);

  // Run runs one client of |task|'s kind to its end.
  Outcome Run(const Task& task) const;

  // RunBurst opens one connection per task at once (every connect before
  // any handshake), then runs all their good handshakes together on this
  // thread, and fills |outcomes|. Every task must be kGood.
  void RunBurst(const std::vector<Task>& tasks,
                std::vector<Outcome>* outcomes) const;

  // The server's handshake timeout, and how long a client waits past it.
  int server_timeout_ms() const { return server_timeout_ms_; }
  int wait_ms() const { return server_timeout_ms_ + kMarginMs; }

 private:
  static constexpr int kMarginMs = 3000;

  SSL_CTX* GoodCtx(bool tls13, unsigned version) const;

  Outcome RunGood(const Task& task) const;
  Outcome RunRefused(SSL_CTX* ctx) const;
  Outcome RunGarbage(std::mt19937_64& rng) const;
  Outcome RunCutOff(const Task& task, std::mt19937_64& rng) const;
  Outcome RunStall(ClientKind kind, std::mt19937_64& rng) const;
  Outcome RunHugeIdentity() const;

  std::string host_;
  int port_ = 0;
  std::string key_id_;
  int server_timeout_ms_ = 10000;
  // [tls13][version]; null where the version is not in use.
  SslCtxPtr good_[2][4];
  SslCtxPtr wrong_key_[2];
  SslCtxPtr unknown_key_id_[2];
};

}  // namespace onem2m::soak

#endif  // ONEM2M_TOOLS_ONEM2M_SOAK_CLIENTS_H_
