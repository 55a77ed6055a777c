// "onem2m-bench --profile WHAT --count N": runs N operations of one kind
// inside ProfileLoop and nothing else worth counting, for
//   valgrind --tool=callgrind --toggle-collect='*ProfileLoop*' ...
// which counts the instructions of exactly those operations. WHAT is one
// of tls12-ours, tls12-stock, tls12e-ours, tls12e-stock, tls13-ours,
// tls13-stock, certs, derive-v1, derive-v2, derive-v3 (a keystore
// lookup and derivation, as a handshake makes it).

#include <cstdio>
#include <map>

#include "bench_util.h"
#include "kdf_fetch.h"
#include "keystore.h"
#include "onem2m/kdf.h"
#include "tls_fixtures.h"

namespace onem2m::bench {

// ProfileLoop is the one function callgrind collects in.
__attribute__((noinline)) bool ProfileLoop(const Batch& batch, int count,
                                           std::string* error) {
  return batch(count, error);
}

int RunProfile(const std::string& what, int count) {
  std::string error;
  ONEM2M_KEYSTORE* server_keys = NewOursMemoryKeystore(1000, 1);
  ONEM2M_KEYSTORE* client_keys = NewOursMemoryKeystore(1, 1);
  TlsPair pair;
  Onem2mKdf kdf;
  Batch batch;

  std::map<std::string, Mode> modes = {{"tls12", Mode::kTls12Psk},
                                       {"tls12e", Mode::kTls12EcdhePsk},
                                       {"tls13", Mode::kTls13PskDheKe}};
  size_t dash = what.find('-');
  std::string head = what.substr(0, dash);
  std::string tail = dash == std::string::npos ? "" : what.substr(dash + 1);
  bool ok = server_keys != nullptr && client_keys != nullptr;
  if (ok && what == "certs") {
    ok = NewCertPair(&pair, &error);
  } else if (ok && modes.count(head) != 0 && tail == "stock") {
    ok = NewStockPair(modes[head], &pair, &error);
  } else if (ok && modes.count(head) != 0 && tail == "ours") {
    pair.server = NewOursServer(modes[head], server_keys, &error);
    pair.client = pair.server ? NewOursClient(modes[head], client_keys,
                                              KeyIdFor(0), &error)
                              : nullptr;
    ok = pair.client != nullptr;
  } else if (ok && head == "derive" && tail.size() == 2 && tail[0] == 'v') {
    kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
    Version v = static_cast<Version>(tail[1] - '0');
    const Keystore* ks = server_keys->impl.get();
    batch = [ks, &kdf, v](int n, std::string* e) {
      SecretBuffer psk;
      for (int i = 0; i < n; i++) {
        if (ks->DerivePsk(kdf.get(), KeyIdFor(static_cast<size_t>(i) % 1000), v,
                          &psk) != DeriveStatus::kOk) {
          *e = "DerivePsk failed";
          return false;
        }
      }
      return true;
    };
    ok = kdf && v <= 3;
  } else {
    std::fprintf(stderr, "onem2m-bench: unknown --profile %s\n", what.c_str());
    ok = false;
  }
  if (ok && !batch) {
    const TlsPair* p = &pair;
    batch = [p](int n, std::string* e) {
      for (int i = 0; i < n; i++) {
        if (!Handshake(p->server.get(), p->client.get(), e)) {
          return false;
        }
      }
      return true;
    };
  }

  // One warm-up outside the loop, then the counted operations.
  ok = ok && batch(1, &error) && ProfileLoop(batch, count, &error);
  if (!ok) {
    std::fprintf(stderr, "onem2m-bench: profile %s failed: %s\n", what.c_str(),
                 error.c_str());
  }
  ONEM2M_KEYSTORE_free(server_keys);
  ONEM2M_KEYSTORE_free(client_keys);
  return ok ? 0 : 1;
}

}  // namespace onem2m::bench
