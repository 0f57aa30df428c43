// IMAP4rev1 command syntax (RFC 3501 §9, RFC 7888 LITERAL+), pure: bytes in, values out.
//
// Two steps, both fuzzable on their own:
//   CommandFramer  cuts a byte stream into whole commands, following literals {n} and {n+}, and
//                  says when the server must send a continuation ("+ ...") for a synchronising
//                  literal. Lines and literals are bounded; an over-long line or literal is
//                  discarded with an error the session answers with BAD (or, for a non-synchronising
//                  literal the client is already sending, a request to close the connection).
//   parse_command  turns one whole command into a tag, an upper-cased command name and a generic
//                  argument tree (atoms, strings, parenthesised lists), the way Dovecot's parser
//                  keeps syntax apart from meaning. Commands interpret their arguments themselves
//                  with the helpers below (sequence sets, FETCH items, sections, flags, dates).
#pragma once
#include "store/mime.h"

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fcpmail::imap {

// ---- framing ----------------------------------------------------------------------------------

struct FramerLimits {
  std::size_t max_line = 64 * 1024;          // one line between literals
  std::size_t max_literal = 64u << 20;       // one literal (APPEND of a large message)
  std::size_t max_command = 80u << 20;       // a whole command with all its literals
};

class CommandFramer {
 public:
  struct NeedMore {};
  struct Continue {};                         // send "+ ..." before the client sends the literal
  struct Command { std::string raw; };        // a whole command, CRLF and literals included
  struct Reject {                             // answer `tag BAD text`; the command is dropped
    std::string tag;
    std::string text;
    bool close = false;                       // the client is already sending data we refuse
  };
  using Event = std::variant<NeedMore, Continue, Command, Reject>;

  explicit CommandFramer(FramerLimits limits = {}) : limits_(limits) {}
  // New limits from the next line on (a session allows bigger literals once authenticated).
  void set_limits(FramerLimits limits) { limits_ = limits; }
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  Event next();
  // Bytes received but not yet part of a returned command.
  std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  void compact();
  FramerLimits limits_;
  std::string buffer_;
  std::size_t start_ = 0;        // start of the current command
  std::size_t line_start_ = 0;   // start of the current line (after the last literal)
  std::size_t scan_ = 0;         // where the search for the line end resumes
  std::size_t literal_left_ = 0; // bytes of literal still to come
  bool discarding_ = false;      // dropping an over-long line up to its end
};

// ---- generic argument tree --------------------------------------------------------------------

struct Value {
  enum class Kind { atom, string, list };
  Kind kind = Kind::atom;
  std::string text;                // atom or string content
  std::vector<Value> items;        // list
  bool literal = false;            // a string sent as a literal

  bool is_atom() const { return kind == Kind::atom; }
  bool is_string() const { return kind == Kind::string; }
  bool is_list() const { return kind == Kind::list; }
  bool is_nil() const;             // the atom NIL
  // An astring: an atom or a string.
  bool is_astring() const { return kind != Kind::list; }
};

struct Command {
  std::string tag;
  std::string name;                // upper-cased ("UID FETCH" stays "UID"; args[0] is "FETCH")
  std::vector<Value> args;
};

struct ParseError {
  std::string tag;                 // "*" when no valid tag could be read
  std::string text;
};

std::expected<Command, ParseError> parse_command(std::string_view raw);

// ---- interpreting arguments -------------------------------------------------------------------

// A sequence set: ranges with `star` (0) standing for "the largest number in use".
struct SequenceSet {
  struct Range { std::uint32_t lo, hi; };   // 0 = '*'; lo may be > hi (order is irrelevant)
  std::vector<Range> ranges;
  bool is_saved_search = false;             // "$" (RFC 5182) - not supported, rejected
  bool contains(std::uint32_t n, std::uint32_t star) const;
};
std::optional<SequenceSet> parse_sequence_set(std::string_view s);

// FETCH attributes.
struct FetchItem {
  enum class Kind {
    uid, flags, internaldate, rfc822_size, envelope, bodystructure, body_structure_nonext,
    rfc822, rfc822_header, rfc822_text, body_section
  };
  Kind kind = Kind::uid;
  bool peek = false;                      // BODY.PEEK[...]
  mime::Section section;                  // for body_section
  std::string section_text;               // the section spec as written, upper-cased, for the reply
  std::optional<std::pair<std::uint32_t, std::uint32_t>> partial;  // <offset.length>
};
// The item list of FETCH (a macro atom, one item, or a parenthesised list).
std::expected<std::vector<FetchItem>, std::string> parse_fetch_items(const Value& v);
// "1.2.HEADER.FIELDS (A B)" (what is between the brackets).
std::expected<mime::Section, std::string> parse_section(std::string_view spec);

// Flags of STORE/APPEND: system flags and keywords.
struct FlagList {
  std::uint8_t system = 0;
  std::vector<std::string> keywords;
};
std::expected<FlagList, std::string> parse_flag_list(const Value& v);
std::expected<FlagList, std::string> parse_flag_atoms(const std::vector<Value>& atoms);

// "17-Jul-1996" (SEARCH) -> Unix seconds at 00:00 UTC of that day.
std::optional<std::int64_t> parse_search_date(std::string_view s);
// "17-Jul-1996 02:44:25 -0700" (APPEND) -> Unix seconds.
std::optional<std::int64_t> parse_date_time(std::string_view s);
// Unix seconds -> "17-Jul-1996 09:44:25 +0000".
std::string format_date_time(std::int64_t unix_seconds);

// Modified UTF-7 mailbox names (RFC 3501 §5.1.3): true if `name` is valid mUTF-7.
bool valid_mutf7(std::string_view name);

}  // namespace fcpmail::imap
