// Placeholder until this command group lands: it says so and exits 2, it never pretends.
#include "commands.h"
#include <iostream>
namespace fcpmail::cli {
int run_address(const Args&) { std::cerr << "fcpmail: this command is not available in this build yet\n"; return 2; }
int run_slots(const Args&) { std::cerr << "fcpmail: this command is not available in this build yet\n"; return 2; }
}
