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
 *  - memory: for programs that provision keys themselves.
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
 * ONEM2M_KEYSTORE_load_file reads the keystore file |path|. It returns a new
 * keystore (free it with ONEM2M_KEYSTORE_free), or NULL with the reason on
 * the error queue: the file cannot be read, group or others may read or
 * write it, or a line is malformed (the error names the file and line).
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
 * ONEM2M_KEYSTORE_reload re-reads a file keystore. On any error it keeps
 * every key it had and returns 0; on success the new keys replace the old
 * ones at once for every later lookup.
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
