#!/usr/bin/env bash
# The fcpmail CLI and SMTP against the real daemon on its embedded simulated node: two accounts,
# a contact, a message submitted over SMTP (swaks) waits as held, `outbox approve` releases it,
# the recipient sees a contact request and approves it, and the message is delivered; `queues`,
# `status` and the --json forms are checked along the way. Intervals scaled down (0.002).
source "$(dirname "$0")/harness/script.sh"
cli="$build/fcpmail"
daemon="$build/fcpmaild"
need "$daemon"
fail() { echo "FAIL: $*"; echo "--- daemon log (tail)"; tail -30 "$work/daemon.log"; exit 1; }

mkdir -m 700 "$work/data"
export FCPMAIL_DATA_DIR="$work/data"
"$daemon" --data-dir "$work/data" --embedded-node --imap-listen 127.0.0.1:0 --smtp-listen 127.0.0.1:0 \
  --http-listen 127.0.0.1:0 --interval-scale 0.002 >"$work/daemon.log" 2>&1 &
child_pid=$!
for _ in $(seq 100); do [ -s "$work/data/control.json" ] && break; sleep 0.1; done
[ -s "$work/data/control.json" ] || fail "the daemon wrote no control.json"
smtp=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['smtp'])" "$work/data/control.json")

run() { set +e; out=$("$cli" "$@" 2>"$work/stderr"); rc=$?; set -e; }
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1" <<<"$out"; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until the command succeeds
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 0.3
  done
}

run status
[ $rc = 0 ] || fail "status rc=$rc: $(cat "$work/stderr")"
grep -q "connected to the embedded simulated node" <<<"$out" || fail "status: $out"

# Two accounts (fixture keys: no minute-long RSA generation).
set +e
out=$(echo "alice pw" | "$cli" account create alice --password-stdin --rsa-key "$fixtures/keys/alice.key" 2>"$work/stderr")
rc=$?
set -e
[ $rc = 0 ] || fail "account create alice rc=$rc: $(cat "$work/stderr")"
grep -q "rsa-key:" "$work/stderr" || fail "no progress shown"
alice=$(sed -n 's/^Your address: //p' <<<"$out")
set +e
out=$(echo "bob pw" | "$cli" account create bob --password-stdin --rsa-key "$fixtures/keys/bob.key" --json 2>/dev/null)
rc=$?
set -e
[ $rc = 0 ] || fail "account create bob rc=$rc"
bob=$(json_get 'd["account"]["address"]')
[[ "$alice" == alice@*.freemail && "$bob" == bob@*.freemail ]] || fail "addresses: $alice $bob"
echo "ok: accounts $alice and $bob"

run contacts add "$bob" --petname bob --account "$alice"
[ $rc = 0 ] || fail "contacts add rc=$rc: $(cat "$work/stderr")"

# Submit over SMTP with the petname; the message waits as held.
swaks --server "$smtp" --auth PLAIN --auth-user "$alice" --auth-password "alice pw" --from "$alice" --to bob \
  --header "Subject: over hyphanet" --body "hello bob" >"$work/swaks" 2>&1 || { cat "$work/swaks"; fail "swaks"; }
run outbox list --account "$alice"
grep -q "over hyphanet" <<<"$out" || fail "outbox list: $out"
grep -q "held for your approval" <<<"$out" || fail "not held: $out"
run outbox list --json
id=$(json_get 'd["outbox"][0]["id"]')
echo "ok: submitted over SMTP, held as #$id"

run outbox approve "$id"
[ $rc = 0 ] || fail "approve rc=$rc: $(cat "$work/stderr")"
run queues
echo "--- fcpmail queues after approval"
echo "$out"

# Bob sees a contact request from alice and approves it.
request_from_alice() { "$cli" requests list --account "$bob" --json | grep -q "\"$alice\""; }
wait_for 60 "bob's contact request from alice" request_from_alice
run requests list --account "$bob" --json
rid=$(json_get '[r["id"] for r in d["requests"] if r["state"]=="pending"][0]')
run requests approve "$rid"
[ $rc = 0 ] || fail "requests approve rc=$rc: $(cat "$work/stderr")"
echo "ok: bob approved request #$rid"

delivered() { "$cli" outbox show "$id" --json | grep -q '"code": "delivered"'; }
wait_for 120 "delivery" delivered
run outbox show "$id"
grep -q "delivered" <<<"$out" || fail "outbox show: $out"
run status --json
[ "$(json_get 'd["counts"]["delivered"]')" -ge 1 ] || fail "status delivered count"
echo "ok: delivered"
echo "all daemon CLI tests passed"
