#include "server_probe.h"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace onem2m::soak {

namespace {

// StatusNumber returns the number after "|name|:" in a status line.
long StatusNumber(const std::string& line, const std::string& name) {
  if (line.compare(0, name.size() + 1, name + ":") != 0) {
    return -1;
  }
  return std::strtol(line.c_str() + name.size() + 1, nullptr, 10);
}

}  // namespace

ServerSample SampleServer(pid_t pid) {
  ServerSample s;
  std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream status(dir + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, 6, "State:") == 0) {
      // A zombie has exited; only its parent has not reaped it yet.
      s.alive = line.find('Z') == std::string::npos;
    }
    if (long v = StatusNumber(line, "VmRSS"); v >= 0) {
      s.rss_kib = v;
    }
    if (long v = StatusNumber(line, "Threads"); v >= 0) {
      s.threads = v;
    }
  }

  // Open descriptors: every entry but . and ..
  if (DIR* fd_dir = opendir((dir + "/fd").c_str())) {
    s.fds = 0;
    while (dirent* e = readdir(fd_dir)) {
      if (e->d_name[0] != '.') {
        s.fds++;
      }
    }
    closedir(fd_dir);
  }
  return s;
}

}  // namespace onem2m::soak
