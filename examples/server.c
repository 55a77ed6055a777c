/*
 * example_server: the smallest oneM2M Receiver (TLS-PSK server).
 *
 *   example_server KEYSTORE PORT [COUNT]
 *
 * Listens on 127.0.0.1:PORT, authenticates COUNT clients (default: until
 * killed) with the Root Keys in KEYSTORE, and tells each one who it is.
 * Everything oneM2M-specific is the three ONEM2M_ calls marked below.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "onem2m/psk.h"

static int listen_on(int port) {
  struct sockaddr_in addr;
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((unsigned short)port);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0 ||
      listen(fd, 16) != 0) {
    perror("listen");
    exit(1);
  }
  return fd;
}

int main(int argc, char** argv) {
  SSL_CTX* ctx;
  ONEM2M_KEYSTORE* ks;
  int listen_fd, count, served;

  if (argc < 3) {
    fprintf(stderr, "usage: %s KEYSTORE PORT [COUNT]\n", argv[0]);
    return 2;
  }
  count = argc > 3 ? atoi(argv[3]) : -1;
  if (atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535) {
    fprintf(stderr, "%s: PORT must be 1 to 65535\n", argv[0]);
    return 2;
  }

  /* An ordinary TLS server context: TLS 1.2 (PSK suites, without OpenSSL's
   * NULL and SHA-1 ones) and TLS 1.3. */
  ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, ONEM2M_PSK_TLS12_CIPHERS);

  /* (1) Load the keystore; (2) attach: the SSL_CTX now authenticates
   * oneM2M clients. The SSL_CTX keeps its own reference to the keystore. */
  ks = ONEM2M_KEYSTORE_open(argv[1]); /* a file or a pkcs11: URI */
  if (ks == NULL || !ONEM2M_PSK_attach_server(ctx, ks)) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  ONEM2M_KEYSTORE_free(ks);

  listen_fd = listen_on(atoi(argv[2]));
  printf("listening on 127.0.0.1:%s\n", argv[2]);
  fflush(stdout);

  for (served = 0; count < 0 || served < count; served++) {
    char line[256];
    int fd = accept(listen_fd, NULL, NULL);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      /* (3) Who is the peer? The KeyID and KDF version it proved. */
      snprintf(line, sizeof(line), "hello %s (KDF version %d)\n",
               ONEM2M_PSK_get0_key_id(ssl), ONEM2M_PSK_get_version(ssl));
      printf("authenticated %s", line + 6);
      SSL_write(ssl, line, (int)strlen(line));
      SSL_shutdown(ssl);
    } else {
      const char* why = ONEM2M_PSK_get0_failure(ssl);
      printf("handshake failed: %s\n", why != NULL ? why : "see errors");
    }
    fflush(stdout);
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
  }
  close(listen_fd);
  SSL_CTX_free(ctx);
  return 0;
}
