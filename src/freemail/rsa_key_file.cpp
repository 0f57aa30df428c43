#include "freemail/rsa_key_file.h"

#include "freemail/radix32.h"

namespace fcpmail::freemail {

namespace {

std::expected<std::string, std::string> number(const Props& props, std::string_view key) {
  auto text = props.get(key);
  if (!text) return std::unexpected("missing " + std::string(key));
  auto bytes = radix32_decode(*text);
  if (!bytes) return std::unexpected(std::string(key) + ": " + bytes.error());
  return *bytes;
}

}  // namespace

std::string write_rsa_key_file(const crypto::RsaPrivateKey& key) {
  std::string out;
  out.append(key_modulus).append("=").append(radix32_encode(key.public_key().modulus())).append("\r\n");
  out.append(key_public_exponent).append("=")
      .append(radix32_encode(key.public_key().public_exponent())).append("\r\n");
  out.append(key_private_exponent).append("=")
      .append(radix32_encode(key.private_exponent())).append("\r\n");
  return out;
}

std::expected<crypto::RsaPrivateKey, std::string> read_rsa_key_file(std::string_view text) {
  auto props = read_props(text);
  if (!props) return std::unexpected("key file: " + props.error());
  return rsa_private_key_from_props(*props);
}

std::expected<crypto::RsaPrivateKey, std::string> rsa_private_key_from_props(const Props& props) {
  auto n = number(props, key_modulus);
  if (!n) return std::unexpected(n.error());
  auto e = number(props, key_public_exponent);
  if (!e) return std::unexpected(e.error());
  auto d = number(props, key_private_exponent);
  if (!d) return std::unexpected(d.error());
  return crypto::RsaPrivateKey::from_bytes(*n, *e, *d);
}

std::expected<crypto::RsaPublicKey, std::string> rsa_public_key_from_props(const Props& props) {
  auto n = number(props, key_modulus);
  if (!n) return std::unexpected(n.error());
  auto e = number(props, key_public_exponent);
  if (!e) return std::unexpected(e.error());
  return crypto::RsaPublicKey::from_bytes(*n, *e);
}

}  // namespace fcpmail::freemail
