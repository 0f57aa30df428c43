// The command groups of the fcpmail CLI, one source file each in commands/. A group receives the
// words after its name (for `fcpmail node put URI` the node group gets {"put", "URI"}), parses
// them with the shared parser (command_line.h) and returns the process exit code: 0 success,
// 1 operation failed, 2 usage error. main.cpp's command table lists them all.
#pragma once
#include <iostream>
#include <string>
#include <vector>

#include "command_line.h"

namespace fcpmail::cli {

// Talking to a node directly
int run_node(const Args& args);      // commands/node.cpp: hello, genssk, put, get over FCP
// Offline Freemail tools
int run_address(const Args& args);   // commands/freemail.cpp: parse a Freemail address
int run_slots(const Args& args);     // commands/freemail.cpp: follow a slot chain
int run_rts(const Args& args);       // commands/rts.cpp: encode/decode an RTS
int run_keygen(const Args& args);    // commands/rts.cpp: write a Freemail RSA key file
// Talking to the running daemon through its control API
int run_status(const Args& args);    // commands/status.cpp
int run_queues(const Args& args);    // commands/status.cpp
int run_account(const Args& args);   // commands/account.cpp
int run_contacts(const Args& args);  // commands/contacts.cpp
int run_requests(const Args& args);  // commands/requests.cpp
int run_outbox(const Args& args);    // commands/outbox.cpp
int run_send(const Args& args);      // commands/send.cpp
int run_web(const Args& args);       // commands/web.cpp

// Prints a parse error ("fcpmail: unknown option '--x' for 'outbox list' (see ...)"); exit code 2.
inline int report_usage_error(const UsageError& error) {
  std::cerr << error.text() << '\n';
  return usage_exit_code;
}

}  // namespace fcpmail::cli
