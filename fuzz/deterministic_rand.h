// A RAND provider for fuzzing whose output depends only on how many octets
// were drawn since the last reset, so that the server under test answers
// the same input with the same bytes (a decoy PSK, ServerHello.random, key
// shares, tickets), and a recorded client flight, Finished included, stays
// valid when it is replayed. Never use it outside fuzz/.

#ifndef ONEM2M_FUZZ_DETERMINISTIC_RAND_H_
#define ONEM2M_FUZZ_DETERMINISTIC_RAND_H_

#include <openssl/types.h>

namespace onem2m::fuzz {

// InstallDeterministicRand makes every DRBG of the default library context
// (primary, public, private) the deterministic one, and loads the default
// provider beside it. It must run before anything draws random bytes from
// the default library context. Returns false when OpenSSL refuses.
bool InstallDeterministicRand();

// ResetDeterministicRand restarts the output stream from its beginning.
void ResetDeterministicRand();

}  // namespace onem2m::fuzz

#endif  // ONEM2M_FUZZ_DETERMINISTIC_RAND_H_
