// onem2m-psk connect: a oneM2M Originator (TLS-PSK client). Handshakes,
// says what was negotiated, shows the server's greeting if one arrives.

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "commands.h"
#include "dtls.h"
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

// VersionHint adds to a rejected PSK what the client cannot tell apart: a
// server refuses a KDF version (its own --versions, or a per-key limit
// such as a token's) exactly as it refuses a wrong key (spec section 7).
std::string VersionHint(SSL* ssl, bool pinned) {
  const char* failure = ONEM2M_PSK_get0_failure(ssl);
  if (pinned || failure == nullptr ||
      std::string_view(failure).rfind("PSK rejected by peer", 0) != 0) {
    return "";
  }
  return "; if the key is right, the server may refuse this KDF version: "
         "try a lower one with --version N";
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

// ToHexString writes |bytes| as lower-case hex.
std::string ToHexString(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// IsIpLiteral tells an IPv4 or IPv6 address from a DNS name.
bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// ServerName returns the SNI to send: --servername, or with --profile the
// host if it is a DNS name; "" for none. An IP host under the profile
// without --servername is a usage error (RFC 6066 section 3: SNI is never
// an IP literal), reported through |error|.
std::string ServerName(const ParsedArgs& args, const std::string& host,
                       std::string* error) {
  if (args.Has("servername")) {
    std::string name = args.Get("servername");
    if (name.empty() || IsIpLiteral(name)) {
      *error =
          "--servername takes a DNS name; SNI cannot be an IP address "
          "(RFC 6066 section 3)";
    }
    return name;
  }
  if (!args.Has("profile")) {
    return "";
  }
  if (IsIpLiteral(host)) {
    *error =
        "--profile onem2m sends Server Name Indication, which cannot be "
        "an IP address (RFC 6066 section 3): give --servername NAME "
        "for " +
        host;
    return "";
  }
  return host;
}

// CoapExchange sends a CON GET for |path| and prints the response: what a
// CoAP client over DTLS (the oneM2M CoAP binding) would see.
int CoapExchange(SSL* ssl, int fd, const std::string& path, int timeout_ms) {
  CoapMessage get;
  unsigned char random[6];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return FailWithErrors("cannot draw a message ID");
  }
  get.type = 0;     // CON
  get.code = 0x01;  // GET
  get.message_id = static_cast<uint16_t>(random[0] << 8 | random[1]);
  get.token.assign(reinterpret_cast<const char*>(random + 2), 4);
  std::string bytes = EncodeCoap(get, path);
  std::printf("coap request: CON GET mid=0x%04x token=%s\n", get.message_id,
              ToHexString(get.token).c_str());
  if (SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size())) <= 0) {
    return Fail("cannot send the CoAP request");
  }
  unsigned char buf[2048];
  int n = DtlsRead(ssl, fd, buf, sizeof(buf), timeout_ms);
  std::optional<CoapMessage> reply =
      n > 0 ? ParseCoap(buf, static_cast<size_t>(n)) : std::nullopt;
  if (!reply) {
    return Fail(n > 0 ? "the server's answer is not a CoAP message"
                      : "no CoAP response within the timeout");
  }
  static const char* const kTypes[] = {"CON", "NON", "ACK", "RST"};
  std::printf("coap response: %s %s mid=0x%04x token=%s content-format=%s\n",
              kTypes[reply->type], CoapCodeText(reply->code).c_str(),
              reply->message_id, ToHexString(reply->token).c_str(),
              reply->content_format
                  ? std::to_string(*reply->content_format).c_str()
                  : "-");
  std::printf(
      "server says:  %s%s", reply->payload.c_str(),
      !reply->payload.empty() && reply->payload.back() == '\n' ? "" : "\n");
  return kExitOk;
}

// ExplainDtlsFailure says why a DTLS handshake ended without success.
// DTLS drops records that fail their check instead of answering them with
// an alert (RFC 6347 section 4.1.2.7), so a server given a wrong key, or
// one that drops an unknown KeyID's decoy Finished, just stops answering.
std::string ExplainDtlsFailure(SSL* ssl, HandshakeEnd end, int timeout_s) {
  if (end == HandshakeEnd::kTimedOut) {
    if (const char* ours = ONEM2M_PSK_get0_failure(ssl)) {
      return ours;
    }
    return "no answer: possible PSK mismatch (nothing from the server that "
           "completed the handshake within " +
           std::to_string(timeout_s) +
           " s: a wrong Root Key or an unknown KeyID, or no DTLS server "
           "there)";
  }
  if (const char* ours = ONEM2M_PSK_get0_failure(ssl)) {
    return ours;
  }
  if (errno == ECONNREFUSED) {
    return "nothing listens on that UDP port (ICMP port unreachable)";
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

  bool dtls = args.Has("dtls");
  if (args.Has("coap-get") && !dtls) {
    return Usage("--coap-get needs --dtls");
  }
  // A wrong --profile first: the SNI rule below depends on it.
  if (std::string mistake = ProfileMistake(args); !mistake.empty()) {
    return Usage(mistake);
  }
  std::string sni_error;
  std::string server_name = ServerName(args, host, &sni_error);
  if (!sni_error.empty()) {
    return Usage(sni_error);
  }

  // Client SSL_CTX with the oneM2M layer attached.
  SslCtxPtr ctx(SSL_CTX_new(dtls ? DTLS_client_method() : TLS_client_method()));
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
  int fd = dtls ? ConnectUdp(host, port, &error)
                : Connect(host, port, *timeout_s * 1000, &error);
  if (fd < 0) {
    return Fail(error);
  }
  SslPtr ssl(SSL_new(ctx.get()));
  if (!dtls) {
    SetIoTimeout(fd, *timeout_s * 1000);
  }
  if (ssl == nullptr ||
      !(dtls ? SetConnectedDgramBio(ssl.get(), fd)
             : SSL_set_fd(ssl.get(), fd) == 1) ||
      (!server_name.empty() &&
       !SSL_set_tlsext_host_name(ssl.get(), server_name.c_str()))) {
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
  if (dtls) {
    // The whole handshake, retransmissions included, within --timeout.
    auto deadline = Clock::now() + std::chrono::seconds(*timeout_s);
    HandshakeEnd end = DtlsHandshake(ssl.get(), fd, false, deadline, nullptr);
    if (end != HandshakeEnd::kOk) {
      std::string why = ExplainDtlsFailure(ssl.get(), end, *timeout_s);
      close(fd);
      return Fail("handshake with " + args.positional[0] + " failed: " + why);
    }
  } else {
    int rc = SSL_connect(ssl.get());
    if (rc != 1) {
      std::string why = ExplainFailure(ssl.get(), rc) +
                        VersionHint(ssl.get(), args.Has("version"));
      close(fd);
      return Fail("handshake with " + args.positional[0] + " failed: " + why);
    }
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
  // (stock s_server does not). Over DTLS, our server waits half a second
  // for a CoAP request first.
  int status = kExitOk;
  if (args.Has("coap-get")) {
    status =
        CoapExchange(ssl.get(), fd, args.Get("coap-get"), *timeout_s * 1000);
  } else {
    char buf[512];
    int n = 0;
    if (dtls) {
      n = DtlsRead(ssl.get(), fd, reinterpret_cast<unsigned char*>(buf),
                   sizeof(buf) - 1, 2000);
    } else {
      SetIoTimeout(fd, 1000);
      n = SSL_read(ssl.get(), buf, sizeof(buf) - 1);
    }
    if (n > 0) {
      buf[n] = '\0';
      std::printf("server says:  %s%s", buf, buf[n - 1] == '\n' ? "" : "\n");
    } else {
      std::printf("server says:  (nothing within %d s)\n", dtls ? 2 : 1);
    }
  }
  ERR_clear_error();

  // The session, for --sess-in next time (TLS 1.3 tickets have arrived
  // with the greeting, or during the wait).
  if (args.Has("sess-out")) {
    SslSessionPtr session(SSL_get1_session(ssl.get()));
    if (session == nullptr || !SSL_SESSION_is_resumable(session.get())) {
      std::fprintf(stderr,
                   "onem2m-psk: warning: the server offered no resumable "
                   "session; %s not written\n",
                   args.Get("sess-out").c_str());
    } else if (IsOneOfTheInputs(args, "sess-out", args.Get("sess-out")) ||
               !WriteSessionPem(args.Get("sess-out"), session.get())) {
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
        {"keystore", true, "keystore file or pkcs11: URI holding our Root Key"},
        {"root-key-file", true,
         "our Root Key, hex or base64:..., mode 0600 (- for stdin)"},
        {"version", true, "pin KDF version 0-3 (default: negotiate)"},
        {"versions", true, "KDF versions allowed (default 1,2,3)"},
        {"timeout", true,
         "seconds to wait for the server (default 5); with --dtls the bound "
         "on the whole handshake, retransmissions included"},
        {"servername", true,
         "send this DNS name as SNI (with --profile onem2m: default the "
         "HOST if it is a name; required if HOST is an IP address)"},
        {"coap-get", true,
         "with --dtls: send a CoAP GET for PATH and print the response"},
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
      "connect --key-id ID (--keystore FILE|URI | --root-key-file FILE) "
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
      "--dtls handshakes in DTLS 1.2 over UDP, retransmitting on OpenSSL's\n"
      "doubling timer (1 s, 2 s, ...) until --timeout seconds (default 5)\n"
      "have passed in all. A DTLS server drops records that fail their\n"
      "check rather than sending an alert, so a wrong key or an unknown\n"
      "KeyID ends at that bound with 'no answer: possible PSK mismatch'.\n"
      "--coap-get PATH then sends a CoAP CON GET and prints 'coap\n"
      "request:', 'coap response:' (type, code, mid, token) and the\n"
      "payload as 'server says:'.\n"
      "--profile onem2m: only TS-0003 clause 10.2's suite, and SNI: the\n"
      "HOST if it is a DNS name, else --servername NAME, which the profile\n"
      "requires for an IP address (RFC 6066 forbids IP literals in SNI).\n\n"
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
