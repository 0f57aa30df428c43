#include "net/host_port.h"

#include <doctest/doctest.h>

using fcpmail::net::split_host_port;

TEST_CASE("split_host_port") {
  CHECK(split_host_port("127.0.0.1:9080") == std::pair<std::string, unsigned short>{"127.0.0.1", 9080});
  CHECK(split_host_port("[::1]:80") == std::pair<std::string, unsigned short>{"::1", 80});
  CHECK_FALSE(split_host_port("127.0.0.1"));
  CHECK_FALSE(split_host_port("host:99999"));
  CHECK_FALSE(split_host_port("host:8x"));
  CHECK_FALSE(split_host_port(":80"));
}
