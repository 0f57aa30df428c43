// Command groups of the fcpmail CLI. Each group lives in its own source file and receives the
// arguments after its name (e.g. for `fcpmail node put URI` the node group gets {"put", "URI"}).
// A group returns the process exit code: 0 success, 1 operation failed, 2 usage error.
#pragma once
#include <string>
#include <vector>

namespace fcpmail::cli {

using Args = std::vector<std::string>;

int run_node(const Args& args);      // node_command.cpp: talk FCP to a node directly
int run_address(const Args& args);   // freemail_commands.cpp: parse a Freemail address
int run_slots(const Args& args);     // freemail_commands.cpp: slot chain
int run_rts(const Args& args);       // rts_command.cpp: encode/decode an RTS offline
int run_keygen(const Args& args);    // rts_command.cpp: write a Freemail RSA key file
// daemon_commands.cpp: everything that talks to a running fcpmaild through its control API.
int run_daemon_command(const std::string& group, const Args& args);

}  // namespace fcpmail::cli
