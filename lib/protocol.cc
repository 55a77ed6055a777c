#include "protocol.h"

namespace onem2m {

namespace {

bool IsKeyIdChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '@';
}

}  // namespace

const char* TlsHashName(Version v) { return v == 3 ? "SHA384" : "SHA256"; }

size_t PskLength(Version v, size_t root_key_length) {
  switch (v) {
    case 0:
      return root_key_length;
    case 3:
      return 48;
    default:
      return 32;
  }
}

std::optional<std::string> CheckKeyId(std::string_view key_id) {
  if (key_id.empty()) {
    return "KeyID is empty (it needs 1 to 120 octets)";
  }
  if (key_id.size() > kMaxKeyIdLength) {
    return "KeyID is " + std::to_string(key_id.size()) +
           " octets long (at most 120 are allowed)";
  }
  for (size_t i = 0; i < key_id.size(); i++) {
    unsigned char c = static_cast<unsigned char>(key_id[i]);
    if (!IsKeyIdChar(c)) {
      std::string shown = (c >= 0x21 && c < 0x7f)
                              ? std::string("'") + static_cast<char>(c) + "'"
                              : "octet " + std::to_string(c);
      return "KeyID has " + shown + " at position " + std::to_string(i + 1) +
             " (only A-Z a-z 0-9 . _ - @ are allowed)";
    }
  }
  return std::nullopt;
}

std::string EncodeIdentity(std::string_view key_id, Version version) {
  if (version == 0) {
    return std::string(key_id);
  }
  std::string identity = "v";
  identity += static_cast<char>('0' + version);
  identity += ':';
  identity += key_id;
  return identity;
}

std::optional<ParsedIdentity> ParseIdentity(std::string_view identity) {
  if (identity.empty() || identity.size() > kMaxIdentityLength) {
    return std::nullopt;
  }

  // "vN:" can only be a prefix: ':' never occurs in a KeyID.
  Version version = 0;
  std::string_view key_id = identity;
  if (identity.size() >= 3 && identity[0] == 'v' && identity[2] == ':') {
    char n = identity[1];
    if (n < '1' || n > '3') {
      return std::nullopt;
    }
    version = static_cast<Version>(n - '0');
    key_id = identity.substr(3);
  }
  if (CheckKeyId(key_id).has_value()) {
    return std::nullopt;
  }
  return ParsedIdentity{version, std::string(key_id)};
}

std::string FormatVersionSet(VersionSet set) {
  std::string out;
  for (Version v = kMinVersion; v <= kMaxVersion; v++) {
    if ((set & VersionBit(v)) == 0) {
      continue;
    }
    if (!out.empty()) {
      out += ',';
    }
    out += static_cast<char>('0' + v);
  }
  return out;
}

std::optional<VersionSet> ParseVersionList(std::string_view text) {
  VersionSet set = 0;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c < '0' || c > '0' + static_cast<char>(kMaxVersion)) {
      return std::nullopt;
    }
    VersionSet bit = VersionBit(static_cast<Version>(c - '0'));
    if ((set & bit) != 0) {
      return std::nullopt;
    }
    set |= bit;
    i++;
    if (i == text.size()) {
      break;
    }
    if (text[i] != ',' || i + 1 == text.size()) {
      return std::nullopt;
    }
    i++;
  }
  if (set == 0) {
    return std::nullopt;
  }
  return set;
}

std::string EncodeHint(VersionSet allowed) {
  return std::string(kHintPrefix) + FormatVersionSet(allowed);
}

std::optional<VersionSet> ParseHint(std::string_view hint) {
  if (hint.substr(0, kHintPrefix.size()) != kHintPrefix) {
    return std::nullopt;
  }
  return ParseVersionList(hint.substr(kHintPrefix.size()));
}

Version HighestVersion(VersionSet set) {
  for (Version v = kMaxVersion; v > kMinVersion; v--) {
    if ((set & VersionBit(v)) != 0) {
      return v;
    }
  }
  return kMinVersion;
}

}  // namespace onem2m
