// onem2m-psk connect: a oneM2M Originator (TLS-PSK client). Handshakes,
// says what was negotiated, shows the server's greeting if one arrives.

#include <openssl/err.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "commands.h"
#include "net.h"
#include "onem2m/psk.h"
#include "openssl_ptr.h"

namespace onem2m::cli {
namespace {

// ParseSeconds parses a positive whole number of seconds (1 to 3600).
std::optional<int> ParseSeconds(const std::string& text) {
  if (text.empty() || text.size() > 4 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  int s = std::stoi(text);
  return s >= 1 && s <= 3600 ? std::optional<int>(s) : std::nullopt;
}

// ExplainFailure says why SSL_connect failed, in words a user can act on.
std::string ExplainFailure(SSL* ssl, int rc) {
  int err = SSL_get_error(ssl, rc);
  if (const char* ours = ONEM2M_PSK_get0_failure(ssl)) {
    return ours;
  }
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ||
      (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
    return "no answer: possible PSK mismatch (the server said nothing "
           "before the timeout)";
  }
  if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
    return "the server closed the connection during the handshake: is it a "
           "TLS-PSK server, and does it allow this protocol version?";
  }
  std::string detail = ErrorQueueText();
  return "handshake failed: " + (detail.empty() ? "unknown reason" : detail);
}

int RunConnect(const ParsedArgs& args) {
  if (args.positional.size() != 1) {
    return Usage("connect needs one HOST:PORT");
  }
  std::string host;
  int port = 0;
  if (!SplitHostPort(args.positional[0], &host, &port) || port == 0) {
    return Usage("connect needs HOST:PORT, e.g. 127.0.0.1:4433");
  }
  if (!args.Has("key-id")) {
    return Usage("connect needs --key-id ID");
  }
  std::string key_id = args.Get("key-id");
  if (auto why = CheckKeyId(key_id)) {
    return Fail(*why);
  }
  std::optional<int> timeout_s = ParseSeconds(args.Get("timeout", "5"));
  if (!timeout_s) {
    return Usage("--timeout takes seconds, 1 to 3600");
  }
  std::optional<Version> pinned;
  if (args.Has("version")) {
    pinned = ParseVersion(args.Get("version"));
    if (!pinned) {
      return Usage("--version takes 0, 1, 2 or 3");
    }
  }
  std::optional<VersionSet> versions;
  if (args.Has("versions")) {
    versions = ParseVersionList(args.Get("versions"));
    if (!versions) {
      return Usage("--versions takes a list such as 1,2,3 of versions 0-3");
    }
  }

  // Client SSL_CTX with the oneM2M layer attached.
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr || !ApplyProtocolOptions(ctx.get(), args)) {
    return ctx == nullptr ? FailWithErrors("cannot create SSL_CTX")
                          : kExitFailure;
  }
  ONEM2M_KEYSTORE* ks = OpenKeystore(args, key_id);
  if (ks == nullptr) {
    return kExitFailure;
  }
  bool configured = ONEM2M_PSK_attach_client(ctx.get(), ks, key_id.c_str());
  ONEM2M_KEYSTORE_free(ks);
  if (configured && versions) {
    configured = ONEM2M_PSK_CTX_set_versions(ctx.get(), *versions);
  }
  if (configured && pinned) {
    configured = ONEM2M_PSK_CTX_pin_version(ctx.get(), (int)*pinned);
  }
  if (!configured) {
    return FailWithErrors("cannot configure the client");
  }

  std::string error;
  int fd = Connect(host, port, *timeout_s * 1000, &error);
  if (fd < 0) {
    return Fail(error);
  }
  SetIoTimeout(fd, *timeout_s * 1000);
  SslPtr ssl(SSL_new(ctx.get()));
  if (ssl == nullptr || !SSL_set_fd(ssl.get(), fd)) {
    close(fd);
    return FailWithErrors("cannot create the connection");
  }
  if (args.Has("sess-in")) {
    SslSessionPtr saved(ReadSessionPem(args.Get("sess-in")));
    if (saved == nullptr) {
      close(fd);
      return kExitFailure;
    }
    SSL_set_session(ssl.get(), saved.get());
  }
  ERR_clear_error();
  int rc = SSL_connect(ssl.get());
  if (rc != 1) {
    std::string why = ExplainFailure(ssl.get(), rc);
    close(fd);
    return Fail("handshake with " + args.positional[0] + " failed: " + why);
  }

  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl.get());
  std::printf("connected to %s\n", args.positional[0].c_str());
  std::printf("protocol:     %s\n", SSL_get_version(ssl.get()));
  std::printf("suite:        %s\n", SSL_CIPHER_get_name(cipher));
  std::printf("key_id:       %s\n", ONEM2M_PSK_get0_key_id(ssl.get()));
  std::printf("kdf_version:  %d\n", ONEM2M_PSK_get_version(ssl.get()));
  std::printf("resumed:      %s\n",
              ONEM2M_PSK_session_resumed(ssl.get()) ? "yes" : "no");
  std::fflush(stdout);

  // A line of our own, for servers that only answer (an echo server).
  if (args.Has("send")) {
    std::string line = args.Get("send") + "\n";
    if (SSL_write(ssl.get(), line.data(), static_cast<int>(line.size())) <= 0) {
      close(fd);
      return FailWithErrors("cannot send to " + args.positional[0]);
    }
  }

  // A greeting, or the answer to --send, if the server sends one soon
  // (stock s_server does not).
  SetIoTimeout(fd, 1000);
  char buf[512];
  int n = SSL_read(ssl.get(), buf, sizeof(buf) - 1);
  if (n > 0) {
    buf[n] = '\0';
    std::printf("server says:  %s%s", buf, buf[n - 1] == '\n' ? "" : "\n");
  } else {
    std::printf("server says:  (nothing within 1 s)\n");
  }
  ERR_clear_error();

  // The session, for --sess-in next time (TLS 1.3 tickets have arrived
  // with the greeting, or during the wait).
  int status = kExitOk;
  if (args.Has("sess-out")) {
    SslSessionPtr session(SSL_get1_session(ssl.get()));
    if (session == nullptr || !SSL_SESSION_is_resumable(session.get())) {
      std::fprintf(stderr,
                   "onem2m-psk: warning: the server offered no resumable "
                   "session; %s not written\n",
                   args.Get("sess-out").c_str());
    } else if (!WriteSessionPem(args.Get("sess-out"), session.get())) {
      status = kExitFailure;
    }
  }
  SSL_shutdown(ssl.get());
  close(fd);
  return status;
}

}  // namespace

const Command& ConnectCommand() {
  static std::vector<OptionSpec> options = [] {
    std::vector<OptionSpec> o = {
        {"key-id", true, "our KeyID"},
        {"keystore", true, "keystore file holding our Root Key"},
        {"root-key-file", true,
         "our Root Key, hex or base64:..., mode 0600 (- for stdin)"},
        {"version", true, "pin KDF version 0-3 (default: negotiate)"},
        {"versions", true, "KDF versions allowed (default 1,2,3)"},
        {"timeout", true, "seconds to wait for the server (default 5)"},
        {"sess-out", true, "save the session to FILE (mode 0600)"},
        {"sess-in", true, "offer the session in FILE for resumption"},
        {"send", true, "write TEXT and a newline after the handshake"},
    };
    for (auto& p : ProtocolOptionSpecs()) {
      o.push_back(p);
    }
    return o;
  }();
  static const Command cmd = {
      "connect",
      "connect --key-id ID (--keystore FILE | --root-key-file FILE) "
      "HOST:PORT [options]",
      "Handshakes with a TLS-PSK server as KeyID ID and prints the protocol,\n"
      "suite and KDF version, and the server's greeting if one arrives\n"
      "within a second. In TLS 1.2 it picks the highest version that the\n"
      "server's hint and it both allow; in TLS 1.3 it offers its highest\n"
      "(or pinned) version. --sess-out saves the session and --sess-in\n"
      "offers it again; 'resumed:' says whether the server resumed it.\n"
      "--send TEXT writes a line first, for servers that only answer\n"
      "(gnutls-serv --echo): 'server says:' then shows the answer.\n"
      "HOST may be a name, an IPv4 address or [IPv6].\n\n"
      "Output, one field a line: 'connected to', 'protocol:', 'suite:',\n"
      "'key_id:', 'kdf_version:', 'resumed:', 'server says:'.\n"
      "Exits 1 with the reason if the handshake fails, for example\n"
      "'PSK rejected by peer (unknown identity or wrong key)', 'no answer:\n"
      "possible PSK mismatch', 'no common KDF version: server allows ...'.",
      options,
      RunConnect,
  };
  return cmd;
}

}  // namespace onem2m::cli
