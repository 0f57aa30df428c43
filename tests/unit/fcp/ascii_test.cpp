// fcp's own ASCII case helpers (fcp/ascii.h): ASCII letters only, whatever the C locale.
#include <fcp/ascii.h>

#include <doctest/doctest.h>

TEST_CASE("fcp ascii helpers change and compare only ASCII letters") {
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    CHECK(fcp::ascii::lower(c) == ((i >= 'A' && i <= 'Z') ? static_cast<char>(i + 32) : c));
    CHECK(fcp::ascii::upper(c) == ((i >= 'a' && i <= 'z') ? static_cast<char>(i - 32) : c));
  }
  CHECK(fcp::ascii::to_lower("Persistence=Forever\xC4") == "persistence=forever\xC4");
  CHECK(fcp::ascii::to_upper("chk@x") == "CHK@X");
  CHECK(fcp::ascii::iequals("Direct", "DIRECT"));
  CHECK_FALSE(fcp::ascii::iequals("direct", "direc"));
  CHECK_FALSE(fcp::ascii::iequals("@", "`"));
  CHECK_FALSE(fcp::ascii::iequals("\xC4", "\xE4"));
  CHECK(fcp::ascii::istarts_with("freenet:USK@x", "FREENET:"));
  CHECK_FALSE(fcp::ascii::istarts_with("free", "freenet:"));
}
