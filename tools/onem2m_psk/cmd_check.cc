// onem2m-psk check: validate a keystore file, or a token's keys, and show
// what it holds, fingerprints only.

#include <cstdio>

#include "commands.h"

namespace onem2m::cli {
namespace {

int RunCheck(const ParsedArgs& args) {
  if (!args.positional.empty()) {
    return Usage("check takes no positional argument (got '" +
                 args.positional[0] +
                 "'); give the keystore as --keystore "
                 "FILE|URI");
  }
  if (!args.Has("keystore")) {
    return Usage("check needs --keystore FILE|URI");
  }
  std::string location = args.Get("keystore");
  ONEM2M_KEYSTORE* ks = OpenKeystoreAt(location);
  if (ks == nullptr) {
    return kExitFailure;
  }

  // A token computes the fingerprints itself (C_Sign); a failure is shown.
  std::vector<KeyInfo> keys = ks->impl->List();
  bool token = dynamic_cast<Pkcs11Keystore*>(ks->impl.get()) != nullptr;
  ONEM2M_KEYSTORE_free(ks);
  for (const KeyInfo& k : keys) {
    if (k.fingerprint.empty()) {
      return FailWithErrors("cannot compute the fingerprint of " + k.key_id);
    }
  }

  std::printf("%s: %zu key%s, valid\n", location.c_str(), keys.size(),
              keys.size() == 1 ? "" : "s");
  for (const KeyInfo& k : keys) {
    std::string versions = k.versions == kAllVersions && !token
                               ? "any"
                               : FormatVersionSet(k.versions);
    std::printf("  %-40s versions=%-8s fingerprint=%s\n", k.key_id.c_str(),
                versions.c_str(), k.fingerprint.c_str());
  }
  return kExitOk;
}

}  // namespace

const Command& CheckCommand() {
  static const Command cmd = {
      "check",
      "check --keystore FILE|URI",
      "Validates a keystore file (format, key lengths, duplicates, file\n"
      "mode) and prints the number of keys and, per KeyID, the versions its\n"
      "versions= attribute allows ('any': no attribute; a server still\n"
      "applies its own --versions) and a fingerprint of its Root Key\n"
      "(never the key). Exits 1 with the file and line of the first\n"
      "error. With a pkcs11: URI it lists the token's Root Key objects;\n"
      "the token computes the fingerprints, and versions= shows what the\n"
      "token can derive with each key (1,2,3 less what its HMAC refuses\n"
      "for a short key; never 0).",
      {
          {"keystore", true, "the keystore file or pkcs11: URI"},
      },
      RunCheck,
  };
  return cmd;
}

}  // namespace onem2m::cli
