// Submission: how a local mail client's message reaches the engine's outbox.
// SMTP (src/smtp) and the CLI call it; the engine (src/engine) implements it. The SMTP server
// knows nothing about channels or FCP, and the engine knows nothing about SMTP.
#pragma once
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail {

// Why a recipient cannot be written to: `unknown` (no such contact or address, or ambiguous) or
// `not_allowed` (a contact the user revoked or denied: consent is theirs to give back). SMTP
// answers 550 5.1.1 for the first and 550 5.7.1 for the second. `sentence` says why and what to do.
struct RecipientRefusal {
  enum class Reason { unknown, not_allowed };
  Reason reason = Reason::unknown;
  std::string sentence;
};

class Submission {
 public:
  virtual ~Submission() = default;

  // What the user typed as a recipient (a full `local@<base32>.freemail` address, a contact's
  // petname, or a unique prefix of either) -> the canonical address. The refusal's sentence says
  // why and what to do (e.g. "add the contact with `fcpmail contacts add`"). Resolving never
  // changes a contact.
  virtual std::expected<std::string, RecipientRefusal> resolve_recipient(const std::string& account,
                                                                         std::string_view typed) = 0;

  // Queue one RFC 822 message from `account` (canonical address) to canonical recipients.
  // The message waits in the outbox as held until the user approves it (or is released at once
  // under --outbound-approval auto); a recipient becomes an accepted contact only then. Mail to a
  // revoked or denied contact is refused. Returns the outbox id, or a sentence saying why not.
  virtual std::expected<std::string, std::string> submit(const std::string& account,
                                                         const std::vector<std::string>& recipients,
                                                         std::string rfc822) = 0;
};

}  // namespace fcpmail
