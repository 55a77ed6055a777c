/*
 * onem2m/psk.h: oneM2M symmetric-key authentication for any OpenSSL SSL_CTX.
 *
 * An application attaches the library to its SSL_CTX as a Receiver (TLS
 * server, a CSE) or as an Originator (TLS client, an AE or registree CSE).
 * The library then answers OpenSSL's PSK callbacks for TLS 1.2 and TLS 1.3:
 * it encodes and parses the identity "vN:KeyID", negotiates the KDF version,
 * asks the keystore to derive the PSK through the onem2m provider, applies
 * the server's policy, and records which KeyID and version authenticated
 * the peer.
 *
 * The same calls serve DTLS 1.2 (RFC 6347): attach an SSL_CTX made with
 * DTLS_server_method() or DTLS_client_method() (see "DTLS" below).
 *
 *   SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
 *   ONEM2M_KEYSTORE *ks = ONEM2M_KEYSTORE_load_file("/etc/onem2m/keys");
 *   if (ks == NULL || !ONEM2M_PSK_attach_server(ctx, ks))
 *       ERR_print_errors_fp(stderr);
 *   ONEM2M_KEYSTORE_free(ks);    (the SSL_CTX holds its own reference)
 *   ... SSL_accept() ...
 *   printf("peer %s, version %d\n", ONEM2M_PSK_get0_key_id(ssl),
 *          ONEM2M_PSK_get_version(ssl));
 *
 * Functions that return int return 1 on success and 0 on failure, with the
 * reason on OpenSSL's error queue (library "oneM2M PSK", reason codes
 * ONEM2M_R_* below), as OpenSSL's own functions do.
 */
#ifndef ONEM2M_PSK_H
#define ONEM2M_PSK_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "onem2m/keystore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bit sets of KDF versions (spec section 4): bit N is version N. */
#define ONEM2M_VERSION_BIT(v) (1u << (v))
/* A server's default: versions 1, 2 and 3; version 0 only when set. */
#define ONEM2M_VERSIONS_DEFAULT 0x0eu
#define ONEM2M_VERSIONS_ALL 0x0fu

/*
 * ONEM2M_PSK_TLS12_CIPHERS is a TLS 1.2 cipher list for
 * SSL_CTX_set_cipher_list: ECDHE-PSK first (forward secrecy), then plain
 * PSK, including TS-0003's mandatory TLS_PSK_WITH_AES_128_CBC_SHA256.
 * OpenSSL's own "PSK" alias is not safe on its own: it also selects
 * NULL-encryption and SHA-1 suites, and RSA-PSK, which needs a certificate.
 */
#define ONEM2M_PSK_TLS12_CIPHERS "ECDHEPSK:PSK:!kRSAPSK:!kDHEPSK:!eNULL:!SHA1"

/*
 * ONEM2M_PSK_DTLS12_CIPHERS is a DTLS 1.2 cipher list for
 * SSL_CTX_set_cipher_list: ECDHE-PSK first (forward secrecy), then the
 * suites of the CoAP binding: TLS_PSK_WITH_AES_128_CCM_8 (mandatory in
 * TS-0003 clause 10.2 and RFC 7252 section 9.1.3.1) and
 * TLS_PSK_WITH_AES_128_GCM_SHA256. No NULL and no SHA-1 suite. OpenSSL 3.0
 * has no ECDHE-PSK suite with GCM or CCM.
 */
#define ONEM2M_PSK_DTLS12_CIPHERS                            \
  "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:" \
  "ECDHE-PSK-AES256-CBC-SHA384:PSK-AES128-CCM8:PSK-AES128-GCM-SHA256"

/* Options for ONEM2M_PSK_CTX_set_options. */
/* Server: answer an unknown KeyID or a refused version openly
 * (unknown_psk_identity in TLS 1.2, a declined identity in TLS 1.3) instead
 * of with a decoy PSK that looks like a wrong key. */
#define ONEM2M_PSK_OPT_REVEAL_UNKNOWN 0x1u
/* Server: also accept TLS 1.3 psk_ke (no forward secrecy). Off by default:
 * psk_dhe_ke is required. */
#define ONEM2M_PSK_OPT_ALLOW_PSK_KE 0x2u

/*
 * ONEM2M_PSK_attach_server makes |ctx| a oneM2M Receiver that looks up
 * clients' KeyIDs in |ks|. It installs the TLS 1.2 PSK server callback and
 * identity hint, the TLS 1.3 find-session callback, a ClientHello callback
 * (to pick a TLS 1.3 suite whose hash matches the offered PSK) and an info
 * callback (for the handshake log; an info callback set earlier is still
 * called). It takes a reference on |ks|. It fails when the provider's KDF
 * cannot be fetched, or when |ctx| enables no PSK cipher suite.
 * Call it after SSL_CTX_set_cipher_list / SSL_CTX_set_ciphersuites.
 *
 * The KDF is fetched in the default library context. An SSL_CTX made with
 * SSL_CTX_new_ex needs ONEM2M_PSK_attach_server_ex with the same |libctx|
 * and |propq| (OpenSSL 3.0 has no getter for them). If the provider is not
 * loaded in that library context, the library loads its built-in copy
 * there, keeping the default provider available.
 */
int ONEM2M_PSK_attach_server(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks);
int ONEM2M_PSK_attach_server_ex(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks,
                                OSSL_LIB_CTX* libctx, const char* propq);

/*
 * ONEM2M_PSK_attach_client makes |ctx| a oneM2M Originator that
 * authenticates as |key_id|, whose Root Key |ks| holds. It installs the
 * TLS 1.2 PSK client callback and the TLS 1.3 use-session callback, and
 * restricts the TLS 1.3 suites to those whose hash matches the PSK of the
 * highest allowed (or pinned) version. It takes a reference on |ks|. It
 * fails on an invalid |key_id| (spec section 2), a KeyID that |ks| does not
 * hold, or a KDF that cannot be fetched.
 */
int ONEM2M_PSK_attach_client(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks,
                             const char* key_id);
int ONEM2M_PSK_attach_client_ex(SSL_CTX* ctx, ONEM2M_KEYSTORE* ks,
                                const char* key_id, OSSL_LIB_CTX* libctx,
                                const char* propq);

/*
 * ONEM2M_PSK_CTX_set_versions sets the KDF versions |ctx| allows (a set of
 * ONEM2M_VERSION_BIT). A server lists them in its TLS 1.2 hint; a client
 * picks the highest one the server also allows. Fails on an empty set, on
 * bits above version 3, or on a |ctx| that is not attached.
 */
int ONEM2M_PSK_CTX_set_versions(SSL_CTX* ctx, unsigned int versions);

/* ONEM2M_PSK_CTX_get_versions returns the allowed set, 0 if not attached. */
unsigned int ONEM2M_PSK_CTX_get_versions(const SSL_CTX* ctx);

/*
 * ONEM2M_PSK_CTX_pin_version makes a client use |version| only, whatever
 * the server's hint lists; -1 removes the pin. Fails on a server |ctx| or a
 * version outside 0 to 3.
 */
int ONEM2M_PSK_CTX_pin_version(SSL_CTX* ctx, int version);

/* ONEM2M_PSK_CTX_set_options sets ONEM2M_PSK_OPT_* flags (replacing them).*/
int ONEM2M_PSK_CTX_set_options(SSL_CTX* ctx, unsigned int options);

/*
 * ONEM2M_PSK_log_cb receives one line per handshake: peer address, KeyID,
 * version, protocol, suite, outcome, on a server the client's SNI if it sent
 * one, and, on failure, the reason. The line
 * never holds key bytes. It is called on the thread running the handshake.
 */
typedef void (*ONEM2M_PSK_log_cb)(const SSL* ssl, const char* line, void* arg);

/* ONEM2M_PSK_CTX_set_log_callback sets (or with NULL clears) the logger.
 * Logging is off until it is set. */
int ONEM2M_PSK_CTX_set_log_callback(SSL_CTX* ctx, ONEM2M_PSK_log_cb cb,
                                    void* arg);

/*
 * ONEM2M_PSK_log_failure writes |ssl|'s log line for a handshake that ended
 * without an alert (the peer closed the connection, a timeout), with
 * |reason| unless the library already knows a more precise one. It does
 * nothing if the line was written already or no logger is set.
 */
void ONEM2M_PSK_log_failure(const SSL* ssl, const char* reason);

/*
 * ONEM2M_PSK_get0_key_id returns the KeyID that authenticated the peer of
 * |ssl| (on a client: its own KeyID, once the server accepted it), or NULL
 * before a successful handshake. The string belongs to |ssl|.
 */
const char* ONEM2M_PSK_get0_key_id(const SSL* ssl);

/* ONEM2M_PSK_get_version returns the negotiated KDF version, or -1 before
 * a successful handshake. */
int ONEM2M_PSK_get_version(const SSL* ssl);

/*
 * ONEM2M_PSK_session_resumed returns 1 if |ssl|'s handshake resumed a
 * session (TLS 1.2 session ID or ticket, TLS 1.3 ticket) that an earlier
 * oneM2M handshake authenticated, else 0. A TLS 1.3 handshake with the
 * external PSK itself is not a resumption (OpenSSL's SSL_session_reused
 * says 1 for it).
 */
int ONEM2M_PSK_session_resumed(const SSL* ssl);

/*
 * ONEM2M_PSK_get0_failure returns, after a failed handshake, the library's
 * reason in words (for example "unknown KeyID" on a server, or "no common
 * KDF version: server allows 1,2, client allows 3" on a client), or NULL
 * when the library saw no failure of its own. The string belongs to |ssl|.
 */
const char* ONEM2M_PSK_get0_failure(const SSL* ssl);

/*
 * ONEM2M_PSK_export_keying_material writes |out_len| octets of keying
 * material for the application into |out|, derived from |ssl|'s handshake
 * by the TLS exporter (RFC 5705 for TLS 1.2, RFC 8446 section 7.5 for
 * TLS 1.3) with |label| and, when |context| is not NULL, the |context_len|
 * octets of |context|. Both ends of a connection that call it with the same
 * arguments get the same octets; another label, another context or another
 * connection gives unrelated ones. These are the oneM2M "other keys for
 * this connection" (spec section 1), separate from the record keys.
 *
 * Labels are ASCII strings agreed by both ends. The project uses:
 *   "EXPORTER-oneM2M-Connection"  a key bound to this connection, e.g. for
 *                                 an application-level MAC or a token;
 *   "EXPORTER-oneM2M-Resource"    with a resource or request identifier as
 *                                 |context|, a key per resource.
 * They are not in IANA's TLS Exporter Labels registry; RFC 5705 section 4
 * keeps the prefix "EXPERIMENTAL" for private labels. A NULL |context| and
 * an empty one give different keys in TLS 1.2 and the same in TLS 1.3.
 *
 * It returns 1 on success and 0 on failure: before |ssl| completed a
 * oneM2M handshake (ONEM2M_PSK_get_version(ssl) < 0) with
 * ONEM2M_R_NOT_AUTHENTICATED; on a NULL |ssl|, |out| or |label|, an empty
 * label, a zero |out_len|, a NULL |context| with a non-zero |context_len|,
 * or a label that begins with one of TLS's own PRF labels ("client
 * finished", "server finished", "master secret", "key expansion",
 * "extended master secret", RFC 5705 section 4 and RFC 7627) with
 * ONEM2M_R_INVALID_ARGUMENT. On failure |out| is zeroed.
 *
 * Warning: the output is a secret as strong as the session. Wipe it
 * (OPENSSL_cleanse) when done with it, and never log it.
 */
int ONEM2M_PSK_export_keying_material(SSL* ssl, unsigned char* out,
                                      size_t out_len, const char* label,
                                      const unsigned char* context,
                                      size_t context_len);

/*
 * DTLS.
 *
 * ONEM2M_PSK_attach_server on an SSL_CTX made with a DTLS method also sets
 * SSL_OP_COOKIE_EXCHANGE and installs its own cookie callbacks
 * (SSL_CTX_set_cookie_generate_cb / SSL_CTX_set_cookie_verify_cb; an
 * application must not replace them): a ClientHello without a valid cookie
 * gets a HelloVerifyRequest, smaller than the ClientHello, and no key work,
 * so a spoofed source address can make the server neither derive a PSK
 * nor amplify (RFC 6347 section 4.2.1). Use DTLSv1_listen on the listening
 * socket, then SSL_accept on the SSL it returns. The cookie is an
 * HMAC-SHA-256 over the client's address and port (from the datagram BIO,
 * else the socket's peer) with a random secret of the SSL_CTX that changes
 * every 5 minutes; a cookie made with the previous secret still verifies.
 * Cookies are compared in constant time.
 *
 * DTLS discards a record that fails its integrity check instead of
 * answering it with an alert, so a wrong key does not end the handshake:
 * the server waits and the client retransmits until one of them gives up.
 * The application bounds that wait (DTLSv1_get_timeout and
 * DTLSv1_handle_timeout on a non-blocking socket, with its own deadline).
 * ONEM2M_PSK_log_failure on a server then records "wrong Root Key (or the
 * client went away)" when the real PSK was derived, "unknown KeyID" for the
 * decoy, or the caller's reason.
 */

/*
 * ONEM2M_PSK_CTX_set_profile restricts |ctx| to the named profile. The only
 * profile is "onem2m", TS-0003 clause 10.2: on a TLS SSL_CTX, TLS 1.2 only
 * with TLS_PSK_WITH_AES_128_CBC_SHA256 (PSK-AES128-CBC-SHA256); on a DTLS
 * SSL_CTX, DTLS 1.2 only with TLS_PSK_WITH_AES_128_CCM_8 (PSK-AES128-CCM8).
 * It replaces the cipher list and the protocol range; call it before
 * SSL_CTX_set_cipher_list would be called, and before the attach call.
 * The clause also has the client send Server Name Indication: the
 * application does that with SSL_set_tlsext_host_name (a DNS name; RFC 6066
 * forbids IP literals), and a server reads it with
 * ONEM2M_PSK_get0_server_name. A server with the profile does not refuse a
 * client without SNI: a device that reaches its CSE by IP address cannot
 * send one. Returns 1, or 0 with ONEM2M_R_INVALID_ARGUMENT for a NULL
 * argument or an unknown name, ONEM2M_R_NO_PSK_CIPHER if OpenSSL lacks the
 * suite.
 */
int ONEM2M_PSK_CTX_set_profile(SSL_CTX* ctx, const char* name);

/*
 * ONEM2M_PSK_get0_server_name returns, on a server, the host_name the
 * client sent in its Server Name Indication (RFC 6066 section 3), as read
 * by the library's ClientHello callback, or NULL when it sent none (or one
 * that is not a DNS name). It is set from the ClientHello on, also for a
 * handshake that fails, and appears as "sni=NAME" in the log line. The
 * string belongs to |ssl|. (SSL_get_servername gives the same name once
 * OpenSSL has parsed the extension.)
 */
const char* ONEM2M_PSK_get0_server_name(const SSL* ssl);

/*
 * ONEM2M_PSK_client_hello_cb is the ClientHello callback that
 * ONEM2M_PSK_attach_server installs. An application that sets its own
 * callback with SSL_CTX_set_client_hello_cb must call this one from it and
 * honour its result (it also records the client's SNI).
 */
int ONEM2M_PSK_client_hello_cb(SSL* ssl, int* alert, void* arg);

/*
 * Configuration from openssl.cnf, without code for each setting.
 *
 * ONEM2M_PSK_config_module_add registers the configuration module
 * "onem2m_psk" with OpenSSL (CONF_module_add), as OpenSSL registers its own
 * modules. Call it once, before OpenSSL loads the configuration file
 * (CONF_modules_load_file, or OPENSSL_init_ssl with
 * OPENSSL_INIT_LOAD_CONFIG). Repeated calls do nothing. Returns 1, or 0 if
 * OpenSSL refuses the registration.
 *
 * The file then names a section of named configurations, each a section of
 * settings (openssl.cnf.sample shows and explains all of them):
 *
 *   [openssl_init]                      (or an application's own section,
 *   onem2m_psk = onem2m_psk_sect         see CONF_modules_load_file)
 *   [onem2m_psk_sect]
 *   cse = onem2m_cse
 *   [onem2m_cse]
 *   role = server                       server or client (required)
 *   keystore = /etc/onem2m/keys         keystore file (required)
 *   key_id = dev-0001@sp.example.com    client: the KeyID (required)
 *   versions = 1,2,3                    the KDF versions allowed
 *   pin_version = 3                     client: use this version only
 *   options = reveal_unknown            server: reveal_unknown, allow_psk_ke
 *
 * Loading the file checks every setting and loads every keystore; an
 * unknown setting, a bad value or a keystore that does not load fails the
 * whole module (all or nothing) with ONEM2M_R_CONFIG or the keystore's
 * reason, naming the section and quoting the line (OpenSSL keeps no line
 * numbers for values). OpenSSL's automatic loading ignores such failures
 * unless the file sets config_diagnostics = 1; the reason is then given
 * again by ONEM2M_PSK_attach_from_config.
 */
int ONEM2M_PSK_config_module_add(void);

/*
 * ONEM2M_PSK_attach_from_config attaches |ctx| with the configuration
 * |name| of the loaded onem2m_psk section: ONEM2M_PSK_attach_server or
 * ONEM2M_PSK_attach_client with its keystore (and key_id), then its
 * versions, pin_version and options. Returns 1 on success; 0 with
 * ONEM2M_R_CONFIG when no such configuration is loaded (the module was not
 * added before the file was loaded, the name is not in the section, or the
 * section failed to load: the error says which), or with the attach call's
 * reason. The SSL_CTX holds its own reference on the keystore, which stays
 * loaded until the configuration is unloaded (CONF_modules_unload) or
 * replaced by a new load. Call it after SSL_CTX_set_cipher_list, as the
 * attach calls. After a failure, discard |ctx|: it may be attached with
 * part of the configuration.
 */
int ONEM2M_PSK_attach_from_config(SSL_CTX* ctx, const char* name);

#ifdef __cplusplus
}
#endif

#endif /* ONEM2M_PSK_H */
