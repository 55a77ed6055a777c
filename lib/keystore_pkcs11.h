// The PKCS#11 keystore: Root Keys are secret key objects of a token
// (CKA_SENSITIVE true, CKA_EXTRACTABLE false) and every PSK is derived in
// the token with C_Sign, one call per HMAC block of spec section 4. Root
// Key bytes never enter this process, except once when a key is imported.
//
// Properties:
//  - version 0 (PSK = Root Key) cannot be served from a token key, as the
//    key cannot be read: AllowedVersions never holds 0 and DerivePsk
//    answers kVersionNotAllowed for version 0;
//  - a token object has no versions= attribute: a key allows 1,2,3, less
//    what the token cannot compute with it (a token may refuse HMAC keys
//    shorter than the mechanism's minimum, CK_MECHANISM_INFO.ulMinKeySize:
//    SoftHSM2 wants 32 octets for HMAC-SHA-256 and 48 for HMAC-SHA-384, so
//    a 32-octet Root Key serves versions 1,2 and a 64-octet one 1,2,3);
//    a server narrows that with its own versions;
//  - a pool of up to |max_sessions| sessions lets handshakes derive in
//    parallel; one C_Login (user) serves them all, as PKCS#11 login state
//    belongs to the application;
//  - a token error fails the one derivation that met it (an error raised
//    with the CKR_ name); the session is dropped and a fresh one (with a
//    new login if the token forgot it) serves the next derivation;
//  - a wrong PIN fails the open, once: a refused login is never retried,
//    since tokens lock after a few failures.

#ifndef ONEM2M_LIB_KEYSTORE_PKCS11_H_
#define ONEM2M_LIB_KEYSTORE_PKCS11_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "keystore.h"
#include "pkcs11_uri.h"

namespace onem2m {

struct Pkcs11Options {
  // AllowPinValue: whether a pin-value attribute is accepted (the CLI
  // refuses it: its command line is visible to every user).
  bool allow_pin_value = true;
  // MaxSessions bounds the session pool (at least 1).
  size_t max_sessions = 4;
};

// Pkcs11Stats counts what the session pool did, for tests and benchmarks.
struct Pkcs11Stats {
  uint64_t sessions_opened = 0;  // C_OpenSession calls that succeeded
  size_t peak_in_use = 0;        // most sessions lent out at once
  uint64_t logins = 0;           // C_Login calls
};

// ImportEntry is one key for Pkcs11Keystore::Import.
struct ImportEntry {
  std::string key_id;
  const RootKeyEntry* key;
};

class Pkcs11Keystore : public Keystore {
 public:
  // Stats returns the session pool's counters.
  virtual Pkcs11Stats Stats() const = 0;

  // Import creates one token object per entry (C_CreateObject, generic
  // secret, sensitive, non-extractable, CKA_LABEL = CKA_ID = KeyID), all
  // or nothing: every entry is checked first (valid Root Key long enough
  // for the token's HMAC, a KeyID not on the token, no versions= narrower
  // than what the token would allow) and nothing is created if one fails.
  // Raises the reason and returns false on failure.
  virtual bool Import(const std::vector<ImportEntry>& entries) = 0;

  // Fingerprint returns Fingerprint() of the token key |key_id|, computed
  // in the token; "" with an error raised on failure.
  virtual std::string TokenFingerprint(std::string_view key_id) const = 0;
};

// MakePkcs11Keystore opens the token that |uri| names (module-path or
// ONEM2M_PKCS11_MODULE; pin-source, pin-value or ONEM2M_PKCS11_PIN), logs
// in and finds its keys: every secret key object, or the one that object=
// or id= names. Returns nullptr with the error raised.
std::unique_ptr<Pkcs11Keystore> MakePkcs11Keystore(
    const std::string& uri, const Pkcs11Options& options = {});

// Pkcs11ReturnName returns "CKR_PIN_INCORRECT" and the like, or
// "CKR_0x..." for a code it does not know.
std::string Pkcs11ReturnName(unsigned long rv);

}  // namespace onem2m

#endif  // ONEM2M_LIB_KEYSTORE_PKCS11_H_
