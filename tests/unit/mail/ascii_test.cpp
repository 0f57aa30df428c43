// The one definition of the ASCII case helpers: ASCII letters only, every other byte (digits,
// punctuation, UTF-8 and Latin-1 bytes) compares and converts as itself, whatever the C locale says.
#include "mail/ascii.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace fcpmail;

TEST_CASE("ascii lower and upper change only the 52 ASCII letters") {
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    const bool is_upper = i >= 'A' && i <= 'Z', is_lower = i >= 'a' && i <= 'z';
    CHECK(ascii::lower(c) == (is_upper ? static_cast<char>(i + 32) : c));
    CHECK(ascii::upper(c) == (is_lower ? static_cast<char>(i - 32) : c));
  }
  static_assert(ascii::lower('Q') == 'q' && ascii::upper('q') == 'Q' && ascii::lower('@') == '@');
}

TEST_CASE("ascii to_lower and to_upper leave non-ASCII bytes alone") {
  CHECK(ascii::to_lower("Bob@Example.FREEMAIL") == "bob@example.freemail");
  CHECK(ascii::to_upper("uid fetch [header.fields]") == "UID FETCH [HEADER.FIELDS]");
  CHECK(ascii::to_lower("\xC3\x84Z") == "\xC3\x84z");  // UTF-8 'Ä' is not an ASCII letter
  CHECK(ascii::to_upper("\xE4x") == "\xE4X");          // nor is Latin-1 'ä'
  CHECK(ascii::to_lower("") == "");
}

TEST_CASE("ascii iequals ignores case only") {
  CHECK(ascii::iequals("INBOX", "inbox"));
  CHECK(ascii::iequals("Content-Type", "content-TYPE"));
  CHECK(ascii::iequals("", ""));
  CHECK_FALSE(ascii::iequals("INBOX", "INBOX/"));
  CHECK_FALSE(ascii::iequals("@", "`"));  // 0x40 and 0x60 differ by the case bit but are not letters
  CHECK_FALSE(ascii::iequals("[", "{"));
  CHECK_FALSE(ascii::iequals("\xC4", "\xE4"));  // Latin-1 Ä/ä: not ASCII, so not equal
  static_assert(ascii::iequals("Date", "DATE"));
}

TEST_CASE("ascii istarts_with, iends_with, ifind and icontains") {
  CHECK(ascii::istarts_with("X-FCPMAIL-Claimed: x", "x-fcpmail-"));
  CHECK_FALSE(ascii::istarts_with("X-FCP", "x-fcpmail-"));
  CHECK(ascii::istarts_with("anything", ""));
  CHECK(ascii::iends_with("bob@ABC.Freemail", ".freemail"));
  CHECK_FALSE(ascii::iends_with("freemail", ".freemail"));
  CHECK(ascii::ifind("Hello World", "WORLD") == 6);
  CHECK(ascii::ifind("Hello", "") == 0);
  CHECK(ascii::ifind("", "") == 0);
  CHECK(ascii::ifind("abc", "abcd") == std::string_view::npos);
  CHECK(ascii::ifind("aaab", "AAB") == 1);
  CHECK(ascii::icontains("Subject: Re: MEETING", "meeting"));
  CHECK_FALSE(ascii::icontains("Subject", "subjects"));
}

TEST_CASE("ascii iless orders by the lower-cased bytes") {
  std::vector<std::string> k = {"beta", "Alpha", "alpha", "$Junk", "Gamma"};
  std::stable_sort(k.begin(), k.end(), [](const std::string& a, const std::string& b) { return ascii::iless(a, b); });
  CHECK(k == std::vector<std::string>{"$Junk", "Alpha", "alpha", "beta", "Gamma"});
  CHECK_FALSE(ascii::iless("ABC", "abc"));
  CHECK_FALSE(ascii::iless("abc", "ABC"));
  CHECK(ascii::iless("ab", "ABC"));
  // Lower-cased, as mailbox_store sorted keywords before: '_' (0x5F) < 'z' (0x7A), though 'Z' is 0x5A.
  CHECK(ascii::iless("_", "Z"));
  CHECK_FALSE(ascii::iless("Z", "_"));
}
