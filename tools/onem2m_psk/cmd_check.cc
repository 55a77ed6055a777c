// onem2m-psk check: validate a keystore file and show what it holds,
// fingerprints only.

#include <cstdio>

#include "commands.h"

namespace onem2m::cli {
namespace {

int RunCheck(const ParsedArgs& args) {
  if (!args.positional.empty() || !args.Has("keystore")) {
    return Usage("check needs --keystore FILE");
  }
  std::string path = args.Get("keystore");
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_load_file(path.c_str());
  if (ks == nullptr) {
    return FailWithErrors("keystore " + path + " is not valid");
  }
  std::vector<KeyInfo> keys = ks->impl->List();
  ONEM2M_KEYSTORE_free(ks);

  std::printf("%s: %zu key%s, valid\n", path.c_str(), keys.size(),
              keys.size() == 1 ? "" : "s");
  for (const KeyInfo& k : keys) {
    std::string versions =
        k.versions == kAllVersions ? "any" : FormatVersionSet(k.versions);
    std::printf("  %-40s versions=%-8s fingerprint=%s\n", k.key_id.c_str(),
                versions.c_str(), k.fingerprint.c_str());
  }
  return kExitOk;
}

}  // namespace

const Command& CheckCommand() {
  static const Command cmd = {
      "check",
      "check --keystore FILE",
      "Validates a keystore file (format, key lengths, duplicates, file\n"
      "mode) and prints the number of keys and, per KeyID, the versions its\n"
      "versions= attribute allows ('any': no attribute; a server still\n"
      "applies its own --versions) and a fingerprint of its Root Key\n"
      "(never the key). Exits 1 with the file and line of the first\n"
      "error.",
      {
          {"keystore", true, "the keystore file"},
      },
      RunCheck,
  };
  return cmd;
}

}  // namespace onem2m::cli
