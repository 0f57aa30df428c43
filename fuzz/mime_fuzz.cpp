// The MIME structure behind IMAP's ENVELOPE, BODYSTRUCTURE and BODY[section]
// (mime::parse and its views): message bodies come from strangers over channels. The parser
// "never fails"; these check it never crashes either, and that its byte ranges stay inside the
// message (a range past the end would make section_bytes read out of bounds).
#include "fuzz_support.h"
#include "store/mime.h"

namespace mime = fcpmail::mime;

namespace {

void check_part(const mime::Part& part, std::size_t message_size, int depth) {
  FUZZ_CHECK(depth < 1000);
  FUZZ_CHECK(part.header.begin <= part.header.end && part.header.end <= message_size);
  FUZZ_CHECK(part.body.begin <= part.body.end && part.body.end <= message_size);
  for (const auto& child : part.children) check_part(child, message_size, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input input(data, size);
  const std::uint8_t section_choice = input.byte();
  const std::uint8_t path_choice = input.byte();
  const std::string_view message = input.rest();

  const mime::Part root = mime::parse(message);
  check_part(root, message.size(), 0);

  (void)mime::envelope(message, root);
  (void)mime::bodystructure(message, root, true);
  (void)mime::bodystructure(message, root, false);
  if (root.is_message_rfc822() && !root.children.empty()) {
    (void)mime::envelope(message, root.children.front());
  }

  mime::Section section;
  for (int bit = 0; bit < 3; ++bit) {
    if (path_choice & (1 << bit)) section.path.push_back(1 + ((path_choice >> (3 + bit)) & 3));
  }
  section.text = static_cast<mime::Section::Text>(section_choice % 6);
  section.fields = {"From", "SUBJECT", "x-unknown"};
  (void)mime::section_bytes(message, root, section);

  const std::string_view header = message.substr(root.header.begin, root.header.size());
  for (const auto& [name, value] : mime::header_fields(header)) {
    (void)mime::parse_addresses(value);
    (void)mime::parse_date(value);
    (void)name;
  }
  (void)mime::header_value(header, "Content-Type");
  std::string out;
  mime::append_string(out, message.substr(0, 256));
  mime::append_nstring(out, std::nullopt);
  return 0;
}
