"""Starts build/imap-testserver on a free 127.0.0.1 port for the IMAP integration tests.

    with TestServer() as srv:
        srv.port, srv.user, srv.password
        srv.deliver("INBOX", b"Subject: x\r\n\r\nbody\r\n")   # as the engine would
        srv.trace()                                         # command lines the server saw

Not a test itself (tests/CMakeLists.txt only runs tests/integration/*.py).
"""
import os
import subprocess
import tempfile
import time


def build_dir():
    return os.environ.get("FCPMAIL_BUILD_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "build")


class TestServer:
    user = "alice@test.freemail"
    password = "secret"

    def __init__(self, extra_args=()):
        self.binary = os.path.join(build_dir(), "imap-testserver")
        self.extra_args = list(extra_args)
        self.tmp = tempfile.TemporaryDirectory(prefix="fcpmail-imap-")

    def __enter__(self):
        self.stderr_path = os.path.join(self.tmp.name, "server.log")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--port", "0", "--trace", "--db", os.path.join(self.tmp.name, "mail.db")] + self.extra_args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.__exit__(None, None, None)
            raise RuntimeError("imap-testserver did not start: %r" % line)
        self.port = int(line.split()[1])
        return self

    def deliver(self, folder, message: bytes):
        path = os.path.join(self.tmp.name, "deliver-%d.eml" % time.monotonic_ns())
        with open(path, "wb") as f:
            f.write(message)
        self.proc.stdin.write(("deliver %s %s\n" % (folder, path)).encode())
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().decode().strip()
        if not reply.startswith("DELIVERED "):
            raise RuntimeError("delivery failed: " + reply)
        return int(reply.split()[1])

    def trace(self):
        self.stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return [l[3:].rstrip(b"\r\n").decode(errors="replace") for l in f if l.startswith(b"C: ")]

    def alive(self):
        return self.proc.poll() is None

    def __exit__(self, *exc):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self.proc.stdout.close()
            self.stderr.close()
            self.tmp.cleanup()
        return False
