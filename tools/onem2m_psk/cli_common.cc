#include "cli_common.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "errors.h"
#include "onem2m/psk.h"
#include "openssl_ptr.h"

namespace onem2m::cli {

std::optional<ParsedArgs> ParseArgs(const Command& cmd,
                                    const std::vector<std::string>& argv) {
  ParsedArgs out;
  for (size_t i = 0; i < argv.size(); i++) {
    const std::string& arg = argv[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const auto& o : cmd.options) {
      if (o.name == name) {
        spec = &o;
      }
    }
    if (spec == nullptr) {
      Usage("unknown option --" + name + " for '" + cmd.name +
            "' (see onem2m-psk " + cmd.name + " --help)");
      return std::nullopt;
    }
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= argv.size()) {
        Usage("--" + name + " needs a value");
        return std::nullopt;
      }
      value = argv[++i];
    } else if (!spec->takes_value && inline_value) {
      Usage("--" + name + " takes no value");
      return std::nullopt;
    }
    if (out.options.count(name) != 0) {
      Usage("--" + name + " is given twice");
      return std::nullopt;
    }
    out.options[name] = value;
  }
  return out;
}

void PrintHelp(const Command& cmd) {
  std::printf("usage: onem2m-psk %s\n\n%s\n", cmd.synopsis, cmd.description);
  if (cmd.options.empty()) {
    return;
  }
  std::printf("\noptions:\n");
  for (const auto& o : cmd.options) {
    std::string left = "--" + o.name + (o.takes_value ? " VALUE" : "");
    std::printf("  %-24s %s\n", left.c_str(), o.help.c_str());
  }
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "onem2m-psk: error: %s\n", message.c_str());
  return kExitFailure;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "onem2m-psk: %s\n", message.c_str());
  return kExitUsage;
}

std::string ErrorQueueText() {
  std::string text;
  const char* data = nullptr;
  int flags = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) !=
         0) {
    std::string one;
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      one = data;
    } else {
      const char* reason = ERR_reason_error_string(e);
      one = reason != nullptr ? reason : "unknown error";
    }
    if (!text.empty()) {
      text += "; ";
    }
    text += one;
  }
  return text;
}

int FailWithErrors(const std::string& what) {
  std::string detail = ErrorQueueText();
  return Fail(detail.empty() ? what : what + ": " + detail);
}

std::optional<Version> ParseVersion(const std::string& text) {
  if (text.size() != 1 || text[0] < '0' || text[0] > '3') {
    return std::nullopt;
  }
  return static_cast<Version>(text[0] - '0');
}

bool ReadRootKeyFile(const std::string& path, SecretBuffer* root_key) {
  int fd = path == "-" ? dup(0) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Fail("cannot open root key file " + path + ": " + std::strerror(errno));
    return false;
  }
  struct stat st {};
  if (path != "-" && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      (st.st_mode & 077) != 0) {
    close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    Fail("root key file " + path + " has mode " + mode +
         ", which lets group or others read it: run chmod 600 " + path);
    return false;
  }
  SecretBuffer text(256);
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    used += static_cast<size_t>(n);
    if (used == text.size()) {
      close(fd);
      Fail("root key file " + path + " is too long for a Root Key");
      return false;
    }
  }
  close(fd);
  // One line; a trailing newline (and CR) is allowed.
  while (used > 0 &&
         (text.data()[used - 1] == '\n' || text.data()[used - 1] == '\r')) {
    used--;
  }
  std::string why;
  std::string_view view(reinterpret_cast<const char*>(text.data()), used);
  if (!DecodeRootKey(view, root_key, &why)) {
    Fail("root key file " + path + ": " + why);
    return false;
  }
  if (auto bad = CheckRootKey(*root_key)) {
    Fail("root key file " + path + ": " + *bad);
    return false;
  }
  return true;
}

ONEM2M_KEYSTORE* OpenKeystoreAt(const std::string& location) {
  if (!IsPkcs11Uri(location)) {
    ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_open(location.c_str());
    if (ks == nullptr) {
      FailWithErrors("cannot load keystore");
    }
    return ks;
  }

  // A token: no pin-value from a command line.
  Pkcs11Options options;
  options.allow_pin_value = false;
  std::unique_ptr<Pkcs11Keystore> token = MakePkcs11Keystore(location, options);
  if (token == nullptr) {
    FailWithErrors("cannot open PKCS#11 keystore");
    return nullptr;
  }
  auto handle = std::make_unique<onem2m_keystore_st>();
  handle->impl = std::move(token);
  return handle.release();
}

ONEM2M_KEYSTORE* OpenKeystore(const ParsedArgs& args,
                              const std::string& key_id) {
  bool has_file = args.Has("keystore");
  bool has_root = args.Has("root-key-file");
  if (has_file == has_root) {
    std::exit(
        Usage("give exactly one of --keystore FILE and --root-key-file FILE"));
  }
  if (has_file) {
    return OpenKeystoreAt(args.Get("keystore"));
  }
  SecretBuffer root_key;
  if (!ReadRootKeyFile(args.Get("root-key-file"), &root_key)) {
    return nullptr;
  }
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_new_memory();
  if (ks == nullptr ||
      !ONEM2M_KEYSTORE_add_key(ks, key_id.c_str(), root_key.data(),
                               root_key.size(), 0)) {
    ONEM2M_KEYSTORE_free(ks);
    FailWithErrors("cannot use the root key");
    return nullptr;
  }
  return ks;
}

bool IsOneOfTheInputs(const ParsedArgs& args, const std::string& option,
                      const std::string& path) {
  struct stat out {};
  if (stat(path.c_str(), &out) != 0) {
    return false;  // not there yet: it cannot be an input
  }
  for (const char* input : {"keystore", "root-key-file"}) {
    struct stat in {};
    if (args.Has(input) && stat(args.Get(input).c_str(), &in) == 0 &&
        in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
      Fail("refusing to write --" + option + " " + path + ": it is the --" +
           input +
           " this command reads, and writing it would destroy its "
           "Root Keys; name another file");
      return true;
    }
  }
  return false;
}

bool WriteSessionPem(const std::string& path, SSL_SESSION* session) {
  // O_NOFOLLOW: a symbolic link planted at |path| is refused, not followed
  // to overwrite its target with secrets.
  int fd = open(path.c_str(),
                O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    Fail("cannot create " + path + ": " + std::strerror(errno) +
         (errno == ELOOP ? " (it is a symbolic link; refusing to follow it)"
                         : ""));
    return false;
  }
  if (fchmod(fd, 0600) != 0) {
    close(fd);
    Fail("cannot make " + path + " private: " + std::strerror(errno));
    return false;
  }
  BioPtr bio(BIO_new_fd(fd, BIO_CLOSE));
  if (bio == nullptr || !PEM_write_bio_SSL_SESSION(bio.get(), session) ||
      BIO_flush(bio.get()) != 1) {
    FailWithErrors("cannot write " + path);
    return false;
  }
  return true;
}

SSL_SESSION* ReadSessionPem(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) {
    ERR_clear_error();
    Fail("cannot open session file " + path + ": " + std::strerror(errno));
    return nullptr;
  }
  SSL_SESSION* session =
      PEM_read_bio_SSL_SESSION(bio.get(), nullptr, nullptr, nullptr);
  if (session == nullptr) {
    ERR_clear_error();
    Fail("session file " + path +
         " holds no PEM SSL session (write one "
         "with connect --sess-out)");
  }
  return session;
}

bool DeriveOrExplain(ONEM2M_KEYSTORE* ks, EVP_KDF* kdf,
                     const std::string& key_id, Version v, SecretBuffer* psk) {
  switch (ks->impl->DerivePsk(kdf, key_id, v, psk)) {
    case DeriveStatus::kOk:
      return true;
    case DeriveStatus::kUnknownKeyId:
      Fail("the keystore has no KeyID " + key_id);
      return false;
    case DeriveStatus::kVersionNotAllowed:
      if (dynamic_cast<Pkcs11Keystore*>(ks->impl.get()) != nullptr) {
        std::string allowed =
            FormatVersionSet(ks->impl->AllowedVersions(key_id).value_or(0));
        Fail("KeyID " + key_id + " is a token key: version " +
             std::to_string(v) + " is not available (" +
             (v == 0 ? std::string("its PSK would be the Root Key, which "
                                   "never leaves the token")
                     : std::string("the token cannot compute its HMAC with "
                                   "a Root Key this short")) +
             "); the token allows version " + allowed);
        return false;
      }
      Fail("the keystore's versions= attribute for " + key_id +
           " does not allow version " + std::to_string(v));
      return false;
    case DeriveStatus::kFailed:
      FailWithErrors("derivation failed for " + key_id);
      return false;
  }
  return false;
}

bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return false;
  }
  std::string h = text.substr(0, colon);
  if (h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  std::string p = text.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  int value = std::stoi(p);
  if (value > 65535) {
    return false;
  }
  *host = h;
  *port = value;
  return true;
}

std::string ProfileMistake(const ParsedArgs& args) {
  return args.Has("profile") && args.Get("profile") != "onem2m"
             ? "--profile takes onem2m (TS-0003 clause 10.2)"
             : "";
}

namespace {

// ApplyProfile applies --profile: the library's profile, which fixes the
// protocol and suites, so the options that would change them are refused.
bool ApplyProfile(SSL_CTX* ctx, const ParsedArgs& args) {
  for (const char* option : {"tls1_3", "cipher", "ciphersuites"}) {
    if (args.Has(option)) {
      std::exit(Usage(std::string("--profile fixes the protocol and suites: "
                                  "drop --") +
                      option));
    }
  }
  if (std::string mistake = ProfileMistake(args); !mistake.empty()) {
    std::exit(Usage(mistake));
  }
  if (!ONEM2M_PSK_CTX_set_profile(ctx, "onem2m")) {
    FailWithErrors("cannot apply --profile onem2m");
    return false;
  }
  return true;
}

// ApplyVersionsAndSuites applies --dtls, --tls1_2, --tls1_3, --cipher and
// --ciphersuites (without a profile).
bool ApplyVersionsAndSuites(SSL_CTX* ctx, const ParsedArgs& args) {
  bool dtls = args.Has("dtls");
  if (dtls && (args.Has("tls1_3") || args.Has("ciphersuites"))) {
    std::exit(
        Usage("--dtls is DTLS 1.2: --tls1_3 and --ciphersuites do not "
              "apply"));
  }
  if (dtls) {
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
  } else if (args.Has("tls1_2")) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  } else if (args.Has("tls1_3")) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  } else {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  }
  // TS-0003 makes TLS_PSK_WITH_AES_128_CBC_SHA256 (PSK-AES128-CBC-SHA256)
  // mandatory; the library's list has it, without NULL or SHA-1 suites.
  // For DTLS the CoAP binding's suites (RFC 7252 section 9.1.3.1).
  std::string cipher = args.Get(
      "cipher", dtls ? ONEM2M_PSK_DTLS12_CIPHERS : ONEM2M_PSK_TLS12_CIPHERS);
  if (!SSL_CTX_set_cipher_list(ctx, cipher.c_str())) {
    ERR_clear_error();
    Fail("--cipher " + cipher + " selects no cipher suite OpenSSL knows");
    return false;
  }
  if (args.Has("ciphersuites") &&
      !SSL_CTX_set_ciphersuites(ctx, args.Get("ciphersuites").c_str())) {
    ERR_clear_error();
    Fail("--ciphersuites " + args.Get("ciphersuites") +
         " is not a list of TLS 1.3 suites OpenSSL knows");
    return false;
  }
  return true;
}

}  // namespace

std::vector<OptionSpec> ProtocolOptionSpecs() {
  return {
      {"dtls", false, "DTLS 1.2 over UDP instead of TLS over TCP"},
      {"tls1_2", false, "TLS 1.2 only (with --dtls: DTLS 1.2, the only one)"},
      {"tls1_3", false, "TLS 1.3 only"},
      {"cipher", true,
       "TLS 1.2 / DTLS 1.2 suites, OpenSSL syntax (default: ECDHE-PSK and "
       "PSK suites, no NULL or SHA-1)"},
      {"ciphersuites", true, "TLS 1.3 suites, OpenSSL syntax"},
      {"groups", true, "key exchange groups, e.g. X25519:P-256"},
      {"profile", true,
       "onem2m: only what TS-0003 clause 10.2 names (TLS 1.2 with "
       "PSK-AES128-CBC-SHA256; with --dtls, DTLS 1.2 with PSK-AES128-CCM8)"},
  };
}

bool ApplyProtocolOptions(SSL_CTX* ctx, const ParsedArgs& args) {
  if (args.Has("tls1_2") && args.Has("tls1_3")) {
    std::exit(
        Usage("--tls1_2 and --tls1_3 exclude each other; give "
              "neither for both"));
  }
  if (args.Has("profile")) {
    if (!ApplyProfile(ctx, args)) {
      return false;
    }
  } else if (!ApplyVersionsAndSuites(ctx, args)) {
    return false;
  }
  if (args.Has("groups") &&
      !SSL_CTX_set1_groups_list(ctx, args.Get("groups").c_str())) {
    ERR_clear_error();
    Fail("--groups " + args.Get("groups") + " names an unknown group");
    return false;
  }
  return true;
}

}  // namespace onem2m::cli
