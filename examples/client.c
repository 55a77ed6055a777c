/*
 * example_client: the smallest oneM2M Originator (TLS-PSK client).
 *
 *   example_client KEYSTORE KEY_ID PORT
 *
 * Connects to 127.0.0.1:PORT as KEY_ID, whose Root Key KEYSTORE holds,
 * and prints what the server says. The oneM2M part is the two ONEM2M_
 * calls marked below.
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

static int connect_to(int port) {
  struct sockaddr_in addr;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((unsigned short)port);
  if (connect(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0) {
    perror("connect");
    exit(1);
  }
  return fd;
}

int main(int argc, char** argv) {
  SSL_CTX* ctx;
  SSL* ssl;
  ONEM2M_KEYSTORE* ks;
  char buf[256];
  int n, fd;

  if (argc != 4) {
    fprintf(stderr, "usage: %s KEYSTORE KEY_ID PORT\n", argv[0]);
    return 2;
  }

  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_cipher_list(ctx, ONEM2M_PSK_TLS12_CIPHERS);

  /* (1) Load the keystore; (2) attach as KEY_ID. The library picks the KDF
   * version (the highest both sides allow) and derives the PSK. */
  ks = ONEM2M_KEYSTORE_open(argv[1]); /* a file or a pkcs11: URI */
  if (ks == NULL || !ONEM2M_PSK_attach_client(ctx, ks, argv[2])) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  ONEM2M_KEYSTORE_free(ks);

  fd = connect_to(atoi(argv[3]));
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    const char* why = ONEM2M_PSK_get0_failure(ssl);
    fprintf(stderr, "handshake failed: %s\n", why != NULL ? why : "");
    ERR_print_errors_fp(stderr);
    return 1;
  }
  printf("connected with %s, KDF version %d\n", SSL_get_version(ssl),
         ONEM2M_PSK_get_version(ssl));
  n = SSL_read(ssl, buf, sizeof(buf) - 1);
  if (n > 0) {
    buf[n] = '\0';
    printf("server says: %s", buf);
  }
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return 0;
}
