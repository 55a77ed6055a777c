// onem2m-psk export: derived PSKs in the formats of the TLS-PSK peers users
// already run: GnuTLS's passwd.psk file (gnutls-serv --pskpasswd) and the
// identity and hex PSK that `openssl s_server -psk` takes.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "commands.h"
#include "kdf_fetch.h"
#include "onem2m/kdf.h"

namespace onem2m::cli {
namespace {

// An identity and a hex PSK take at most 128 + 128 octets (a 64-octet
// PSK); a GnuTLS line twice the identity, for its hex form.
constexpr size_t kMaxLineLength = 2 * kMaxIdentityLength + 2 * 64 + 8;

void AppendHex(const unsigned char* data, size_t len, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    *out += kHex[data[i] >> 4];
    *out += kHex[data[i] & 0xf];
  }
}

// AppendGnutlsIdentity writes the user name field of a GnuTLS passwd.psk
// line. The field ends at the first ':', so an identity holding one
// ("v2:KeyID") goes in GnuTLS's hex form, '#' and the hex of its octets, as
// psktool writes it; a version 0 identity (a bare KeyID) stays readable.
void AppendGnutlsIdentity(const std::string& identity, std::string* out) {
  if (identity.find(':') == std::string::npos) {
    *out += identity;
    return;
  }
  *out += '#';
  AppendHex(reinterpret_cast<const unsigned char*>(identity.data()),
            identity.size(), out);
}

// ChooseVersion picks the version to export for a key whose policy allows
// |allowed|: |requested| if given, else the highest allowed one other than
// 0 (version 0 hands the Root Key itself to the peer, so only on request).
std::optional<Version> ChooseVersion(const std::string& key_id,
                                     VersionSet allowed,
                                     std::optional<Version> requested) {
  if (requested) {
    if ((allowed & VersionBit(*requested)) == 0) {
      Fail("the keystore's versions= attribute for " + key_id +
           " does not allow version " + std::to_string(*requested) +
           " (it allows " + FormatVersionSet(allowed) + ")");
      return std::nullopt;
    }
    return requested;
  }
  VersionSet derived = allowed & ~VersionBit(0);
  if (derived == 0) {
    Fail(key_id +
         " allows only version 0, whose PSK is the Root Key itself: give "
         "--version 0 to export it anyway");
    return std::nullopt;
  }
  return HighestVersion(derived);
}

// WritePrivateFile writes |text| to |path| for its owner alone (mode 0600).
// A new file is created exclusively; an existing one is truncated only if
// it is a regular file of ours that group and others cannot open. A
// symbolic link is never followed.
bool WritePrivateFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(),
                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  bool created = fd >= 0;
  if (!created && errno == EEXIST) {
    fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  }
  if (fd < 0) {
    Fail("cannot write " + path + ": " + std::strerror(errno) +
         (errno == ELOOP ? " (it is a symbolic link; refusing to follow it)"
                         : ""));
    return false;
  }
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { close(*f); });

  // An existing file must already be private: truncating it would not take
  // back what others may have opened.
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    Fail("cannot check " + path + ": " + std::strerror(errno));
    return false;
  }
  if (!created) {
    if (!S_ISREG(st.st_mode)) {
      Fail("refusing to write to " + path + ": it is not a regular file");
      return false;
    }
    if (st.st_uid != geteuid()) {
      Fail("refusing to write to " + path + ": it belongs to another user");
      return false;
    }
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
      Fail("refusing to write PSKs to " + path + ": it has mode " + mode +
           ", which lets group or others read it; remove it or run chmod "
           "600 " +
           path);
      return false;
    }
    if (ftruncate(fd, 0) != 0) {
      Fail("cannot truncate " + path + ": " + std::strerror(errno));
      return false;
    }
  } else if (fchmod(fd, 0600) != 0) {
    Fail("cannot make " + path + " private: " + std::strerror(errno));
    unlink(path.c_str());
    return false;
  }

  // Write it all, then close: a short write leaves no half file behind.
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      Fail("cannot write " + path + ": " + std::strerror(errno));
      if (created) {
        unlink(path.c_str());
      }
      return false;
    }
    done += static_cast<size_t>(n);
  }
  closer.reset();
  return true;
}

int RunExport(const ParsedArgs& args) {
  if (!args.positional.empty()) {
    return Usage("export takes no positional argument");
  }
  std::string format = args.Get("format");
  if (format != "gnutls" && format != "s_server") {
    return Usage("export needs --format gnutls or --format s_server");
  }
  bool one_key = args.Has("key-id");
  if (!one_key && format == "s_server") {
    return Usage(
        "--format s_server exports one KeyID: give --key-id ID (for a "
        "whole keystore use --format gnutls)");
  }
  if (!one_key && args.Has("root-key-file")) {
    return Usage("--root-key-file needs --key-id ID (the KeyID of that key)");
  }
  std::string key_id = args.Get("key-id");
  if (one_key) {
    if (auto why = CheckKeyId(key_id)) {
      return Fail(*why);
    }
  }
  std::optional<Version> requested;
  if (args.Has("version")) {
    requested = ParseVersion(args.Get("version"));
    if (!requested) {
      return Usage("--version takes 0, 1, 2 or 3");
    }
  }
  ONEM2M_KEYSTORE* ks = OpenKeystore(args, key_id);
  if (ks == nullptr) {
    return kExitFailure;
  }
  std::unique_ptr<ONEM2M_KEYSTORE, void (*)(ONEM2M_KEYSTORE*)> owner(
      ks, ONEM2M_KEYSTORE_free);

  // The keys to export, each with the versions its policy allows.
  std::vector<std::pair<std::string, VersionSet>> keys;
  if (one_key) {
    std::optional<VersionSet> allowed = ks->impl->AllowedVersions(key_id);
    if (!allowed) {
      return Fail("the keystore has no KeyID " + key_id);
    }
    keys.emplace_back(key_id, *allowed);
  } else {
    for (const KeyInfo& k : ks->impl->List()) {
      keys.emplace_back(k.key_id, k.versions);
    }
    if (keys.empty()) {
      return Fail("the keystore holds no key: nothing to export");
    }
  }

  Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
  if (!kdf) {
    return FailWithErrors("the onem2m provider is unavailable");
  }

  // Derive every line before writing any, so that a refusal leaves no
  // partial output. The text holds PSKs: reserved once (no copies left
  // behind by growth) and wiped before it goes.
  std::string text;
  text.reserve(keys.size() * kMaxLineLength);
  std::unique_ptr<std::string, void (*)(std::string*)> wiper(
      &text, [](std::string* t) { OPENSSL_cleanse(t->data(), t->size()); });
  for (const auto& [id, allowed] : keys) {
    std::optional<Version> v = ChooseVersion(id, allowed, requested);
    if (!v) {
      return kExitFailure;
    }
    SecretBuffer psk;
    if (!DeriveOrExplain(ks, kdf.get(), id, *v, &psk)) {
      return kExitFailure;
    }
    std::string identity = EncodeIdentity(id, *v);
    if (format == "gnutls") {
      AppendGnutlsIdentity(identity, &text);
      text += ':';
    } else {
      text += identity + '\n';
    }
    AppendHex(psk.data(), psk.size(), &text);
    text += '\n';
  }

  if (args.Has("out")) {
    if (IsOneOfTheInputs(args, "out", args.Get("out"))) {
      return kExitFailure;
    }
    return WritePrivateFile(args.Get("out"), text) ? kExitOk : kExitFailure;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : Fail("cannot write stdout");
}

}  // namespace

const Command& ExportCommand() {
  static const Command cmd = {
      "export",
      "export (--keystore FILE|URI | --root-key-file FILE --key-id ID) "
      "--format gnutls|s_server [--key-id ID] [--version N] [--out FILE]",
      "Derives PSKs for TLS-PSK peers that do not run this library.\n"
      "--format gnutls writes GnuTLS passwd.psk lines, one per KeyID (all\n"
      "of the keystore, or --key-id ID), for gnutls-serv --pskpasswd FILE\n"
      "or gnutls_psk_set_server_credentials_file(). Each line is\n"
      "IDENTITY:HEXPSK; an identity holding ':' (\"v2:KeyID\") is written\n"
      "in GnuTLS's hex form \"#\" HEX(IDENTITY), as psktool does.\n"
      "--format s_server prints, for one KeyID, the identity on the first\n"
      "line and the hex PSK on the second, for openssl s_server/s_client\n"
      "-psk_identity LINE1 -psk LINE2 (stock tools use SHA-256 for a\n"
      "TLS 1.3 PSK: a version 3 PSK works there in TLS 1.2, or as a\n"
      "session file from 'derive --session-out').\n"
      "The version of each KeyID is --version N, or else the highest its\n"
      "versions= attribute allows other than 0 (a version 0 PSK is the\n"
      "Root Key itself, so only on request). The peer must then be offered\n"
      "that version: pin it on clients (connect --version N), and a GnuTLS\n"
      "server announces none (give it --pskhint onem2m-versions=N).\n"
      "Without --out the lines go to standard output. --out FILE creates\n"
      "FILE with mode 0600, or replaces a regular file of yours that\n"
      "already has no group or other access; it refuses any other existing\n"
      "file and symbolic links. Nothing is written if any KeyID fails.\n"
      "Treat the output as secret: it authenticates as those KeyIDs.",
      {
          {"keystore", true, "keystore file (spec section 8) or pkcs11: URI"},
          {"root-key-file", true,
           "a file holding one Root Key (- for stdin); needs --key-id"},
          {"key-id", true, "export this KeyID only (s_server: required)"},
          {"format", true, "gnutls (passwd.psk lines) or s_server"},
          {"version", true,
           "KDF version 0-3 (default: the highest each key allows, not 0)"},
          {"out", true, "write to FILE (mode 0600) instead of stdout"},
      },
      RunExport,
  };
  return cmd;
}

}  // namespace onem2m::cli
