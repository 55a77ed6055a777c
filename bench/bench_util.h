// What every benchmark of bench/ shares: clocks, the settings of a full or
// smoke run, the runner that interleaves the two sides of a comparison, the
// result table, and the keystore files and child processes the benchmarks
// set up for themselves.
//
// A machine with two cores shared with other work cannot give stable
// absolute times, so every target of issue 8 is a ratio, and both sides of
// a ratio are measured alternately in one process: in each round, a sample
// of A (at least 0.5 ms of handshakes, derivations or lookups), then one of
// B, then B then A, and so on, each timed in this thread's CPU time. A side's
// figure for the round is the median of its samples, which drops samples
// that another process interrupted (and left with cold caches); a figure
// in the table is the median over rounds, and a ratio the median of the
// per-round ratios, with a 95% confidence interval of that median.

#ifndef ONEM2M_BENCH_BENCH_UTIL_H_
#define ONEM2M_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace onem2m::bench {

// Settings are the sizes of one run: a full run for the table, or a smoke
// run that only proves every benchmark builds and works.
struct Settings {
  bool smoke = false;
  int kdf_rounds = 200;
  int handshake_rounds = 300;
  int64_t round_ns = 2'000'000;  // CPU time of one side in one round
  size_t large_keys = 1'000'000;
  size_t small_keys = 1'000;
  int keystore_rounds = 60;
  int contention_rounds = 16;
  int contention_phase_ms = 150;
  int serve_seconds = 5;
  int serve_clients = 8;
  std::string cli_path;      // onem2m-psk
  std::string loadgen_path;  // onem2m-loadgen
  std::string work_dir;      // keystore files (made and removed by main)
};

const Settings& GetSettings();
void SetSettings(const Settings& settings);

// ThreadCpuNs returns the CPU time this thread has used, in nanoseconds.
int64_t ThreadCpuNs();

// WallNs returns a monotonic clock in nanoseconds.
int64_t WallNs();

// Median returns the median of |values| (0 when empty).
double Median(std::vector<double> values);

// MedianInterval sets |*low| and |*high| to a 95% confidence interval of
// the median of |values|: the order statistics n/2 -+ 0.98 sqrt(n).
void MedianInterval(std::vector<double> values, double* low, double* high);

// CpuSnapshot is the machine's and this process's CPU use up to now.
struct CpuSnapshot {
  double machine_busy_s = 0;  // all CPUs, from /proc/stat
  double self_s = 0;          // this process and its waited-for children
  double wall_s = 0;
};
CpuSnapshot TakeCpuSnapshot();

// CoresSince returns the cores the machine kept busy since |start| and the
// share of them this process used, for saying what else was running.
void CoresSince(const CpuSnapshot& start, double* machine, double* self);

// ReadStatusKib returns a "Vm...:" field of /proc/self/status in KiB, or
// -1.
long ReadStatusKib(const char* field);

// A Batch runs |n| operations of one side and returns false on a failure
// (with its reason in |*error|).
using Batch = std::function<bool(int n, std::string* error)>;

struct Side {
  std::string name;
  Batch run;
  int ops_per_sample = 1;  // operations per timed sample, set by Calibrate
};

// PairedRunner times pairs of sides alternately (see the file comment).
class PairedRunner {
 public:
  // AddPair registers |a| against |b| and returns the pair's index.
  size_t AddPair(Side a, Side b);

  // Calibrate warms every side up, makes a timed sample at least 0.5 ms of
  // operations, and sizes each pair's rounds so that a side takes about
  // |round_ns| of CPU time per round (at least 5 samples). Returns false
  // with error() set on a failure.
  bool Calibrate(int64_t round_ns);

  // RunRound times each pair's samples alternately, a sample of a then
  // one of b, then b then a, and so on; a side's figure for the round is
  // the median of its samples, so that a sample that another process
  // interrupted does not move it.
  bool RunRound();

  struct Result {
    double a_ns = 0;        // median CPU ns per operation of a
    double b_ns = 0;        // the same of b
    double ratio = 0;       // median over rounds of a_ns / b_ns
    double ratio_low = 0;   // a 95% confidence interval of that median
    double ratio_high = 0;  // (distribution-free, from order statistics)
    size_t rounds = 0;
  };
  Result Get(size_t pair) const;

  const std::string& error() const { return error_; }

 private:
  // Sample times one sample of |side| and appends its CPU ns per op.
  bool Sample(Side& side, std::vector<double>* ns_per_op);

  struct Pair {
    Side a;
    Side b;
    int samples = 5;           // per side and round
    std::vector<double> a_ns;  // per round
    std::vector<double> b_ns;
  };
  std::vector<Pair> pairs_;
  std::string error_;
};

// Row is one line of the table that the benchmark command prints.
struct Row {
  std::string section;
  std::string figure;
  std::string value;      // ours, the provider, or the figure itself
  std::string reference;  // stock OpenSSL, the bare calls, or empty
  std::string ratio;
  std::string target;
  std::string holds;  // "yes", "NO", or empty when there is no target
};

void AddRow(Row row);

// AddNote adds a line printed under the table.
void AddNote(std::string note);

// PrintTable writes the rows as one aligned text table to stdout.
void PrintTable(const std::string& title);

// Formatting for table cells.
std::string FormatMicros(double ns);    // "53.1 µs"
std::string FormatNanos(double ns);     // "812 ns"
std::string FormatRatio(double ratio);  // "1.013"
// FormatRatioRange gives a ratio with its 95% interval: "1.013 (1.00-1.02)".
std::string FormatRatioRange(double ratio, double low, double high);
std::string Verdict(bool holds);  // "yes" / "NO"
std::string FormatDouble(double v, int decimals);

// KeyIdFor returns the KeyID of the |index|th key of the keystores the
// benchmarks make: "dev-0000042@fleet.example.com".
std::string KeyIdFor(size_t index);

// WriteKeystoreFile writes |count| keys with random 32-octet Root Keys to
// |path|, mode 0600. Returns false with |error| set on failure.
bool WriteKeystoreFile(const std::string& path, size_t count,
                       std::string* error);

// Spawn starts |argv| with stdout on a pipe (returned in |*stdout_fd|) and
// stderr on /dev/null. Returns the child's PID, or -1.
pid_t Spawn(const std::vector<std::string>& argv, int* stdout_fd);

// ReadLine reads one line from |fd| within |timeout_ms|; false on EOF or
// timeout.
bool ReadLine(int fd, int timeout_ms, std::string* line);

// ReadAllText reads |fd| to its end.
std::string ReadAllText(int fd);

// WaitChild waits up to |timeout_ms| for |pid| to exit, then kills that
// PID; returns its exit status as waitpid gives it.
int WaitChild(pid_t pid, int timeout_ms);

// FieldOf returns the value of "name=value" in a space-separated |line|,
// or "".
std::string FieldOf(const std::string& line, const std::string& name);

}  // namespace onem2m::bench

#endif  // ONEM2M_BENCH_BENCH_UTIL_H_
