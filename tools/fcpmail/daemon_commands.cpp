// Placeholder until the control API lands: it says so and exits 2, it never pretends.
#include "commands.h"
#include <iostream>
namespace fcpmail::cli {
int run_daemon_command(const std::string& group, const Args&) {
  std::cerr << "fcpmail " << group << ": not available in this build yet\n";
  return 2;
}
}  // namespace fcpmail::cli
