#include "bench_util.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

extern char** environ;

namespace onem2m::bench {

namespace {

Settings settings;

std::mutex table_mutex;
std::vector<Row> rows;
std::vector<std::string> notes;

int64_t ClockNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// DisplayWidth counts the characters of UTF-8 |s| (not its octets), so that
// "µs" and "≤" line up.
size_t DisplayWidth(const std::string& s) {
  size_t width = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) {
      width++;
    }
  }
  return width;
}

std::string Pad(const std::string& s, size_t width) {
  return s + std::string(width - std::min(width, DisplayWidth(s)), ' ');
}

}  // namespace

const Settings& GetSettings() { return settings; }
void SetSettings(const Settings& s) { settings = s; }

int64_t ThreadCpuNs() { return ClockNs(CLOCK_THREAD_CPUTIME_ID); }
int64_t WallNs() { return ClockNs(CLOCK_MONOTONIC); }

double Median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  double upper = values[mid];
  if (values.size() % 2 == 1) {
    return upper;
  }
  double lower = *std::max_element(values.begin(), values.begin() + mid);
  return (lower + upper) / 2;
}

void MedianInterval(std::vector<double> values, double* low, double* high) {
  *low = *high = 0;
  if (values.empty()) {
    return;
  }
  std::sort(values.begin(), values.end());
  double n = static_cast<double>(values.size());
  double half = 0.98 * std::sqrt(n);
  auto at = [&](double i) {
    long k = std::lround(i);
    k = std::max(0L, std::min(k, static_cast<long>(values.size()) - 1));
    return values[static_cast<size_t>(k)];
  };
  *low = at(n / 2 - half - 0.5);
  *high = at(n / 2 + half - 0.5);
}

CpuSnapshot TakeCpuSnapshot() {
  CpuSnapshot s;
  s.wall_s = static_cast<double>(WallNs()) / 1e9;
  rusage self{};
  rusage children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  s.self_s = seconds(self.ru_utime) + seconds(self.ru_stime) +
             seconds(children.ru_utime) + seconds(children.ru_stime);

  // "cpu  user nice system idle iowait irq softirq steal ..." in ticks.
  FILE* f = std::fopen("/proc/stat", "r");
  if (f != nullptr) {
    unsigned long long v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
      double busy = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6]);
      s.machine_busy_s = busy / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    std::fclose(f);
  }
  return s;
}

void CoresSince(const CpuSnapshot& start, double* machine, double* self) {
  CpuSnapshot now = TakeCpuSnapshot();
  double wall = std::max(1e-9, now.wall_s - start.wall_s);
  *machine = (now.machine_busy_s - start.machine_busy_s) / wall;
  *self = (now.self_s - start.self_s) / wall;
}

long ReadStatusKib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) {
    return -1;
  }
  char line[256];
  long kib = -1;
  size_t len = std::strlen(field);
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, field, len) == 0) {
      kib = std::strtol(line + len, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

// PairedRunner ---------------------------------------------------------------

size_t PairedRunner::AddPair(Side a, Side b) {
  Pair pair;
  pair.a = std::move(a);
  pair.b = std::move(b);
  pairs_.push_back(std::move(pair));
  return pairs_.size() - 1;
}

bool PairedRunner::Calibrate(int64_t round_ns) {
  constexpr int64_t kMinSampleNs = 500'000;
  for (Pair& pair : pairs_) {
    double slowest = 0;
    for (Side* side : {&pair.a, &pair.b}) {
      // Warm up (first fetches, caches), then time growing batches.
      if (!side->run(2, &error_)) {
        error_ = side->name + ": " + error_;
        return false;
      }
      int n = 1;
      int64_t spent = 0;
      for (;;) {
        int64_t start = ThreadCpuNs();
        if (!side->run(n, &error_)) {
          error_ = side->name + ": " + error_;
          return false;
        }
        spent = ThreadCpuNs() - start;
        if (spent >= 4 * kMinSampleNs || n >= (1 << 20)) {
          break;
        }
        n *= 2;
      }
      double per_op = static_cast<double>(spent) / n;
      side->ops_per_sample =
          std::max(1, static_cast<int>(std::ceil(kMinSampleNs / per_op)));
      slowest = std::max(slowest, per_op * side->ops_per_sample);
    }
    pair.samples =
        std::max(5, static_cast<int>(static_cast<double>(round_ns) / slowest));
  }
  return true;
}

bool PairedRunner::Sample(Side& side, std::vector<double>* ns_per_op) {
  int64_t start = ThreadCpuNs();
  if (!side.run(side.ops_per_sample, &error_)) {
    error_ = side.name + ": " + error_;
    return false;
  }
  int64_t spent = ThreadCpuNs() - start;
  ns_per_op->push_back(static_cast<double>(spent) / side.ops_per_sample);
  return true;
}

bool PairedRunner::RunRound() {
  for (Pair& pair : pairs_) {
    std::vector<double> a;
    std::vector<double> b;
    for (int i = 0; i < pair.samples; i++) {
      bool ok = i % 2 == 0 ? Sample(pair.a, &a) && Sample(pair.b, &b)
                           : Sample(pair.b, &b) && Sample(pair.a, &a);
      if (!ok) {
        return false;
      }
    }
    pair.a_ns.push_back(Median(a));
    pair.b_ns.push_back(Median(b));
  }
  return true;
}

PairedRunner::Result PairedRunner::Get(size_t index) const {
  const Pair& pair = pairs_.at(index);
  Result r;
  r.rounds = std::min(pair.a_ns.size(), pair.b_ns.size());
  std::vector<double> ratios;
  for (size_t i = 0; i < r.rounds; i++) {
    ratios.push_back(pair.a_ns[i] / pair.b_ns[i]);
  }
  r.a_ns = Median(pair.a_ns);
  r.b_ns = Median(pair.b_ns);
  r.ratio = Median(ratios);
  MedianInterval(ratios, &r.ratio_low, &r.ratio_high);
  return r;
}

// The table -------------------------------------------------------------------

void AddRow(Row row) {
  std::lock_guard<std::mutex> lock(table_mutex);
  rows.push_back(std::move(row));
}

void AddNote(std::string note) {
  std::lock_guard<std::mutex> lock(table_mutex);
  notes.push_back(std::move(note));
}

void PrintTable(const std::string& title) {
  std::lock_guard<std::mutex> lock(table_mutex);
  const std::vector<std::string> header = {
      "section", "figure: A vs B", "A", "B", "A/B", "target", "holds"};
  std::vector<std::vector<std::string>> cells = {header};
  for (const Row& r : rows) {
    cells.push_back({r.section, r.figure, r.value, r.reference, r.ratio,
                     r.target, r.holds});
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); i++) {
      width[i] = std::max(width[i], DisplayWidth(line[i]));
    }
  }

  std::printf("%s\n\n", title.c_str());
  size_t total = 0;
  for (size_t w : width) {
    total += w + 2;
  }
  for (size_t n = 0; n < cells.size(); n++) {
    std::string text;
    for (size_t i = 0; i < cells[n].size(); i++) {
      text += Pad(cells[n][i], i + 1 < cells[n].size() ? width[i] + 2 : 0);
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    std::printf("%s\n", text.c_str());
    if (n == 0) {
      std::printf("%s\n", std::string(total - 2, '-').c_str());
    }
  }
  // Notes, wrapped at 78 columns.
  for (const std::string& note : notes) {
    std::printf("\n");
    std::string line;
    size_t start = 0;
    while (start < note.size()) {
      size_t end = note.find(' ', start);
      std::string word = note.substr(start, end - start);
      if (!line.empty() && DisplayWidth(line) + 1 + DisplayWidth(word) > 78) {
        std::printf("%s\n", line.c_str());
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
      start = end == std::string::npos ? note.size() : end + 1;
    }
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

std::string FormatDouble(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string FormatMicros(double ns) {
  double us = ns / 1000;
  return FormatDouble(us, us < 10 ? 2 : 1) + " µs";
}

std::string FormatNanos(double ns) { return FormatDouble(ns, 0) + " ns"; }

std::string FormatRatio(double ratio) { return FormatDouble(ratio, 3); }

std::string FormatRatioRange(double ratio, double low, double high) {
  return FormatRatio(ratio) + " (" + FormatDouble(low, 3) + "-" +
         FormatDouble(high, 3) + ")";
}

std::string Verdict(bool holds) { return holds ? "yes" : "NO"; }

// Keystore files
// ----------------------------------------------------------------

std::string KeyIdFor(size_t index) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "dev-%07zu@fleet.example.com", index);
  return buf;
}

bool WriteKeystoreFile(const std::string& path, size_t count,
                       std::string* error) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  FILE* f = fdopen(fd, "w");
  if (f == nullptr) {
    close(fd);
    *error = path + ": " + std::strerror(errno);
    return false;
  }

  // Random Root Keys, drawn 1024 at a time; the text is wiped as it goes.
  static const char kDigits[] = "0123456789abcdef";
  constexpr size_t kChunk = 1024;
  std::vector<unsigned char> keys(32 * kChunk);
  char line[160];
  bool ok = true;
  for (size_t i = 0; i < count && ok; i++) {
    if (i % kChunk == 0 &&
        RAND_bytes(keys.data(), static_cast<int>(keys.size())) != 1) {
      *error = "RAND_bytes failed";
      ok = false;
      break;
    }
    const unsigned char* key = keys.data() + 32 * (i % kChunk);
    std::string id = KeyIdFor(i);
    size_t n = id.size();
    std::memcpy(line, id.data(), n);
    line[n++] = ':';
    for (size_t j = 0; j < 32; j++) {
      line[n++] = kDigits[key[j] >> 4];
      line[n++] = kDigits[key[j] & 0x0f];
    }
    line[n++] = '\n';
    ok = std::fwrite(line, 1, n, f) == n;
  }
  OPENSSL_cleanse(keys.data(), keys.size());
  OPENSSL_cleanse(line, sizeof(line));
  if (std::fclose(f) != 0 || !ok) {
    if (error->empty()) {
      *error = path + ": write failed";
    }
    return false;
  }
  return true;
}

// Child processes ------------------------------------------------------------

pid_t Spawn(const std::vector<std::string>& argv, int* stdout_fd) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  *stdout_fd = fds[0];
  return pid;
}

bool ReadLine(int fd, int timeout_ms, std::string* line) {
  line->clear();
  int64_t deadline = WallNs() + int64_t{timeout_ms} * 1'000'000;
  for (;;) {
    int64_t left_ms = (deadline - WallNs()) / 1'000'000;
    if (left_ms <= 0) {
      return false;
    }
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left_ms)) != 1) {
      continue;
    }
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n <= 0) {
      return false;
    }
    if (c == '\n') {
      return true;
    }
    *line += c;
  }
}

std::string ReadAllText(int fd) {
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return text;
    }
    text.append(buf, static_cast<size_t>(n));
  }
}

int WaitChild(pid_t pid, int timeout_ms) {
  int status = 0;
  int64_t deadline = WallNs() + int64_t{timeout_ms} * 1'000'000;
  while (WallNs() < deadline) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      return status;
    }
    usleep(10'000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return status;
}

std::string FieldOf(const std::string& line, const std::string& name) {
  std::string key = name + "=";
  size_t pos = 0;
  while ((pos = line.find(key, pos)) != std::string::npos) {
    if (pos == 0 || line[pos - 1] == ' ') {
      size_t end = line.find(' ', pos);
      return line.substr(pos + key.size(), end == std::string::npos
                                               ? std::string::npos
                                               : end - pos - key.size());
    }
    pos += key.size();
  }
  return "";
}

}  // namespace onem2m::bench
