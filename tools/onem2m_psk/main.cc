// onem2m-psk: keys, derivations, a server and a client for oneM2M
// symmetric-key authentication over TLS-PSK.

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "commands.h"
#include "openssl_config.h"

namespace onem2m::cli {
namespace {

const Command* const kCommands[] = {
    &GenkeyCommand(),  &DeriveCommand(), &CheckCommand(),  &ServeCommand(),
    &ConnectCommand(), &ExportCommand(), &ImportCommand(),
};

void PrintOverview() {
  std::printf(
      "usage: onem2m-psk COMMAND [options]\n\n"
      "oneM2M symmetric-key authentication (TS-0003) over TLS-PSK.\n\n"
      "commands:\n");
  for (const Command* c : kCommands) {
    std::printf("  %s\n", c->synopsis);
  }
  std::printf(
      "\n'onem2m-psk COMMAND --help' tells more. Exit status: 0 success, "
      "1 failure,\n2 wrong command line.\n\n"
      "Environment: OPENSSL_CONF (an openssl.cnf to apply; a provider it\n"
      "activates must load), OPENSSL_MODULES (where onem2m.so is).\n");
}

int Main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintOverview();
    return argc < 2 ? kExitUsage : kExitOk;
  }
  for (const Command* c : kCommands) {
    if (std::strcmp(argv[1], c->name) != 0) {
      continue;
    }
    std::vector<std::string> rest(argv + 2, argv + argc);
    for (const auto& a : rest) {
      if (a == "--help" || a == "-h") {
        PrintHelp(*c);
        return kExitOk;
      }
    }
    std::optional<ParsedArgs> args = ParseArgs(*c, rest);
    if (!args) {
      return kExitUsage;
    }
    if (!LoadOpensslConfig()) {
      return kExitFailure;
    }
    return c->run(*args);
  }
  return Usage(std::string("unknown command '") + argv[1] +
               "' (see onem2m-psk --help)");
}

}  // namespace
}  // namespace onem2m::cli

int main(int argc, char** argv) {
  // A peer that closes its socket must give us EPIPE, not kill us.
  signal(SIGPIPE, SIG_IGN);
  try {
    return onem2m::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "onem2m-psk: error: %s\n", e.what());
    return onem2m::cli::kExitFailure;
  }
}
