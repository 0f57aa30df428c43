#!/usr/bin/env bash
# Files: fcpmaild makes its data dir 0700 and every file in it (secret.key, control.token,
# control.json, fcpmail.db, node.db and their -wal/-shm) 0600, whatever the caller's umask; it
# refuses to start, with a non-zero exit and the chmod that fixes it, when group or others can
# use the data dir.
source "$(dirname "$0")/harness/script.sh"
daemon="$build/fcpmaild"
cli="$build/fcpmail"
need "$daemon" "$cli"
fail() { echo "FAIL: $*"; [ -f "$work/daemon.log" ] && { echo "--- daemon log (tail)"; tail -20 "$work/daemon.log"; }; exit 1; }
mode_of() { stat -c %a "$1"; }

start_daemon() {  # start_daemon DIR: in the background, with a careless umask
  ( umask 022; exec "$daemon" --data-dir "$1" --embedded-node --imap-listen 127.0.0.1:0 --smtp-listen 127.0.0.1:0 \
      --http-listen 127.0.0.1:0 --interval-scale 0.002 ) >"$work/daemon.log" 2>&1 &
  child_pid=$!
  for _ in $(seq 150); do
    [ -s "$1/control.json" ] && grep -q "\"pid\": *$child_pid" "$1/control.json" && return 0
    kill -0 "$child_pid" 2>/dev/null || fail "the daemon exited while starting"
    sleep 0.1
  done
  fail "the daemon wrote no control.json"
}
stop_daemon() { kill "$child_pid"; wait "$child_pid" 2>/dev/null || true; child_pid=""; }

# 1. A data dir that does not exist yet is created 0700 (the parent is an ordinary 0755 dir).
data="$work/parent/data"
mkdir -m 755 "$work/parent"
start_daemon "$data"
[ "$(mode_of "$data")" = 700 ] || fail "data dir mode $(mode_of "$data"), want 700"
# An account, so that the database is written (WAL files exist while the daemon runs).
echo "alice pw" | "$cli" account create alice --password-stdin --rsa-key "$fixtures/keys/alice.key" --data-dir "$data" \
  >"$work/create.out" 2>"$work/create.err" || fail "account create: $(cat "$work/create.err")"
for f in secret.key control.token control.json fcpmail.db fcpmail.db-wal fcpmail.db-shm node.db; do
  [ -e "$data/$f" ] || fail "$f was not created (files: $(ls "$data" | tr '\n' ' '))"
done
checked=0
for f in "$data"/*; do
  [ -f "$f" ] || continue
  m=$(mode_of "$f")
  [ "$m" = 600 ] || fail "$(basename "$f") has mode $m, want 600"
  checked=$((checked + 1))
done
echo "ok: data dir 700, $checked files 600 ($(ls "$data" | tr '\n' ' '))"
stop_daemon

# 2. A data dir that group or others can use: refused, non-zero exit, says how to fix it.
for bad in 750 705 770 701 755; do
  chmod "$bad" "$data"
  before=$(ls -l --time-style=+%s.%N "$data" | md5sum)
  set +e
  ( umask 022; exec "$daemon" --data-dir "$data" --embedded-node --imap-listen 127.0.0.1:0 --smtp-listen 127.0.0.1:0 \
      --http-listen 127.0.0.1:0 ) >"$work/refused.out" 2>&1 &
  pid=$!
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid"; fail "started with data dir mode $bad"; fi
  wait "$pid"; rc=$?
  set -e
  [ "$rc" != 0 ] || fail "exit code 0 with data dir mode $bad"
  grep -qF "chmod 700 $data" "$work/refused.out" || fail "mode $bad: no fix given: $(cat "$work/refused.out")"
  [ "$(ls -l --time-style=+%s.%N "$data" | md5sum)" = "$before" ] || fail "mode $bad: files changed although refused"
  echo "ok: mode $bad refused (exit $rc): $(head -1 "$work/refused.out")"
done

# 3. A file someone loosened by hand is made private again at the next start; after the fix, it runs.
chmod 700 "$data"
chmod 644 "$data/fcpmail.db"
start_daemon "$data"
[ "$(mode_of "$data/fcpmail.db")" = 600 ] || fail "fcpmail.db left at $(mode_of "$data/fcpmail.db")"
"$cli" account list --data-dir "$data" >"$work/list.out" 2>&1 || fail "account list after restart: $(cat "$work/list.out")"
grep -q alice "$work/list.out" || fail "the account is gone after restart: $(cat "$work/list.out")"
stop_daemon
echo "ok: restarted after chmod 700, loosened fcpmail.db tightened to 600"
echo "PASS"
