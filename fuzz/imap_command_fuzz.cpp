// IMAP command input (imap::CommandFramer + imap::parse_command + the argument interpreters):
// what a local, possibly compromised, mail client can send. Input: 4 bytes choosing chunk sizes,
// then the byte stream. Small framer limits let short inputs reach the over-long line and literal
// paths. Properties: memory held stays bounded by the limits; a framed command is never larger
// than max_command; every argument interpreter answers every argument without crashing.
#include "fuzz_support.h"
#include "imap/imap_parser.h"
#include "mail/ascii.h"

#include <variant>

namespace imap = fcpmail::imap;

namespace {

void interpret(const imap::Value& v, int depth) {
  if (depth > 64) return;
  (void)v.is_nil();
  (void)imap::parse_fetch_items(v);
  (void)imap::parse_flag_list(v);
  if (v.is_list()) {
    (void)imap::parse_flag_atoms(v.items);
    for (const auto& item : v.items) interpret(item, depth + 1);
    return;
  }
  if (auto set = imap::parse_sequence_set(v.text)) {
    (void)set->contains(1, 0);
    (void)set->contains(0xffffffffu, 7);
  }
  (void)imap::parse_section(v.text);
  (void)imap::parse_search_date(v.text);
  if (auto t = imap::parse_date_time(v.text)) (void)imap::format_date_time(*t);
  (void)imap::valid_mutf7(v.text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input input(data, size);
  std::string seed;
  for (int i = 0; i < 4; ++i) seed.push_back(static_cast<char>(input.byte()));
  const std::string_view stream = input.rest();

  imap::FramerLimits limits;
  limits.max_line = 512;
  limits.max_literal = 2048;
  limits.max_command = 4096;
  imap::CommandFramer framer(limits);

  const auto plan = fuzz::chunk_plan(seed, 128);
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < stream.size(); ++i) {
    const std::size_t n = std::min(plan[i % plan.size()], stream.size() - pos);
    framer.feed(stream.substr(pos, n));
    pos += n;
    for (int events = 0; events < 100000; ++events) {
      auto event = framer.next();
      if (std::holds_alternative<imap::CommandFramer::NeedMore>(event)) break;
      if (auto* command = std::get_if<imap::CommandFramer::Command>(&event)) {
        FUZZ_CHECK(command->raw.size() <= limits.max_command + limits.max_line);
        if (auto parsed = imap::parse_command(command->raw)) {
          (void)fcpmail::ascii::to_upper(parsed->name);
          for (const auto& arg : parsed->args) interpret(arg, 0);
        }
      } else if (auto* reject = std::get_if<imap::CommandFramer::Reject>(&event)) {
        if (reject->close) break;
      }
      FUZZ_CHECK(events < 99999);  // next() must reach NeedMore: no endless event stream
    }
    FUZZ_CHECK(framer.buffered() <= limits.max_command + limits.max_line + 128);
  }
  // The whole input as one command, whatever the framer made of it.
  (void)imap::parse_command(stream);
  return 0;
}
