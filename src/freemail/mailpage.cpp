#include "freemail/mailpage.h"

#include "crypto/rsa.h"
#include "freemail/props.h"
#include "freemail/radix32.h"

#include <algorithm>

namespace fcpmail::freemail {
namespace {

constexpr std::size_t min_modulus_bits = 1024;
constexpr std::size_t max_modulus_bits = 16384;

std::size_t bit_length(std::string_view minimal_big_endian) {
  if (minimal_big_endian.empty()) return 0;
  std::size_t bits = (minimal_big_endian.size() - 1) * 8;
  for (auto top = static_cast<unsigned char>(minimal_big_endian.front()); top != 0; top >>= 1) ++bits;
  return bits;
}

bool is_odd(std::string_view big_endian) {
  return !big_endian.empty() && (static_cast<unsigned char>(big_endian.back()) & 1) != 0;
}

bool is_b64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '~' || c == '-';
}

// "USK@k,c,x/anything" or "SSK@k,c,x" (optionally "freenet:") -> "k,c,x", with fred's shape
// (FreenetURI.checkSSK): two 42..44-character parts and a 7-character extra part.
std::expected<std::string, std::string> key_part(std::string_view uri) {
  if (uri.starts_with("freenet:")) uri.remove_prefix(8);
  if (!uri.starts_with("USK@") && !uri.starts_with("SSK@")) {
    return std::unexpected("identity URI '" + std::string(uri) + "' is not an SSK@ or USK@ URI");
  }
  uri.remove_prefix(4);
  const std::string_view key = uri.substr(0, uri.find('/'));
  std::size_t lengths[3] = {0, 0, 0};
  int part = 0;
  for (const char c : key) {
    if (c == ',') {
      if (++part > 2) break;
    } else if (!is_b64_char(c)) {
      return std::unexpected("identity key '" + std::string(key) + "' contains a character outside Freenet base64");
    } else {
      ++lengths[part];
    }
  }
  if (part != 2 || lengths[0] < 42 || lengths[0] > 44 || lengths[1] < 42 || lengths[1] > 44 || lengths[2] != 7) {
    return std::unexpected("identity key '" + std::string(key) +
                           "' does not have the shape <routing key>,<crypto key>,<7-character extra>");
  }
  return std::string(key);
}

}  // namespace

std::expected<void, std::string> check_rtsksk(std::string_view rtsksk) {
  if (rtsksk.empty()) return std::unexpected(std::string("rtsksk is empty"));
  if (rtsksk.size() > 256) return std::unexpected(std::string("rtsksk is longer than 256 bytes"));
  for (const char c : rtsksk) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::string_view("/@?#%").find(c) != std::string_view::npos) {
      return std::unexpected(std::string("rtsksk contains a character that cannot be part of a KSK name"));
    }
  }
  return {};
}

std::expected<std::string, std::string> write_mailpage(const Mailpage& page) {
  if (!page.rtsksk) return std::unexpected(std::string("a published mailpage needs an rtsksk"));
  if (auto ok = check_rtsksk(*page.rtsksk); !ok) return std::unexpected(ok.error());
  if (page.modulus.empty() || page.public_exponent.empty()) {
    return std::unexpected(std::string("a published mailpage needs a modulus and a public exponent"));
  }
  Props props;
  props.add("rtsksk", *page.rtsksk);
  props.add("asymkey.modulus", radix32_encode(page.modulus));
  props.add("asymkey.pubexponent", radix32_encode(page.public_exponent));
  return write_props(props);
}

std::expected<Mailpage, std::string> read_mailpage(std::string_view text) {
  auto props = read_props(text);
  if (!props) return std::unexpected("mailpage: " + props.error());
  Mailpage page;
  if (auto rtsksk = props->get("rtsksk")) {
    if (auto ok = check_rtsksk(*rtsksk); !ok) return std::unexpected("mailpage: " + ok.error());
    page.rtsksk = std::string(*rtsksk);
  }
  const auto modulus_text = props->get("asymkey.modulus");
  if (!modulus_text) return std::unexpected(std::string("mailpage: asymkey.modulus is missing"));
  const auto exponent_text = props->get("asymkey.pubexponent");
  if (!exponent_text) return std::unexpected(std::string("mailpage: asymkey.pubexponent is missing"));
  auto modulus = radix32_decode(*modulus_text);
  if (!modulus) return std::unexpected("mailpage: asymkey.modulus: " + modulus.error());
  auto exponent = radix32_decode(*exponent_text);
  if (!exponent) return std::unexpected("mailpage: asymkey.pubexponent: " + exponent.error());
  const std::size_t bits = bit_length(*modulus);
  if (bits < min_modulus_bits || bits > max_modulus_bits) {
    return std::unexpected("mailpage: asymkey.modulus has " + std::to_string(bits) + " bits (accepted: " +
                           std::to_string(min_modulus_bits) + " to " + std::to_string(max_modulus_bits) + ")");
  }
  if (!is_odd(*modulus)) return std::unexpected(std::string("mailpage: asymkey.modulus is even"));
  // Below 2^32 (so also below any accepted modulus): each bit of e costs every public operation
  // with this key (RTS signature, every message signature) a modular multiplication.
  if (!is_odd(*exponent) || bit_length(*exponent) < 2 || bit_length(*exponent) > crypto::max_public_exponent_bits) {
    return std::unexpected("mailpage: asymkey.pubexponent must be odd, above 1 and below 2^32 (Freemail uses 17), not a " +
                           std::to_string(bit_length(*exponent)) + "-bit number");
  }
  page.modulus = std::move(*modulus);
  page.public_exponent = std::move(*exponent);
  return page;
}

std::expected<std::string, std::string> mailsite_insert_uri(std::string_view identity_insert_uri,
                                                            std::uint64_t edition) {
  auto key = key_part(identity_insert_uri);
  if (!key) return std::unexpected(key.error());
  return "SSK@" + *key + "/mailsite-" + std::to_string(edition) + "/mailpage";
}

std::expected<std::string, std::string> mailsite_request_uri(std::string_view identity_request_uri,
                                                             std::uint64_t edition) {
  auto key = key_part(identity_request_uri);
  if (!key) return std::unexpected(key.error());
  return "USK@" + *key + "/mailsite/-" + std::to_string(edition) + "/mailpage";
}

std::expected<std::string, std::string> mailsite_privkey_value(std::string_view identity_insert_uri) {
  auto key = key_part(identity_insert_uri);
  if (!key) return std::unexpected(key.error());
  return "USK@" + *key + "/mailsite/";
}

}  // namespace fcpmail::freemail
