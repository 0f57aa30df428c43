// fcpmail rts encode|decode and fcpmail keygen: offline tools for Freemail RTS blobs and keys.
#include "command_line.h"
#include "commands.h"
#include "web/control_api.h"

#include "crypto/rsa.h"
#include "freemail/mailpage.h"
#include "freemail/rsa_key_file.h"
#include "freemail/rts.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

namespace fcpmail::cli {

namespace {

// The options of one subcommand (`rts encode`, `rts decode`, `keygen`), parsed by the shared
// parser; a word that is no option is a usage error, as none of them takes a positional.
struct Options {
  std::map<std::string, std::string> values;
  std::map<std::string, bool> flags;
  bool help = false;
};

std::expected<Options, UsageError> parse_options(const std::string& command, const Args& args, std::size_t first,
                                                 std::initializer_list<std::string_view> with_value,
                                                 std::initializer_list<std::string_view> bare) {
  Syntax syntax{command, {}, {}};
  for (auto name : with_value) syntax.options.push_back({std::string(name), true});
  for (auto name : bare) syntax.options.push_back({std::string(name), false});
  auto line = parse_command_line(syntax, Args(args.begin() + static_cast<long>(first), args.end()));
  if (!line) return std::unexpected(line.error());
  if (!line->positionals.empty()) return std::unexpected(usage_error_for(*line, "unexpected argument '" + line->positionals[0] + "'"));
  Options out;
  out.help = line->help;
  for (const auto& [name, values] : line->values) out.values[name] = values.back();
  for (const auto& name : line->flags) out.flags[name] = true;
  return out;
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool write_file(const std::string& path, std::string_view data, std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

constexpr std::string_view keygen_usage =
    "usage: fcpmail keygen --out FILE [--bits N]\n"
    "  writes a Freemail RSA key file (asymkey.modulus, asymkey.pubexponent, asymkey.privexponent,\n"
    "  Java radix 32); RSA-4096 with public exponent 17 unless --bits says otherwise.\n";


constexpr std::string_view rts_usage = R"(usage:
  fcpmail rts encode --key SENDER_KEYFILE --recipient-mailpage FILE --mailsite URI --to ID
                     --channel URI --initiator-slot S --responder-slot S --timeout MS --out FILE [--json]
  fcpmail rts decode --key RECIPIENT_KEYFILE [--sender-mailpage FILE] [--identity ID] [--now MS]
                     --in FILE [--json]

encode builds a Freemail 0.2 RTS (signed with the sender's key, encrypted to the key in the
recipient's mailpage) exactly as Freemail's RTSSender does, avoiding the two Java receiver quirks.
The timeout actually sent can be a few ms lower than asked (quirk Q2); it is printed.

decode decrypts an RTS with the recipient's key and shows every field, the signature verdict
(valid, invalid, or unchecked without --sender-mailpage) and the validation verdict in the order
Freemail's receiver checks: accepted, rejected (with the reason), or unverified (nothing failed,
but the signature or, without --identity, the recipient was not checked). --now (epoch ms,
default: the current time) is compared with the RTS timeout.

Key files are props files with asymkey.modulus/pubexponent/privexponent (a Freemail accprops file
works). Exit 0 on success (decode: accepted or unverified), 1 when the operation fails or the RTS is
rejected, 2 for a usage error.
)";

int usage_error(std::string_view message, std::string_view usage) {
  std::cerr << "fcpmail: " << message << "\n\n" << usage;
  return 2;
}

int failed(std::string_view what, const std::string& reason, bool json) {
  if (json) std::cout << web::json_text(nlohmann::json{{"ok", false}, {"error", reason}}, 2) << '\n';
  std::cerr << "fcpmail: " << what << ": " << reason << '\n';
  return 1;
}

std::optional<std::int64_t> parse_int64(std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::expected<crypto::RsaPrivateKey, std::string> load_private_key(const std::string& path) {
  std::string error;
  auto text = read_file(path, error);
  if (!text) return std::unexpected(error);
  auto key = freemail::read_rsa_key_file(*text);
  if (!key) return std::unexpected(path + ": " + key.error());
  return *key;
}

std::expected<crypto::RsaPublicKey, std::string> load_mailpage_key(const std::string& path) {
  std::string error;
  auto text = read_file(path, error);
  if (!text) return std::unexpected(error);
  auto page = freemail::read_mailpage(*text);
  if (!page) return std::unexpected(path + ": " + page.error());
  auto key = crypto::RsaPublicKey::from_bytes(page->modulus, page->public_exponent);
  if (!key) return std::unexpected(path + ": " + key.error());
  return *key;
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

nlohmann::json fields_json(const freemail::RtsFields& f) {
  return {{"mailsite", f.mailsite},          {"to", f.to},
          {"channel", f.channel},            {"initiatorSlot", f.initiator_slot},
          {"responderSlot", f.responder_slot}, {"timeout", f.timeout_ms}};
}

void print_fields(const freemail::RtsFields& f) {
  std::cout << "mailsite:      " << f.mailsite << "\n"
            << "to:            " << f.to << "\n"
            << "channel:       " << f.channel << "\n"
            << "initiatorSlot: " << f.initiator_slot << "\n"
            << "responderSlot: " << f.responder_slot << "\n"
            << "timeout:       " << f.timeout_ms << "\n";
}

int rts_encode(const Args& args) {
  std::string error;
  auto opts = parse_options("rts encode", args, 1,
                            {"--key", "--recipient-mailpage", "--mailsite", "--to", "--channel",
                             "--initiator-slot", "--responder-slot", "--timeout", "--out"},
                            {"--json"});
  if (!opts) return report_usage_error(opts.error());
  for (auto required : {"--key", "--recipient-mailpage", "--mailsite", "--to", "--channel",
                        "--initiator-slot", "--responder-slot", "--timeout", "--out"}) {
    if (!opts->values.contains(required)) {
      return usage_error(std::string(required) + " is required", rts_usage);
    }
  }
  const bool json = opts->flags.contains("--json");
  auto& v = opts->values;
  auto timeout = parse_int64(v["--timeout"]);
  if (!timeout) return usage_error("--timeout must be epoch milliseconds", rts_usage);
  auto sender = load_private_key(v["--key"]);
  if (!sender) return failed("rts encode", sender.error(), json);
  auto recipient = load_mailpage_key(v["--recipient-mailpage"]);
  if (!recipient) return failed("rts encode", recipient.error(), json);

  freemail::RtsFields fields{v["--mailsite"],       v["--to"],
                             v["--channel"],        v["--initiator-slot"],
                             v["--responder-slot"], *timeout};
  auto encoded = freemail::encode_rts(fields, *sender, *recipient);
  if (!encoded) return failed("rts encode", encoded.error().reason, json);
  if (!write_file(v["--out"], encoded->bytes, error)) return failed("rts encode", error, json);
  if (json) {
    nlohmann::json out = fields_json(encoded->fields);
    out["ok"] = true;
    out["out"] = v["--out"];
    out["bytes"] = encoded->bytes.size();
    std::cout << web::json_text(out, 2) << '\n';
  } else {
    std::cout << "wrote " << encoded->bytes.size() << " bytes to " << v["--out"] << "\n";
    print_fields(encoded->fields);
    if (encoded->fields.timeout_ms != *timeout) {
      std::cout << "(timeout lowered from " << *timeout
                << " so the Java receiver accepts the signature)\n";
    }
  }
  return 0;
}

int rts_decode(const Args& args) {
  std::string error;
  auto opts = parse_options("rts decode", args, 1, {"--key", "--sender-mailpage", "--identity", "--now", "--in"},
                            {"--json"});
  if (!opts) return report_usage_error(opts.error());
  for (auto required : {"--key", "--in"}) {
    if (!opts->values.contains(required)) {
      return usage_error(std::string(required) + " is required", rts_usage);
    }
  }
  const bool json = opts->flags.contains("--json");
  auto& v = opts->values;
  std::int64_t now = now_ms();
  if (v.contains("--now")) {
    auto n = parse_int64(v["--now"]);
    if (!n) return usage_error("--now must be epoch milliseconds", rts_usage);
    now = *n;
  }
  auto own = load_private_key(v["--key"]);
  if (!own) return failed("rts decode", own.error(), json);
  std::optional<crypto::RsaPublicKey> sender_key;
  if (v.contains("--sender-mailpage")) {
    auto k = load_mailpage_key(v["--sender-mailpage"]);
    if (!k) return failed("rts decode", k.error(), json);
    sender_key = *k;
  }
  auto blob = read_file(v["--in"], error);
  if (!blob) return failed("rts decode", error, json);

  auto opened = freemail::open_rts(*blob, *own);
  std::string signature = "unchecked";
  std::string verdict = "accepted";
  std::string reason;
  std::string error_name;
  auto reject = [&](const freemail::RtsFailure& f) {
    if (verdict == "rejected") return;
    verdict = "rejected";
    reason = f.reason;
    error_name = std::string(freemail::to_string(f.error));
  };
  std::vector<std::string> unchecked;
  if (!opened) {
    reject(opened.error());
  } else {
    if (sender_key) {
      auto s = freemail::verify_rts_signature(*opened, *sender_key);
      signature = s ? "valid" : "invalid";
      if (!s) reject(s.error());
    } else {
      unchecked.push_back("signature (no --sender-mailpage)");
    }
    // The recipient check needs our identity id; without it only the timeout is checked.
    const std::string identity = v.contains("--identity") ? v["--identity"] : opened->fields.to;
    if (!v.contains("--identity")) unchecked.push_back("recipient (no --identity)");
    if (auto c = freemail::check_rts_recipient(*opened, identity, now); !c) reject(c.error());
    if (verdict != "rejected" && !unchecked.empty()) {
      verdict = "unverified";
      reason = "not checked: ";
      for (std::size_t i = 0; i < unchecked.size(); ++i) reason += (i ? ", " : "") + unchecked[i];
    }
  }

  if (json) {
    nlohmann::json out = opened ? fields_json(opened->fields) : nlohmann::json::object();
    if (!opened) {
      for (auto key : {"mailsite", "to", "channel", "initiatorSlot", "responderSlot", "timeout"}) {
        out[key] = nullptr;
      }
    } else {
      out["sender"] = opened->sender_identity();
    }
    out["signature"] = signature;
    out["verdict"] = verdict;
    if (!reason.empty()) out["reason"] = reason;
    if (!error_name.empty()) out["error"] = error_name;
    std::cout << web::json_text(out, 2) << '\n';
  } else {
    if (opened) {
      print_fields(opened->fields);
      std::cout << "sender:        " << opened->sender_identity() << "\n";
    }
    std::cout << "signature:     " << signature << "\n"
              << "verdict:       " << verdict;
    if (!reason.empty()) std::cout << " (" << (error_name.empty() ? "" : error_name + ": ") << reason << ")";
    std::cout << "\n";
  }
  return verdict == "rejected" ? 1 : 0;
}

}  // namespace

int run_keygen(const Args& args) {
  std::string error;
  auto opts = parse_options("keygen", args, 0, {"--out", "--bits"}, {});
  if (!opts) return report_usage_error(opts.error());
  if (opts->help) {
    std::cout << keygen_usage;
    return 0;
  }
  if (!opts->values.contains("--out")) {
    std::cerr << "fcpmail keygen: --out is required\n" << keygen_usage;
    return 2;
  }
  unsigned bits = 4096;
  if (auto b = opts->values.find("--bits"); b != opts->values.end()) {
    try {
      bits = static_cast<unsigned>(std::stoul(b->second));
    } catch (const std::exception&) {
      bits = 0;
    }
    if (bits < 1024 || bits > 16384) {
      std::cerr << "fcpmail keygen: --bits must be between 1024 and 16384\n";
      return 2;
    }
  }
  const auto key = crypto::RsaPrivateKey::generate(bits, 17);
  if (!write_file(opts->values["--out"], freemail::write_rsa_key_file(key), error)) {
    std::cerr << "fcpmail keygen: " << error << "\n";
    return 1;
  }
  return 0;
}

int run_rts(const Args& args) {
  if (args.empty()) return usage_error("rts needs a subcommand: encode or decode", rts_usage);
  // --help anywhere (the parser answers it before judging the options) or `rts help`.
  const auto help = parse_command_line({"rts", {"encode", "decode"}, {}}, args);
  if ((help && help->help) || args[0] == "help") {
    std::cout << rts_usage;
    return 0;
  }
  if (args[0] == "encode") return rts_encode(args);
  if (args[0] == "decode") return rts_decode(args);
  return usage_error("unknown rts subcommand '" + args[0] + "'", rts_usage);
}

}  // namespace fcpmail::cli
