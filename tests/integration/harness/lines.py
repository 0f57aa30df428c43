"""A CRLF line client over TCP on 127.0.0.1, for what the client libraries will not send (raw IMAP
commands, IDLE, half sessions). `closed()` makes the exception readline raises when the server
closes before a whole line."""
import socket


class LineConnection:
    def __init__(self, port, timeout, closed=lambda: ConnectionError("closed")):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = closed

    def send(self, data: bytes):
        self.s.sendall(data)

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise self.closed()
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until_tagged(self, tag: bytes):
        """Every line up to and including the one tagged `tag`."""
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines
