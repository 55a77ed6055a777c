// Shared test helpers: the known answers of vectors.json, temporary files,
// child processes (the real openssl binary and our CLI) and build paths.

#ifndef ONEM2M_TESTS_TEST_SUPPORT_H_
#define ONEM2M_TESTS_TEST_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace onem2m::testing {

// KnownAnswer is one case of vectors.json (spec sections 3 to 5).
struct KnownAnswer {
  unsigned version;
  std::string root_key_hex;
  std::string key_id;
  std::string identity;
  std::string psk_hex;
  std::string originator_random_hex;
  std::string receiver_random_hex;
  std::string master_key_hex;
  std::string session_hash_hex;
  std::string extended_master_key_hex;
  // A readable name for parameterised tests: "v2_k_root32".
  std::string Name() const;
};

// LoadKnownAnswers reads tests/vectors/vectors.json (a copy of
// ../shared/spec/vectors.json, checked identical by a test).
std::vector<KnownAnswer> LoadKnownAnswers();
std::vector<KnownAnswer> LoadKnownAnswersFrom(const std::string& path);

std::vector<unsigned char> FromHex(const std::string& hex);
std::string ToHex(const unsigned char* data, size_t len);
std::string ToHex(const std::vector<unsigned char>& data);

// ScopedTempDir makes a fresh 0700 directory and removes it (recursively)
// when destroyed.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }
  // WriteFile writes |content| to path()/|name| with |mode|; returns the
  // full path.
  std::string WriteFile(const std::string& name, const std::string& content,
                        unsigned mode = 0600) const;

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);

// CommandResult is what a finished child process left.
struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// RunCommand runs |argv| (argv[0] a path) with |input| on stdin, waits up
// to |timeout|, kills it (by PID) if it runs longer.
CommandResult RunCommand(
    const std::vector<std::string>& argv, const std::string& input = "",
    std::chrono::milliseconds timeout = std::chrono::seconds(30),
    const std::map<std::string, std::string>& env = {});

// BackgroundProcess runs a child with stdout and stderr sent to files and
// a standard input that stays open (and empty) until it stops; the
// destructor kills it by PID (SIGTERM, then SIGKILL) and reaps it.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  // WaitForOutput polls stdout+stderr until |needle| appears or |timeout|.
  bool WaitForOutput(
      const std::string& needle,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  std::string Output() const;  // stdout then stderr so far
  bool Running();
  // Stop terminates the child and returns its exit status (or -1).
  int Stop();

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;  // kept open: some tools (s_server) quit on EOF
  ScopedTempDir dir_;
  std::string out_path_;
  std::string err_path_;
  bool reaped_ = false;
  int status_ = -1;
};

// FreeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment
// ago (bound with port 0, then closed).
int FreeLoopbackPort();

// FindProgram returns the full path of |name| on PATH, or "".
std::string FindProgram(const std::string& name);

// Paths of what the build made, and the real openssl binary.
std::string SourceDir();
std::string ModulesDir();
std::string OpensslBin();
std::string CliBin();

}  // namespace onem2m::testing

#endif  // ONEM2M_TESTS_TEST_SUPPORT_H_
