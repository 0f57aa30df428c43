#!/usr/bin/env bash
# fcpmail-sim as a program: --help, bad arguments, `listening on` with port 0, a real FCP
# exchange over TCP, --state keeping data across a restart, and a clean exit on SIGTERM.
source "$(dirname "$0")/harness/script.sh"
sim="$build/fcpmail-sim"
need "$sim"

"$sim" --help | grep -q -- "--listen HOST:PORT" || fail "--help does not describe --listen"
"$sim" --help | grep -q -- "--dnf-rate" || fail "--help does not describe --dnf-rate"
set +e
"$sim" --bogus 2>/dev/null; status=$?
"$sim" --listen nonsense 2>/dev/null; status2=$?
set -e
[ "$status" -eq 2 ] || fail "unknown option should exit 2, got $status"
[ "$status2" -eq 2 ] || fail "bad --listen should exit 2, got $status2"

start_sim() {  # start_sim [extra args] -> sets child_pid and port
  # Emptied here, not only by the child's redirection: the child may open the file after the
  # loop below has already read the previous run's "listening on" line from it.
  : >"$work/out"
  "$sim" --listen 127.0.0.1:0 "$@" >"$work/out" 2>"$work/err" &
  child_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^listening on ' "$work/out" 2>/dev/null && break
    sleep 0.05
  done
  line=$(head -n1 "$work/out")
  [[ "$line" =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]] || fail "unexpected first line: '$line'"
  port=${BASH_REMATCH[1]}
  [ "$port" -gt 0 ] || fail "port 0 was not replaced by the real port"
}

stop_sim() {
  kill -TERM "$child_pid"
  for _ in $(seq 1 100); do kill -0 "$child_pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$child_pid" 2>/dev/null && fail "fcpmail-sim did not exit on SIGTERM"
  wait "$child_pid" || true
  child_pid=""
}

fcp_session() {  # fcp_session PORT SCRIPT: python3 client printing each reply's name and key fields
  python3 - "$1" "$2" <<'PY'
import socket, sys
port, script = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
buf = b""
def read_message():
    global buf
    while True:
        # a complete header ends with EndMessage or Data
        lines = buf.split(b"\n")
        for i, line in enumerate(lines):
            if i > 0 and line in (b"EndMessage", b"Data") and len(lines) > i + 1:
                header = lines[: i + 1]
                consumed = len(b"\n".join(header)) + 1
                fields = dict(l.split(b"=", 1) for l in header[1:-1])
                payload = b""
                if line == b"Data":
                    n = int(fields[b"DataLength"])
                    while len(buf) < consumed + n:
                        buf += s.recv(65536)
                    payload = buf[consumed: consumed + n]
                    consumed += n
                buf = buf[consumed:]
                return header[0].decode(), {k.decode(): v.decode() for k, v in fields.items()}, payload
        data = s.recv(65536)
        if not data:
            raise SystemExit("connection closed")
        buf += data
def send(text, payload=b""):
    s.sendall(text.encode() + payload)
def until(name):
    while True:
        n, f, p = read_message()
        if n == name:
            return n, f, p
send("ClientHello\nName=cli-test\nExpectedVersion=2.0\nEndMessage\n")
n, f, _ = read_message()
assert n == "NodeHello" and f["Version"] == "Fred,0.7,1.0,1506", (n, f)
if script == "put-get":
    send("GenerateSSK\nIdentifier=g\nEndMessage\n")
    n, f, _ = read_message()
    assert n == "SSKKeypair", n
    body = b"hello from sim_cli.sh\n"
    send("ClientPut\nURI=KSK@sim-cli-test\nIdentifier=p\nMaxRetries=2\nUploadFrom=direct\nDataLength=%d\nData\n" % len(body), body)
    n, f, _ = until("PutSuccessful")
    assert f["URI"] == "KSK@sim-cli-test", f
    send("ClientGet\nURI=KSK@sim-cli-test\nIdentifier=g1\nReturnType=direct\nEndMessage\n")
    n, f, p = until("AllData")
    assert p == body, p
    send("ClientGet\nURI=KSK@sim-cli-missing\nIdentifier=g2\nEndMessage\n")
    n, f, _ = read_message()
    assert n == "GetFailed" and f["Code"] == "13", (n, f)
    print("put-get ok")
elif script == "get-only":
    send("ClientGet\nURI=KSK@sim-cli-test\nIdentifier=g1\nReturnType=direct\nEndMessage\n")
    n, f, p = until("AllData")
    assert p == b"hello from sim_cli.sh\n", p
    print("get-only ok")
PY
}

start_sim
fcp_session "$port" put-get | grep -q "put-get ok" || fail "put/get against the sim"
stop_sim

start_sim --state "$work/state.sqlite" --fetch-delay 20
fcp_session "$port" put-get | grep -q "put-get ok" || fail "put/get with --state"
stop_sim
start_sim --state "$work/state.sqlite"
fcp_session "$port" get-only | grep -q "get-only ok" || fail "data kept across a restart with --state"
stop_sim

echo "sim_cli: all checks passed"
