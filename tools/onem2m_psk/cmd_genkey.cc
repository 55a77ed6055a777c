// onem2m-psk genkey: a fresh random Root Key as a keystore line.

#include <openssl/rand.h>

#include <cstdio>

#include "commands.h"

namespace onem2m::cli {
namespace {

int RunGenkey(const ParsedArgs& args) {
  if (!args.positional.empty()) {
    return Usage("genkey takes no positional argument");
  }
  std::string key_id = args.Get("key-id");
  if (!args.Has("key-id")) {
    return Usage("genkey needs --key-id ID");
  }
  if (auto why = CheckKeyId(key_id)) {
    return Fail(*why);
  }
  std::string bytes_text = args.Get("bytes", "32");
  if (bytes_text.empty() || bytes_text.size() > 3 ||
      bytes_text.find_first_not_of("0123456789") != std::string::npos) {
    return Usage("--bytes takes a number from 16 to 64");
  }
  size_t bytes = std::stoul(bytes_text);
  if (bytes < kMinRootKeyLength || bytes > kMaxRootKeyLength) {
    return Usage("--bytes " + bytes_text +
                 ": a Root Key has 16 to 64 octets (32 is the default)");
  }
  std::string attributes;
  if (args.Has("pkcs11") && args.Has("versions")) {
    return Usage(
        "--versions cannot go with --pkcs11: a token key has no versions "
        "attribute (it allows 1,2,3); narrow the server's --versions");
  }
  if (args.Has("versions")) {
    if (!ParseVersionList(args.Get("versions"))) {
      return Usage("--versions takes a list such as 2,3 of versions 0 to 3");
    }
    attributes = ":versions=" + args.Get("versions");
  }

  // A Root Key from the private DRBG; all-zero is astronomically unlikely
  // but the keystore refuses it, so draw again.
  SecretBuffer root_key(bytes);
  do {
    if (RAND_priv_bytes(root_key.data(), static_cast<int>(bytes)) != 1) {
      return FailWithErrors("the random generator failed");
    }
  } while (root_key.IsAllZero());

  // With --pkcs11 the token gets the key first: nothing is printed unless
  // the token holds it.
  if (args.Has("pkcs11")) {
    ONEM2M_KEYSTORE* ks = OpenKeystoreAt(args.Get("pkcs11"));
    auto* token =
        ks == nullptr ? nullptr : dynamic_cast<Pkcs11Keystore*>(ks->impl.get());
    if (token == nullptr) {
      ONEM2M_KEYSTORE_free(ks);
      return ks == nullptr ? kExitFailure
                           : Usage("--pkcs11 takes a pkcs11: URI");
    }
    RootKeyEntry entry{std::move(root_key), kAllVersions};
    bool ok = token->Import({ImportEntry{key_id, &entry}});
    ONEM2M_KEYSTORE_free(ks);
    if (!ok) {
      return FailWithErrors("cannot create the Root Key on the token");
    }
    root_key = std::move(entry.root_key);
  }

  // The line is the output: this command exists to print a new key.
  std::string line = key_id + ":";
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < bytes; i++) {
    line += kHex[root_key.data()[i] >> 4];
    line += kHex[root_key.data()[i] & 0xf];
  }
  line += attributes;
  std::printf("%s\n", line.c_str());
  OPENSSL_cleanse(line.data(), line.size());
  return kExitOk;
}

}  // namespace

const Command& GenkeyCommand() {
  static const Command cmd = {
      "genkey",
      "genkey --key-id ID [--bytes N] [--versions LIST | --pkcs11 URI]",
      "Prints a keystore line 'ID:ROOTKEY' with a fresh random Root Key from\n"
      "OpenSSL's private random generator. Append it to the server's\n"
      "keystore file (mode 0600) and provision the same line to the device\n"
      "over a secure channel. Nothing is stored by this command.\n"
      "A KeyID has 1 to 120 characters from A-Z a-z 0-9 . _ - @.\n"
      "With --pkcs11 URI the key is created in the token (sensitive,\n"
      "non-extractable, label = KeyID) and the printed line is for the\n"
      "device alone: it is the only copy outside the token, so send it\n"
      "over a secure channel and do not store it on the server.",
      {
          {"key-id", true, "the KeyID (KpsaID), e.g. dev-0001@sp.example.com"},
          {"bytes", true, "Root Key length, 16 to 64 octets (default 32)"},
          {"versions", true, "add the attribute versions=LIST, e.g. 2,3"},
          {"pkcs11", true, "create the key in this token (a pkcs11: URI)"},
      },
      RunGenkey,
  };
  return cmd;
}

}  // namespace onem2m::cli
