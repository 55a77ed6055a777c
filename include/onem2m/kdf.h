/*
 * onem2m/kdf.h: names of the oneM2M provider and its KDFs.
 *
 * The provider "onem2m" (module file onem2m.so) exposes two EVP_KDF
 * algorithms, per the project contract (spec sections 4 to 6):
 *
 *   ONEM2M-PSK     Root Key + KeyID + version  -> PSK
 *   ONEM2M-MASTER  the same + both TLS randoms -> TLS 1.2 master secret
 *                  (or + session hash          -> extended master secret)
 *
 * Use them like any OpenSSL KDF:
 *
 *   EVP_KDF *kdf = EVP_KDF_fetch(libctx, ONEM2M_KDF_PSK, NULL);
 *   EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
 *   OSSL_PARAM params[] = {
 *       OSSL_PARAM_octet_string(ONEM2M_KDF_PARAM_KEY, root_key, root_len),
 *       OSSL_PARAM_construct_utf8_string(ONEM2M_KDF_PARAM_KEY_ID, key_id, 0),
 *       OSSL_PARAM_uint(ONEM2M_KDF_PARAM_VERSION, &version),
 *       OSSL_PARAM_END};
 *   EVP_KDF_derive(kctx, psk, psk_len, params);  psk_len must equal "size"
 *
 * Warning: the Root Key is a long-term secret. Pass it only from memory you
 * wipe afterwards (OPENSSL_cleanse), and free the context promptly: the
 * provider keeps a copy until EVP_KDF_CTX_reset or EVP_KDF_CTX_free.
 */
#ifndef ONEM2M_KDF_H
#define ONEM2M_KDF_H

/* The provider's name, for OSSL_PROVIDER_load and openssl.cnf. */
#define ONEM2M_PROVIDER_NAME "onem2m"

/* The KDF names (spec section 6). */
#define ONEM2M_KDF_PSK "ONEM2M-PSK"
#define ONEM2M_KDF_MASTER "ONEM2M-MASTER"

/* Settable parameters. */
#define ONEM2M_KDF_PARAM_KEY "key"         /* octet string */
#define ONEM2M_KDF_PARAM_KEY_ID "key-id"   /* UTF-8 string */
#define ONEM2M_KDF_PARAM_VERSION "version" /* unsigned integer */
#define ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM "originator-random" /* octets */
#define ONEM2M_KDF_PARAM_RECEIVER_RANDOM "receiver-random"     /* octets */
#define ONEM2M_KDF_PARAM_SESSION_HASH "session-hash"           /* octets */

/* Gettable parameters. */
#define ONEM2M_KDF_PARAM_SIZE "size"         /* size_t: output length */
#define ONEM2M_KDF_PARAM_IDENTITY "identity" /* UTF-8: the wire identity */

#endif /* ONEM2M_KDF_H */
