"""Where an integration script finds what it runs: the build dir (FCPMAIL_BUILD_DIR, set by ctest;
else ../../build from tests/integration), the fixtures (FCPMAIL_FIXTURES), and a fresh scratch dir
only its owner can read (mail, keys and passwords are written there)."""
import os
import tempfile

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
BUILD = os.environ.get("FCPMAIL_BUILD_DIR") or os.path.join(_SOURCE, "build")
FIXTURES = os.environ.get("FCPMAIL_FIXTURES") or os.path.join(_SOURCE, "fixtures")
FCPMAILD = os.path.join(BUILD, "fcpmaild")
FCPMAIL = os.path.join(BUILD, "fcpmail")


def scratch_dir(prefix=None):
    """A new temporary dir, mode 0700."""
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o700)
    return work
