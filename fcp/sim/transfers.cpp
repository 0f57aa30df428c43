// Inserts and fetches: what fred's ClientPut and ClientGet report, message by message, with the
// sequences recorded from build 1506 (fred-recorded/03, 04, 05, 06, 07, 09, 10, 13).
#include "node.h"

#include <cryptopp/gzip.h>

#include <algorithm>

namespace fcp::sim {
namespace {

constexpr std::size_t kSskBlock = 1024;          // SSKBlock.DATA_LENGTH
constexpr std::size_t kSskCompressed = 1022;     // 2-byte length header when compressed
constexpr std::size_t kChkBlock = 32768;         // CHKBlock.DATA_LENGTH
constexpr std::size_t kChkCompressed = 32764;
constexpr std::size_t kCompressionProbeLimit = 4 * 1024 * 1024;  // keep the io thread responsive

std::size_t gzip_size(std::string_view data) {
  CryptoPP::Gzip zipper;
  zipper.Put(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
  zipper.MessageEnd();
  return static_cast<std::size_t>(zipper.MaxRetrievable());
}

// How fred encodes an insert (fcp-protocol.md §3.9): compression only above one block, stopping
// at the first codec that fits; then one block, a CHK plus the key's redirect, or a splitfile.
struct InsertPlan {
  std::vector<std::string> codecs_tried;
  int codec = -1;
  std::string codec_name = "NONE";
  std::size_t final_size = 0;
  int total_blocks = 1;
  int required_blocks = 1;
};

InsertPlan plan_insert(std::string_view data, bool ssk_type, bool needs_metadata, bool dont_compress) {
  InsertPlan plan;
  plan.final_size = data.size();
  const std::size_t block = ssk_type ? kSskBlock : kChkBlock;
  const std::size_t fits = ssk_type ? kSskCompressed : kChkCompressed;
  if (data.size() > block && !dont_compress) {
    plan.codecs_tried.push_back("GZIP");
    const std::size_t gz = data.size() <= kCompressionProbeLimit ? gzip_size(data) : data.size();
    if (gz <= fits) {
      plan.codec = 0;
      plan.codec_name = "GZIP";
      plan.final_size = gz;
    } else {
      // BZIP2 and LZMA_NEW are tried too; the sim takes gzip's verdict for them.
      plan.codecs_tried.push_back("BZIP2");
      plan.codecs_tried.push_back("LZMA_NEW");
      if (!ssk_type && (gz + kChkBlock - 1) / kChkBlock < (data.size() + kChkBlock - 1) / kChkBlock) {
        plan.codec = 0;
        plan.codec_name = "GZIP";
        plan.final_size = gz;
      }
    }
  }
  const bool one_block = plan.final_size <= (plan.codec >= 0 ? fits : block);
  if (one_block && !needs_metadata) return plan;
  if (plan.final_size <= kChkBlock) {  // data in one CHK, the key holds a redirect to it
    plan.total_blocks = plan.required_blocks = 2;
    return plan;
  }
  const int data_blocks = static_cast<int>((plan.final_size + kChkBlock - 1) / kChkBlock);
  plan.total_blocks = 2 * data_blocks + 1;  // data + FEC check blocks + the top block
  plan.required_blocks = data_blocks + 1;
  return plan;
}

fcp::Message simple_progress(const std::string& identifier, int succeeded, int required, int total, bool finalized,
                             bool for_insert, std::int64_t last_progress) {
  fcp::Message m("SimpleProgress");
  m.set("Succeeded", static_cast<std::int64_t>(succeeded));
  m.set("Identifier", identifier);
  m.set("Required", static_cast<std::int64_t>(required));
  m.set("FinalizedTotal", finalized);
  if (for_insert) m.set("MinSuccessFetchBlocks", static_cast<std::int64_t>(required));
  m.set("Failed", std::int64_t{0});
  m.set("Total", static_cast<std::int64_t>(total));
  m.set("LastProgress", last_progress);
  m.set("FatallyFailed", std::int64_t{0});
  m.set("Global", false);
  return m;
}

fcp::Message put_failed(int code, const std::string& identifier, bool global) {
  struct Text {
    const char* long_text;
    const char* short_text;
    bool fatal;
  };
  Text t{"Internal error", "Internal error", true};
  switch (code) {
    case 1: t = {"Caller supplied a URI we cannot use", "Invalid URI", true}; break;
    case 9: t = {"Insert collided with different, pre-existing data at the same key", "Collided with existing data", true}; break;
    case 10: t = {"Cancelled by user", "Cancelled", true}; break;
    case 11: t = {"Path component (most likely a '/') used in the URI", "Meta string used in the key", true}; break;
    default: break;
  }
  fcp::Message m("PutFailed");
  m.set("Identifier", identifier);
  m.set("CodeDescription", t.long_text);
  m.set("ShortCodeDescription", t.short_text);
  m.set("Fatal", t.fatal);
  m.set("Code", static_cast<std::int64_t>(code));
  m.set("Global", global);
  return m;
}

}  // namespace

void Node::start_put(std::shared_ptr<Request> r, std::string data) {
  const fcp::Message& f = r->fields;
  const int verbosity = static_cast<int>(f.get_int("Verbosity").value_or(0));
  const std::string mime(f.get_or("Metadata.ContentType", ""));
  const bool dont_compress = f.get_bool("DontCompress").value_or(false);
  FreenetUri uri = *parse_uri(f.get_or("URI", ""));
  std::optional<std::string> filename;
  if (auto t = f.get("TargetFilename"); t && !t->empty()) filename = std::string(*t);
  if (uri.meta.size() == 1) {
    filename = uri.meta.front();
    uri.meta.clear();
  }
  if (uri.meta.size() > 1) {
    emit(r, put_failed(11, r->identifier, r->global), Record::result);
    return;
  }

  // Where the document goes, and the request URI fred reports.
  FreenetUri public_uri;
  std::string slot;
  bool identical_usk = false;
  const bool ssk_type = uri.type != "CHK";
  if (uri.type == "KSK") {
    public_uri = uri;
    slot = slot_of(uri);
  } else if (uri.type == "SSK") {
    if (!uri.routing_key) {  // `SSK@`: fred makes a random key, docname = target filename or "key"
      uri = *parse_uri(generate_ssk(rng).insert_uri);
      uri.docname = filename.value_or("key");
    }
    public_uri = to_request_form(uri);
    slot = slot_of(public_uri);
  } else if (uri.type == "USK") {
    public_uri = to_request_form(uri);
    const std::string base = usk_base(public_uri);
    std::int64_t edition = public_uri.edition < 0 ? -public_uri.edition : public_uri.edition;
    // fred's USKInserter looks for the latest edition first: identical data there is success,
    // otherwise it inserts after it.
    if (auto latest = store.latest_edition(base); latest && *latest >= edition) {
      auto existing = store.find(base + "-" + std::to_string(*latest));
      if (existing && existing->data == data && existing->mime == mime) {
        edition = *latest;
        identical_usk = true;
      } else {
        edition = *latest + 1;
      }
    }
    public_uri.edition = edition;
    slot = base + "-" + std::to_string(edition);
  } else {  // CHK: derived from the content
    const bool metadata = !mime.empty() || filename.has_value() || data.size() > kChkBlock;
    public_uri = chk_for(data, mime + (filename ? "/" + *filename : ""), metadata);
    slot = slot_of(public_uri);
    if (filename) {
      slot += "/" + *filename;
      public_uri.meta = {*filename};
    }
  }

  const bool needs_metadata = !mime.empty();
  const InsertPlan plan = plan_insert(data, ssk_type, needs_metadata, dont_compress);
  const std::int64_t progress_time = now_ms();
  if (verbosity & 512)
    for (const auto& codec : plan.codecs_tried)
      emit(r, fcp::Message("StartedCompression").set("Codec", codec).set("Identifier", r->identifier).set("Global", r->global));
  if (verbosity & 8) {
    fcp::Message hashes("ExpectedHashes");
    hashes.set("Identifier", r->identifier);
    hashes.set("Global", r->global);
    hashes.set("Hashes.SHA256", hex(sha256(data)));
    emit(r, hashes);
  }
  if (verbosity & 512) {
    fcp::Message done("FinishedCompression");
    done.set("Codec", static_cast<std::int64_t>(plan.codec));
    done.set("Identifier", r->identifier);
    done.set("CompressedSize", static_cast<std::int64_t>(plan.final_size));
    done.set("OriginalSize", static_cast<std::int64_t>(data.size()));
    done.set("Global", r->global);
    done.set("Codec.Name", plan.codec_name);
    emit(r, done);
  }
  if (verbosity & 1) {
    if (plan.total_blocks == 1) {
      for (int i = 0; i < 2; ++i) emit(r, simple_progress(r->identifier, 0, 1, 1, true, true, progress_time));
    } else {
      emit(r, simple_progress(r->identifier, 0, 1, 1, false, true, progress_time));
      emit(r, simple_progress(r->identifier, 0, plan.required_blocks, plan.total_blocks, false, true, progress_time));
      emit(r, simple_progress(r->identifier, 0, plan.required_blocks, plan.total_blocks, true, true, progress_time));
    }
  }

  fcp::Message generated("URIGenerated");
  generated.set("Identifier", r->identifier);
  generated.set("URI", public_uri.to_string());
  generated.set("Global", r->global);

  const auto outcome = identical_usk ? Datastore::PutResult::identical : store.put(slot, data, mime);
  emit(r, generated, Record::progress);
  if (outcome == Datastore::PutResult::collision) {
    // Found locally at once (fred-recorded/07: 0.05-0.13 s), no insert delay.
    emit(r, put_failed(9, r->identifier, r->global), Record::result);
    return;
  }
  if (outcome == Datastore::PutResult::stored) on_stored(slot);

  after(config.insert_delay_ms, [self = shared_from_this(), r, plan, verbosity, public_uri]() {
    if (r->cancelled) return;
    const std::int64_t done = now_ms();
    if ((verbosity & 1) && plan.total_blocks > 1) {
      self->emit(r, simple_progress(r->identifier, 1, plan.required_blocks, plan.total_blocks, true, true, done));
      self->emit(r, simple_progress(r->identifier, plan.required_blocks, plan.required_blocks, plan.total_blocks, true,
                                    true, done));
    }
    if ((verbosity & 256) && plan.total_blocks > 1) {
      self->emit(r, fcp::Message("PutFetchable")
                        .set("Identifier", r->identifier)
                        .set("URI", public_uri.to_string())
                        .set("Global", r->global));
    }
    fcp::Message ok("PutSuccessful");
    ok.set("Identifier", r->identifier);
    ok.set("CompletionTime", done);
    ok.set("StartupTime", r->startup_ms);
    ok.set("URI", public_uri.to_string());
    ok.set("Global", r->global);
    self->emit(r, ok, Record::result);
  });
}

void Node::start_get(std::shared_ptr<Request> r) {
  if (r->cancelled) return;
  auto self = shared_from_this();
  auto fail_later = [self, r](fcp::Message failure) {
    self->after(self->config.fetch_delay_ms, [self, r, failure]() { self->emit(r, failure, Record::result); });
  };
  // Not there: fred retries forever with MaxRetries=-1 (the request then waits for the data);
  // otherwise it reports Data not found. (A tiny real network often answers 14 Route not found
  // instead; clients must treat 13, 14 and 28 alike as "not there yet".)
  auto not_found = [self, r, fail_later](const std::string& wait_key, std::optional<std::string> extra) {
    if (r->max_retries == -1 && self->waiter_count() < Node::kMaxWaiters) {
      self->wait_for(wait_key, r->token, [self, r]() { self->start_get(r); });
      return;
    }
    if (r->verbosity & 2)
      self->emit(r, fcp::Message("SendingToNetwork").set("Identifier", r->identifier).set("Global", r->global));
    fail_later(get_failed(13, r->identifier, r->global, std::move(extra)));
  };
  auto redirect = [&](int code, const FreenetUri& to, std::optional<StoredDocument> doc) {
    fcp::Message failure = get_failed(code, r->identifier, r->global);
    if (doc) {
      failure.set("ExpectedDataLength", static_cast<std::int64_t>(doc->data.size()));
      failure.set("ExpectedMetadata.ContentType", doc->mime.empty() ? std::string("application/octet-stream") : doc->mime);
      failure.set("FinalizedExpected", "true");
    }
    failure.set("RedirectURI", to.to_string());
    fail_later(std::move(failure));
  };

  const FreenetUri& uri = r->uri;
  if (((uri.type == "SSK" || uri.type == "USK") && (uri.is_insert_key() || !uri.routing_key || !uri.crypto_key)) ||
      (uri.type == "CHK" && (!uri.routing_key || !uri.crypto_key))) {
    fail_later(get_failed(20, r->identifier, r->global));
    return;
  }

  std::string slot;
  std::optional<UskEdition> edition;
  if (uri.type == "USK") {
    const std::string base = usk_base(uri);
    const auto latest = store.latest_edition(base);
    if (uri.edition < 0) {  // "latest": always a redirect to the edition found
      if (!latest) {
        not_found("usk:" + base, std::string("No USK found"));
        return;
      }
      FreenetUri to = uri;
      to.edition = *latest;
      redirect(27, to, std::nullopt);
      return;
    }
    if (latest && *latest > uri.edition) {  // the node knows a newer edition
      FreenetUri to = uri;
      to.edition = *latest;
      redirect(27, to, std::nullopt);
      return;
    }
    slot = base + "-" + std::to_string(uri.edition);
    edition = UskEdition{base, uri.edition};
  } else {
    slot = slot_of(uri.without_meta());
    if (uri.type == "SSK") edition = usk_edition_of_slot(slot);
  }

  std::optional<StoredDocument> doc;
  bool path_consumed = uri.meta.empty();
  if (!uri.meta.empty()) {  // a named file in a single-file manifest (CHK with a target filename)
    std::string path = slot;
    for (const auto& m : uri.meta) path += "/" + m;
    if ((doc = store.find(path))) {
      slot = path;
      path_consumed = true;
    }
  }
  if (!doc) doc = store.find(slot);
  if (!doc) {
    not_found(slot, std::nullopt);
    return;
  }
  if (!path_consumed) {  // plain data is not a manifest: drop the extra path components
    redirect(11, uri.without_meta(), doc);
    return;
  }
  const std::string mime = doc->mime.empty() ? "application/octet-stream" : doc->mime;
  const std::size_t size = doc->data.size();
  if (static_cast<std::uint64_t>(size) > static_cast<std::uint64_t>(r->max_size)) {
    fcp::Message failure = get_failed(21, r->identifier, r->global);
    failure.set("ExpectedDataLength", static_cast<std::int64_t>(size));
    failure.set("ExpectedMetadata.ContentType", mime);
    failure.set("FinalizedExpected", "true");
    fail_later(std::move(failure));
    return;
  }
  const bool ssk_type = uri.type != "CHK";
  const bool multi_block = !doc->mime.empty() || size > (ssk_type ? kSskBlock : kChkBlock);
  if (r->max_retries != -1 && config.dnf_rate > 0 &&
      std::uniform_real_distribution<double>(0.0, 1.0)(rng) < config.dnf_rate) {
    fail_later(get_failed(multi_block ? 28 : 13, r->identifier, r->global));  // injected transient failure
    return;
  }

  after(config.fetch_delay_ms, [self, r, slot, mime, size, multi_block, edition]() {
    if (r->cancelled) return;
    auto current = self->store.find(slot);
    if (!current) return;
    const std::int64_t done = now_ms();
    const bool verbose_progress = r->verbosity & 1;
    fcp::Message compat("CompatibilityMode");
    if (multi_block) {  // fred-recorded/10: a CHK plus metadata
      compat.set("Min", "COMPAT_1416");
      compat.set("Identifier", r->identifier);
      compat.set("Max", "COMPAT_1468");
      compat.set("Definitive", true);
      compat.set("SplitfileCryptoKey", hex(sha256(current->data)));
      compat.set("Global", r->global);
      compat.set("DontCompress", true);
      compat.set("Min.Number", std::int64_t{6});
      compat.set("Max.Number", std::int64_t{7});
    } else {  // fred-recorded/13: a single block
      compat.set("Min", "COMPAT_UNKNOWN");
      compat.set("Identifier", r->identifier);
      compat.set("Max", "COMPAT_UNKNOWN");
      compat.set("Definitive", false);
      compat.set("Global", r->global);
      compat.set("DontCompress", true);
      compat.set("Min.Number", std::int64_t{0});
      compat.set("Max.Number", std::int64_t{0});
    }
    if (verbose_progress) {
      if (multi_block) {
        self->emit(r, simple_progress(r->identifier, 0, 1, 1, false, false, r->startup_ms));
        self->emit(r, simple_progress(r->identifier, 1, 2, 2, false, false, done));
        self->emit(r, simple_progress(r->identifier, 1, 2, 2, false, false, done));
        self->emit(r, simple_progress(r->identifier, 1, 2, 2, true, false, done));
      } else {
        self->emit(r, simple_progress(r->identifier, 0, 1, 1, false, false, r->startup_ms));
      }
    }
    if (multi_block && (r->verbosity & 4)) self->emit(r, compat);
    if (verbose_progress)
      self->emit(r, simple_progress(r->identifier, multi_block ? 2 : 1, multi_block ? 2 : 1, multi_block ? 2 : 1, true,
                                    false, done));
    if (multi_block && (r->verbosity & 8)) {
      fcp::Message hashes("ExpectedHashes");
      hashes.set("Identifier", r->identifier);
      hashes.set("Global", r->global);
      hashes.set("Hashes.SHA256", hex(sha256(current->data)));
      self->emit(r, hashes);
    }
    // Subscribers hear that the edition was fetched before the fetcher gets its data (09-usk).
    if (edition) self->on_fetched_edition(edition->base, edition->edition);
    fcp::Message found("DataFound");
    found.set("Identifier", r->identifier);
    found.set("CompletionTime", done);
    found.set("StartupTime", r->startup_ms);
    found.set("DataLength", static_cast<std::int64_t>(size));
    found.set("Global", r->global);
    found.set("Metadata.ContentType", mime);
    if (r->persistent()) {
      if (PersistentRequest* p = self->find_persistent(r->owner, r->identifier); p && p->token == r->token) {
        p->data_slot = slot;
        p->mime = mime;
      }
      self->emit(r, found, Node::Record::result);
      // Kept for replays (reconnect, ListPersistentRequests, GetRequestStatus); sent live only
      // when the verbosity asks (bits 4, 32, 64), as fred-recorded/13 shows.
      self->emit(r, compat, Node::Record::after, (r->verbosity & 4) != 0);
      self->emit(r, fcp::Message("ExpectedMIME")
                        .set("Identifier", r->identifier)
                        .set("Global", r->global)
                        .set("Metadata.ContentType", mime),
                 Node::Record::after, (r->verbosity & 32) != 0);
      self->emit(r, fcp::Message("ExpectedDataLength")
                        .set("Identifier", r->identifier)
                        .set("DataLength", static_cast<std::int64_t>(size))
                        .set("Global", r->global),
                 Node::Record::after, (r->verbosity & 64) != 0);
    } else {
      self->emit(r, found, Node::Record::result);
      if (r->return_type == "direct") {
        fcp::Message all("AllData");
        all.set("Identifier", r->identifier);
        all.set("CompletionTime", done);
        all.set("StartupTime", r->startup_ms);
        all.set("DataLength", static_cast<std::int64_t>(size));
        all.set("Global", r->global);
        all.set("Metadata.ContentType", mime);
        all.payload = std::move(current->data);
        if (auto s = r->connection.lock(); s && !s->closed()) s->send(all);
      }
    }
  });
}

}  // namespace fcp::sim
