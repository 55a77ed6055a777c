// onem2m-soak: drives a running oneM2M TLS-PSK server (onem2m-psk serve,
// or any server of the same contract) over loopback with a mix of good and
// hostile clients, watches the server's memory, threads and descriptors,
// and ends with "N passed, M failed".
//
// It only connects to 127.0.0.0/8 and ::1: a soak is a load test of one's
// own server, never of somebody else's. Count and time are bounded: it
// stops by itself after --handshakes clients or --max-seconds.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "clients.h"
#include "onem2m/keystore.h"
#include "protocol.h"
#include "server_probe.h"
#include "tls_wire.h"

namespace onem2m::soak {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// After the run, the server's descriptors and threads must come back to
// their level at the start exactly. Its resident memory is compared with
// its level after the warm-up and the burst, when the allocator's caches
// (glibc's per-thread arenas, cached thread stacks) have grown to their
// plateau: it may grow by kRssSlackKib or kRssSlackPercent, whichever is
// more. A leak of 1 KiB per client crosses that within 10 000 clients.
constexpr long kRssSlackKib = 8 * 1024;
constexpr long kRssSlackPercent = 20;

const char kUsage[] =
    "usage: onem2m-soak --connect HOST:PORT --keystore FILE --key-id ID "
    "[options]\n";

const char kHelp[] =
    "\n"
    "Drives a running oneM2M TLS-PSK server with good clients (KeyID ID\n"
    "with its Root Key from FILE, every KDF version of --versions, TLS 1.2\n"
    "and 1.3) and hostile ones in equal shares: wrong Root Keys, unknown\n"
    "KeyIDs, garbage instead of a ClientHello, handshakes cut off half way,\n"
    "clients that stall (silent, half a record, one octet at a time), and\n"
    "TLS 1.3 ClientHellos with a ~64 KiB PSK identity. A burst of good\n"
    "clients opens its connections all at once. A good handshake that\n"
    "fails, or a hostile client the server accepts or keeps past its\n"
    "handshake timeout, is a failure.\n"
    "\n"
    "With --server-pid it samples the server's /proc entries at the start,\n"
    "after a warm-up and the burst, and after the run (each time once the\n"
    "server settled): the process must be alive, its open descriptors and\n"
    "threads back to their level at the start, its resident memory within\n"
    "max(8 MiB, 20%) of its level after the burst. The last line is\n"
    "\"N passed, M failed\", counting clients and server checks.\n"
    "HOST must be a loopback address (127.0.0.0/8 or ::1).\n"
    "\n"
    "options:\n"
    "  --connect HOST:PORT       the server ([::1]:PORT for IPv6)\n"
    "  --keystore FILE           keystore holding the good clients' key\n"
    "  --key-id ID               the good clients' KeyID\n"
    "  --handshakes N            clients in all (default 1000)\n"
    "  --hostile-percent P       share of hostile clients (default 20)\n"
    "  --concurrency C           clients running at once (default 64)\n"
    "  --burst B                 good clients opened at once (default 1000,\n"
    "                            at most half the good ones)\n"
    "  --versions LIST           KDF versions of good clients (default "
    "1,2,3)\n"
    "  --tls1_2, --tls1_3        good clients use only this protocol\n"
    "  --server-timeout SECONDS  the server's handshake timeout (default "
    "10)\n"
    "  --server-pid PID          sample this process's RSS, threads, fds\n"
    "  --seed S                  seed of the plan (default 1)\n"
    "  --max-seconds T           stop after T seconds (default 900)\n"
    "  --skip LIST               leave out hostile kinds, e.g. "
    "stall-trickle,garbage\n"
    "                            (wrong-key unknown-key-id garbage cut-off\n"
    "                            stall-silent stall-half-record "
    "stall-trickle\n"
    "                            huge-identity)\n"
    "\n"
    "Exit status: 0 when nothing failed, 1 otherwise, 2 wrong command "
    "line.\n";

struct Options {
  std::string host;
  int port = 0;
  std::string keystore;
  std::string key_id;
  long handshakes = 1000;
  long hostile_percent = 20;
  long concurrency = 64;
  long burst = 1000;
  VersionSet versions = VersionBit(1) | VersionBit(2) | VersionBit(3);
  bool tls12 = true;
  bool tls13 = true;
  long server_timeout_s = 10;
  pid_t server_pid = 0;
  uint64_t seed = 1;
  long max_seconds = 900;
  std::vector<ClientKind> hostile_kinds{kHostileKinds.begin(),
                                        kHostileKinds.end()};
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "onem2m-soak: %s\n%s", message.c_str(), kUsage);
  return kExitUsage;
}

// ParseNumber parses a whole decimal number within [low, high].
std::optional<long> ParseNumber(const std::string& text, long low, long high) {
  if (text.empty() || text.size() > 12 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  long v = std::stol(text);
  return v >= low && v <= high ? std::optional<long>(v) : std::nullopt;
}

// SplitHostPort parses HOST:PORT or [V6]:PORT.
bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  *host = text.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  std::optional<long> p = ParseNumber(text.substr(colon + 1), 1, 65535);
  *port = p.value_or(0);
  return p.has_value() && !host->empty();
}

// ParseOptions fills |o| from argv; returns an exit code on a mistake.
std::optional<int> ParseOptions(int argc, char** argv, Options* o) {
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s%s", kUsage, kHelp);
      return kExitOk;
    }
    if (arg == "--tls1_2" || arg == "--tls1_3") {
      values[arg.substr(2)] = "";
      continue;
    }
    if (arg.compare(0, 2, "--") != 0) {
      return Usage("unexpected argument '" + arg + "'");
    }
    std::string name = arg.substr(2), value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Usage("--" + name + " needs a value");
    }
    values[name] = value;
  }

  for (const auto& [name, value] : values) {
    std::optional<long> n;
    if (name == "connect") {
      if (!SplitHostPort(value, &o->host, &o->port)) {
        return Usage("--connect takes HOST:PORT, e.g. 127.0.0.1:4433");
      }
      if (!IsLoopbackAddress(o->host)) {
        return Usage(
            "--connect takes a numeric loopback address "
            "(127.0.0.0/8 or [::1]): the soak never drives a "
            "server on another machine");
      }
    } else if (name == "keystore") {
      o->keystore = value;
    } else if (name == "key-id") {
      o->key_id = value;
    } else if (name == "handshakes") {
      if (!(n = ParseNumber(value, 1, 10000000))) {
        return Usage("--handshakes takes 1 to 10000000");
      }
      o->handshakes = *n;
    } else if (name == "hostile-percent") {
      if (!(n = ParseNumber(value, 0, 100))) {
        return Usage("--hostile-percent takes 0 to 100");
      }
      o->hostile_percent = *n;
    } else if (name == "concurrency") {
      if (!(n = ParseNumber(value, 1, 4096))) {
        return Usage("--concurrency takes 1 to 4096");
      }
      o->concurrency = *n;
    } else if (name == "burst") {
      if (!(n = ParseNumber(value, 0, 100000))) {
        return Usage("--burst takes 0 to 100000");
      }
      o->burst = *n;
    } else if (name == "versions") {
      std::optional<VersionSet> v = ParseVersionList(value);
      if (!v) {
        return Usage("--versions takes a list such as 1,2,3 of versions 0-3");
      }
      o->versions = *v;
    } else if (name == "tls1_2" || name == "tls1_3") {
      o->tls12 = name == "tls1_2";
      o->tls13 = name == "tls1_3";
    } else if (name == "server-timeout") {
      if (!(n = ParseNumber(value, 1, 9999))) {
        return Usage("--server-timeout takes seconds, 1 to 9999");
      }
      o->server_timeout_s = *n;
    } else if (name == "server-pid") {
      if (!(n = ParseNumber(value, 1, 1L << 30))) {
        return Usage("--server-pid takes a process id");
      }
      o->server_pid = static_cast<pid_t>(*n);
    } else if (name == "seed") {
      if (!(n = ParseNumber(value, 0, 1L << 40))) {
        return Usage("--seed takes a whole number");
      }
      o->seed = static_cast<uint64_t>(*n);
    } else if (name == "max-seconds") {
      if (!(n = ParseNumber(value, 1, 86400))) {
        return Usage("--max-seconds takes 1 to 86400");
      }
      o->max_seconds = *n;
    } else if (name == "skip") {
      for (size_t at = 0; at <= value.size();) {
        size_t comma = std::min(value.find(',', at), value.size());
        std::string kind = value.substr(at, comma - at);
        auto& kinds = o->hostile_kinds;
        auto it = std::find_if(kinds.begin(), kinds.end(), [&](ClientKind k) {
          return kind == KindOption(k);
        });
        if (it == kinds.end()) {
          return Usage("--skip: '" + kind +
                       "' is not a hostile kind still in the mix (see "
                       "--help)");
        }
        kinds.erase(it);
        at = comma + 1;
      }
    } else {
      return Usage("unknown option --" + name + " (see --help)");
    }
  }
  if (o->hostile_kinds.empty() && o->hostile_percent > 0) {
    return Usage("--skip leaves no hostile kind; use --hostile-percent 0");
  }
  if (values.count("tls1_2") != 0 && values.count("tls1_3") != 0) {
    return Usage("give --tls1_2 or --tls1_3, not both");
  }
  if (o->host.empty() || o->keystore.empty() || o->key_id.empty()) {
    return Usage("--connect, --keystore and --key-id are required");
  }
  return std::nullopt;
}

// Plan is every client of the run, in the order of its phases.
struct Plan {
  std::vector<Task> warm_up;  // good, before the first server sample
  std::vector<Task> mixed;    // good and hostile, shuffled
  std::vector<Task> burst;    // good, all at once
};

Plan MakePlan(const Options& o) {
  std::mt19937_64 rng(o.seed);
  std::vector<unsigned> versions;
  for (unsigned v = 0; v <= kMaxVersion; v++) {
    if ((o.versions & VersionBit(v)) != 0) {
      versions.push_back(v);
    }
  }
  auto task = [&](ClientKind kind) {
    Task t;
    t.kind = kind;
    t.tls13 = o.tls12 && o.tls13 ? rng() % 2 == 0 : o.tls13;
    t.version = versions[rng() % versions.size()];
    t.seed = rng();
    return t;
  };

  long hostile = (o.handshakes * o.hostile_percent + 50) / 100;
  long good = o.handshakes - hostile;
  long warm_up = std::min(100L, good / 10);
  long burst = std::min(o.burst, (good - warm_up) / 2);
  Plan plan;
  for (long i = 0; i < warm_up; i++) {
    plan.warm_up.push_back(task(ClientKind::kGood));
  }
  for (long i = 0; i < good - warm_up - burst; i++) {
    plan.mixed.push_back(task(ClientKind::kGood));
  }
  // Hostile kinds in equal shares, from a random first one.
  const std::vector<ClientKind>& kinds = o.hostile_kinds;
  size_t first = kinds.empty() ? 0 : rng() % kinds.size();
  for (long i = 0; i < hostile; i++) {
    plan.mixed.push_back(
        task(kinds[(first + static_cast<size_t>(i)) % kinds.size()]));
  }
  std::shuffle(plan.mixed.begin(), plan.mixed.end(), rng);
  for (long i = 0; i < burst; i++) {
    plan.burst.push_back(task(ClientKind::kGood));
  }
  return plan;
}

// Label names the row of the results table a client belongs to.
std::string Label(const Task& t, bool burst) {
  if (t.kind != ClientKind::kGood) {
    return KindName(t.kind);
  }
  std::string label = std::string("good TLS 1.") + (t.tls13 ? "3" : "2") +
                      " v" + std::to_string(t.version);
  return burst ? label + " (burst)" : label;
}

// Progress counts finished clients and prints every tenth of the run.
class Progress {
 public:
  Progress(long total, Clock::time_point start)
      : total_(total), start_(start) {}

  void Add(bool passed) {
    long done = ++done_;
    if (!passed) {
      failed_++;
    }
    long tenth = done * 10 / total_;
    if (tenth <= printed_tenth_.load()) {
      return;
    }
    std::lock_guard<std::mutex> lock(print_mutex_);
    if (tenth <= printed_tenth_.load()) {
      return;
    }
    printed_tenth_ = tenth;
    double s = std::chrono::duration<double>(Clock::now() - start_).count();
    std::printf("progress: %3ld%% %ld/%ld clients, %ld failed, %.1f s\n",
                tenth * 10, done, total_, failed_.load(), s);
    std::fflush(stdout);
  }

 private:
  const long total_;
  const Clock::time_point start_;
  std::atomic<long> done_{0};
  std::atomic<long> failed_{0};
  std::atomic<long> printed_tenth_{0};
  std::mutex print_mutex_;
};

// RunPool runs |tasks| on |concurrency| threads until done or |deadline|;
// clients not started by then fail as not run.
std::vector<Outcome> RunPool(const Target& target,
                             const std::vector<Task>& tasks, long concurrency,
                             Clock::time_point deadline, Progress* progress) {
  std::vector<Outcome> outcomes(tasks.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  long n = std::min<long>(concurrency, static_cast<long>(tasks.size()));
  for (long t = 0; t < n; t++) {
    threads.emplace_back([&] {
      for (;;) {
        size_t i = next++;
        if (i >= tasks.size()) {
          return;
        }
        if (Clock::now() >= deadline) {
          outcomes[i] = {false, "not run: --max-seconds reached", 0};
        } else {
          outcomes[i] = target.Run(tasks[i]);
        }
        progress->Add(outcomes[i].passed);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  return outcomes;
}

// Row is one line of the results table.
struct Row {
  long run = 0;
  long passed = 0;
  double total_ms = 0;
  double max_ms = 0;
  std::vector<std::string> failures;  // the first few reasons
};

void Tally(const std::vector<Task>& tasks, const std::vector<Outcome>& outs,
           bool burst, std::vector<std::string>* order,
           std::map<std::string, Row>* rows) {
  for (size_t i = 0; i < tasks.size(); i++) {
    std::string label = Label(tasks[i], burst);
    if (rows->count(label) == 0) {
      order->push_back(label);
    }
    Row& row = (*rows)[label];
    row.run++;
    row.passed += outs[i].passed;
    row.total_ms += outs[i].ms;
    row.max_ms = std::max(row.max_ms, outs[i].ms);
    if (!outs[i].passed && row.failures.size() < 3) {
      row.failures.push_back(outs[i].detail);
    }
  }
}

// Settle waits until |pid|'s descriptors and threads are back to |level|
// (hostile connections timed out, threads ended), at most |wait_ms| plus
// ten seconds, and returns the last sample.
ServerSample Settle(pid_t pid, const ServerSample& level, int wait_ms) {
  auto until = Clock::now() + std::chrono::milliseconds(wait_ms + 10000);
  ServerSample s = SampleServer(pid);
  while (s.alive && (s.fds > level.fds || s.threads > level.threads) &&
         Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s = SampleServer(pid);
  }
  return s;
}

void PrintSample(const char* when, const ServerSample& s) {
  std::printf("server %s: %s, RSS %ld KiB, %ld threads, %ld open fds\n", when,
              s.alive ? "alive" : "NOT RUNNING", s.rss_kib, s.threads, s.fds);
}

// Check records one server check as a pass or a failure.
struct Checks {
  long passed = 0;
  long failed = 0;
  void Add(bool ok, const std::string& what) {
    std::printf("  %-66s %s\n", what.c_str(), ok ? "ok" : "FAILED");
    (ok ? passed : failed)++;
  }
};

int Run(const Options& o) {
  signal(SIGPIPE, SIG_IGN);
  // A burst needs a descriptor per connection.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_open(o.keystore.c_str());
  if (ks == nullptr) {
    std::fprintf(stderr, "onem2m-soak: cannot load keystore %s\n",
                 o.keystore.c_str());
    return kExitFailed;
  }
  Target target;
  std::string error;
  bool built =
      target.Build(o.host, o.port, ks, o.key_id, o.versions,
                   static_cast<int>(o.server_timeout_s * 1000), &error);
  ONEM2M_KEYSTORE_free(ks);
  if (!built) {
    std::fprintf(stderr, "onem2m-soak: %s\n", error.c_str());
    return kExitFailed;
  }

  Plan plan = MakePlan(o);
  long hostile =
      std::count_if(plan.mixed.begin(), plan.mixed.end(),
                    [](const Task& t) { return t.kind != ClientKind::kGood; });
  std::printf(
      "onem2m-soak: %ld clients to %s:%d: %ld good (%s, KDF versions %s), "
      "%ld hostile (%ld%%); concurrency %ld, burst %zu, seed %llu\n",
      o.handshakes, o.host.c_str(), o.port, o.handshakes - hostile,
      o.tls12 && o.tls13 ? "TLS 1.2 and 1.3"
      : o.tls13          ? "TLS 1.3"
                         : "TLS 1.2",
      FormatVersionSet(o.versions).c_str(), hostile, o.hostile_percent,
      o.concurrency, plan.burst.size(),
      static_cast<unsigned long long>(o.seed));
  std::printf(
      "onem2m-soak: the server's handshake timeout is %ld s; a hostile "
      "client it keeps longer than %.0f s is a failure\n",
      o.server_timeout_s, target.wait_ms() / 1000.0);
  std::fflush(stdout);

  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(o.max_seconds);
  Progress progress(o.handshakes, start);
  ServerSample at_start;
  if (o.server_pid != 0) {
    at_start = SampleServer(o.server_pid);
    PrintSample("at the start", at_start);
  }

  // Warm up, burst, and let the server settle: its allocator caches and
  // thread stacks reach their plateau before memory is measured.
  std::vector<Outcome> warm_up =
      RunPool(target, plan.warm_up, o.concurrency, deadline, &progress);
  std::vector<Outcome> burst;
  if (!plan.burst.empty()) {
    std::printf("burst: %zu good clients connect at once\n", plan.burst.size());
    std::fflush(stdout);
    if (Clock::now() < deadline) {
      target.RunBurst(plan.burst, &burst);
    } else {
      burst.assign(plan.burst.size(),
                   Outcome{false, "not run: --max-seconds reached", 0});
    }
    for (const Outcome& out : burst) {
      progress.Add(out.passed);
    }
  }
  ServerSample before;
  if (o.server_pid != 0) {
    before = Settle(o.server_pid, at_start, target.wait_ms());
    PrintSample("after the warm-up and the burst", before);
  }

  // The mix of good and hostile clients.
  std::vector<Outcome> mixed =
      RunPool(target, plan.mixed, o.concurrency, deadline, &progress);
  double run_s = std::chrono::duration<double>(Clock::now() - start).count();

  // The table, one row per kind.
  std::vector<std::string> order;
  std::map<std::string, Row> rows;
  Tally(plan.warm_up, warm_up, false, &order, &rows);
  Tally(plan.mixed, mixed, false, &order, &rows);
  Tally(plan.burst, burst, true, &order, &rows);
  std::sort(order.begin(), order.end());
  long passed = 0, failed = 0;
  std::printf("\n%-28s %7s %7s %7s %9s %9s\n", "client kind", "run", "passed",
              "failed", "avg ms", "max ms");
  for (const std::string& label : order) {
    const Row& r = rows[label];
    std::printf("%-28s %7ld %7ld %7ld %9.1f %9.1f\n", label.c_str(), r.run,
                r.passed, r.run - r.passed, r.total_ms / r.run, r.max_ms);
    passed += r.passed;
    failed += r.run - r.passed;
  }
  for (const std::string& label : order) {
    for (const std::string& why : rows[label].failures) {
      std::printf("  failed: %s: %s\n", label.c_str(), why.c_str());
    }
  }
  std::printf("clients: %ld passed, %ld failed in %.1f s\n", passed, failed,
              run_s);

  // The server: still serving; with its PID, back to its starting level.
  std::printf("\nserver checks:\n");
  Checks checks;
  Task last;
  last.tls13 = o.tls13;
  for (unsigned v = 0; v <= kMaxVersion; v++) {
    if ((o.versions & VersionBit(v)) != 0) {
      last.version = v;
    }
  }
  Outcome answer = target.Run(last);
  checks.Add(answer.passed, "still answers a good client" +
                                (answer.passed ? "" : ": " + answer.detail));
  if (o.server_pid != 0) {
    // Let hostile connections time out and threads finish.
    ServerSample after = Settle(o.server_pid, at_start, target.wait_ms());
    PrintSample("after the run", after);
    long slack =
        std::max(kRssSlackKib, before.rss_kib * kRssSlackPercent / 100);
    checks.Add(after.alive,
               "process " + std::to_string(o.server_pid) + " alive");
    checks.Add(after.fds >= 0 && after.fds <= at_start.fds,
               "open fds back to start: " + std::to_string(at_start.fds) +
                   " -> " + std::to_string(after.fds) + " (tolerance 0)");
    checks.Add(after.threads >= 0 && after.threads <= at_start.threads,
               "threads back to start: " + std::to_string(at_start.threads) +
                   " -> " + std::to_string(after.threads) + " (tolerance 0)");
    checks.Add(after.rss_kib >= 0 && after.rss_kib <= before.rss_kib + slack,
               "RSS after the mix near its level before: " +
                   std::to_string(before.rss_kib) + " -> " +
                   std::to_string(after.rss_kib) + " KiB (tolerance +" +
                   std::to_string(slack) + " KiB)");
  } else {
    std::printf("  (no --server-pid: memory, threads and fds not sampled)\n");
  }

  double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("\nduration %.1f s; %ld clients and %ld server checks\n", total_s,
              passed + failed, checks.passed + checks.failed);
  std::printf("%ld passed, %ld failed\n", passed + checks.passed,
              failed + checks.failed);
  return failed + checks.failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace onem2m::soak

int main(int argc, char** argv) {
  onem2m::soak::Options options;
  if (std::optional<int> exit_code =
          onem2m::soak::ParseOptions(argc, argv, &options)) {
    return *exit_code;
  }
  try {
    return onem2m::soak::Run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "onem2m-soak: %s\n", e.what());
    return 1;
  }
}
