#include "freemail/header_filter.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail::freemail;

namespace {
constexpr std::string_view id1 = "vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A";
constexpr std::string_view label1 = "xvgbignamvo3gdsz3bjk7edfv4mrs7b63nighfetum2bzvqkg5qa";
constexpr std::string_view label2 = "l2ybiyrfdth2zvxwwjvppxi3ygu6n3stat6pucxakqofc7mvp2la";

HeaderFilterPolicy freemail_policy() {
  HeaderFilterPolicy policy;
  policy.sender = identity_from_base64_id(id1).value();
  policy.sender_local_part = "testid1";
  policy.now_ms = 1700000000123;  // Tue, 14 Nov 2023 22:13:20 UTC
  policy.message_id_random[0] = 42;
  policy.message_id_random[1] = static_cast<std::uint64_t>(-7);
  policy.add_missing = false;  // exactly Freemail's behaviour
  return policy;
}

// The header lines the filter produces for the given header lines (Freemail's test harness shape).
std::string filtered(const std::string& header_lines, HeaderFilterPolicy policy = freemail_policy()) {
  const auto result = filter_mail_headers(header_lines + "\r\nbody\r\n", policy);
  REQUIRE(result);
  REQUIRE(result->mail.ends_with("\r\nbody\r\n"));
  return result->mail.substr(0, result->mail.size() - std::string("\r\nbody\r\n").size());
}

const std::string own_domain = std::string(label1) + ".freemail";
}  // namespace

TEST_CASE("header filter: the vectors of Freemail's MailHeaderFilterTest") {
  CHECK(filtered("Subject: Test message\r\n") == "Subject: Test message\r\n");
  CHECK(filtered("BCC: local@domain.freemail\r\n") == "");
  CHECK(filtered("Date: Tue, 10 Jul 2012 16:37:19 +0000\r\n") == "Date: Tue, 10 Jul 2012 16:37:19 +0000\r\n");
  CHECK(filtered("Date: 10 Jul 2012 16:37:19 +0000\r\n") == "Date: Tue, 10 Jul 2012 16:37:19 +0000\r\n");
  CHECK(filtered("Date: Tue, 10 Jul 2012 16:37:19 +0200\r\n") == "Date: Tue, 10 Jul 2012 14:37:19 +0000\r\n");
  CHECK(filtered("Date: Thu, 10 Juli 2012 16:37:19 +0200\r\n") == "");
  CHECK(filtered("References:\r\n <message-id1@domain.freemail>\r\n <message-id2@domain.freemail>\r\n") ==
        "References: <message-id1@domain.freemail>\r\n <message-id2@domain.freemail>\r\n");
  CHECK(filtered("References:\r\n\t<message-id1@domain.freemail>\r\n\t<message-id2@domain.freemail>\r\n") ==
        "References: <message-id1@domain.freemail>\r\n <message-id2@domain.freemail>\r\n");
  CHECK(filtered("Message-ID: <message-id1@domain.freemail>\r\n") == "Message-ID: <message-id1@domain.freemail>\r\n");
  CHECK(filtered("Message-ID: <20130225001826.78db4f15@example.com>\r\n") ==
        "Message-ID: <42.-7@" + own_domain + ">\r\n");
  CHECK(filtered("From: example@example.com\r\n") == "From: testid1@" + own_domain + "\r\n");
  CHECK(filtered("From: example.com\r\n") == "From: testid1@" + own_domain + "\r\n");
  CHECK(filtered("From: testid2@" + std::string(label2) + ".freemail\r\n") == "From: testid1@" + own_domain + "\r\n");
  std::string upper(label1);
  for (auto& c : upper) c = static_cast<char>(std::toupper(c));
  CHECK(filtered("From: testid1@" + upper + ".freemail\r\n") == "From: testid1@" + upper + ".freemail\r\n");
  CHECK(filtered("From: garbage@" + own_domain + "\r\n") == "From: garbage@" + own_domain + "\r\n");
  CHECK(filtered("header: value\r\n") == "");
}

TEST_CASE("header filter: whole mail — order kept, body untouched, everything else dropped") {
  const std::string mail =
      "Received: from localhost by relay\r\n"
      "From: Bob <bob@" + own_domain + ">\r\n"
      "To: alice@" + std::string(label2) + ".freemail\r\n"
      "cc: carol@" + std::string(label2) + ".freemail\r\n"
      "Bcc: secret@" + std::string(label2) + ".freemail\r\n"
      "Reply-To: bob@example.com\r\n"
      "User-Agent: Mutt/2.2\r\n"
      "X-Mailer: something\r\n"
      "Subject: =?UTF-8?Q?h=C3=A9?=\r\n"
      "Date: Mon, 17 Oct 2011 10:24:14 +0200 (CEST)\r\n"
      "Message-ID: <abc@bob.example>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain;\r\n"
      "  charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n"
      "In-Reply-To: <x@y.freemail>\r\n"
      "no colon here\r\n"
      "X-\xc3\xa9: 8 bit name\r\n"
      "\r\n"
      "Body line 1\r\nFrom: not a header\r\n\r\n\xc3\xa9 raw bytes\n";
  const auto result = filter_mail_headers(mail, freemail_policy()).value();
  CHECK(result.mail ==
        "From: Bob <bob@" + own_domain + ">\r\n"
        "To: alice@" + std::string(label2) + ".freemail\r\n"
        "cc: carol@" + std::string(label2) + ".freemail\r\n"
        "Subject: =?UTF-8?Q?h=C3=A9?=\r\n"
        "Date: Mon, 17 Oct 2011 08:24:14 +0000\r\n"
        "Message-ID: <42.-7@" + own_domain + ">\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain;\r\n charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "In-Reply-To: <x@y.freemail>\r\n"
        "\r\n"
        "Body line 1\r\nFrom: not a header\r\n\r\n\xc3\xa9 raw bytes\n");
  CHECK(result.dropped == std::vector<std::string>{"Received", "Bcc", "Reply-To", "User-Agent", "X-Mailer",
                                                   "(line without ':')", "(name with 8-bit bytes)"});
  CHECK(result.rewritten == std::vector<std::string>{"Date", "Message-ID"});
}

TEST_CASE("header filter: LF-only mail is read, output header uses CRLF") {
  const auto result =
      filter_mail_headers("Subject: hi\nFrom: x@" + own_domain + "\n\nbody\n", freemail_policy()).value();
  CHECK(result.mail == "Subject: hi\r\nFrom: x@" + own_domain + "\r\n\r\nbody\n");
}

TEST_CASE("header filter: missing Date, From and Message-ID are added from the caller's now and randomness") {
  auto policy = freemail_policy();
  policy.add_missing = true;
  const auto result = filter_mail_headers("Subject: hi\r\nDate: garbage\r\n\r\nbody", policy).value();
  CHECK(result.mail == "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                       "From: testid1@" + own_domain + "\r\n"
                       "Message-ID: <42.-7@" + own_domain + ">\r\n"
                       "Subject: hi\r\n\r\nbody");
  // Freemail's own behaviour (add_missing off) leaves them out.
  CHECK(filter_mail_headers("Subject: hi\r\n\r\nbody", freemail_policy()).value().mail == "Subject: hi\r\n\r\nbody");
}

TEST_CASE("header filter: a mail without the empty line is refused") {
  CHECK(filter_mail_headers("Subject: hi\r\nno body separator", freemail_policy()).error() ==
        "the mail has no empty line ending its header");
  CHECK(filter_mail_headers("", freemail_policy()).error() == "the mail has no empty line ending its header");
}

TEST_CASE("header filter: Message-ID kept only for the Java pattern with a .freemail domain") {
  CHECK(filtered("Message-ID: a@b.freemail\r\n") == "Message-ID: a@b.freemail\r\n");
  CHECK(filtered("Message-ID: <a@b@c.freemail>\r\n") == "Message-ID: <a@b@c.freemail>\r\n");
  CHECK(filtered("Message-ID: <a@b.FREEMAIL>\r\n") == "Message-ID: <42.-7@" + own_domain + ">\r\n");
  CHECK(filtered("Message-ID: <a@b.freemail> trailing\r\n") == "Message-ID: <42.-7@" + own_domain + ">\r\n");
  CHECK(filtered("Message-ID: <nodomain>\r\n") == "Message-ID: <42.-7@" + own_domain + ">\r\n");
}

TEST_CASE("mail dates: parse and format") {
  CHECK(format_mail_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  CHECK(format_mail_date(1341938239000) == "Tue, 10 Jul 2012 16:37:19 +0000");
  CHECK(format_mail_date(-1000) == "Wed, 31 Dec 1969 23:59:59 +0000");
  CHECK(parse_mail_date("Tue, 10 Jul 2012 16:37:19 +0000") == 1341938239000);
  CHECK(parse_mail_date("10 jul 2012 16:37:19 GMT") == 1341938239000);
  CHECK(parse_mail_date("Tuesday, 10 July 2012 12:37:19 EDT") == 1341938239000);
  CHECK(parse_mail_date("Tue, 10 Jul 12 16:37 +0000") == 1341938220000);
  CHECK(parse_mail_date("Tue,\r\n 10 Jul 2012 18:07:19 +0130") == 1341938239000);
  CHECK_FALSE(parse_mail_date(""));
  CHECK_FALSE(parse_mail_date("Tue, 31 Feb 2012 16:37:19 +0000"));
  CHECK_FALSE(parse_mail_date("Tue, 10 Jul 2012 24:00:00 +0000"));
  CHECK_FALSE(parse_mail_date("Tue, 10 Jul 2012 16:37:19"));
  CHECK_FALSE(parse_mail_date("Tue, 10 Jul 2012 16:37:19 +02"));
  CHECK_FALSE(parse_mail_date("Tue, 10 Jul 2012 16:37:19 XYZ"));
  CHECK_FALSE(parse_mail_date("Foo, 10 Jul 2012 16:37:19 +0000"));
  CHECK_FALSE(parse_mail_date("10 Jul 2012"));
}

TEST_CASE("mail dates: random instants survive format -> parse") {
  std::mt19937_64 rng(3);
  for (int n = 0; n < 500; ++n) {
    const std::int64_t ms = static_cast<std::int64_t>(rng() % 8000000000000ULL) / 1000 * 1000;
    const auto text = format_mail_date(ms);
    CHECK(parse_mail_date(text) == ms);
  }
}

TEST_CASE("header filter: on random mails the output keeps the body, only allowed names, and is a fixed point") {
  const std::vector<std::string> pool = {
      "To: a@" + std::string(label2) + ".freemail", "Cc: b@" + std::string(label2) + ".freemail",
      "Subject: random subject", "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii",
      "Bcc: hidden@example.com", "Received: from somewhere", "X-Spam: yes", "Reply-To: r@example.com",
      "Date: Wed, 1 Mar 2023 10:00:00 -0500", "Date: not a date", "Message-ID: <id@example.org>",
      "Message-ID: <id@x.freemail>", "From: Bob <bob@" + own_domain + ">", "From: eve@example.com",
      "References: <r1@x.freemail>", "In-Reply-To: <r0@x.freemail>", "garbage line"};
  const std::vector<std::string_view> allowed = {"To", "Cc", "Subject", "MIME-Version", "Content-Type", "Date",
                                                 "Message-ID", "From", "References", "In-Reply-To"};
  std::mt19937 rng(21);
  for (int n = 0; n < 300; ++n) {
    auto policy = freemail_policy();
    policy.add_missing = (n % 2) == 0;
    std::string mail;
    for (int h = rng() % 10; h > 0; --h) {
      mail += pool[rng() % pool.size()];
      if (rng() % 4 == 0) mail += "\r\n\t folded part";
      mail += (rng() % 3 == 0) ? "\n" : "\r\n";
    }
    std::string body;
    for (int b = rng() % 100; b > 0; --b) body.push_back(static_cast<char>(rng()));
    mail += "\r\n" + body;
    const auto once = filter_mail_headers(mail, policy).value();
    REQUIRE(once.mail.size() >= body.size() + 2);
    CHECK(once.mail.substr(once.mail.size() - body.size() - 2, 2) == "\r\n");
    CHECK(once.mail.substr(once.mail.size() - body.size()) == body);
    // Every output header line (not a continuation) has an allowed name.
    const std::string header = once.mail.substr(0, once.mail.size() - body.size());
    std::size_t pos = 0;
    while (pos < header.size()) {
      const std::size_t end = header.find("\r\n", pos);
      REQUIRE(end != std::string::npos);
      const std::string line = header.substr(pos, end - pos);
      pos = end + 2;
      if (line.empty() || line.front() == ' ') continue;
      const std::string name = line.substr(0, line.find(':'));
      bool ok = false;
      for (const auto a : allowed) ok |= (name.size() == a.size() && std::equal(name.begin(), name.end(), a.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); }));
      CHECK_MESSAGE(ok, "unexpected header: " << line);
    }
    const auto twice = filter_mail_headers(once.mail, policy).value();
    CHECK(twice.mail == once.mail);
  }
}
