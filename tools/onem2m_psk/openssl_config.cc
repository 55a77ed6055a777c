#include "openssl_config.h"

#include <dlfcn.h>
#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "cli_common.h"
#include "onem2m/psk.h"

namespace onem2m::cli {
namespace {

using ConfPtr = std::unique_ptr<CONF, decltype(&NCONF_free)>;

// IsTrue reads a config boolean the way OpenSSL does ("1", "yes", "on",
// "true", any case).
bool IsTrue(const char* value) {
  if (value == nullptr) {
    return false;
  }
  std::string v(value);
  for (char& c : v) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return v == "1" || v == "yes" || v == "on" || v == "true";
}

// ModulePath is where OpenSSL looks for provider |name|'s module.
std::string ModulePath(const char* name, const char* module) {
  std::string m = module != nullptr ? module : std::string(name) + ".so";
  if (!m.empty() && m[0] == '/') {
    return m;
  }
  const char* env = std::getenv("OPENSSL_MODULES");
  std::string dir =
      env != nullptr ? env : OPENSSL_info(OPENSSL_INFO_MODULES_DIR);
  return dir + "/" + m;
}

// WhyModuleFails says why |path| does not load as a shared object.
std::string WhyModuleFails(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return why != nullptr ? why : "it does not load";
  }
  bool has_init = dlsym(handle, "OSSL_provider_init") != nullptr;
  dlclose(handle);
  return has_init ? "it loads, but its initialisation failed"
                  : "it has no OSSL_provider_init: not an OpenSSL provider";
}

// CheckProviders reports every provider that |file| activates and that is
// not active now.
bool CheckProviders(const std::string& file) {
  ConfPtr conf(NCONF_new(nullptr), NCONF_free);
  if (conf == nullptr || NCONF_load(conf.get(), file.c_str(), nullptr) <= 0) {
    ERR_clear_error();
    return true;  // no file: OpenSSL's defaults apply
  }
  const char* init = NCONF_get_string(conf.get(), nullptr, "openssl_conf");
  const char* providers = init != nullptr
                              ? NCONF_get_string(conf.get(), init, "providers")
                              : nullptr;
  STACK_OF(CONF_VALUE)* list =
      providers != nullptr ? NCONF_get_section(conf.get(), providers) : nullptr;
  ERR_clear_error();
  bool ok = true;
  for (int i = 0; i < sk_CONF_VALUE_num(list); i++) {
    const CONF_VALUE* entry = sk_CONF_VALUE_value(list, i);
    const char* name = entry->name;
    const char* section = entry->value;
    if (!IsTrue(NCONF_get_string(conf.get(), section, "activate")) ||
        OSSL_PROVIDER_available(nullptr, name)) {
      ERR_clear_error();
      continue;
    }
    const char* module = NCONF_get_string(conf.get(), section, "module");
    ERR_clear_error();
    std::string path = ModulePath(name, module);
    Fail("OpenSSL configuration " + file + " activates provider " + name +
         ", which could not be loaded from " + path + ": " +
         WhyModuleFails(path) + " (fix the module = line of section [" +
         section + "], or set OPENSSL_MODULES)");
    ok = false;
  }
  return ok;
}

}  // namespace

bool LoadOpensslConfig() {
  OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
  // A file that configures applications through our module
  // ([openssl_init] onem2m_psk = ...) must load here too.
  ONEM2M_PSK_config_module_add();
  const char* env = std::getenv("OPENSSL_CONF");
  std::string file;
  if (env != nullptr) {
    file = env;
  } else {
    char* def = CONF_get1_default_config_file();
    file = def != nullptr ? def : "";
    OPENSSL_free(def);
  }
  if (CONF_modules_load_file(file.c_str(), nullptr,
                             CONF_MFLAGS_IGNORE_MISSING_FILE) <= 0) {
    std::string detail = ErrorQueueText();
    Fail("OpenSSL configuration " + file + " could not be applied: " +
         (detail.empty() ? "unknown reason" : detail));
    return false;
  }
  return CheckProviders(file);
}

}  // namespace onem2m::cli
