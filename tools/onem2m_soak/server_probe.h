// What onem2m-soak watches of the server process: alive or not, resident
// memory, threads and open descriptors, read from /proc (Linux).

#ifndef ONEM2M_TOOLS_ONEM2M_SOAK_SERVER_PROBE_H_
#define ONEM2M_TOOLS_ONEM2M_SOAK_SERVER_PROBE_H_

#include <sys/types.h>

namespace onem2m::soak {

// ServerSample is one look at the server; -1 where a value was unreadable.
struct ServerSample {
  bool alive = false;  // the process exists and is not a zombie
  long rss_kib = -1;   // VmRSS of /proc/PID/status
  long threads = -1;   // Threads of /proc/PID/status
  long fds = -1;       // entries of /proc/PID/fd
};

// SampleServer reads |pid|'s /proc entries. Reading another user's fd
// directory needs privileges; run the soak as the server's user.
ServerSample SampleServer(pid_t pid);

}  // namespace onem2m::soak

#endif  // ONEM2M_TOOLS_ONEM2M_SOAK_SERVER_PROBE_H_
