/*
 * onem2m/err.h: the library's reason codes on OpenSSL's error queue.
 *
 * Errors are raised where they happen, with a reason code below and a text
 * that says what to do, e.g.
 *   error:...:oneM2M PSK::keystore syntax:keys.txt:7: root key is not hex...
 * Test them with ERR_GET_LIB(e) == ONEM2M_get_error_library() and
 * ERR_GET_REASON(e). No error text ever holds key bytes.
 */
#ifndef ONEM2M_ERR_H
#define ONEM2M_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* ONEM2M_get_error_library returns the library code of our errors. */
int ONEM2M_get_error_library(void);

#define ONEM2M_R_INVALID_ARGUMENT 100     /* a NULL or out-of-range argument */
#define ONEM2M_R_INVALID_KEY_ID 101       /* KeyID breaks spec section 2 */
#define ONEM2M_R_INVALID_ROOT_KEY 102     /* length, all zero, bad encoding */
#define ONEM2M_R_KEYSTORE_SYNTAX 103      /* file:line: malformed line */
#define ONEM2M_R_KEYSTORE_DUPLICATE 104   /* file:line: KeyID seen before */
#define ONEM2M_R_KEYSTORE_PERMISSIONS 105 /* group or others may read */
#define ONEM2M_R_KEYSTORE_IO 106          /* cannot open or read the file */
#define ONEM2M_R_UNKNOWN_KEY_ID 107       /* the keystore has no such KeyID */
#define ONEM2M_R_VERSION_NOT_ALLOWED 108  /* policy refuses the version */
#define ONEM2M_R_NO_COMMON_VERSION 109    /* client and server share none */
#define ONEM2M_R_PROVIDER_UNAVAILABLE 110 /* the onem2m KDFs cannot load */
#define ONEM2M_R_DERIVATION_FAILED 111    /* the KDF failed */
#define ONEM2M_R_NO_PSK_CIPHER 112        /* the SSL_CTX enables no PSK suite */
#define ONEM2M_R_HASH_MISMATCH 113        /* TLS 1.3 suite hash != PSK hash */
#define ONEM2M_R_NOT_ATTACHED 114         /* SSL_CTX has no oneM2M state */
#define ONEM2M_R_WRONG_ROLE 115           /* a client call on a server ctx */
#define ONEM2M_R_NOT_SUPPORTED 116        /* e.g. reload of a memory store */
#define ONEM2M_R_INTERNAL_ERROR 117       /* allocation failure, exception */
#define ONEM2M_R_NOT_AUTHENTICATED 118    /* no oneM2M handshake completed */
#define ONEM2M_R_CONFIG 119               /* openssl.cnf onem2m_psk section */
#define ONEM2M_R_PKCS11_URI 120           /* malformed or refused pkcs11: URI */
#define ONEM2M_R_PKCS11_ERROR 121         /* a PKCS#11 call failed: CKR_ */
#define ONEM2M_R_PKCS11_LOGIN 122         /* the token refused the PIN */

#ifdef __cplusplus
}
#endif

#endif /* ONEM2M_ERR_H */
