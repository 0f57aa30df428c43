#include "net/host_port.h"

namespace fcpmail::net {

std::expected<std::pair<std::string, unsigned short>, std::string> split_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size())
    return std::unexpected("'" + text + "' is not HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  for (std::size_t i = colon + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::unexpected("'" + text + "' is not HOST:PORT");
    port = port * 10 + static_cast<unsigned long>(text[i] - '0');
    if (port > 65535) return std::unexpected("port out of range in '" + text + "'");
  }
  return std::pair{host, static_cast<unsigned short>(port)};
}

}  // namespace fcpmail::net
