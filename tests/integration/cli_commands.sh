#!/usr/bin/env bash
# The daemon-facing fcpmail commands against the real HTTP control API (fcpmail-web-testserver:
# the real server over an in-memory Control that moves messages the way the engine does), checking
# the human output and --json of every command, the exit codes, and the refusals (no daemon,
# wrong token, usage errors).
source "$(dirname "$0")/harness/script.sh"
cli="$build/fcpmail"
server_bin="$build/fcpmail-web-testserver"
need "$cli" "$server_bin"
me="alice@aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffffgggg.freemail"
bob="bob@bobbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.freemail"

# --- no daemon: a clear sentence and exit 1
set +e
out=$("$cli" status --data-dir "$work/nowhere" 2>&1); rc=$?
set -e
[ $rc = 1 ] || fail "status without a daemon exited $rc"
grep -q "does not seem to be running" <<<"$out" || fail "no-daemon message: $out"
echo "ok: no daemon"

mkdir -p "$work/data"
"$server_bin" --data-dir "$work/data" --user "$me" --password pw --seed >"$work/server.out" 2>"$work/server.err" &
child_pid=$!
for _ in $(seq 50); do [ -s "$work/data/control.json" ] && break; sleep 0.1; done
[ "$(stat -c %a "$work/data/control.token")" = 600 ] || fail "control.token is not 0600"
export FCPMAIL_DATA_DIR="$work/data"

# Runs the CLI; stores stdout in $out and the exit code in $rc.
run() { set +e; out=$("$cli" "$@" 2>"$work/stderr"); rc=$?; set -e; }
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1" <<<"$out"; }

# --- status
run status
[ $rc = 0 ] || fail "status rc=$rc"
grep -q "connected to the embedded simulated node at 127.0.0.1:9481" <<<"$out" || fail "status node: $out"
grep -q "$me" <<<"$out" || fail "status account"
grep -q "1 held, 0 awaiting CTS" <<<"$out" || fail "status counts: $out"
grep -q "1 contact request, 1 channel, 1 FCP request in flight" <<<"$out" || fail "status counts 2"
run status --json
[ "$(json_get 'd["counts"]["held"]')" = 1 ] || fail "status --json"
[ "$(json_get 'd["node"]["version"]')" = "Fred,0.7,1.0,1506" ] || fail "status --json node"
# Global options may come before the command (issue 17): the data dir named there is used, even
# with FCPMAIL_DATA_DIR pointing elsewhere, and --json before the command still means JSON.
set +e
out=$(FCPMAIL_DATA_DIR="$work/nowhere" "$cli" --data-dir "$work/data" --json status 2>"$work/stderr"); rc=$?
set -e
[ $rc = 0 ] || fail "--data-dir before the command rc=$rc: $(cat "$work/stderr")"
[ "$(json_get 'd["counts"]["held"]')" = 1 ] || fail "--json before the command: $out"
set +e
out=$(FCPMAIL_DATA_DIR="$work/data" "$cli" --data-dir "$work/nowhere" status 2>&1); rc=$?
set -e
[ $rc = 1 ] || fail "--data-dir before the command is not used (rc=$rc)"
grep -q "does not seem to be running" <<<"$out" || fail "--data-dir before the command: $out"
echo "ok: status"

# --- outbox list / show / approve / cancel
run outbox list
grep -q "#1  Hello Bob" <<<"$out" || fail "outbox list: $out"
grep -q -- "-> $bob" <<<"$out" || fail "outbox recipient"
grep -q "fcpmail outbox approve 1" <<<"$out" || fail "outbox hint"
run outbox show 1
grep -q "Subject: Hello Bob" <<<"$out" || fail "outbox show headers: $out"
run outbox show 99
[ $rc = 1 ] || fail "outbox show 99 rc=$rc"
grep -q "no outbox message 99" "$work/stderr" || fail "outbox show 99 message"
run outbox approve 1
[ $rc = 0 ] || fail "approve rc=$rc"
grep -q "Released message #1" <<<"$out" || fail "approve output: $out"
grep -q "awaiting CTS; next: RTS resend 2026-11-28 14:00:00 UTC" <<<"$out" || fail "approve state: $out"
run outbox approve 1
[ $rc = 1 ] || fail "second approve rc=$rc"
grep -q "message 1 is not held" "$work/stderr" || fail "second approve message"
run outbox list --json
[ "$(json_get 'd["outbox"][0]["recipients"][0]["code"]')" = awaiting_cts ] || fail "outbox --json"
echo "ok: outbox list/show/approve"

# --- send (file and stdin), approve --all, cancel
printf 'From: %s\r\nTo: bob\r\nSubject: from the CLI\r\n\r\nhello\r\n' "$me" >"$work/msg.eml"
run send --to bob --file "$work/msg.eml"
[ $rc = 0 ] || fail "send rc=$rc $(cat "$work/stderr")"
grep -q "Queued as outbox message #2" <<<"$out" || fail "send output: $out"
set +e; out=$(printf 'Subject: piped\r\n\r\nx\r\n' | "$cli" send --to "$bob" --file - --json); rc=$?; set -e
[ "$(json_get 'd["id"]')" = 3 ] || fail "send --json from stdin: $out"
run send --to nobody --file "$work/msg.eml"
[ $rc = 1 ] || fail "send to unknown rc=$rc"
grep -q "fcpmail contacts add" "$work/stderr" || fail "send to unknown advice"
run outbox approve --all
grep -q "Released 2 messages" <<<"$out" || fail "approve --all: $out"
run outbox cancel 3
grep -q "Cancelled message #3" <<<"$out" || fail "cancel: $out"
grep -q "cancelled" <<<"$out" || fail "cancel state"
echo "ok: send, approve --all, cancel"

# --- requests
run requests list
grep -q "#7  carol@" <<<"$out" || fail "requests list: $out"
grep -q "WoT nickname carol" <<<"$out" || fail "requests nickname"
grep -q "fcpmail requests approve 7" <<<"$out" || fail "requests hint"
run requests approve 7
grep -q "Approved request #7 from carol@" <<<"$out" || fail "requests approve: $out"
run requests deny 7 --json
[ $rc = 1 ] || fail "deny after approve rc=$rc"
run requests list --json
[ "$(json_get 'd["requests"][0]["state"]')" = approved ] || fail "requests --json"
echo "ok: requests"

# --- contacts
run contacts list
grep -q "^bob  $bob" <<<"$out" || fail "contacts list: $out"
run contacts add "dan@dddddddd.freemail" --petname dan
grep -q "Added dan@dddddddd.freemail as dan" <<<"$out" || fail "contacts add: $out"
run contacts add "dan@gmail.com"
[ $rc = 1 ] || fail "bad contact rc=$rc"
grep -q "is not a Freemail address" "$work/stderr" || fail "bad contact message"
run contacts revoke dan
grep -q "Revoked dan" <<<"$out" || fail "revoke: $out"
run contacts list --json
[ "$(json_get '[c["state"] for c in d["contacts"] if c["petname"]=="dan"][0]')" = revoked ] || fail "revoked state"
run contacts remove dan
grep -q "Removed dan" <<<"$out" || fail "remove: $out"
echo "ok: contacts"

# --- queues
run queues
grep -q "RTS keys polled (2):" <<<"$out" || fail "queues rts: $out"
grep -q "    20261127 slot 0  not found, polled .* ago; next poll " <<<"$out" || fail "queues poll line: $out"
grep -q "initiator, open; next send slot 2; polling slots 0..5" <<<"$out" || fail "queues channel"
grep -q "get  poll bob's channel slot 3" <<<"$out" || fail "queues in flight"
run queues --json
[ "$(json_get 'len(d["rts"])')" = 2 ] || fail "queues --json"
echo "ok: queues"

# --- accounts: create with progress, list
run account create carol
[ $rc = 0 ] || fail "account create rc=$rc"
grep -q "identity: creating the WebOfTrust identity" "$work/stderr" || fail "no progress: $(cat "$work/stderr")"
grep -q "mailsite: inserting the mailpage" "$work/stderr" || fail "no mailsite progress"
grep -q "Your address: carol@" <<<"$out" || fail "create output: $out"
grep -q "Password: generated-pw-1234" <<<"$out" || fail "generated password not shown"
grep -q "SMTP  127.0.0.1 port 9025" <<<"$out" || fail "SMTP settings"
set +e; out=$(echo "my secret" | "$cli" account create dora --password-stdin --json 2>/dev/null); rc=$?; set -e
[ "$(json_get 'd["password"]')" = "my secret" ] || fail "password-stdin: $out"
run account create fail
[ $rc = 1 ] || fail "failing create rc=$rc"
grep -q "account creation failed: the node refused the identity" "$work/stderr" || fail "failing create message"
run account list
grep -q "^carol@" <<<"$out" || fail "account list: $out"
run account list --json
[ "$(json_get 'len(d["accounts"])')" = 3 ] || fail "account list --json"
# With several accounts, commands that need one ask for --account.
run contacts add "eve@eeeeeeee.freemail"
[ $rc = 1 ] || fail "ambiguous account rc=$rc"
grep -q "choose one with --account" "$work/stderr" || fail "ambiguous account message"
run account export "$me" --out "$work/x.export" </dev/null
[ $rc = 2 ] || fail "export without passphrase rc=$rc"
echo "ok: accounts"

# --- usage errors exit 2; --help exits 0
run outbox frobnicate
[ $rc = 2 ] || fail "unknown subcommand rc=$rc"
run outbox list --bogus
[ $rc = 2 ] || fail "unknown option rc=$rc"
grep -qF "fcpmail: unknown option '--bogus' for 'outbox list' (see fcpmail outbox list --help)" "$work/stderr" \
  || fail "unknown option message: $(cat "$work/stderr")"
run status --petname x
[ $rc = 2 ] || fail "an option of another command rc=$rc"
grep -qF "unknown option '--petname' for 'status'" "$work/stderr" || fail "status --petname: $(cat "$work/stderr")"
run --help
[ $rc = 0 ] || fail "fcpmail --help rc=$rc"
overview=$out
for c in node address rts slots keygen status account contacts requests outbox queues send web; do
  grep -q "^  $c\b" <<<"$overview" || fail "fcpmail --help does not list $c"
  run $c --help
  [ $rc = 0 ] || fail "fcpmail $c --help rc=$rc"
  grep -q "usage:" <<<"$out" || fail "fcpmail $c --help: $out"
done
run outbox --help
[ $rc = 0 ] || fail "--help rc=$rc"
grep -q "usage: fcpmail outbox list" <<<"$out" || fail "help text"
echo "ok: usage errors"

# --- a wrong token is refused cleanly
cp "$work/data/control.token" "$work/token.good"
printf '%064d\n' 0 >"$work/data/control.token"
run status
[ $rc = 1 ] || fail "wrong token rc=$rc"
grep -q "missing or wrong control token" "$work/stderr" || fail "wrong token message: $(cat "$work/stderr")"
cp "$work/token.good" "$work/data/control.token"
run status
[ $rc = 0 ] || fail "status after restoring the token"
echo "ok: wrong token refused"

kill -0 "$child_pid" || fail "server died"
echo "all CLI tests passed"
