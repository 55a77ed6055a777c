// Loading OpenSSL's configuration file the way OpenSSL's tools do, but
// loudly: a provider the file activates that does not load is an error.

#ifndef ONEM2M_TOOLS_ONEM2M_PSK_OPENSSL_CONFIG_H_
#define ONEM2M_TOOLS_ONEM2M_PSK_OPENSSL_CONFIG_H_

namespace onem2m::cli {

// LoadOpensslConfig applies OPENSSL_CONF (or OpenSSL's default file) and
// checks that every provider it activates is active. OpenSSL 3.0 skips a
// provider whose module does not load without a word; we print which
// provider, which module file and why, and return false.
bool LoadOpensslConfig();

}  // namespace onem2m::cli

#endif  // ONEM2M_TOOLS_ONEM2M_PSK_OPENSSL_CONFIG_H_
