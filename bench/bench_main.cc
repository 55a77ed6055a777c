// onem2m-bench: the benchmarks of issue 8, run by Google Benchmark, ending
// in one table on stdout (progress goes to stderr).
//
//   onem2m-bench [--smoke] [--keys N] [--benchmark_filter=REGEX] ...
//   onem2m-bench --load-keystore FILE     (the keystore benchmark's child)
//   onem2m-bench --profile WHAT --count N (for callgrind; bench_profile.cc)
//
// --smoke runs every benchmark for a few rounds with small sizes, to prove
// in CI that they build and run; its figures mean nothing. The
// benchmark_* flags of Google Benchmark work as usual (a filter leaves
// rows out of the table).

#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "bench_util.h"

namespace onem2m::bench {

void BM_Kdf(benchmark::State& state);
void BM_Handshakes(benchmark::State& state);
void BM_Pkcs11(benchmark::State& state);
void BM_Keystore(benchmark::State& state);
void BM_Contention(benchmark::State& state);
void BM_Serve(benchmark::State& state);
void BM_Instructions(benchmark::State& state);
int RunLoadKeystore(const char* path);
int RunProfile(const std::string& what, int count);

namespace {

// ProgressReporter says on stderr which benchmark ran and how long it
// took; the figures go to the table.
class ProgressReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      std::fprintf(stderr, "onem2m-bench: %s: %s\n",
                   run.benchmark_name().c_str(),
                   run.error_occurred ? ("FAILED: " + run.error_message).c_str()
                                      : "done");
      failed_ = failed_ || run.error_occurred;
    }
  }
  bool failed() const { return failed_; }

 private:
  bool failed_ = false;
};

std::string LoadAverage() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) {
    return "?";
  }
  return FormatDouble(load[0], 2) + " " + FormatDouble(load[1], 2) + " " +
         FormatDouble(load[2], 2);
}

// RemoveWorkDir removes the files the benchmarks may have left in |dir|
// (a failed benchmark returns before removing its own), then |dir|.
void RemoveWorkDir(const std::string& dir) {
  for (const char* name :
       {"keys-large", "keys-small", "keys-serve", "callgrind.out"}) {
    unlink((dir + "/" + name).c_str());
  }
  rmdir(dir.c_str());
}

std::string Now() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

}  // namespace

}  // namespace onem2m::bench

int main(int argc, char** argv) {
  using namespace onem2m::bench;

  // The provider module of this build, not one installed on the system.
  setenv("OPENSSL_MODULES", ONEM2M_BENCH_MODULES_DIR, 0);

  // Our own flags; Google Benchmark gets the rest.
  Settings settings;
  settings.cli_path = ONEM2M_BENCH_CLI_BIN;
  settings.loadgen_path = ONEM2M_BENCH_LOADGEN_BIN;
  std::vector<char*> rest = {argv[0]};
  std::string profile;
  int profile_count = 200;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--load-keystore" && i + 1 < argc) {
      return RunLoadKeystore(argv[i + 1]);
    }
    if (arg == "--profile" && i + 1 < argc) {
      profile = argv[++i];
    } else if (arg == "--count" && i + 1 < argc) {
      profile_count = std::atoi(argv[++i]);
    } else if (arg == "--smoke") {
      settings.smoke = true;
    } else if (arg == "--keys" && i + 1 < argc) {
      settings.large_keys = std::strtoul(argv[++i], nullptr, 10);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!profile.empty()) {
    return RunProfile(profile, profile_count);
  }
  if (settings.smoke) {
    settings.kdf_rounds = 3;
    settings.handshake_rounds = 3;
    settings.round_ns = 200'000;
    settings.large_keys = 10'000;
    settings.keystore_rounds = 3;
    settings.contention_rounds = 1;
    settings.contention_phase_ms = 20;
    settings.serve_seconds = 1;
    settings.serve_clients = 2;
  }

  // Keystore files go to a private directory that is removed at the end.
  std::string tmpl = std::string(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") +
                     "/onem2m-bench-XXXXXX";
  std::vector<char> dir(tmpl.begin(), tmpl.end());
  dir.push_back('\0');
  if (mkdtemp(dir.data()) == nullptr) {
    std::perror("onem2m-bench: mkdtemp");
    return 1;
  }
  settings.work_dir = dir.data();
  SetSettings(settings);

  int bench_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&bench_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, rest.data())) {
    RemoveWorkDir(settings.work_dir);
    return 2;
  }

  std::string load_before = LoadAverage();
  auto ms = benchmark::kMillisecond;
  benchmark::RegisterBenchmark("kdf", BM_Kdf)
      ->Iterations(settings.kdf_rounds)
      ->Unit(ms);
  benchmark::RegisterBenchmark("handshake", BM_Handshakes)
      ->Iterations(settings.handshake_rounds)
      ->Unit(ms);
  benchmark::RegisterBenchmark("pkcs11", BM_Pkcs11)
      ->Iterations(settings.handshake_rounds)
      ->Unit(ms);
  benchmark::RegisterBenchmark("keystore", BM_Keystore)
      ->Iterations(settings.keystore_rounds)
      ->Unit(ms);
  benchmark::RegisterBenchmark("contention", BM_Contention)
      ->Iterations(settings.contention_rounds)
      ->Unit(ms);
  benchmark::RegisterBenchmark("serve", BM_Serve)->Iterations(1)->Unit(ms);
  benchmark::RegisterBenchmark("instructions", BM_Instructions)
      ->Iterations(1)
      ->Unit(ms);

  ProgressReporter progress;
  CpuSnapshot start = TakeCpuSnapshot();
  benchmark::RunSpecifiedBenchmarks(&progress);
  benchmark::Shutdown();
  RemoveWorkDir(settings.work_dir);
  double machine = 0;
  double self = 0;
  CoresSince(start, &machine, &self);

  AddNote(
      "A and B: the two sides a figure names, measured alternately in one "
      "process (bench/bench_util.h). A time is CPU time per operation, a "
      "handshake counting client and server together, median over rounds; "
      "A/B is the median of per-round ratios, with its 95% confidence "
      "interval in parentheses.");
  AddNote(
      "KDF version in every PSK handshake: 2 (the client pins it), so both "
      "sides use a 32-octet SHA-256 PSK; tickets and the server session "
      "cache are off; stock TLS 1.2 servers send no identity hint, ours "
      "sends onem2m-versions=1,2,3.");
  AddNote("During the run the machine kept " + FormatDouble(machine, 2) +
          " of " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
          " CPUs busy, this benchmark and its children " +
          FormatDouble(self, 2) + ": other work used about " +
          FormatDouble(std::max(0.0, machine - self), 2) + " CPUs.");
  PrintTable(std::string("oneM2M PSK benchmarks (") +
             (settings.smoke ? "SMOKE run: figures mean nothing" : "full run") +
             "), " + Now() + ", " + OpenSSL_version(OPENSSL_VERSION) + ", " +
             std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
             " CPUs, load average before " + load_before + ", after " +
             LoadAverage());
  return progress.failed() ? 1 : 0;
}
