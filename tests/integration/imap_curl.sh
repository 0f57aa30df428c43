#!/usr/bin/env bash
# curl's imap:// client against imap-testserver: list folders, fetch a message, search, bad login.
source "$(dirname "$0")/harness/imap_start.sh"
url="imap://127.0.0.1:$PORT"

list=$(curl -sS --max-time 10 --user "$USER_ADDR:$PASSWORD" "$url/")
for f in INBOX Sent Drafts Trash Outbox; do
  grep -q "\"$f\"" <<<"$list" || fail "LIST lacks $f: $list"
done
grep -q '\\Sent' <<<"$list" || fail "LIST lacks the \\Sent attribute: $list"

msg=$(curl -sS --max-time 10 --user "$USER_ADDR:$PASSWORD" "$url/INBOX;UID=1")
grep -q "Subject: Hello Alice" <<<"$msg" || fail "UID=1 fetch: $msg"
grep -q "this is a plain message." <<<"$msg" || fail "UID=1 body: $msg"

part=$(curl -sS --max-time 10 --user "$USER_ADDR:$PASSWORD" "$url/INBOX;UID=3;SECTION=1.2")
[ "$part" = "<p>html body</p>" ] || fail "SECTION=1.2: $part"

found=$(curl -sS --max-time 10 --user "$USER_ADDR:$PASSWORD" "$url/INBOX?SUBJECT%20Nested")
grep -q "SEARCH 3" <<<"$found" || fail "SEARCH: $found"

examine=$(curl -sS --max-time 10 --user "$USER_ADDR:$PASSWORD" "$url/" -X "EXAMINE INBOX")
grep -q "3 EXISTS" <<<"$examine" || fail "EXAMINE: $examine"

set +e
curl -sS --max-time 10 --user "$USER_ADDR:wrong" "$url/" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 67 ] || fail "a wrong password should give curl exit 67 (login denied), got $rc"
echo "imap_curl: OK"
