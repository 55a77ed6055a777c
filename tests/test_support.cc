#include "test_support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace onem2m::testing {

namespace {

// A reader for the flat JSON of vectors.json: an array of objects whose
// values are strings or unsigned integers. Throws on anything else.
class FlatJsonReader {
 public:
  explicit FlatJsonReader(std::string text) : text_(std::move(text)) {}

  std::vector<std::map<std::string, std::string>> ReadArrayOfObjects() {
    std::vector<std::map<std::string, std::string>> out;
    Expect('[');
    if (Peek() == ']') {
      pos_++;
      return out;
    }
    for (;;) {
      out.push_back(ReadObject());
      char c = Next();
      if (c == ']') {
        return out;
      }
      if (c != ',') {
        throw std::runtime_error("vectors.json: expected , or ]");
      }
    }
  }

 private:
  std::map<std::string, std::string> ReadObject() {
    std::map<std::string, std::string> object;
    Expect('{');
    for (;;) {
      std::string key = ReadString();
      Expect(':');
      std::string value;
      if (Peek() == '"') {
        value = ReadString();
      } else {
        SkipSpace();
        while (pos_ < text_.size() && text_[pos_] >= '0' &&
               text_[pos_] <= '9') {
          value += text_[pos_++];
        }
        if (value.empty()) {
          throw std::runtime_error("vectors.json: unexpected value");
        }
      }
      object[key] = value;
      char c = Next();
      if (c == '}') {
        return object;
      }
      if (c != ',') {
        throw std::runtime_error("vectors.json: expected , or }");
      }
    }
  }

  std::string ReadString() {
    Expect('"');
    std::string s;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') {
        throw std::runtime_error("vectors.json: escapes are not expected");
      }
      s += text_[pos_++];
    }
    Expect('"');
    return s;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace((unsigned char)text_[pos_])) {
      pos_++;
    }
  }
  char Peek() {
    SkipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  char Next() {
    char c = Peek();
    pos_++;
    return c;
  }
  void Expect(char c) {
    if (Next() != c) {
      throw std::runtime_error(std::string("vectors.json: expected ") + c);
    }
  }

  std::string text_;
  size_t pos_ = 0;
};

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    off += static_cast<size_t>(n);
  }
}

[[noreturn]] void ExecChild(const std::vector<std::string>& argv,
                            const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env) {
    setenv(name.c_str(), value.c_str(), 1);
  }
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  execv(args[0], args.data());
  fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
  _exit(127);
}

}  // namespace

std::string KnownAnswer::Name() const {
  std::string id;
  for (char c : key_id) {
    id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return "v" + std::to_string(version) + "_" + id + "_root" +
         std::to_string(root_key_hex.size() / 2);
}

std::vector<KnownAnswer> LoadKnownAnswersFrom(const std::string& path) {
  FlatJsonReader reader(ReadFile(path));
  std::vector<KnownAnswer> out;
  for (auto& o : reader.ReadArrayOfObjects()) {
    KnownAnswer ka;
    ka.version = static_cast<unsigned>(std::stoul(o.at("version")));
    ka.root_key_hex = o.at("root_key");
    ka.key_id = o.at("key_id");
    ka.identity = o.at("identity");
    ka.psk_hex = o.at("psk");
    ka.originator_random_hex = o.at("originator_random");
    ka.receiver_random_hex = o.at("receiver_random");
    ka.master_key_hex = o.at("master_key");
    ka.session_hash_hex = o.at("session_hash");
    ka.extended_master_key_hex = o.at("extended_master_key");
    out.push_back(ka);
  }
  return out;
}

std::vector<KnownAnswer> LoadKnownAnswers() {
  return LoadKnownAnswersFrom(SourceDir() + "/tests/vectors/vectors.json");
}

std::vector<unsigned char> FromHex(const std::string& hex) {
  if (hex.size() % 2 != 0) {
    throw std::invalid_argument("odd-length hex");
  }
  std::vector<unsigned char> out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(
        static_cast<unsigned char>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string ToHex(const unsigned char* data, size_t len) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < len; i++) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

std::string ToHex(const std::vector<unsigned char>& data) {
  return ToHex(data.data(), data.size());
}

ScopedTempDir::ScopedTempDir() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "onem2m-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = tmpl;
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ScopedTempDir::WriteFile(const std::string& name,
                                     const std::string& content,
                                     unsigned mode) const {
  std::string full = path_ + "/" + name;
  int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot create " + full);
  }
  WriteAll(fd, content);
  fchmod(fd, mode);
  close(fd);
  return full;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::string& input,
                         std::chrono::milliseconds timeout,
                         const std::map<std::string, std::string>& env) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    ExecChild(argv, env);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);

  // Feed stdin from a thread so that a child that writes a lot before it
  // reads cannot deadlock us.
  std::thread feeder([fd = in_pipe[1], input] {
    signal(SIGPIPE, SIG_IGN);
    WriteAll(fd, input);
    close(fd);
  });

  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      char buf[4096];
      ssize_t r = read(fds[i].fd, buf, sizeof(buf));
      if (r <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(r));
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) {
      close(f.fd);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  feeder.join();
  if (!result.timed_out && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

BackgroundProcess::BackgroundProcess(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env) {
  out_path_ = dir_.path() + "/stdout";
  err_path_ = dir_.path() + "/stderr";
  int out_fd = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err_fd = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int in_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    ExecChild(argv, env);
  }
  close(out_fd);
  close(err_fd);
  close(in_pipe[0]);
  stdin_fd_ = in_pipe[1];
}

BackgroundProcess::~BackgroundProcess() {
  Stop();
  if (stdin_fd_ >= 0) {
    close(stdin_fd_);
  }
}

bool BackgroundProcess::WaitForOutput(const std::string& needle,
                                      std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Output().find(needle) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string BackgroundProcess::Output() const {
  std::string all;
  try {
    all = ReadFile(out_path_) + ReadFile(err_path_);
  } catch (const std::exception&) {
  }
  return all;
}

bool BackgroundProcess::Running() {
  if (reaped_) {
    return false;
  }
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return false;
  }
  return true;
}

int BackgroundProcess::Stop() {
  if (pid_ <= 0 || reaped_) {
    return status_;
  }
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100 && Running(); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!reaped_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    status_ = -1;
  }
  return status_;
}

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) {
      end = dirs.size();
    }
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

std::string SourceDir() { return ONEM2M_SOURCE_DIR; }
std::string ModulesDir() { return ONEM2M_MODULES_DIR; }
std::string OpensslBin() { return ONEM2M_OPENSSL_BIN; }
std::string CliBin() { return ONEM2M_CLI_BIN; }

}  // namespace onem2m::testing
