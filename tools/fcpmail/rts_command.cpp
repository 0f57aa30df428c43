// fcpmail rts encode|decode and fcpmail keygen: offline tools for Freemail RTS blobs and keys.
#include "commands.h"

#include "crypto/rsa.h"
#include "freemail/rsa_key_file.h"

#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

namespace fcpmail::cli {

namespace {

// --name value pairs plus bare flags (--json, --force). Unknown options are a usage error.
struct Options {
  std::map<std::string, std::string> values;
  std::map<std::string, bool> flags;
};

std::optional<Options> parse_options(const Args& args, std::size_t first,
                                     std::initializer_list<std::string_view> with_value,
                                     std::initializer_list<std::string_view> bare,
                                     std::string& error) {
  Options out;
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool known = false;
    for (auto name : with_value) {
      if (a == name) {
        if (i + 1 >= args.size()) {
          error = "option " + a + " needs a value";
          return std::nullopt;
        }
        out.values[a] = args[++i];
        known = true;
      }
    }
    for (auto name : bare) {
      if (a == name) {
        out.flags[a] = true;
        known = true;
      }
    }
    if (!known) {
      error = "unknown option '" + a + "'";
      return std::nullopt;
    }
  }
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

}  // namespace

int run_keygen(const Args& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << keygen_usage;
    return 0;
  }
  std::string error;
  auto opts = parse_options(args, 0, {"--out", "--bits"}, {}, error);
  if (!opts || !opts->values.contains("--out")) {
    std::cerr << "fcpmail keygen: " << (opts ? "--out is required" : error) << "\n" << keygen_usage;
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

int run_rts(const Args&) {
  std::cerr << "fcpmail: this command is not available in this build yet\n";
  return 2;
}

}  // namespace fcpmail::cli
