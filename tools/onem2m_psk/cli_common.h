// What the onem2m-psk subcommands share: option parsing, error reporting,
// opening keystores and Root Key files, host:port parsing.

#ifndef ONEM2M_TOOLS_ONEM2M_PSK_CLI_COMMON_H_
#define ONEM2M_TOOLS_ONEM2M_PSK_CLI_COMMON_H_

#include <openssl/ssl.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keystore.h"
#include "keystore_pkcs11.h"
#include "onem2m/keystore.h"
#include "protocol.h"

namespace onem2m::cli {

// Exit codes: 0 success, 1 the operation failed (handshake refused, bad
// keystore), 2 the command line is wrong.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// OptionSpec describes one "--name" option of a subcommand.
struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value;
  std::string help;  // one line for --help
};

// ParsedArgs holds options by name and the positional arguments.
struct ParsedArgs {
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;
  bool Has(const std::string& name) const { return options.count(name) > 0; }
  std::string Get(const std::string& name,
                  const std::string& fallback = "") const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
};

// Command is one subcommand.
struct Command {
  const char* name;
  const char* synopsis;     // "genkey --key-id ID [--bytes N]"
  const char* description;  // a paragraph for --help
  std::vector<OptionSpec> options;
  int (*run)(const ParsedArgs& args);
};

// ParseArgs parses argv against |cmd|'s options; on a mistake it prints a
// message naming the option and returns std::nullopt.
std::optional<ParsedArgs> ParseArgs(const Command& cmd,
                                    const std::vector<std::string>& argv);

// PrintHelp prints |cmd|'s --help text to stdout.
void PrintHelp(const Command& cmd);

// Fail prints "onem2m-psk: error: <message>" to stderr and returns
// kExitFailure; Usage does the same with kExitUsage.
int Fail(const std::string& message);
int Usage(const std::string& message);

// FailWithErrors prints |what| and every error on OpenSSL's queue (our
// library's texts, which hold no key bytes), then returns kExitFailure.
int FailWithErrors(const std::string& what);

// ErrorQueueText drains OpenSSL's error queue into "; "-joined texts.
std::string ErrorQueueText();

// ParseVersion parses a single version 0..3.
std::optional<Version> ParseVersion(const std::string& text);

// OpenKeystoreAt opens a keystore file or a pkcs11: URI. A URI with
// pin-value is refused (a command line is visible to every user through
// ps). Prints the reason and returns nullptr on failure.
ONEM2M_KEYSTORE* OpenKeystoreAt(const std::string& location);

// OpenKeystore opens the keystore named by --keystore FILE|URI, or builds a
// one-key memory keystore from --root-key-file FILE for |key_id|. Prints
// the reason and returns nullptr on failure.
ONEM2M_KEYSTORE* OpenKeystore(const ParsedArgs& args,
                              const std::string& key_id);

// ReadRootKeyFile reads a Root Key (hex, or base64:...) from FILE, or
// standard input for "-". The file must not be readable by group or
// others. Prints the reason and returns false on failure.
bool ReadRootKeyFile(const std::string& path, SecretBuffer* root_key);

// IsOneOfTheInputs tells, printing why, whether |path| (the file that
// option --|option| writes) is a file this command reads: the --keystore
// file or the --root-key-file. Writing there would destroy the Root Keys.
bool IsOneOfTheInputs(const ParsedArgs& args, const std::string& option,
                      const std::string& path);

// WriteSessionPem writes |session| as PEM to |path|, created or truncated
// with mode 0600 (a session holds secrets). Prints and returns false on
// failure.
bool WriteSessionPem(const std::string& path, SSL_SESSION* session);

// ReadSessionPem reads a PEM session written by WriteSessionPem; prints and
// returns nullptr on failure. The caller frees it.
SSL_SESSION* ReadSessionPem(const std::string& path);

// DeriveOrExplain asks |ks| for the PSK of (|key_id|, |v|) through |kdf|;
// on a refusal or failure it prints why and returns false.
bool DeriveOrExplain(ONEM2M_KEYSTORE* ks, EVP_KDF* kdf,
                     const std::string& key_id, Version v, SecretBuffer* psk);

// SplitHostPort parses "HOST:PORT" (HOST may be [v6]). Port 0..65535.
bool SplitHostPort(const std::string& text, std::string* host, int* port);

// ProfileMistake returns the usage message for a --profile other than
// onem2m, or "" when --profile is absent or right.
std::string ProfileMistake(const ParsedArgs& args);

// ApplyProtocolOptions applies --tls1_2 / --tls1_3 / --cipher /
// --ciphersuites / --groups to |ctx|; prints and returns false on failure.
bool ApplyProtocolOptions(SSL_CTX* ctx, const ParsedArgs& args);

// The protocol options every TLS subcommand accepts.
std::vector<OptionSpec> ProtocolOptionSpecs();

}  // namespace onem2m::cli

#endif  // ONEM2M_TOOLS_ONEM2M_PSK_CLI_COMMON_H_
