"""Full-disk helpers shared by tests/integration and tests/cluster (their
conftests put this directory on sys.path and import the fixture)."""
import os
import subprocess

import pytest


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs mounted for the test (root only; skipped otherwise)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def fill_disk(path):
    """Writes zeros to the file `path` until its disk is full (unbuffered:
    every write sees ENOSPC itself)."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
