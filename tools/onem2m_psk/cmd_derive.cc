// onem2m-psk derive: the wire identity and PSK of one (KeyID, version), for
// peers that take a PSK directly (openssl s_client/s_server -psk).

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "kdf_fetch.h"
#include "onem2m/kdf.h"
#include "openssl_ptr.h"
#include "tls_state.h"

namespace onem2m::cli {
namespace {

// WriteSessionFile writes |psk| as a PEM TLS 1.3 session whose suite has
// version |v|'s hash: what `openssl s_client/s_server -psk_session` read.
// The file is created with mode 0600 (it holds the PSK).
bool WriteSessionFile(const std::string& path, const SecretBuffer& psk,
                      Version v) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  SslPtr ssl(ctx ? SSL_new(ctx.get()) : nullptr);
  SslSessionPtr session =
      ssl ? NewTls13PskSession(DefaultTls13Suite(ssl.get(), v), psk) : nullptr;
  if (session == nullptr) {
    FailWithErrors("cannot build the PSK session");
    return false;
  }
  return WriteSessionPem(path, session.get());
}

int RunDerive(const ParsedArgs& args) {
  if (!args.positional.empty()) {
    return Usage("derive takes no positional argument");
  }
  if (!args.Has("key-id") || !args.Has("version")) {
    return Usage("derive needs --key-id ID and --version N");
  }
  std::string key_id = args.Get("key-id");
  if (auto why = CheckKeyId(key_id)) {
    return Fail(*why);
  }
  std::optional<Version> v = ParseVersion(args.Get("version"));
  if (!v) {
    return Usage("--version takes 0, 1, 2 or 3");
  }
  ONEM2M_KEYSTORE* ks = OpenKeystore(args, key_id);
  if (ks == nullptr) {
    return kExitFailure;
  }
  std::unique_ptr<ONEM2M_KEYSTORE, void (*)(ONEM2M_KEYSTORE*)> owner(
      ks, ONEM2M_KEYSTORE_free);

  Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
  if (!kdf) {
    return FailWithErrors("the onem2m provider is unavailable");
  }
  SecretBuffer psk;
  if (!DeriveOrExplain(ks, kdf.get(), key_id, *v, &psk)) {
    return kExitFailure;
  }
  if (args.Has("session-out") &&
      (IsOneOfTheInputs(args, "session-out", args.Get("session-out")) ||
       !WriteSessionFile(args.Get("session-out"), psk, *v))) {
    return kExitFailure;
  }

  // The PSK is this command's output, for a peer that needs it raw.
  std::string hex;
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < psk.size(); i++) {
    hex += kHex[psk.data()[i] >> 4];
    hex += kHex[psk.data()[i] & 0xf];
  }
  std::printf("%s\n%s\n", EncodeIdentity(key_id, *v).c_str(), hex.c_str());
  OPENSSL_cleanse(hex.data(), hex.size());
  return kExitOk;
}

}  // namespace

const Command& DeriveCommand() {
  static const Command cmd = {
      "derive",
      "derive (--keystore FILE|URI | --root-key-file FILE) --key-id ID "
      "--version N [--session-out FILE]",
      "Prints the PSK identity on the first line and the PSK in hex on the\n"
      "second, for peers that take a PSK directly:\n"
      "  openssl s_client -psk_identity LINE1 -psk LINE2 ...\n"
      "Stock s_client and s_server use SHA-256 for a TLS 1.3 PSK; a version\n"
      "3 PSK (SHA-384) reaches them as a session file: --session-out FILE\n"
      "writes one (mode 0600) for -psk_session FILE with -psk_identity.\n"
      "Treat both outputs as secrets.",
      {
          {"keystore", true, "keystore file (spec section 8) or pkcs11: URI"},
          {"root-key-file", true,
           "one Root Key, hex or base64:..., mode 0600 (- for stdin)"},
          {"key-id", true, "the KeyID"},
          {"version", true, "KDF version 0, 1, 2 or 3"},
          {"session-out", true, "also write a PEM TLS 1.3 PSK session"},
      },
      RunDerive,
  };
  return cmd;
}

}  // namespace onem2m::cli
