// Contention: 1 and then 2 threads (alternately, round after round), each
// running in-memory TLS 1.2 PSK handshakes against ONE shared server
// SSL_CTX and its keystore, each thread with its own client SSL_CTX,
// keystore and KeyID. Handshakes per second of wall time show whether shared
// state (the keystore lock, the provider, OpenSSL's own locks) keeps a second
// core from adding a second core's work. The same runs with stock OpenSSL are
// the control: what OpenSSL 3.0 itself loses on two threads.
//
// On a 2-core machine shared with other work, a second thread gets a second
// core only when nothing else wants it, so each phase also records the CPU
// time the process obtained (in cores); a ratio is only meaningful next to
// that figure.

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "bench_util.h"
#include "tls_fixtures.h"

namespace onem2m::bench {

namespace {

struct PhaseResult {
  double per_second = 0;  // handshakes per second, all threads together
  double cores = 0;       // CPU time obtained / wall time
};

// RunPhase runs |clients.size()| threads of handshakes against |server|
// for |ms| and measures them.
bool RunPhase(SSL_CTX* server, const std::vector<SSL_CTX*>& clients, int ms,
              PhaseResult* result, std::string* error) {
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<long> counts(clients.size(), 0);
  std::vector<int64_t> cpu(clients.size(), 0);
  std::vector<std::string> errors(clients.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < clients.size(); t++) {
    threads.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire)) {
      }
      int64_t start = ThreadCpuNs();
      while (!stop.load(std::memory_order_relaxed)) {
        if (!Handshake(server, clients[t], &errors[t])) {
          failed = true;
          break;
        }
        counts[t]++;
      }
      cpu[t] = ThreadCpuNs() - start;
    });
  }
  int64_t start = WallNs();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  stop = true;
  for (std::thread& t : threads) {
    t.join();
  }
  double wall = static_cast<double>(WallNs() - start);
  if (failed) {
    for (const std::string& e : errors) {
      if (!e.empty()) {
        *error = e;
      }
    }
    return false;
  }
  long total = 0;
  int64_t total_cpu = 0;
  for (size_t t = 0; t < clients.size(); t++) {
    total += counts[t];
    total_cpu += cpu[t];
  }
  result->per_second = static_cast<double>(total) * 1e9 / wall;
  result->cores = static_cast<double>(total_cpu) / wall;
  return true;
}

struct Setup {
  SslCtxPtr server;
  std::vector<SslCtxPtr> clients;  // two, one per thread
};

struct KeystoreDeleter {
  void operator()(ONEM2M_KEYSTORE* ks) const { ONEM2M_KEYSTORE_free(ks); }
};

}  // namespace

void BM_Contention(benchmark::State& state) {
  const Settings& settings = GetSettings();
  std::unique_ptr<ONEM2M_KEYSTORE, KeystoreDeleter> server_keys(
      NewOursMemoryKeystore(1000, 1));
  // Each client thread its own keystore too, as two devices have: the
  // figure is about the server's shared state, not a client's cache lock.
  std::unique_ptr<ONEM2M_KEYSTORE, KeystoreDeleter> client_keys[2] = {
      std::unique_ptr<ONEM2M_KEYSTORE, KeystoreDeleter>(
          NewOursMemoryKeystore(2, 1)),
      std::unique_ptr<ONEM2M_KEYSTORE, KeystoreDeleter>(
          NewOursMemoryKeystore(2, 1))};
  std::string error;
  Setup ours;
  Setup stock;
  bool ok = server_keys != nullptr && client_keys[0] != nullptr &&
            client_keys[1] != nullptr;
  if (ok) {
    ours.server = NewOursServer(Mode::kTls12Psk, server_keys.get(), &error);
    for (size_t t = 0; t < 2 && ours.server != nullptr; t++) {
      ours.clients.push_back(NewOursClient(
          Mode::kTls12Psk, client_keys[t].get(), KeyIdFor(t), &error));
    }
    TlsPair a;
    TlsPair b;
    ok = ours.clients.size() == 2 && ours.clients[0] != nullptr &&
         ours.clients[1] != nullptr &&
         NewStockPair(Mode::kTls12Psk, &a, &error) &&
         NewStockPair(Mode::kTls12Psk, &b, &error);
    if (ok) {
      // One stock server context; each thread its own client context.
      stock.server = std::move(a.server);
      stock.clients.push_back(std::move(a.client));
      stock.clients.push_back(std::move(b.client));
    }
  }
  if (!ok) {
    state.SkipWithError(error.c_str());
    AddRow({"contention", "setup", "FAILED: " + error, "", "", "", "NO"});
    return;
  }

  // Per round: ours 1T and 2T, stock 1T and 2T, in an order that turns.
  struct Series {
    std::vector<double> one, two, ratio, cores_two, efficiency;
  } series[2];
  Setup* setups[2] = {&ours, &stock};
  CpuSnapshot start = TakeCpuSnapshot();
  int round = 0;
  for (auto _ : state) {
    for (int k = 0; k < 2; k++) {
      int which = (round + k) % 2;
      Setup* s = setups[which];
      std::vector<SSL_CTX*> one = {s->clients[0].get()};
      std::vector<SSL_CTX*> two = {s->clients[0].get(), s->clients[1].get()};
      PhaseResult r1;
      PhaseResult r2;
      bool first_one = round % 2 == 0;
      bool ok_run =
          first_one ? RunPhase(s->server.get(), one,
                               settings.contention_phase_ms, &r1, &error) &&
                          RunPhase(s->server.get(), two,
                                   settings.contention_phase_ms, &r2, &error)
                    : RunPhase(s->server.get(), two,
                               settings.contention_phase_ms, &r2, &error) &&
                          RunPhase(s->server.get(), one,
                                   settings.contention_phase_ms, &r1, &error);
      if (!ok_run) {
        state.SkipWithError(error.c_str());
        AddRow({"contention", "run", "FAILED: " + error, "", "", "", "NO"});
        return;
      }
      series[which].one.push_back(r1.per_second);
      series[which].two.push_back(r2.per_second);
      series[which].ratio.push_back(r2.per_second / r1.per_second);
      series[which].cores_two.push_back(r2.cores);
      series[which].efficiency.push_back((r2.per_second / r2.cores) /
                                         (r1.per_second / r1.cores));
    }
    round++;
  }

  double machine = 0;
  double self = 0;
  CoresSince(start, &machine, &self);
  const char* names[2] = {"ours", "stock"};
  for (int k = 0; k < 2; k++) {
    double one = Median(series[k].one);
    double two = Median(series[k].two);
    double ratio = Median(series[k].ratio);
    double low = 0;
    double high = 0;
    MedianInterval(series[k].ratio, &low, &high);
    double cores = Median(series[k].cores_two);
    state.counters[std::string(names[k]) + "_1t_per_s"] = one;
    state.counters[std::string(names[k]) + "_2t_per_s"] = two;
    state.counters[std::string(names[k]) + "_2t_over_1t"] = ratio;
    state.counters[std::string(names[k]) + "_2t_cores"] = cores;
    std::string figure = std::string(k == 0 ? "ours" : "stock (control)") +
                         " TLS 1.2 PSK: 2 threads vs 1 (handshakes/s)";
    AddRow({"contention", figure, FormatDouble(two, 0), FormatDouble(one, 0),
            FormatRatioRange(ratio, low, high), k == 0 ? "≥ 1.8" : "",
            k == 0 ? Verdict(ratio >= 1.8) : ""});
    AddRow(
        {"contention",
         std::string("  ") + names[k] + ": CPU the 2 threads obtained (cores)",
         FormatDouble(cores, 2), "", "", "", ""});
    AddRow({"contention",
            std::string("  ") + names[k] +
                ": handshakes per CPU-second, 2 threads vs 1",
            "", "", FormatRatio(Median(series[k].efficiency)), "", ""});
  }
  // Our share of the scaling: ours' ratio over stock's, in each round.
  std::vector<double> relative;
  for (size_t i = 0; i < series[0].ratio.size(); i++) {
    relative.push_back(series[0].ratio[i] / series[1].ratio[i]);
  }
  double low = 0;
  double high = 0;
  MedianInterval(relative, &low, &high);
  AddRow({"contention", "  ours' 2T/1T relative to stock's 2T/1T", "", "",
          FormatRatioRange(Median(relative), low, high), "", ""});
  AddRow({"contention",
          "  meanwhile: CPUs busy on the machine / used by this benchmark",
          FormatDouble(machine, 2), FormatDouble(self, 2), "", "", ""});
}

}  // namespace onem2m::bench
