// SMTP command lines (smtp::parse_command and the argument parsers): what a local, possibly
// compromised, mail client can send. The input is split into lines at LF; each line goes through
// every parser that could see it. Properties: verb_text is at most 16 characters, the argument has
// no trailing spaces, base64 re-encodes to text that decodes to the same bytes, a parsed path has
// no angle brackets left.
#include "crypto/base64.h"
#include "fuzz_support.h"
#include "smtp/smtp_parser.h"

namespace smtp = fcpmail::smtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const auto lf = rest.find('\n');
    std::string_view line = rest.substr(0, lf);
    rest = lf == std::string_view::npos ? std::string_view{} : rest.substr(lf + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);

    const auto command = smtp::parse_command(line);
    FUZZ_CHECK(command.verb_text.size() <= 16);
    FUZZ_CHECK(!command.argument.ends_with(' '));

    for (std::string_view keyword : {"FROM", "TO"}) {
      if (auto path = smtp::parse_path_argument(command.argument, keyword)) {
        for (const auto& p : path->parameters) {
          if (p.keyword == "SIZE") (void)smtp::parse_size_value(p.value);
        }
        (void)smtp::same_address(path->address, command.argument);
      }
    }
    auto [mechanism, initial] = smtp::split_auth_argument(command.argument);
    (void)mechanism;
    if (initial) {
      if (auto decoded = crypto::base64_decode(*initial, crypto::Base64Padding::optional)) {
        auto again = crypto::base64_decode(crypto::base64_encode(*decoded), crypto::Base64Padding::optional);
        FUZZ_CHECK(again.has_value() && *again == *decoded);
        (void)smtp::parse_sasl_plain(*decoded);
      }
    }
    if (auto decoded = crypto::base64_decode(line, crypto::Base64Padding::optional)) (void)smtp::parse_sasl_plain(*decoded);
    (void)smtp::parse_sasl_plain(line);
    (void)smtp::parse_size_value(line);
  }
  return 0;
}
