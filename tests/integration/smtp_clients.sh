#!/usr/bin/env bash
# Real SMTP clients against the SMTP server (fcpmail-smtp-testserver: the real server over an
# in-memory Submission that logs every accepted message as a JSON line).
# swaks (AUTH PLAIN, AUTH LOGIN, refused recipient, refused sender, bad password), curl smtp://
# with AUTH, python3 smtplib (a scripted session), mutt in batch mode.
source "$(dirname "$0")/harness/script.sh"
server_bin="$build/fcpmail-smtp-testserver"
need "$server_bin"

me="alice@aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffff.freemail"
bob="bob@bobbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.freemail"
"$server_bin" --log "$work/log.jsonl" --port-file "$work/port" --user "$me" --password 's3cret pass' \
  --contact "bob=$bob" --contact "bea=bea@beaaaaaaaa.freemail" --auth-delay-ms 100 --max-size 200000 \
  >"$work/server.out" 2>"$work/server.err" &
child_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
echo "test server on port $port"

fail() { echo "FAIL: $*"; echo "--- server log"; cat "$work/server.err"; exit 1; }
submissions() { grep -c '"kind":"submit"' "$work/log.jsonl" 2>/dev/null || true; }
last_submission() { grep '"kind":"submit"' "$work/log.jsonl" | tail -1; }

# --- swaks, AUTH PLAIN, petname recipient
swaks --server "127.0.0.1:$port" --auth PLAIN --auth-user "$me" --auth-password 's3cret pass' \
  --from "$me" --to bob --header "Subject: swaks plain" --body "hello via swaks" >"$work/swaks1" 2>&1 \
  || { cat "$work/swaks1"; fail "swaks AUTH PLAIN"; }
grep -q '235 2.7.0' "$work/swaks1" || fail "swaks PLAIN: no 235"
[ "$(submissions)" = 1 ] || fail "swaks PLAIN: nothing submitted"
last_submission | grep -q "\"recipients\":\[\"$bob\"\]" || fail "swaks PLAIN: petname not resolved"
last_submission | grep -q 'hello via swaks' || fail "swaks PLAIN: body missing"
grep -q '"folder":"Sent","kind":"append"' "$work/log.jsonl" || fail "no Sent copy"
echo "ok: swaks AUTH PLAIN"

# --- swaks, AUTH LOGIN, full address, pipelining
swaks --server "127.0.0.1:$port" --auth LOGIN --auth-user "$me" --auth-password 's3cret pass' --pipeline \
  --from "$me" --to "$bob" --header "Subject: swaks login" --body "hello via login" >"$work/swaks2" 2>&1 \
  || { cat "$work/swaks2"; fail "swaks AUTH LOGIN"; }
grep -q '334 VXNlcm5hbWU6' "$work/swaks2" || fail "swaks LOGIN: no username prompt"
[ "$(submissions)" = 2 ] || fail "swaks LOGIN: nothing submitted"
echo "ok: swaks AUTH LOGIN with PIPELINING"

# --- swaks: unknown recipient gets 550 with advice, nothing submitted
if swaks --server "127.0.0.1:$port" --auth PLAIN --auth-user "$me" --auth-password 's3cret pass' \
  --from "$me" --to nobody >"$work/swaks3" 2>&1; then fail "unknown recipient accepted"; fi
grep -q '550 5.1.1 <nobody>: no contact is called' "$work/swaks3" || { cat "$work/swaks3"; fail "550 text"; }
grep -q 'fcpmail contacts add' "$work/swaks3" || fail "550 gives no advice"
[ "$(submissions)" = 2 ] || fail "unknown recipient submitted something"
echo "ok: unknown recipient refused with advice"

# --- swaks: another sender is refused; a wrong password is refused
if swaks --server "127.0.0.1:$port" --auth PLAIN --auth-user "$me" --auth-password 's3cret pass' \
  --from "mallory@x.freemail" --to bob >"$work/swaks4" 2>&1; then fail "foreign sender accepted"; fi
grep -q '553 5.7.1' "$work/swaks4" || fail "foreign sender: no 553"
if swaks --server "127.0.0.1:$port" --auth PLAIN --auth-user "$me" --auth-password 'wrong' \
  --from "$me" --to bob >"$work/swaks5" 2>&1; then fail "wrong password accepted"; fi
grep -q '535 5.7.8' "$work/swaks5" || fail "wrong password: no 535"
if swaks --server "127.0.0.1:$port" --from "$me" --to bob >"$work/swaks6" 2>&1; then fail "no AUTH accepted"; fi
grep -q '530 5.7.0' "$work/swaks6" || fail "no AUTH: no 530"
echo "ok: wrong sender, wrong password, missing AUTH refused"

# --- curl smtp:// with AUTH (curl sends the file as it is)
printf 'From: %s\r\nTo: bea\r\nSubject: via curl\r\n\r\nline one\r\n.leading dot\r\n' "$me" >"$work/curl.eml"
curl -sS --url "smtp://127.0.0.1:$port" --user "$me:s3cret pass" --mail-from "$me" --mail-rcpt bea \
  --upload-file "$work/curl.eml" >"$work/curl.out" 2>&1 || { cat "$work/curl.out"; fail "curl smtp"; }
[ "$(submissions)" = 3 ] || fail "curl: nothing submitted"
last_submission | grep -q '"recipients":\["bea@beaaaaaaaa.freemail"\]' || fail "curl: recipient"
last_submission | grep -q '\\r\\n.leading dot\\r\\n' || fail "curl: dot-stuffed line not restored"
last_submission | grep -q 'Message-ID: <' || fail "curl: missing Message-ID not added"
echo "ok: curl smtp:// with AUTH"

# --- python3 smtplib: a scripted session
python3 - "$port" "$me" "$bob" <<'PY' || fail "smtplib"
import smtplib, sys
port, me, bob = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
code, _ = s.ehlo("client.test"); assert code == 250
for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "auth"):
    assert s.has_extn(ext), ext
assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
assert s.noop()[0] == 250
assert s.verify("bob")[0] == 252
try:
    s.mail(me)  # before AUTH
except smtplib.SMTPException: pass
code, _ = s.mail(me); assert code == 530, code
s.login(me, "s3cret pass")
code, msg = s.mail(me, ["BODY=8BITMIME", "SIZE=1000"]); assert code == 250, (code, msg)
code, msg = s.rcpt("bo"); assert code == 250 and bob.encode() in msg, (code, msg)
code, msg = s.rcpt("zzz"); assert code == 550, (code, msg)
assert s.rset()[0] == 250
code, msg = s.rcpt("bob"); assert code == 503, (code, msg)
body = "From: %s\r\nTo: bob\r\nSubject: smtplib ümlaut\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n.dot\r\nGrüße\r\n" % me
refused = s.sendmail(me, ["bob", "bea"], body.encode("utf-8"), mail_options=["BODY=8BITMIME"])
assert refused == {}, refused
try:
    s.sendmail(me, ["bob"], "x" * 300000)
    raise SystemExit("oversized message accepted")
except smtplib.SMTPSenderRefused as e:
    assert e.smtp_code == 552, e  # refused at MAIL by SIZE=
code, _ = s.docmd("FROB"); assert code == 500
code, _ = s.docmd("STARTTLS"); assert code == 502
s.quit()
print("smtplib session ok")
PY
[ "$(submissions)" = 4 ] || fail "smtplib: expected 4 submissions, got $(submissions)"
last_submission | grep -q '"recipients":\["'"$bob"'","bea@beaaaaaaaa.freemail"\]' || fail "smtplib: recipients"
last_submission | grep -q 'Grüße' || fail "smtplib: 8-bit body damaged"
echo "ok: python3 smtplib"

# --- mutt in batch mode
mkdir -p "$work/mutt"
cat >"$work/muttrc" <<RC
set smtp_url="smtp://${me/@/%40}@127.0.0.1:$port/"
set smtp_pass="s3cret pass"
set from="$me"
set use_from=yes
set ssl_starttls=no
set ssl_force_tls=no
set record=""
set folder="$work/mutt"
set spoolfile="$work/mutt/inbox"
set mbox_type=Maildir
set header_cache=""
set hostname="localhost"
set message_cachedir=""
RC
echo "hello from mutt" | HOME="$work" mutt -n -F "$work/muttrc" -s "via mutt" bob >"$work/mutt.out" 2>&1 \
  || { cat "$work/mutt.out"; fail "mutt"; }
[ "$(submissions)" = 5 ] || { cat "$work/mutt.out"; fail "mutt: nothing submitted"; }
last_submission | grep -q 'hello from mutt' || fail "mutt: body"
last_submission | grep -q "\"recipients\":\[\"$bob\"\]" || fail "mutt: recipient"
echo "ok: mutt batch mode"

kill -0 "$child_pid" || fail "server died"
echo "all SMTP client tests passed"
