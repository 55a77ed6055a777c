// Raising the library's errors on OpenSSL's error queue (include/onem2m/err.h
// lists the reason codes). One error is raised where a failure happens;
// callers pass the failure on and do not raise again.

#ifndef ONEM2M_LIB_ERRORS_H_
#define ONEM2M_LIB_ERRORS_H_

#include "onem2m/err.h"

namespace onem2m {

// RaiseError pushes (reason, printf-style text) for library "oneM2M PSK",
// recording the caller's file and line. The text must hold no key bytes.
#define ONEM2M_RAISE(reason, ...) \
  ::onem2m::RaiseErrorAt(__FILE__, __LINE__, __func__, (reason), __VA_ARGS__)

void RaiseErrorAt(const char* file, int line, const char* func, int reason,
                  const char* fmt, ...) __attribute__((format(printf, 5, 6)));

}  // namespace onem2m

#endif  // ONEM2M_LIB_ERRORS_H_
