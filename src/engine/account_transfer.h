// Moving an account to another machine: what the export file holds (Engine::export_account and
// Engine::import_account in account_transfer.cpp; the encrypted envelope is account_archive.h).
//
// The content is one CBOR map (content version 1):
//   format "fcpmail-account", content_version 1, exported_at (ms), fcpmail_version,
//   account          the account row: address, nickname, WoT identity id, request URI,
//                    insert_uri (the identity's insert USK), rsa_private (Freemail key file text),
//                    rsa_public (mailpage props), rtsksk, password_hash (scrypt, so the same
//                    password works after import), mailsite_edition, created_at, ...
//   contacts         every contact: petname, WoT nickname, state (accepted, revoked, denied,
//                    removed), their mailsite and public key, next message id
//   contact_requests with the validated RTS fields (pending ones can be approved after import)
//   channels         channel insert URI, role, state, both slot chain heads and indexes, timeout,
//                    the RTS still to be (re)sent; skipped_slots: passed-over peer slots
//   outbox, deliveries, send_items
//                    every outbox message with a recipient not yet delivered, failed or
//                    cancelled (so unacked sends are resent from the new machine), and every
//                    pending channel insert (CTS, messages, acks owed to peers); subject and
//                    body opened; a held delivery to an address not yet a contact has a null
//                    contact_id (approval makes it one)
//   seen_messages    message ids already stored per peer (a resend is acked, not stored twice)
//   rts_days, rts_slots, rts_inbox
//                    RTS polling progress and fetched RTSs not yet processed
// Rows are the database's own columns; sealed columns are stored opened (the file as a whole is
// encrypted) and sealed again under the importing data dir's key. Row ids are remapped.
//
// NOT in the file: mail already stored in the IMAP folders (INBOX, Sent, ...), and delivered or
// cancelled outbox messages. Export moves the identity and its conversations, not the mailbox;
// copy old mail with the mail client (IMAP folder to a local folder) before moving.
#pragma once
#include <string_view>

namespace fcpmail::engine {

inline constexpr std::string_view account_export_format = "fcpmail-account";
inline constexpr int account_export_content_version = 1;

}  // namespace fcpmail::engine
