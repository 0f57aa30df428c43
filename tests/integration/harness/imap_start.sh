# Sourced by the IMAP shell tests: starts imap-testserver on a free port with a trace log.
# Sets PORT, WORK (a temporary folder removed at exit) and SERVER_PID; stops everything at exit.
set -euo pipefail
BUILD=${FCPMAIL_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/build}
WORK=$(mktemp -d /tmp/fcpmail-imap-XXXXXX)
mkfifo "$WORK/control"
"$BUILD/imap-testserver" --port 0 --trace --db "$WORK/mail.db" <"$WORK/control" >"$WORK/out" 2>"$WORK/trace" &
SERVER_PID=$!
exec 9>"$WORK/control"   # keeps the server's stdin open until this shell ends
cleanup() {
  exec 9>&- || true
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 100); do
  grep -q '^PORT ' "$WORK/out" 2>/dev/null && break
  sleep 0.05
done
PORT=$(awk '/^PORT /{print $2}' "$WORK/out")
[ -n "$PORT" ] || { echo "imap-testserver did not start"; cat "$WORK/trace"; exit 1; }
USER_ADDR=alice@test.freemail
PASSWORD=secret
fail() { echo "FAIL: $*"; echo "--- server trace:"; cat "$WORK/trace"; exit 1; }
