# Sourced by the shell integration tests (the IMAP client ones source imap_start.sh instead):
# strict mode; $build and $fixtures (ctest's FCPMAIL_BUILD_DIR and FCPMAIL_FIXTURES, else the
# source tree's); `need BINARY...` stops with FAIL when one is not built; $work is a temporary
# folder removed at exit, after the process whose pid the script keeps in $child_pid (its server or
# daemon) is stopped. fail() prints FAIL and exits 1; a script may define its own after sourcing.
set -euo pipefail
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=${FCPMAIL_BUILD_DIR:-$source_dir/build}
fixtures=${FCPMAIL_FIXTURES:-$source_dir/fixtures}
work=$(mktemp -d)
child_pid=""
cleanup() {
  if [ -n "$child_pid" ] && kill "$child_pid" 2>/dev/null; then wait "$child_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
need() { for b in "$@"; do [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }; done; }
fail() { echo "FAIL: $*"; exit 1; }
