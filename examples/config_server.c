/*
 * config_server: example_server, configured from openssl.cnf.
 *
 *   config_server OPENSSL_CNF NAME PORT [COUNT]
 *
 * Loads OPENSSL_CNF as application "onem2m_app" (its [onem2m_app_init]
 * section; see openssl.cnf.sample), attaches as the onem2m_psk
 * configuration NAME (role, keystore, versions and options all come from
 * the file), then listens on 127.0.0.1:PORT and authenticates COUNT clients
 * (default: until killed). The oneM2M part is the calls marked below.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/conf.h>
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
  int listen_fd, count, served;

  if (argc < 4 || atoi(argv[3]) <= 0 || atoi(argv[3]) > 65535) {
    fprintf(stderr, "usage: %s OPENSSL_CNF NAME PORT [COUNT]\n", argv[0]);
    return 2;
  }
  count = argc > 4 ? atoi(argv[4]) : -1;

  /* (1) Register the library's configuration module, then (2) load the
   * file: every setting is checked and the keystore loaded here. */
  if (!ONEM2M_PSK_config_module_add() ||
      CONF_modules_load_file(argv[1], "onem2m_app", 0) <= 0) {
    ERR_print_errors_fp(stderr);
    return 1;
  }

  ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, ONEM2M_PSK_TLS12_CIPHERS);

  /* (3) One call attaches the SSL_CTX as configuration NAME. */
  if (!ONEM2M_PSK_attach_from_config(ctx, argv[2])) {
    ERR_print_errors_fp(stderr);
    return 1;
  }

  listen_fd = listen_on(atoi(argv[3]));
  printf("listening on 127.0.0.1:%s\n", argv[3]);
  fflush(stdout);

  for (served = 0; count < 0 || served < count; served++) {
    char line[256];
    int fd = accept(listen_fd, NULL, NULL);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      /* (4) The KeyID and KDF version the peer proved. */
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
