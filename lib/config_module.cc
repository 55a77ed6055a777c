// The "onem2m_psk" configuration module: the library's settings from an
// application's openssl.cnf, registered with CONF_module_add the way
// OpenSSL's own modules (providers, ssl_conf, alg_section) are.
//
//   [openssl_init]                    (or the application's own section)
//   onem2m_psk = onem2m_psk_sect
//
//   [onem2m_psk_sect]                 one line per named configuration
//   cse = onem2m_cse
//
//   [onem2m_cse]                      the settings of configuration "cse"
//   role = server
//   keystore = /etc/onem2m/keys   (or a pkcs11: URI, see onem2m/keystore.h)
//   versions = 2,3
//   options = reveal_unknown
//
// The module reads and checks every configuration, and loads its keystore,
// when OpenSSL loads the file; ONEM2M_PSK_attach_from_config(ctx, "cse")
// then attaches with it. CONF keeps no line numbers for values, so an error
// names the section and quotes the offending line instead.

#include <openssl/conf.h>
#include <openssl/err.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.h"
#include "keystore.h"
#include "onem2m/psk.h"
#include "protocol.h"

namespace onem2m {
namespace {

constexpr char kModuleName[] = "onem2m_psk";
constexpr char kSettingNames[] =
    "role, keystore, key_id, versions, pin_version, options, profile";

using KeystoreRef =
    std::unique_ptr<ONEM2M_KEYSTORE, void (*)(ONEM2M_KEYSTORE*)>;

// PskConfig is one named configuration, checked, with its keystore loaded.
struct PskConfig {
  bool server = true;
  KeystoreRef keystore{nullptr, ONEM2M_KEYSTORE_free};
  std::string key_id;       // client only
  VersionSet versions = 0;  // 0: the library's default
  int pinned_version = -1;  // client only
  unsigned options = 0;     // ONEM2M_PSK_OPT_*, server only
  std::string profile;      // ONEM2M_PSK_CTX_set_profile's name, or ""
};

// Registry is what the last load of the module left: the configurations
// by name, or why the load failed.
struct Registry {
  std::mutex mu;
  const CONF_IMODULE* owner = nullptr;  // the module instance that made it
  bool loaded = false;
  std::string section;  // the module's section, for messages
  std::map<std::string, std::shared_ptr<const PskConfig>> configs;
  std::string failure;  // set when the last load failed
};

Registry& GetRegistry() {
  // Never destroyed: OpenSSL may finish modules during exit.
  static Registry* registry = new Registry();
  return *registry;
}

// RaiseConfig raises a configuration error and returns its text.
std::string RaiseConfig(const std::string& text) {
  ONEM2M_RAISE(ONEM2M_R_CONFIG, "%s", text.c_str());
  return text;
}

// LastErrorText is the text of the newest error on the queue (raised by the
// keystore, which names the file and line).
std::string LastErrorText() {
  const char* data = nullptr;
  int flags = 0;
  unsigned long e = ERR_peek_last_error_data(&data, &flags);
  if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
    return data;
  }
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  return reason != nullptr ? reason : "unknown error";
}

// SplitList splits "a,b,c" at commas; an empty item is kept (and refused
// by the caller).
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    out.emplace_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) {
      return out;
    }
    start = comma + 1;
  }
}

// ParseConfig reads the settings of section |section| into |out|. On a
// mistake it raises an error naming the section and the line, and returns
// its text.
std::optional<std::string> ParseConfig(const CONF* cnf,
                                       const std::string& section,
                                       PskConfig* out) {
  STACK_OF(CONF_VALUE)* settings = NCONF_get_section(cnf, section.c_str());
  if (settings == nullptr) {
    ERR_clear_error();
    return RaiseConfig("section [" + section + "] does not exist");
  }

  // Every line first: an unknown or malformed one fails the whole load.
  std::optional<std::string> role, keystore, key_id, versions, pin, options,
      profile;
  for (int i = 0; i < sk_CONF_VALUE_num(settings); i++) {
    const CONF_VALUE* v = sk_CONF_VALUE_value(settings, i);
    std::string name = v->name;
    std::string value = v->value != nullptr ? v->value : "";
    std::string where = "[" + section + "] " + name + " = " + value + ": ";
    std::optional<std::string>* slot = name == "role"          ? &role
                                       : name == "keystore"    ? &keystore
                                       : name == "key_id"      ? &key_id
                                       : name == "versions"    ? &versions
                                       : name == "pin_version" ? &pin
                                       : name == "options"     ? &options
                                       : name == "profile"     ? &profile
                                                               : nullptr;
    if (slot == nullptr) {
      return RaiseConfig(where + "unknown setting \"" + name +
                         "\" (the settings are " + kSettingNames + ")");
    }
    if (value.empty()) {
      return RaiseConfig(where + name + " needs a value");
    }
    *slot = value;
  }

  // role and keystore are required; the rest depends on the role.
  std::string at = "[" + section + "] ";
  if (!role || (*role != "server" && *role != "client")) {
    return RaiseConfig(at + "role = " + role.value_or("") +
                       ": role must be server (a Receiver, the TLS server) "
                       "or client (an Originator)");
  }
  out->server = *role == "server";
  if (!keystore) {
    return RaiseConfig(at + "keystore = FILE is required");
  }
  if (out->server && (key_id || pin)) {
    return RaiseConfig(at + (key_id ? "key_id" : "pin_version") +
                       " is a client setting, and role = server");
  }
  if (!out->server && options) {
    return RaiseConfig(at + "options = " + *options +
                       ": options are server settings, and role = client");
  }
  if (!out->server && !key_id) {
    return RaiseConfig(at +
                       "role = client needs key_id = the KeyID it "
                       "authenticates as");
  }
  if (key_id) {
    if (auto why = CheckKeyId(*key_id)) {
      return RaiseConfig(at + "key_id = " + *key_id + ": " + *why);
    }
    out->key_id = *key_id;
  }
  if (versions) {
    std::optional<VersionSet> set = ParseVersionList(*versions);
    if (!set || *set == 0) {
      return RaiseConfig(at + "versions = " + *versions +
                         ": expected KDF versions 0 to 3, comma separated, "
                         "e.g. 1,2,3");
    }
    out->versions = *set;
  }
  if (pin) {
    if (pin->size() != 1 || (*pin)[0] < '0' || (*pin)[0] > '3') {
      return RaiseConfig(at + "pin_version = " + *pin +
                         ": expected one KDF version, 0 to 3");
    }
    out->pinned_version = (*pin)[0] - '0';
    VersionSet allowed = out->versions != 0 ? out->versions : kAllVersions;
    if ((allowed & VersionBit(out->pinned_version)) == 0) {
      return RaiseConfig(at + "pin_version = " + *pin +
                         ": versions = " + *versions + " does not allow it");
    }
  }
  if (options) {
    for (const std::string& o : SplitList(*options)) {
      if (o == "reveal_unknown") {
        out->options |= ONEM2M_PSK_OPT_REVEAL_UNKNOWN;
      } else if (o == "allow_psk_ke") {
        out->options |= ONEM2M_PSK_OPT_ALLOW_PSK_KE;
      } else {
        return RaiseConfig(at + "options = " + *options +
                           ": unknown option \"" + o +
                           "\" (the options are reveal_unknown and "
                           "allow_psk_ke, comma separated)");
      }
    }
  }

  if (profile) {
    if (*profile != "onem2m") {
      return RaiseConfig(at + "profile = " + *profile +
                         ": unknown profile (the one profile is onem2m, "
                         "TS-0003 clause 10.2)");
    }
    out->profile = *profile;
  }

  // The keystore, loaded now so that a bad file fails the configuration
  // load, not the first handshake.
  out->keystore.reset(ONEM2M_KEYSTORE_open(keystore->c_str()));
  if (out->keystore == nullptr) {
    std::string why = LastErrorText();
    ERR_add_error_data(3, " (", at.c_str(), "keystore)");
    return at + "keystore = " + *keystore + ": " + why;
  }
  if (!out->server && !out->keystore->impl->Contains(out->key_id)) {
    return RaiseConfig(at + "key_id = " + out->key_id + ": the keystore " +
                       *keystore + " has no Root Key for it");
  }
  return std::nullopt;
}

// InitModule is the module's init callback: it reads every configuration
// that the module's section names, all or nothing.
int InitModule(CONF_IMODULE* md, const CONF* cnf) {
  try {
    std::string section = CONF_imodule_get_value(md);
    std::map<std::string, std::shared_ptr<const PskConfig>> configs;
    std::optional<std::string> failure;
    STACK_OF(CONF_VALUE)* names = NCONF_get_section(cnf, section.c_str());
    if (names == nullptr) {
      ERR_clear_error();
      failure = RaiseConfig(std::string(kModuleName) + " = " + section +
                            ": section [" + section + "] does not exist");
    }
    for (int i = 0; !failure && i < sk_CONF_VALUE_num(names); i++) {
      const CONF_VALUE* v = sk_CONF_VALUE_value(names, i);
      auto config = std::make_shared<PskConfig>();
      failure =
          ParseConfig(cnf, v->value != nullptr ? v->value : "", config.get());
      configs[v->name] = std::move(config);
    }

    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    registry.loaded = true;
    registry.section = section;
    registry.configs.clear();
    if (failure) {
      // OpenSSL will not call the finish callback of a module whose init
      // failed: keep no keystores, only the reason.
      registry.owner = nullptr;
      registry.failure = *failure;
      return 0;
    }
    registry.owner = md;
    registry.failure.clear();
    registry.configs = std::move(configs);
    return 1;
  } catch (const std::exception&) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "out of memory");
    return 0;
  }
}

// FinishModule drops the configurations when OpenSSL unloads the module
// (CONF_modules_unload, or a new configuration replacing this one).
void FinishModule(CONF_IMODULE* md) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  if (registry.owner == md) {
    registry.owner = nullptr;
    registry.loaded = false;
    registry.configs.clear();
  }
}

std::mutex add_mutex;
bool module_added = false;

// FindConfig returns the configuration |name|, or raises why there is none.
std::shared_ptr<const PskConfig> FindConfig(const std::string& name) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  if (!registry.loaded) {
    ONEM2M_RAISE(ONEM2M_R_CONFIG,
                 "no %s configuration named \"%s\" is loaded: call "
                 "ONEM2M_PSK_config_module_add() before OpenSSL loads the "
                 "configuration file, and name a section in it with "
                 "\"onem2m_psk = SECTION\" (see openssl.cnf.sample)",
                 kModuleName, name.c_str());
    return nullptr;
  }
  if (!registry.failure.empty()) {
    ONEM2M_RAISE(ONEM2M_R_CONFIG,
                 "the %s configuration did not load, so \"%s\" is not "
                 "available: %s",
                 kModuleName, name.c_str(), registry.failure.c_str());
    return nullptr;
  }
  auto it = registry.configs.find(name);
  if (it == registry.configs.end()) {
    std::string known;
    for (const auto& [n, c] : registry.configs) {
      known += (known.empty() ? "" : ", ") + n;
    }
    ONEM2M_RAISE(ONEM2M_R_CONFIG,
                 "section [%s] has no configuration named \"%s\" (it has: "
                 "%s)",
                 registry.section.c_str(), name.c_str(),
                 known.empty() ? "none" : known.c_str());
    return nullptr;
  }
  return it->second;
}

bool AttachFromConfig(SSL_CTX* ctx, const char* name) {
  if (ctx == nullptr || name == nullptr) {
    ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT,
                 "SSL_CTX and configuration name are required");
    return false;
  }
  std::shared_ptr<const PskConfig> config = FindConfig(name);
  if (config == nullptr) {
    return false;
  }

  // The profile first (it replaces suites and protocols, and must come
  // before the attach), then attach in the configured role, then the
  // policy on top of the library's defaults: versions before the pin,
  // which must be among them.
  if (!config->profile.empty() &&
      !ONEM2M_PSK_CTX_set_profile(ctx, config->profile.c_str())) {
    return false;
  }
  ONEM2M_KEYSTORE* ks = config->keystore.get();
  bool attached = config->server ? ONEM2M_PSK_attach_server(ctx, ks)
                                 : ONEM2M_PSK_attach_client(
                                       ctx, ks, config->key_id.c_str());
  return attached &&
         (config->versions == 0 ||
          ONEM2M_PSK_CTX_set_versions(ctx, config->versions)) &&
         (config->pinned_version < 0 ||
          ONEM2M_PSK_CTX_pin_version(ctx, config->pinned_version)) &&
         (config->options == 0 ||
          ONEM2M_PSK_CTX_set_options(ctx, config->options));
}

}  // namespace
}  // namespace onem2m

extern "C" {

int ONEM2M_PSK_config_module_add(void) {
  std::lock_guard<std::mutex> lock(onem2m::add_mutex);
  if (onem2m::module_added) {
    return 1;
  }
  if (!CONF_module_add(onem2m::kModuleName, onem2m::InitModule,
                       onem2m::FinishModule)) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR,
                 "cannot register the %s configuration module",
                 onem2m::kModuleName);
    return 0;
  }
  onem2m::module_added = true;
  return 1;
}

int ONEM2M_PSK_attach_from_config(SSL_CTX* ctx, const char* name) {
  try {
    return onem2m::AttachFromConfig(ctx, name) ? 1 : 0;
  } catch (const std::exception&) {
    ONEM2M_RAISE(ONEM2M_R_INTERNAL_ERROR, "out of memory");
    return 0;
  }
}

}  // extern "C"
