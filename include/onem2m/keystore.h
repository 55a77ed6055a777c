/*
 * onem2m/keystore.h: where Root Keys live.
 *
 * A keystore derives; it does not hand out Root Keys. The TLS code asks it
 * for the PSK of (KeyID, version) and never sees a Root Key, so that a
 * token that holds non-extractable keys can stand behind the same
 * interface. Two kinds exist today:
 *
 *  - a file (spec section 8): one "KeyID:RootKey[:attributes]" per line,
 *    mode 0600 or stricter; ONEM2M_KEYSTORE_reload re-reads it atomically;
 *  - memory: for programs that provision keys themselves;
 *  - a PKCS#11 token (RFC 7512 URI "pkcs11:token=...;object=..."): Root
 *    Keys are secret key objects that never leave the token (sensitive,
 *    non-extractable); every PSK is derived in the token with C_Sign, so
 *    KDF version 0 (PSK = Root Key) is refused for them.
 *
 * A keystore is reference counted and safe to use from many threads at
 * once, including while it reloads.
 */
#ifndef ONEM2M_KEYSTORE_H
#define ONEM2M_KEYSTORE_H

#include <stddef.h>

#include "onem2m/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onem2m_keystore_st ONEM2M_KEYSTORE;

/*
 * ONEM2M_KEYSTORE_open opens the keystore at |location|: a keystore file
 * path, or a PKCS#11 URI (RFC 7512) such as
 *   pkcs11:token=cse?module-path=/usr/lib/softhsm/libsofthsm2.so
 *     &pin-source=/etc/onem2m/pin
 * The URI's path attributes token, manufacturer, serial, model and slot-id
 * select one token; object= (CKA_LABEL) or id= (CKA_ID, percent-encoded)
 * select one key, and without them every secret key object is a Root Key
 * whose label is its KeyID. The module is module-path=, else the
 * environment variable ONEM2M_PKCS11_MODULE; the PIN is read from the file
 * pin-source= (a path or file: URI), else pin-value=, else the environment
 * variable ONEM2M_PKCS11_PIN. Prefer pin-source: a pin-value in a program's
 * arguments is visible to every user. The PIN is never logged.
 *
 * Returns a new keystore (free it with ONEM2M_KEYSTORE_free), or NULL with
 * the reason on the error queue: a file that cannot be read, is readable
 * by group or others, or has a malformed line (the error names the file
 * and line); a malformed URI (PKCS11_URI), a module or token that fails
 * (PKCS11_ERROR, with the CKR_ name), a refused PIN (PKCS11_LOGIN: the
 * login is tried once, never again, so that the token does not lock).
 */
ONEM2M_KEYSTORE* ONEM2M_KEYSTORE_open(const char* location);

/*
 * ONEM2M_KEYSTORE_load_file is ONEM2M_KEYSTORE_open: it reads the keystore
 * file |path|, or opens the token of a pkcs11: URI.
 */
ONEM2M_KEYSTORE* ONEM2M_KEYSTORE_load_file(const char* path);

/* ONEM2M_KEYSTORE_new_memory returns a new, empty in-memory keystore. */
ONEM2M_KEYSTORE* ONEM2M_KEYSTORE_new_memory(void);

/*
 * ONEM2M_KEYSTORE_add_key adds |key_id| with a copy of |root_key| to an
 * in-memory keystore, allowed for the KDF versions in |versions| (a set of
 * ONEM2M_VERSION_BIT; 0 means every version). Fails on an invalid KeyID, a
 * Root Key outside 16 to 64 octets or all zero, a KeyID already present,
 * or a file keystore.
 *
 * Warning: |root_key| is a long-term secret. The keystore keeps its own
 * copy and wipes it on removal and free; wipe yours (OPENSSL_cleanse).
 */
int ONEM2M_KEYSTORE_add_key(ONEM2M_KEYSTORE* ks, const char* key_id,
                            const unsigned char* root_key, size_t root_key_len,
                            unsigned int versions);

/* ONEM2M_KEYSTORE_remove_key removes and wipes |key_id|'s Root Key from an
 * in-memory keystore. Fails if it is not there. */
int ONEM2M_KEYSTORE_remove_key(ONEM2M_KEYSTORE* ks, const char* key_id);

/*
 * ONEM2M_KEYSTORE_reload re-reads a file keystore, or re-scans a token's
 * key objects. On any error it keeps every key it had and returns 0; on
 * success the new keys replace the old ones at once for every later lookup.
 */
int ONEM2M_KEYSTORE_reload(ONEM2M_KEYSTORE* ks);

/* ONEM2M_KEYSTORE_count returns the number of keys. */
size_t ONEM2M_KEYSTORE_count(const ONEM2M_KEYSTORE* ks);

/* ONEM2M_KEYSTORE_up_ref adds a reference; returns 1. */
int ONEM2M_KEYSTORE_up_ref(ONEM2M_KEYSTORE* ks);

/* ONEM2M_KEYSTORE_free drops a reference; the last one wipes every key. */
void ONEM2M_KEYSTORE_free(ONEM2M_KEYSTORE* ks);

#ifdef __cplusplus
}
#endif

#endif /* ONEM2M_KEYSTORE_H */
