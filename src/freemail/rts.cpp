#include "freemail/rts.h"

#include "crypto/aes_cbc.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace fcpmail::freemail {

namespace {

RtsFailure fail(RtsError e, std::string reason) { return RtsFailure{e, std::move(reason)}; }

// Freenet base64 alphabet as Freemail's FreenetURI regex spells it: [0-9a-zA-Z~-].
bool is_b64(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '~' ||
         c == '-';
}

bool is_word(char c) {  // Java regex \w
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Consumes a run of `min..max` characters satisfying `pred` followed by `terminator` (or the end
// when terminator is 0). Backtracks like the regex would: the run must end exactly at the
// terminator, and since the terminator is never in the class, the longest run is the only one.
bool take_run(std::string_view& s, bool (*pred)(char), std::size_t min, std::size_t max) {
  std::size_t n = 0;
  while (n < s.size() && pred(s[n])) ++n;
  if (n < min || n > max) return false;
  s.remove_prefix(n);
  return true;
}

bool take(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// (freenet:)?<type>@<b64 42-44>,<b64 42-44>,<b64 7>; leaves the rest in s.
bool take_key(std::string_view& s, std::string_view type) {
  take(s, "freenet:");
  return take(s, type) && take(s, "@") && take_run(s, is_b64, 42, 44) && take(s, ",") &&
         take_run(s, is_b64, 42, 44) && take(s, ",") && take_run(s, is_b64, 7, 7);
}

std::expected<std::int64_t, std::string> parse_timeout(std::string_view text) {
  std::int64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec != std::errc() || end != last) {
    return std::unexpected("timeout is not a decimal number: '" + std::string(text) + "'");
  }
  return value;
}

constexpr std::string_view field_names[] = {"mailsite", "to", "channel", "initiatorSlot",
                                            "responderSlot", "timeout"};

}  // namespace

std::string_view to_string(RtsError error) {
  switch (error) {
    case RtsError::invalid_fields: return "invalid_fields";
    case RtsError::too_large: return "too_large";
    case RtsError::too_short: return "too_short";
    case RtsError::bad_key_block: return "bad_key_block";
    case RtsError::bad_ciphertext: return "bad_ciphertext";
    case RtsError::line_too_long: return "line_too_long";
    case RtsError::too_many_lines: return "too_many_lines";
    case RtsError::no_blank_line: return "no_blank_line";
    case RtsError::missing_field: return "missing_field";
    case RtsError::malformed_field: return "malformed_field";
    case RtsError::bad_signature: return "bad_signature";
    case RtsError::wrong_recipient: return "wrong_recipient";
    case RtsError::expired: return "expired";
  }
  return "unknown";
}

bool is_freemail_usk(std::string_view uri) {
  std::string_view s = uri;
  if (!take_key(s, "USK")) return false;
  // Nothing, "/", "/site", "/site/", "/site/<-?digits>", "/site/<-?digits>/...".
  if (s.empty() || s == "/") return true;
  if (!take(s, "/") || !take_run(s, is_word, 1, std::string_view::npos)) return false;
  if (s.empty() || s == "/") return true;
  if (!take(s, "/")) return false;
  take(s, "-");
  if (!take_run(s, [](char c) { return c >= '0' && c <= '9'; }, 1, std::string_view::npos)) {
    return false;
  }
  return s.empty() || s.front() == '/';
}

bool is_freemail_ssk(std::string_view uri) {
  std::string_view s = uri;
  return take_key(s, "SSK") && (s.empty() || s.front() == '/');
}

// ---- sending ----------------------------------------------------------------------------------

std::string rts_plaintext(const RtsFields& f) {
  std::string out;
  out.reserve(512);
  out.append("mailsite=").append(f.mailsite).append("\r\n");
  out.append("to=").append(f.to).append("\r\n");
  out.append("channel=").append(f.channel).append("\r\n");
  out.append("initiatorSlot=").append(f.initiator_slot).append("\r\n");
  out.append("responderSlot=").append(f.responder_slot).append("\r\n");
  out.append("timeout=").append(std::to_string(f.timeout_ms)).append("\r\n");
  out.append("\r\n");
  return out;
}

std::expected<void, RtsFailure> check_rts_fields(const RtsFields& f) {
  const std::string_view values[] = {f.mailsite, f.to, f.channel, f.initiator_slot,
                                     f.responder_slot};
  for (std::size_t i = 0; i < std::size(values); ++i) {
    if (values[i].empty()) {
      return std::unexpected(fail(RtsError::invalid_fields, std::string(field_names[i]) + " is empty"));
    }
    // Keys, ids and slots are printable ASCII without spaces; anything else (a line break would
    // even inject fields) means a bug upstream.
    for (char c : values[i]) {
      if (c <= ' ' || c > '~') {
        return std::unexpected(fail(RtsError::invalid_fields,
                                    std::string(field_names[i]) +
                                        " contains a space, control or non-ASCII character"));
      }
    }
    // key '=' value CR must fit in 200 bytes.
    if (field_names[i].size() + 1 + values[i].size() + 1 > rts_max_line) {
      return std::unexpected(fail(RtsError::invalid_fields,
                                  std::string(field_names[i]) + " line is longer than 200 bytes"));
    }
  }
  if (!is_freemail_usk(f.mailsite)) {
    return std::unexpected(fail(RtsError::invalid_fields, "mailsite is not a USK Freemail accepts"));
  }
  // Java's sender asserts ^SSK@\S{42,44},\S{42,44},\S{7}/$ and its receiver runs checkSSK.
  std::string_view channel = f.channel;
  if (!take_key(channel, "SSK") || channel != "/" || f.channel.starts_with("freenet:")) {
    return std::unexpected(
        fail(RtsError::invalid_fields, "channel is not an SSK insert URI of the form SSK@k,c,x/"));
  }
  return {};
}

std::string sign_rts(std::string_view plaintext, const crypto::RsaPrivateKey& sender) {
  // A 32-byte hash is always below a >= 512-bit modulus, so this cannot fail.
  return *sender.raw_private(crypto::sha256(plaintext));
}

std::expected<std::string, RtsFailure> seal_rts(std::string_view plaintext,
                                                const crypto::RsaPrivateKey& sender,
                                                const crypto::RsaPublicKey& recipient,
                                                std::string_view key_material) {
  if (key_material.size() != rts_key_material_size) {
    return std::unexpected(fail(RtsError::invalid_fields, "key material must be 48 bytes"));
  }
  auto key_block = recipient.raw_public(key_material);
  if (!key_block) return std::unexpected(fail(RtsError::invalid_fields, key_block.error()));
  std::string signed_message(plaintext);
  signed_message += sign_rts(plaintext, sender);
  std::string out = std::move(*key_block);
  out += crypto::aes_cbc_encrypt(key_material.substr(16, 32), key_material.substr(0, 16),
                                 signed_message);
  return out;
}

std::expected<EncodedRts, RtsFailure> encode_rts(const RtsFields& fields,
                                                 const crypto::RsaPrivateKey& sender,
                                                 const crypto::RsaPublicKey& recipient) {
  if (auto ok = check_rts_fields(fields); !ok) return std::unexpected(ok.error());
  EncodedRts result{{}, fields};
  std::string plaintext = rts_plaintext(result.fields);
  // Q2: a hash with a leading zero byte fails Java's check; move the timeout 1 ms earlier.
  while (crypto::sha256(plaintext)[0] == '\0') {
    --result.fields.timeout_ms;
    plaintext = rts_plaintext(result.fields);
  }
  // Q1: a leading zero byte in IV || key is lost by Java's receiver; draw again.
  std::string key_material;
  do {
    key_material = crypto::random_bytes(rts_key_material_size);
  } while (key_material[0] == '\0');
  auto sealed = seal_rts(plaintext, sender, recipient, key_material);
  if (!sealed) return std::unexpected(sealed.error());
  result.bytes = std::move(*sealed);
  return result;
}

// ---- receiving --------------------------------------------------------------------------------

std::string OpenedRts::sender_identity() const {
  const std::string& m = fields.mailsite;
  const auto at = m.find('@');
  if (at == std::string::npos) return {};
  const auto comma = m.find(',', at + 1);
  return m.substr(at + 1, comma == std::string::npos ? std::string::npos : comma - at - 1);
}

std::expected<OpenedRts, RtsFailure> open_rts(std::string_view rts,
                                              const crypto::RsaPrivateKey& own_key) {
  // 1. Size.
  if (rts.size() > rts_max_size) {
    return std::unexpected(fail(RtsError::too_large, "RTS of " + std::to_string(rts.size()) +
                                                         " bytes exceeds 2 MiB"));
  }
  const std::size_t k = own_key.public_key().block_size();
  if (rts.size() < k + crypto::aes_block_size) {
    return std::unexpected(fail(RtsError::too_short, "RTS of " + std::to_string(rts.size()) +
                                                         " bytes is shorter than one RSA block (" +
                                                         std::to_string(k) + ") plus one AES block"));
  }
  // 2. The RSA block: IV || AES-256 key. Left-pad to 48 bytes (tolerant of Q1).
  auto block = own_key.raw_private(rts.substr(0, k));
  if (!block) return std::unexpected(fail(RtsError::bad_key_block, block.error()));
  const std::string_view material = crypto::strip_leading_zeros(*block);
  if (material.size() > rts_key_material_size) {
    return std::unexpected(fail(RtsError::bad_key_block,
                                "RSA block does not hold a 48-byte IV and AES-256 key (not for our key?)"));
  }
  std::string padded(rts_key_material_size - material.size(), '\0');
  padded += material;
  // 3. AES-CBC with PKCS#7.
  auto plain = crypto::aes_cbc_decrypt(std::string_view(padded).substr(16, 32),
                                       std::string_view(padded).substr(0, 16), rts.substr(k));
  if (!plain) return std::unexpected(fail(RtsError::bad_ciphertext, plain.error()));

  // 4. Lines up to the first empty line, the way Java's LineReadingInputStream.readLine(200)
  // reads them: LF ends a line, one CR before it is dropped, more than 200 bytes is fatal. Six
  // fields are all an RTS has: after rts_max_lines lines the rest is not looked at, so a junk
  // plaintext of up to 2 MiB costs a few kilobytes of scanning, not a pass over every line.
  const std::string_view text = *plain;
  std::size_t pos = 0;
  std::size_t line_number = 0;
  while (true) {
    ++line_number;
    // Only the first 201 bytes of a line matter: a longer one is refused whatever follows.
    const std::size_t lf = text.substr(pos, rts_max_line + 1).find('\n');
    const bool too_long = lf == std::string_view::npos && text.size() - pos > rts_max_line;
    if (too_long) {
      return std::unexpected(fail(RtsError::line_too_long,
                                  "line " + std::to_string(line_number) + " is longer than 200 bytes"));
    }
    if (lf == std::string_view::npos) {
      return std::unexpected(
          fail(RtsError::no_blank_line, "no empty line before the signature (not for our key?)"));
    }
    std::string_view line = text.substr(pos, lf);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) {
      return std::unexpected(fail(RtsError::malformed_field,
                                  "stray CR inside line " + std::to_string(line_number)));
    }
    pos += lf + 1;
    if (line.empty()) break;
    if (line_number > rts_max_lines) {  // checked after the empty-line test: it may be line 65
      return std::unexpected(fail(RtsError::too_many_lines,
                                  "more than " + std::to_string(rts_max_lines) +
                                      " lines before the empty line (an RTS has six); refused unread"));
    }
  }

  OpenedRts out;
  out.signed_region = std::string(text.substr(0, pos));
  out.trailer = std::string(text.substr(pos));
  auto header = read_props_header(out.signed_region, default_props_max_line, rts_max_lines);
  if (!header) return std::unexpected(fail(RtsError::malformed_field, header.error()));
  out.props = std::move(header->props);

  // 5. Required fields, checked in Java's order (validate_rts), plus timeout.
  std::string missing;
  auto get = [&](std::string_view key) -> std::string {
    auto v = out.props.get(key);
    if (!v) {
      missing += (missing.empty() ? "" : ", ") + std::string(key);
      return {};
    }
    return std::string(*v);
  };
  out.fields.mailsite = get("mailsite");
  if (!out.fields.mailsite.empty() && !is_freemail_usk(out.fields.mailsite)) {
    return std::unexpected(fail(RtsError::malformed_field, "mailsite is not a USK: " + out.fields.mailsite));
  }
  out.fields.to = get("to");
  out.fields.channel = get("channel");
  if (out.props.contains("channel") && !is_freemail_ssk(out.fields.channel)) {
    return std::unexpected(fail(RtsError::malformed_field, "channel is not an SSK: " + out.fields.channel));
  }
  out.fields.initiator_slot = get("initiatorSlot");
  out.fields.responder_slot = get("responderSlot");
  std::string timeout = get("timeout");
  if (!missing.empty()) return std::unexpected(fail(RtsError::missing_field, "missing " + missing));
  if (out.fields.mailsite.empty()) {
    return std::unexpected(fail(RtsError::malformed_field, "mailsite is not a USK: (empty)"));
  }
  if (out.fields.to.empty() || out.fields.initiator_slot.empty() || out.fields.responder_slot.empty()) {
    return std::unexpected(fail(RtsError::malformed_field, "to, initiatorSlot and responderSlot must not be empty"));
  }
  auto t = parse_timeout(timeout);
  if (!t) return std::unexpected(fail(RtsError::malformed_field, t.error()));
  out.fields.timeout_ms = *t;
  return out;
}

std::expected<void, RtsFailure> verify_rts_signature(const OpenedRts& rts,
                                                     const crypto::RsaPublicKey& sender_key) {
  const std::size_t k = sender_key.block_size();
  if (rts.trailer.size() < k) {
    return std::unexpected(fail(RtsError::bad_signature,
                                "signature missing or truncated (" + std::to_string(rts.trailer.size()) +
                                    " of " + std::to_string(k) + " bytes)"));
  }
  auto recovered = sender_key.raw_public(std::string_view(rts.trailer).substr(0, k));
  if (!recovered) return std::unexpected(fail(RtsError::bad_signature, "signature: " + recovered.error()));
  const std::string digest = crypto::sha256(rts.signed_region);
  // s^e mod n must equal the hash as an integer: k - 32 zero bytes, then the hash.
  const std::string_view r = *recovered;
  const bool ok = r.substr(0, k - digest.size()).find_first_not_of('\0') == std::string_view::npos &&
                  r.substr(k - digest.size()) == digest;
  if (!ok) {
    return std::unexpected(fail(RtsError::bad_signature,
                                "signature does not match the plaintext and the sender's mailpage key"));
  }
  return {};
}

std::expected<void, RtsFailure> check_rts_recipient(const OpenedRts& rts,
                                                    std::string_view own_identity,
                                                    std::int64_t now_ms) {
  if (rts.fields.to != own_identity) {
    return std::unexpected(fail(RtsError::wrong_recipient, "RTS is addressed to " + rts.fields.to));
  }
  if (now_ms > rts.fields.timeout_ms) {
    return std::unexpected(fail(RtsError::expired, "channel timeout " + std::to_string(rts.fields.timeout_ms) +
                                                       " has passed"));
  }
  return {};
}

std::expected<RtsFields, RtsFailure> accept_rts(std::string_view rts,
                                                const crypto::RsaPrivateKey& own_key,
                                                const crypto::RsaPublicKey& sender_key,
                                                std::string_view own_identity,
                                                std::int64_t now_ms) {
  auto opened = open_rts(rts, own_key);
  if (!opened) return std::unexpected(opened.error());
  if (auto ok = verify_rts_signature(*opened, sender_key); !ok) return std::unexpected(ok.error());
  if (auto ok = check_rts_recipient(*opened, own_identity, now_ms); !ok) {
    return std::unexpected(ok.error());
  }
  return std::move(opened->fields);
}

// ---- where RTSs live --------------------------------------------------------------------------

std::string rts_date(std::int64_t epoch_ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(epoch_ms)));
  const year_month_day ymd(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string rts_ksk(std::string_view rtsksk, std::int64_t epoch_ms, unsigned slot) {
  return "KSK@" + std::string(rtsksk) + "-" + rts_date(epoch_ms) + "-" + std::to_string(slot);
}

}  // namespace fcpmail::freemail
