#!/usr/bin/env bash
# mbsync (isync) against imap-testserver: sync INBOX to a Maildir, then again; the second run must
# fetch no message and change nothing.
source "$(dirname "$0")/harness/imap_start.sh"
mkdir -p "$WORK/mail" "$WORK/state"
cat >"$WORK/mbsyncrc" <<CONF
IMAPAccount test
Host 127.0.0.1
Port $PORT
User $USER_ADDR
Pass $PASSWORD
SSLType None

IMAPStore remote
Account test

MaildirStore local
Path $WORK/mail/
Inbox $WORK/mail/INBOX

Channel inbox
Far :remote:INBOX
Near :local:INBOX
Create Near
Sync Pull
SyncState $WORK/state/
CONF

timeout 60 mbsync -c "$WORK/mbsyncrc" inbox >"$WORK/run1" 2>&1 || fail "first mbsync run: $(cat "$WORK/run1")"
count=$(find "$WORK/mail/INBOX" -path '*/new/*' -o -path '*/cur/*' | grep -c , || true)
[ "$count" -eq 3 ] || fail "expected 3 messages in the Maildir, found $count"
grep -rq "this is a plain message." "$WORK/mail/INBOX" || fail "message 1 content missing"
fetched1=$(grep -c 'BODY.PEEK\[\]' "$WORK/trace" || true)
[ "$fetched1" -ge 1 ] || fail "the first run fetched no bodies"
before=$(cd "$WORK/mail" && find . -type f -newer "$WORK/run1" -o -type f -name '*,*' | sort; ls -l --time-style=+%s INBOX/new INBOX/cur)

sleep 1
timeout 60 mbsync -c "$WORK/mbsyncrc" inbox >"$WORK/run2" 2>&1 || fail "second mbsync run: $(cat "$WORK/run2")"
fetched2=$(grep -c 'BODY.PEEK\[\]' "$WORK/trace" || true)
[ "$fetched2" -eq "$fetched1" ] || fail "the second run fetched message bodies again ($fetched1 -> $fetched2)"
after=$(cd "$WORK/mail" && find . -type f -newer "$WORK/run1" -o -type f -name '*,*' | sort; ls -l --time-style=+%s INBOX/new INBOX/cur)
[ "$before" = "$after" ] || fail "the second run changed the Maildir: $before // $after"

# A new delivery is picked up by the next run, and only that one message is fetched.
printf 'From: x@y.freemail\r\nSubject: late\r\n\r\nlate body\r\n' >"$WORK/new.eml"
echo "deliver INBOX $WORK/new.eml" >&9
for _ in $(seq 50); do grep -q DELIVERED "$WORK/out" && break; sleep 0.05; done
timeout 60 mbsync -c "$WORK/mbsyncrc" inbox >"$WORK/run3" 2>&1 || fail "third mbsync run: $(cat "$WORK/run3")"
fetched3=$(grep -c 'BODY.PEEK\[\]' "$WORK/trace" || true)
[ "$fetched3" -eq $((fetched2 + 1)) ] || fail "the third run should fetch exactly the new message ($fetched2 -> $fetched3)"
grep -rq "late body" "$WORK/mail/INBOX" || fail "the new message did not arrive"
echo "imap_mbsync: OK"
