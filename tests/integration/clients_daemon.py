#!/usr/bin/env python3
"""The fixture the clients_* tests share (harness/clients.py), checked on its own: control.json names
bound ports, both accounts log in over IMAP, the default folders exist, and the daemon is gone after
stop()."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.clients import Daemon, Failure, run_main  # noqa: E402


def main():
    with Daemon() as d:
        for name in ("alice", "bob"):
            assert re.fullmatch(name + r"@[a-z2-7]{52}\.freemail", d.address[name]), d.address
            c = d.imap(name)
            _, folders = c.list()
            names = " ".join(f.decode() for f in folders)
            for f in ("INBOX", "Sent", "Drafts", "Trash", "Outbox"):
                assert '"%s"' % f in names or " %s" % f in names, (f, names)
            c.logout()
        contacts = d.cli("contacts", "list", "--account", d.address["alice"])
        assert d.address["bob"] in contacts and "bob" in contacts, contacts
        pid = d.process.pid
    try:
        os.kill(pid, 0)
        raise Failure("fcpmaild %d still runs after stop()" % pid)
    except ProcessLookupError:
        pass
    print("ok: fixture daemon with two accounts started, served IMAP and stopped")


if __name__ == "__main__":
    run_main(main)
