// Submission: how a local mail client's message reaches the engine's outbox.
// SMTP (src/smtp) and the CLI call it; the engine (src/engine) implements it. The SMTP server
// knows nothing about channels or FCP, and the engine knows nothing about SMTP.
#pragma once
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail {

class Submission {
 public:
  virtual ~Submission() = default;

  // What the user typed as a recipient (a full `local@<base32>.freemail` address, a contact's
  // petname, or a unique prefix of either) -> the canonical address. The error is one sentence
  // for the user saying why and what to do (e.g. "add the contact with `fcpmail contacts add`").
  virtual std::expected<std::string, std::string> resolve_recipient(const std::string& account,
                                                                    std::string_view typed) = 0;

  // Queue one RFC 822 message from `account` (canonical address) to canonical recipients.
  // The message waits in the outbox as held until the user approves it (or is released at once
  // under --outbound-approval auto). Returns the outbox id, or a sentence saying why not.
  virtual std::expected<std::string, std::string> submit(const std::string& account,
                                                         const std::vector<std::string>& recipients,
                                                         std::string rfc822) = 0;
};

}  // namespace fcpmail
