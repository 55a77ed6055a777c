// server_fuzzer: the client's side of a TLS handshake comes from the fuzzer
// and goes to a server SSL with the library attached (fuzz_server.h), so
// that OpenSSL's parsing hands whatever identities, extensions and flights
// the fuzzer makes to the library's ClientHello, TLS 1.3 find-session and
// TLS 1.2 PSK callbacks. Seeds: fuzz/corpus/server_fuzzer, real flights of
// our client written by record_client_flights.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_server.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (!onem2m::fuzz::InitFuzzServer()) {
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onem2m::fuzz::RunServerOnInput(data, size);
  return 0;
}
