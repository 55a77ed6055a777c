// Instructions per handshake, counted by valgrind's callgrind in a child
// process ("onem2m-bench --profile WHAT", bench_profile.cc): our library
// against stock OpenSSL in each PSK mode, and PSK against certificates.
// Unlike CPU time, an instruction count does not depend on what else runs
// on the machine, so these ratios check the timed ones of the handshake
// section; they do not see cache misses or lock waits. Skipped when
// valgrind is not installed.

#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>

#include "bench_util.h"
#include "tls_fixtures.h"

namespace onem2m::bench {

namespace {

// FindValgrind returns the path of valgrind on $PATH, or "".
std::string FindValgrind() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/valgrind";
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return "";
}

// CountInstructions runs |what| |count| times under callgrind and returns
// the instructions per operation, or a negative value with |error| set.
double CountInstructions(const std::string& valgrind, const std::string& what,
                         int count, std::string* error) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    *error = "cannot find this program";
    return -1;
  }
  self[n] = '\0';
  std::string out_file = GetSettings().work_dir + "/callgrind.out";
  int out = -1;
  pid_t pid = Spawn(
      {valgrind, "--tool=callgrind", "--log-fd=1",
       "--toggle-collect=*ProfileLoop*", "--callgrind-out-file=" + out_file,
       self, "--profile", what, "--count", std::to_string(count)},
      &out);
  if (pid < 0) {
    *error = "cannot start valgrind";
    return -1;
  }
  std::string log = ReadAllText(out);
  close(out);
  int status = WaitChild(pid, 600'000);
  unlink(out_file.c_str());

  // "==PID== Collected : N"
  size_t at = log.find("Collected : ");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      at == std::string::npos) {
    *error = "callgrind failed for " + what;
    return -1;
  }
  double total = std::strtod(log.c_str() + at + 12, nullptr);
  return total / count;
}

}  // namespace

void BM_Instructions(benchmark::State& state) {
  std::string valgrind = FindValgrind();
  if (valgrind.empty()) {
    for (auto _ : state) {
    }
    AddRow({"instructions", "valgrind is not installed: skipped", "", "", "",
            "", ""});
    return;
  }
  const int count = GetSettings().smoke ? 3 : 100;
  const char* whats[] = {"tls12-ours",   "tls12-stock", "tls12e-ours",
                         "tls12e-stock", "tls13-ours",  "tls13-stock",
                         "certs"};
  std::map<std::string, double> per_op;
  std::string error;
  for (auto _ : state) {
    for (const char* what : whats) {
      double v = CountInstructions(valgrind, what, count, &error);
      if (v < 0) {
        state.SkipWithError(error.c_str());
        AddRow({"instructions", "run", "FAILED: " + error, "", "", "", "NO"});
        return;
      }
      per_op[what] = v;
    }
  }

  const Mode modes[] = {Mode::kTls12Psk, Mode::kTls12EcdhePsk,
                        Mode::kTls13PskDheKe};
  const char* heads[] = {"tls12", "tls12e", "tls13"};
  for (int i = 0; i < 3; i++) {
    double ours = per_op[std::string(heads[i]) + "-ours"];
    double stock = per_op[std::string(heads[i]) + "-stock"];
    state.counters[std::string(heads[i]) + "_instr_ratio"] = ours / stock;
    AddRow({"instructions", std::string(ModeName(modes[i])) + ": ours vs stock",
            FormatDouble(ours / 1000, 0) + " k",
            FormatDouble(stock / 1000, 0) + " k", FormatRatio(ours / stock),
            "(check)", ""});
  }
  double certs = per_op["certs"];
  AddRow({"instructions", "PSK vs certificates: ours TLS 1.3 vs certs",
          FormatDouble(per_op["tls13-ours"] / 1000, 0) + " k",
          FormatDouble(certs / 1000, 0) + " k",
          FormatRatio(per_op["tls13-ours"] / certs), "", ""});
}

}  // namespace onem2m::bench
