// onem2m-psk import: move the keys of a keystore file into a PKCS#11 token,
// where they become sensitive, non-extractable secret key objects.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "commands.h"

namespace onem2m::cli {
namespace {

// The largest keystore file import reads (a fleet's keys fit easily).
constexpr size_t kMaxImportFile = size_t{64} << 20;

// ReadSecretFile reads |path| whole into wiped memory.
bool ReadSecretFile(const std::string& path, SecretBuffer* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Fail("cannot open " + path + ": " + std::strerror(errno));
    return false;
  }
  SecretBuffer buffer(kMaxImportFile);
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, buffer.data() + used, buffer.size() - used);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || used + static_cast<size_t>(n) == buffer.size()) {
      int saved = errno;
      close(fd);
      if (n < 0) {
        Fail("cannot read " + path + ": " + std::strerror(saved));
        return false;
      }
      if (n > 0) {
        Fail(path + " is larger than 64 MiB; split it");
        return false;
      }
      break;
    }
    used += static_cast<size_t>(n);
  }
  *out = SecretBuffer(buffer.data(), used);
  return true;
}

int RunImport(const ParsedArgs& args) {
  if (!args.positional.empty() || !args.Has("keystore") ||
      !args.Has("pkcs11")) {
    return Usage("import needs --keystore FILE and --pkcs11 URI");
  }
  std::string path = args.Get("keystore");
  std::string uri = args.Get("pkcs11");
  if (IsPkcs11Uri(path) || !IsPkcs11Uri(uri)) {
    return Usage(
        "import reads a keystore file (--keystore FILE) into a token "
        "(--pkcs11 pkcs11:...)");
  }

  // The file's checks first (mode, syntax), then its keys one by one.
  ONEM2M_KEYSTORE* file = OpenKeystoreAt(path);
  if (file == nullptr) {
    return kExitFailure;
  }
  ONEM2M_KEYSTORE_free(file);
  SecretBuffer text;
  if (!ReadSecretFile(path, &text)) {
    return kExitFailure;
  }
  KeyTable table;
  if (!ParseKeystoreText(
          std::string_view(reinterpret_cast<const char*>(text.data()),
                           text.size()),
          path, &table)) {
    return FailWithErrors("keystore " + path + " is not valid");
  }

  // All or nothing: the store checks every key before it creates one.
  ONEM2M_KEYSTORE* ks = OpenKeystoreAt(uri);
  if (ks == nullptr) {
    return kExitFailure;
  }
  auto* token = dynamic_cast<Pkcs11Keystore*>(ks->impl.get());
  std::vector<ImportEntry> entries;
  for (const auto& [key_id, entry] : table) {
    entries.push_back(ImportEntry{key_id, &entry});
  }
  std::sort(entries.begin(), entries.end(),
            [](const ImportEntry& a, const ImportEntry& b) {
              return a.key_id < b.key_id;
            });
  bool ok = token->Import(entries);
  if (!ok) {
    ONEM2M_KEYSTORE_free(ks);
    return FailWithErrors("import into the token failed");
  }

  // A short key loses the versions the token cannot compute with it: say
  // so now, not when a default client (version 3) is refused.
  for (const ImportEntry& e : entries) {
    std::optional<VersionSet> allowed = token->AllowedVersions(e.key_id);
    VersionSet lost = e.key->versions & ~VersionBit(0) & ~allowed.value_or(0);
    if (lost != 0) {
      std::fprintf(stderr,
                   "onem2m-psk: warning: %s: the token derives only versions "
                   "%s with this %zu-octet Root Key, not %s (its HMAC needs "
                   "a key as long as the hash); its clients must use "
                   "--version %u or lower, or give it a new key of 48 "
                   "octets or more (genkey --bytes 48)\n",
                   e.key_id.c_str(),
                   FormatVersionSet(allowed.value_or(0)).c_str(),
                   e.key->root_key.size(), FormatVersionSet(lost).c_str(),
                   HighestVersion(allowed.value_or(VersionBit(1))));
    }
  }
  ONEM2M_KEYSTORE_free(ks);

  std::printf(
      "imported %zu key%s into the token; they cannot be read out of it.\n"
      "Delete %s now (e.g. shred -u %s): it is a copy of every Root Key\n"
      "outside the token.\n",
      entries.size(), entries.size() == 1 ? "" : "s", path.c_str(),
      path.c_str());
  return kExitOk;
}

}  // namespace

const Command& ImportCommand() {
  static const Command cmd = {
      "import",
      "import --keystore FILE --pkcs11 URI",
      "Moves every key of a keystore file into the PKCS#11 token that URI\n"
      "names, as secret key objects that are sensitive and non-extractable\n"
      "(label and CKA_ID = KeyID). All or nothing: a KeyID already on the\n"
      "token, or a key with a versions= attribute narrower than 1,2,3 (a\n"
      "token key has no such attribute), fails the import and creates\n"
      "nothing. Delete the file afterwards. The PIN comes from the URI's\n"
      "pin-source=FILE or from ONEM2M_PKCS11_PIN, never the command line.",
      {
          {"keystore", true, "the keystore file to import"},
          {"pkcs11", true, "the token, e.g. pkcs11:token=cse?pin-source=F"},
      },
      RunImport,
  };
  return cmd;
}

}  // namespace onem2m::cli
