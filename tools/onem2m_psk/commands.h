// The subcommands of onem2m-psk, one file each (cmd_*.cc).

#ifndef ONEM2M_TOOLS_ONEM2M_PSK_COMMANDS_H_
#define ONEM2M_TOOLS_ONEM2M_PSK_COMMANDS_H_

#include "cli_common.h"

namespace onem2m::cli {

const Command& GenkeyCommand();
const Command& DeriveCommand();
const Command& CheckCommand();
const Command& ServeCommand();
const Command& ConnectCommand();
const Command& ExportCommand();
const Command& ImportCommand();

}  // namespace onem2m::cli

#endif  // ONEM2M_TOOLS_ONEM2M_PSK_COMMANDS_H_
