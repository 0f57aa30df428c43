// RTS: the reference vectors of freemail-protocol.md §8.2 (Freemail's TestId1 -> TestId2), round
// trips, every class of malformed input, tampering, and the two Java quirks (§4.10).
#include "freemail/rts.h"

#include "crypto/aes_cbc.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "freemail/rsa_key_file.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

using namespace fcpmail;
using namespace fcpmail::freemail;
using crypto::to_hex;

namespace {

std::string slurp(const std::string& relative) {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/" + relative, std::ios::binary);
  REQUIRE_MESSAGE(in, "missing fixture " << relative);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const crypto::RsaPrivateKey& fixture_key(const std::string& relative) {
  static std::map<std::string, crypto::RsaPrivateKey> cache;
  auto it = cache.find(relative);
  if (it == cache.end()) {
    auto key = read_rsa_key_file(slurp(relative));
    REQUIRE_MESSAGE(key, key.error());
    it = cache.emplace(relative, *key).first;
  }
  return it->second;
}

const crypto::RsaPrivateKey& testid1() { return fixture_key("rts/testid1.key"); }
const crypto::RsaPrivateKey& testid2() { return fixture_key("rts/testid2.key"); }

const crypto::RsaPrivateKey& small_key(int which) {
  static const crypto::RsaPrivateKey a = crypto::RsaPrivateKey::generate(1024, 17);
  static const crypto::RsaPrivateKey b = crypto::RsaPrivateKey::generate(1024, 17);
  static const crypto::RsaPrivateKey c = crypto::RsaPrivateKey::generate(1024, 17);
  return which == 0 ? a : which == 1 ? b : c;
}

const std::string testid1_id = "vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A";
const std::string testid2_id = "XrAUYiUcz6zW9rJq990bwanm7lME-PoK4FQcUX2VfpY";

RtsFields vector_fields() {
  RtsFields f;
  f.mailsite = "USK@vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A,mMhITeChRejfV~jEqKNLzcKsTl6LpmPcT8e4GSxfEDI,AQACAAE/mailsite/-1/mailpage";
  f.to = testid2_id;
  f.channel = "SSK@Mp8ZxuCLnBkioGfhs1TuqLdng9UVZ8~n5Q0QtiUY9WI,PuO0yMON89D~5jUgwh4pmeIxTelC-p2ieTQbfHmXBUU,AQECAAE/";
  f.initiator_slot = "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ";
  f.responder_slot = "EAQSEIZEEUTCOKBJFIVSYLJOF4YDCMRTGQ2TMNZYHE5DWPB5HY7Q";
  f.timeout_ms = 1700604800000;
  return f;
}

std::string vector_key_material() {
  std::string p;
  for (int i = 0x80; i < 0xb0; ++i) p.push_back(static_cast<char>(i));
  return p;
}

// Builds an RTS from an arbitrary plaintext (bypassing the sender's checks), as a hostile or
// buggy sender could.
std::string raw_rts(std::string_view plaintext, const crypto::RsaPrivateKey& sender,
                    const crypto::RsaPrivateKey& recipient) {
  std::string p;
  do {
    p = crypto::random_bytes(48);
  } while (p[0] == '\0');
  auto r = seal_rts(plaintext, sender, recipient.public_key(), p);
  REQUIRE(r);
  return *r;
}

// Encrypts arbitrary bytes (not necessarily plaintext || signature) under a fresh IV and key.
std::string encrypt_payload(std::string_view payload, const crypto::RsaPrivateKey& recipient) {
  const std::string p = "\x01" + crypto::random_bytes(47);
  return *recipient.public_key().raw_public(p) +
         crypto::aes_cbc_encrypt(std::string_view(p).substr(16), std::string_view(p).substr(0, 16), payload);
}

RtsError open_error(std::string_view rts, const crypto::RsaPrivateKey& own) {
  auto r = open_rts(rts, own);
  REQUIRE_FALSE(r);
  return r.error().error;
}

RtsFields small_fields() {
  RtsFields f = vector_fields();
  f.to = "recipient-identity-id-for-small-key-tests-0";
  return f;
}

}  // namespace

TEST_CASE("§8.2 vector: plaintext, signature, RSA block, AES part, whole RTS") {
  const RtsFields f = vector_fields();
  const std::string plaintext = rts_plaintext(f);
  CHECK(plaintext.size() == 450);
  CHECK(plaintext ==
        "mailsite=USK@vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A,mMhITeChRejfV~jEqKNLzcKsTl6LpmPcT8e4GSxfEDI,AQACAAE/mailsite/-1/mailpage\r\n"
        "to=XrAUYiUcz6zW9rJq990bwanm7lME-PoK4FQcUX2VfpY\r\n"
        "channel=SSK@Mp8ZxuCLnBkioGfhs1TuqLdng9UVZ8~n5Q0QtiUY9WI,PuO0yMON89D~5jUgwh4pmeIxTelC-p2ieTQbfHmXBUU,AQECAAE/\r\n"
        "initiatorSlot=AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ\r\n"
        "responderSlot=EAQSEIZEEUTCOKBJFIVSYLJOF4YDCMRTGQ2TMNZYHE5DWPB5HY7Q\r\n"
        "timeout=1700604800000\r\n"
        "\r\n");
  CHECK(to_hex(crypto::sha256(plaintext)) ==
        "0fb96c426e912ee6ec5057171e4b707296e991507418a07f34c37a1be0ef3e05");
  CHECK(check_rts_fields(f));

  const std::string signature = sign_rts(plaintext, testid1());
  REQUIRE(signature.size() == 512);
  CHECK(to_hex(crypto::sha256(signature)) ==
        "ef561b4796f4ca6813ca9adcea35dae9afa269e648ade154cf2453f75dcea6af");
  CHECK(to_hex(signature.substr(0, 16)) == "90b4295abd9c07ace211b8c1b435cd50");

  auto rts = seal_rts(plaintext, testid1(), testid2().public_key(), vector_key_material());
  REQUIRE(rts);
  REQUIRE(rts->size() == 1488);
  const std::string block = rts->substr(0, 512);
  const std::string aes = rts->substr(512);
  CHECK(to_hex(crypto::sha256(block)) ==
        "3b2faab42a3af6c22429ec2f74eaf7633af286c0fc213b36cd9c0942192eaedc");
  CHECK(to_hex(block.substr(0, 16)) == "2fb57b931837c9e69b7e0da5099c4148");
  CHECK(aes.size() == 976);
  CHECK(to_hex(crypto::sha256(aes)) ==
        "52923bb80f1559f13a4dc91061c52a9d30e98e55df7876196e00c26c36b197df");
  CHECK(to_hex(aes.substr(0, 16)) == "1880fa8834dcc1cab51d638338eb7e27");
  CHECK(to_hex(crypto::sha256(*rts)) ==
        "af299783626fbbb1ced77b63b6017a22a339449a05e238e545222834d4bcf861");
  CHECK(to_hex(rts->substr(rts->size() - 16)) == "ef6e8e4527abc22a971a48a12de801a6");

  // The committed binary is the same vector (for the CLI and for other implementations).
  CHECK(slurp("rts/testid1-to-testid2.rts") == *rts);
}

TEST_CASE("§8.2 vector: TestId2 opens, verifies and accepts it") {
  const std::string rts = slurp("rts/testid1-to-testid2.rts");
  auto opened = open_rts(rts, testid2());
  REQUIRE_MESSAGE(opened, opened.error().reason);
  CHECK(opened->fields == vector_fields());
  CHECK(opened->signed_region == rts_plaintext(vector_fields()));
  CHECK(opened->trailer.size() == 512);
  CHECK(opened->sender_identity() == testid1_id);
  CHECK(verify_rts_signature(*opened, testid1().public_key()));
  CHECK(check_rts_recipient(*opened, testid2_id, 1700604800000));

  auto accepted = accept_rts(rts, testid2(), testid1().public_key(), testid2_id, 1700000000000);
  REQUIRE(accepted);
  CHECK(*accepted == vector_fields());

  // Signature against the wrong mailpage key, the wrong recipient, too late.
  auto wrong_sender = accept_rts(rts, testid2(), testid2().public_key(), testid2_id, 0);
  REQUIRE_FALSE(wrong_sender);
  CHECK(wrong_sender.error().error == RtsError::bad_signature);
  auto not_us = accept_rts(rts, testid2(), testid1().public_key(), testid1_id, 0);
  REQUIRE_FALSE(not_us);
  CHECK(not_us.error().error == RtsError::wrong_recipient);
  auto late = accept_rts(rts, testid2(), testid1().public_key(), testid2_id, 1700604800001);
  REQUIRE_FALSE(late);
  CHECK(late.error().error == RtsError::expired);
  // Not for TestId1's key at all.
  CHECK(open_error(rts, testid1()) == RtsError::bad_key_block);
}

TEST_CASE("encode_rts -> accept_rts round trip with the committed RSA-4096 test keys") {
  const auto alice = read_rsa_key_file(slurp("keys/alice.key"));
  const auto bob = read_rsa_key_file(slurp("keys/bob.key"));
  REQUIRE(alice);
  REQUIRE(bob);
  CHECK(alice->public_key().modulus_bits() == 4096);
  CHECK(bob->public_key().public_exponent() == std::string("\x11"));
  RtsFields f = vector_fields();
  auto enc = encode_rts(f, *alice, bob->public_key());
  REQUIRE(enc);
  CHECK(enc->bytes.size() == 1488);
  auto got = accept_rts(enc->bytes, *bob, alice->public_key(), f.to, f.timeout_ms - 1000);
  REQUIRE_MESSAGE(got, got.error().reason);
  CHECK(*got == enc->fields);
  // Fresh IV and key every time.
  auto again = encode_rts(f, *alice, bob->public_key());
  REQUIRE(again);
  CHECK(again->bytes != enc->bytes);
}

TEST_CASE("every flipped byte is rejected, with the reason of the region it hits") {
  const auto& sender = small_key(0);
  const auto& recipient = small_key(1);
  const RtsFields f = small_fields();
  auto enc = encode_rts(f, sender, recipient.public_key());
  REQUIRE(enc);
  const std::string& good = enc->bytes;
  REQUIRE(accept_rts(good, recipient, sender.public_key(), f.to, 0));
  const std::size_t k = 128;
  const std::size_t plaintext_size = rts_plaintext(enc->fields).size();
  std::map<RtsError, int> seen;
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= static_cast<char>(1u << (i % 8));
    auto r = accept_rts(bad, recipient, sender.public_key(), f.to, 0);
    REQUIRE_MESSAGE(!r, "flip at byte " << i << " was accepted");
    const RtsError e = r.error().error;
    ++seen[e];
    if (i < k) {
      CHECK_MESSAGE(e == RtsError::bad_key_block, "byte " << i << ": " << to_string(e));
    } else {
      // CBC: flipping ciphertext block j garbles plaintext block j and one bit of block j+1.
      const std::size_t block = (i - k) / 16;
      if (block * 16 >= plaintext_size) {  // garbles only signature or padding
        CHECK_MESSAGE((e == RtsError::bad_signature || e == RtsError::bad_ciphertext),
                      "byte " << i << ": " << to_string(e));
      }
    }
  }
  CHECK(seen[RtsError::bad_key_block] == static_cast<int>(k));
  CHECK(seen[RtsError::bad_signature] > 0);
  CHECK(seen[RtsError::bad_ciphertext] > 0);
}

TEST_CASE("spot flips on the RSA-4096 reference vector are rejected") {
  const std::string rts = slurp("rts/testid1-to-testid2.rts");
  for (std::size_t i = 0; i < rts.size(); i += 97) {
    std::string bad = rts;
    bad[i] ^= 0x40;
    auto r = accept_rts(bad, testid2(), testid1().public_key(), testid2_id, 0);
    REQUIRE_FALSE(r);
    if (i < 512) CHECK(r.error().error == RtsError::bad_key_block);
  }
}

TEST_CASE("one error per class of malformed RTS") {
  const auto& sender = small_key(0);
  const auto& me = small_key(1);
  const RtsFields f = small_fields();
  const std::string good_plain = rts_plaintext(f);

  SUBCASE("too large / too short") {
    CHECK(open_error(std::string(rts_max_size + 1, 'x'), me) == RtsError::too_large);
    CHECK(open_error(std::string(100, 'x'), me) == RtsError::too_short);
    CHECK(open_error(std::string(128 + 15, 'x'), me) == RtsError::too_short);
  }
  SUBCASE("RSA block for another key, or not below our modulus") {
    CHECK(open_error(raw_rts(good_plain, sender, small_key(2)), me) == RtsError::bad_key_block);
    std::string rts = raw_rts(good_plain, sender, me);
    std::fill(rts.begin(), rts.begin() + 128, '\xff');
    auto r = open_rts(rts, me);
    REQUIRE_FALSE(r);
    CHECK(r.error().error == RtsError::bad_key_block);
    CHECK(r.error().reason == "RSA input is not smaller than the modulus");
  }
  SUBCASE("AES part not whole blocks, bad padding") {
    std::string rts = raw_rts(good_plain, sender, me);
    CHECK(open_error(rts.substr(0, rts.size() - 1), me) == RtsError::bad_ciphertext);
    // Plaintext ending in 0x00 on a block boundary, its padding block dropped.
    std::string payload(160, 'a');
    payload.back() = '\0';
    std::string bad = encrypt_payload(payload, me);
    bad.resize(bad.size() - 16);
    auto r = open_rts(bad, me);
    REQUIRE_FALSE(r);
    CHECK(r.error().error == RtsError::bad_ciphertext);
    CHECK(r.error().reason == "bad PKCS#7 padding");
  }
  SUBCASE("line longer than 200 bytes; exactly 200 with its CR is fine") {
    RtsFields g = f;
    g.to = std::string(200 - 4, 'T');  // "to=" + 196 + CR = 200
    auto ok = open_rts(raw_rts(rts_plaintext(g), sender, me), me);
    REQUIRE_MESSAGE(ok, ok.error().reason);
    CHECK(ok->fields.to == g.to);
    g.to += 'T';
    auto r = open_rts(raw_rts(rts_plaintext(g), sender, me), me);
    REQUIRE_FALSE(r);
    CHECK(r.error().error == RtsError::line_too_long);
    CHECK(r.error().reason == "line 2 is longer than 200 bytes");
  }
  SUBCASE("no empty line") {
    std::string plain = good_plain.substr(0, good_plain.size() - 2);
    CHECK(open_error(encrypt_payload(plain, me), me) == RtsError::no_blank_line);
    CHECK(open_error(encrypt_payload("mailsite=x", me), me) == RtsError::no_blank_line);
  }
  SUBCASE("missing fields are listed") {
    std::string plain = "to=x\r\nchannel=" + f.channel + "\r\ninitiatorSlot=A\r\n\r\n";
    auto r = open_rts(raw_rts(plain, sender, me), me);
    REQUIRE_FALSE(r);
    CHECK(r.error().error == RtsError::missing_field);
    CHECK(r.error().reason == "missing mailsite, responderSlot, timeout");
    std::string no_timeout = good_plain;
    no_timeout.erase(no_timeout.find("timeout="), std::string("timeout=1700604800000\r\n").size());
    auto t = open_rts(raw_rts(no_timeout, sender, me), me);
    REQUIRE_FALSE(t);
    CHECK(t.error().reason == "missing timeout");
  }
  SUBCASE("malformed fields") {
    auto with = [&](std::string from, std::string to) {
      std::string p = good_plain;
      p.replace(p.find(from), from.size(), to);
      return open_rts(raw_rts(p, sender, me), me);
    };
    auto m = with("mailsite=USK@", "mailsite=SSK@");
    REQUIRE_FALSE(m);
    CHECK(m.error().error == RtsError::malformed_field);
    CHECK(m.error().reason.starts_with("mailsite is not a USK"));
    auto c = with("channel=SSK@", "channel=CHK@");
    REQUIRE_FALSE(c);
    CHECK(c.error().reason.starts_with("channel is not an SSK"));
    auto t = with("timeout=1700604800000", "timeout=17006048OOOOO");
    REQUIRE_FALSE(t);
    CHECK(t.error().reason == "timeout is not a decimal number: '17006048OOOOO'");
    auto d = with("to=", "to=x\r\nto=");
    REQUIRE_FALSE(d);
    CHECK(d.error().error == RtsError::malformed_field);
    auto cr = with("to=", "to=a\rb");
    REQUIRE_FALSE(cr);
    CHECK(cr.error().reason == "stray CR inside line 2");
  }
  SUBCASE("signature: truncated, another signer, absent") {
    // Mallory signs a plaintext claiming to be the sender; the mailpage key says otherwise.
    auto forged = open_rts(raw_rts(good_plain, small_key(2), me), me);
    REQUIRE(forged);
    auto v = verify_rts_signature(*forged, sender.public_key());
    REQUIRE_FALSE(v);
    CHECK(v.error().error == RtsError::bad_signature);
    auto unsigned_rts = open_rts(encrypt_payload(good_plain, me), me);
    REQUIRE(unsigned_rts);
    auto u = verify_rts_signature(*unsigned_rts, sender.public_key());
    REQUIRE_FALSE(u);
    CHECK(u.error().reason == "signature missing or truncated (0 of 128 bytes)");
    auto short_sig = open_rts(encrypt_payload(good_plain + sign_rts(good_plain, sender).substr(0, 127), me), me);
    REQUIRE(short_sig);
    CHECK_FALSE(verify_rts_signature(*short_sig, sender.public_key()));
    // A valid signature of a different plaintext.
    auto swapped = open_rts(encrypt_payload(good_plain + sign_rts(good_plain + "x", sender), me), me);
    REQUIRE(swapped);
    CHECK_FALSE(verify_rts_signature(*swapped, sender.public_key()));
  }
}

TEST_CASE("LF-only lines (Java's reader accepts them) are read too") {
  const auto& sender = small_key(0);
  const auto& me = small_key(1);
  std::string plain = rts_plaintext(small_fields());
  std::string lf;
  for (char c : plain) if (c != '\r') lf.push_back(c);
  auto got = accept_rts(raw_rts(lf, sender, me), me, sender.public_key(), small_fields().to, 0);
  REQUIRE_MESSAGE(got, got.error().reason);
  CHECK(*got == small_fields());
}

TEST_CASE("Q1: our sender never puts a zero byte first in IV||key; our receiver copes when Java does") {
  const auto& sender = small_key(0);
  const auto& me = small_key(1);
  const RtsFields f = small_fields();
  for (int i = 0; i < 1500; ++i) {
    auto enc = encode_rts(f, sender, me.public_key());
    REQUIRE(enc);
    auto material = me.raw_private(std::string_view(enc->bytes).substr(0, 128));
    REQUIRE(material);
    // 128-byte block: 80 zero bytes, then the 48 bytes of IV || key.
    REQUIRE(material->find_first_not_of('\0') == 80);
  }
  // A Java sender draws P[0] == 0 once in 256 RTSs (and P[1] == 0 once in 65536).
  for (std::string lead : {std::string(1, '\0'), std::string(2, '\0')}) {
    std::string p = lead + crypto::random_bytes(48 - lead.size());
    auto rts = seal_rts(rts_plaintext(f), sender, me.public_key(), p);
    REQUIRE(rts);
    auto got = accept_rts(*rts, me, sender.public_key(), f.to, 0);
    REQUIRE_MESSAGE(got, got.error().reason);
    CHECK(*got == f);
  }
}

TEST_CASE("Q2: a hash with a leading zero byte") {
  const auto& sender = small_key(0);
  const auto& me = small_key(1);
  RtsFields f = small_fields();
  while (crypto::sha256(rts_plaintext(f))[0] != '\0') ++f.timeout_ms;
  // Java would drop this one; our sender moves the timeout until the hash starts non-zero.
  auto enc = encode_rts(f, sender, me.public_key());
  REQUIRE(enc);
  CHECK(enc->fields.timeout_ms < f.timeout_ms);
  CHECK(f.timeout_ms - enc->fields.timeout_ms < 5000);
  CHECK(crypto::sha256(rts_plaintext(enc->fields))[0] != '\0');
  auto got = accept_rts(enc->bytes, me, sender.public_key(), f.to, 0);
  REQUIRE(got);
  CHECK(*got == enc->fields);
  // A genuine Java RTS with such a hash (signed as is) is accepted by our receiver.
  auto java = seal_rts(rts_plaintext(f), sender, me.public_key(), "\x01" + crypto::random_bytes(47));
  REQUIRE(java);
  auto accepted = accept_rts(*java, me, sender.public_key(), f.to, 0);
  REQUIRE(accepted);
  CHECK(*accepted == f);
}

TEST_CASE("check_rts_fields: what a Java receiver would drop is refused before sending") {
  auto refused = [](auto change) {
    RtsFields f = vector_fields();
    change(f);
    auto r = check_rts_fields(f);
    return !r && r.error().error == RtsError::invalid_fields;
  };
  CHECK(refused([](RtsFields& f) { f.mailsite = "SSK@x/mailsite/-1/mailpage"; }));
  CHECK(refused([](RtsFields& f) { f.mailsite += " "; }));
  CHECK(refused([](RtsFields& f) { f.channel.pop_back(); }));                 // no trailing '/'
  CHECK(refused([](RtsFields& f) { f.channel += "i-"; }));
  CHECK(refused([](RtsFields& f) { f.channel = "freenet:" + f.channel; }));
  CHECK(refused([](RtsFields& f) { f.to.clear(); }));
  CHECK(refused([](RtsFields& f) { f.to += "\r\nx=y"; }));
  CHECK(refused([](RtsFields& f) { f.initiator_slot.clear(); }));
  CHECK(refused([](RtsFields& f) { f.responder_slot = std::string(200, 'A'); }));
  CHECK(refused([](RtsFields& f) { f.mailsite += "/" + std::string(100, 'x'); }));
  const auto& k = small_key(0);
  RtsFields bad = vector_fields();
  bad.channel.clear();
  auto r = encode_rts(bad, k, k.public_key());
  REQUIRE_FALSE(r);
  CHECK(r.error().error == RtsError::invalid_fields);
}

TEST_CASE("Freemail's checkUSK / checkSSK (FreenetURITest shapes)") {
  const std::string body = "TJl1G~HtSb5uRWW2ei36yXbilXTehZwXNwTirvpVSQ,ISYik-w5cLR7n6IzL3GjmHmp~tj7AJaDWtNhrZ5qt-4,AQECAAE";
  for (std::string prefix : {"", "freenet:"}) {
    for (std::string tail : {"", "/", "/testsite", "/testsite-1", "/testsite/", "/testsite-1/",
                             "/testsite/file", "/testsite-1/file"}) {
      CHECK(is_freemail_ssk(prefix + "SSK@" + body + tail));
    }
    for (std::string tail : {"", "/", "/testsite", "/testsite/1", "/testsite/1/", "/testsite/1/file",
                             "/testsite/-1", "/testsite/-1/", "/testsite/-1/file"}) {
      CHECK(is_freemail_usk(prefix + "USK@" + body + tail));
    }
  }
  CHECK_FALSE(is_freemail_usk("USK@" + body + "/test-site"));
  CHECK_FALSE(is_freemail_usk("USK@" + body + "/testsite/x"));
  CHECK_FALSE(is_freemail_usk("USK@" + body + "/testsite/1x"));
  CHECK_FALSE(is_freemail_usk("USK@" + body + "//"));
  CHECK_FALSE(is_freemail_usk("SSK@" + body));
  CHECK_FALSE(is_freemail_usk("USK@" + body + "x"));          // extra of 8 characters
  CHECK_FALSE(is_freemail_usk("USK@abc," + body));
  CHECK_FALSE(is_freemail_ssk("SSK@" + body.substr(1)));       // 41-character routing key
  CHECK_FALSE(is_freemail_ssk("http:SSK@" + body));
  CHECK_FALSE(is_freemail_ssk("SSK@" + body + "x"));
  CHECK_FALSE(is_freemail_ssk(""));
}

TEST_CASE("rts_ksk and rts_date: UTC yyyyMMdd") {
  // 2026-05-01T00:00:00Z = 1777593600000 ms.
  CHECK(rts_ksk("qxdskdyuzeclgfrmxcyqkuujtangegit", 1777593600000, 1) ==
        "KSK@qxdskdyuzeclgfrmxcyqkuujtangegit-20260501-1");
  CHECK(rts_date(1777593600000 - 1) == "20260430");
  CHECK(rts_date(1777593600000 + 86399999) == "20260501");
  CHECK(rts_date(0) == "19700101");
  CHECK(rts_date(-1) == "19691231");
  CHECK(rts_date(1709164800000) == "20240229");
  CHECK(rts_ksk("abc", 1700604800000, 12) == "KSK@abc-20231121-12");
}

TEST_CASE("error names are stable") {
  CHECK(to_string(RtsError::bad_signature) == "bad_signature");
  CHECK(to_string(RtsError::wrong_recipient) == "wrong_recipient");
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(RtsError::expired); ++e) names.insert(to_string(static_cast<RtsError>(e)));
  CHECK(names.size() == 13);
  CHECK(to_string(RtsError::too_many_lines) == "too_many_lines");
}

TEST_CASE("property: random valid fields round-trip through encode_rts and accept_rts") {
  const auto& sender = small_key(0);
  const auto& me = small_key(2);
  const std::string b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~-";
  auto random_b64 = [&](std::size_t n) {
    std::string raw = crypto::random_bytes(n), out;
    for (unsigned char c : raw) out.push_back(b64[c % 64]);
    return out;
  };
  auto random_slot = [&] {
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string raw = crypto::random_bytes(52), out;
    for (unsigned char c : raw) out.push_back(alphabet[c % 32]);
    return out;
  };
  for (int i = 0; i < 200; ++i) {
    const std::string r = crypto::random_bytes(8);
    RtsFields f;
    f.mailsite = "USK@" + random_b64(42 + static_cast<unsigned char>(r[0]) % 3) + "," + random_b64(42 + static_cast<unsigned char>(r[1]) % 3) + "," +
                 random_b64(7) + "/mailsite/-" + std::to_string(static_cast<unsigned char>(r[2])) +
                 "/mailpage";
    f.to = random_b64(43);
    f.channel = "SSK@" + random_b64(43) + "," + random_b64(43) + "," + random_b64(7) + "/";
    f.initiator_slot = random_slot();
    f.responder_slot = random_slot();
    std::int64_t t = 0;
    std::memcpy(&t, r.data(), sizeof t);
    f.timeout_ms = (t & 0x3fffffffffffffffLL) + 10000;  // positive, with room for Q2 adjustment
    REQUIRE(check_rts_fields(f));
    auto enc = encode_rts(f, sender, me.public_key());
    REQUIRE(enc);
    CHECK(f.timeout_ms - enc->fields.timeout_ms < 10000);
    auto got = accept_rts(enc->bytes, me, sender.public_key(), f.to, 0);
    REQUIRE_MESSAGE(got, got.error().reason);
    CHECK(*got == enc->fields);
  }
}

TEST_CASE("property: random blobs and random plaintexts are rejected with a reason, never a crash") {
  const auto& sender = small_key(0);
  const auto& me = small_key(1);
  for (int i = 0; i < 500; ++i) {
    const std::size_t n = static_cast<unsigned char>(crypto::random_bytes(1)[0]) * 8;
    auto r = open_rts(crypto::random_bytes(n), me);
    REQUIRE_FALSE(r);
    CHECK_FALSE(r.error().reason.empty());
  }
  for (int i = 0; i < 300; ++i) {
    const std::size_t n = static_cast<unsigned char>(crypto::random_bytes(1)[0]) * 2;
    std::string payload = crypto::random_bytes(n);
    auto r = accept_rts(encrypt_payload(payload, me), me, sender.public_key(), "x", 0);
    REQUIRE_FALSE(r);
    CHECK_FALSE(r.error().reason.empty());
  }
}

namespace {

// `kN=v` lines with distinct keys up to about `size` bytes, then the empty line.
std::string junk_props(std::size_t size) {
  std::string out;
  for (std::size_t n = 0; out.size() + 16 < size; ++n) out += "k" + std::to_string(n) + "=v\r\n";
  return out + "\r\n";
}

// What a stranger can insert at our RTS KSK: `plaintext` || a junk signature block, sealed to
// `recipient` the way an RTS is, cut to at most rts_max_size bytes in all.
std::string junk_rts(std::string plaintext, const crypto::RsaPrivateKey& recipient) {
  const std::size_t k = recipient.public_key().block_size();
  const std::size_t room = rts_max_size - 2 * k - 2 * crypto::aes_block_size;
  if (plaintext.size() > room) plaintext.resize(room);
  return encrypt_payload(plaintext + std::string(k, '\x5a'), recipient);
}

}  // namespace

TEST_CASE("a stranger's junk RTS of up to 2 MiB is refused in well under a second (RSA-4096 key)") {
  // Anyone who knows the address can post these; all of it happens before the signature can be
  // checked. A 1.2 MB junk-props RTS took 17 s of CPU when duplicates were found by a scan.
  const auto& me = testid2();
  std::string no_equals;
  while (no_equals.size() < rts_max_size) no_equals += "junk line without a separator\r\n";
  const std::string good_header = rts_plaintext(vector_fields());
  struct Case {
    const char* what;
    std::string blob;
    RtsError expected;
  };
  const std::vector<Case> cases = {
      {"1.2 MB of distinct junk props", junk_rts(junk_props(1'200'000), me), RtsError::too_many_lines},
      {"2 MiB of distinct junk props", junk_rts(junk_props(rts_max_size), me), RtsError::too_many_lines},
      {"2 MiB of lines without '='", junk_rts(no_equals, me), RtsError::too_many_lines},
      {"one 2 MiB line", junk_rts(std::string(rts_max_size, 'x'), me), RtsError::line_too_long},
      {"2 MiB of random bytes", crypto::random_bytes(rts_max_size), RtsError::bad_key_block},
      {"2 MiB + 1", crypto::random_bytes(rts_max_size + 1), RtsError::too_large},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    CHECK(c.blob.size() <= rts_max_size + 1);
    const auto start = std::chrono::steady_clock::now();
    auto r = open_rts(c.blob, me);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE_FALSE(r);
    CHECK(r.error().error == c.expected);
    CHECK_MESSAGE(took < 1.0, "took " << took << " s");
    if (c.expected == RtsError::too_many_lines) {
      CHECK(r.error().reason == "more than 64 lines before the empty line (an RTS has six); refused unread");
    }
  }
  // A genuine-looking header followed by 2 MiB of "signature": opened (the fields are fine), then
  // refused by the signature check, both quickly.
  const auto start = std::chrono::steady_clock::now();
  auto opened = open_rts(junk_rts(good_header + std::string(rts_max_size, '\x01'), me), me);
  REQUIRE(opened);
  CHECK_FALSE(verify_rts_signature(*opened, testid1().public_key()));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK_MESSAGE(took < 1.0, "took " << took << " s");
}

TEST_CASE("64 lines before the empty line are read; the 65th is refused unread") {
  const auto& sender = small_key(0);
  const auto& me = small_key(1);
  const std::string fields = rts_plaintext(small_fields());  // 6 fields and the empty line
  std::string extra;
  for (int n = 0; n < 58; ++n) extra += "x-extra-" + std::to_string(n) + "=1\r\n";
  std::string at_cap = fields;
  at_cap.insert(at_cap.size() - 2, extra);  // 64 lines, then the empty one
  auto ok = open_rts(raw_rts(at_cap, sender, me), me);
  REQUIRE_MESSAGE(ok, ok.error().reason);
  CHECK(ok->props.fields.size() == 64);
  CHECK(verify_rts_signature(*ok, sender.public_key()));
  std::string over = at_cap;
  over.insert(over.size() - 2, "x-one-more=1\r\n");
  auto r = open_rts(raw_rts(over, sender, me), me);
  REQUIRE_FALSE(r);
  CHECK(r.error().error == RtsError::too_many_lines);
}
