// "HOST:PORT" as the command line (--imap-listen, --fcp), control.json and the CLI write an
// endpoint: "127.0.0.1:9080", "[::1]:80" (an IPv6 address in brackets). Pure; no name lookup.
#pragma once
#include <expected>
#include <string>
#include <utility>

namespace fcpmail::net {

// Splits "host:port" ("[::1]:80" too: the brackets go). An error sentence if malformed.
std::expected<std::pair<std::string, unsigned short>, std::string> split_host_port(const std::string& text);

}  // namespace fcpmail::net
