// The WebOfTrust plugin subset Freemail uses, answering FCPPluginMessage parameters with the
// reply fields WoT 0.4.5 sends (fred-recorded/14-wot-plugin.txt, hyphanet/plugin-WebOfTrust
// FCPInterface). One instance per node: identities created by any client are seen by all.
#pragma once
#include "datastore.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace fcp::sim {

using Fields = std::vector<std::pair<std::string, std::string>>;

class WebOfTrust {
 public:
  static constexpr const char* kPluginName = "plugins.WebOfTrust.WebOfTrust";

  WebOfTrust(Datastore& store, std::mt19937_64& rng);

  // `params` are the message's Param.* fields with the prefix removed. The result is the
  // FCPPluginReply body after PluginName and Identifier: Success (or ErrorCode, ErrorMessage,
  // Success=false) followed by the Replies.* fields.
  Fields handle(const Fields& params);

  std::size_t identity_count() const { return identities_.size(); }

 private:
  struct Identity {
    std::string id, nickname, request_uri, insert_uri, version_id;
    bool own = false;
    bool publishes_trust_list = true;
    std::vector<std::string> contexts;
    std::vector<std::pair<std::string, std::string>> properties;
  };
  struct Trust {
    std::string truster, trustee, comment, version_id;
    int value = 0;
  };
  struct Score {
    int value = 0, rank = 0, capacity = 0;
  };

  Fields dispatch(const std::string& message, const Fields& params);
  Fields create_identity(const Fields& params);
  Fields get_own_identities();
  Fields get_identity(const Fields& params);
  Fields get_identities(const Fields& params);
  Fields add_identity(const Fields& params);
  Fields set_trust(const Fields& params);
  Fields remove_trust(const Fields& params);
  Fields get_trust(const Fields& params);
  Fields get_score(const Fields& params);

  Identity& identity(const std::string& id);       // throws WotFailure (UnknownIdentityException)
  Identity& own_identity(const std::string& id);   // likewise for non-own identities
  const Trust* find_trust(const std::string& truster, const std::string& trustee) const;
  std::optional<Score> score(const std::string& truster, const std::string& trustee) const;
  void add_identity_fields(Fields& out, const Identity& id, const std::string& prefix, const std::string& suffix);
  void add_trust_fields(Fields& out, const std::string& truster, const std::string& trustee, const std::string& suffix);
  void add_score_fields(Fields& out, const std::string& truster, const std::string& trustee, const std::string& suffix);
  std::string uuid();
  void load();
  void save();

  Datastore& store_;
  std::mt19937_64& rng_;
  std::vector<Identity> identities_;  // in creation order, as WoT lists them
  std::vector<Trust> trusts_;
};

}  // namespace fcp::sim
