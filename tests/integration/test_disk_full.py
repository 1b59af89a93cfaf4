"""A full disk: failed log writes are never acknowledged, writes are refused
while the disk is full, reads keep working, writes resume when space returns."""
import os

import redis

from conftest import wait_until
from disk_fixtures import fill_disk


def test_disk_full_refuses_writes_and_recovers(tandem_factory, small_disk):
    node = tandem_factory(extra_args=["--snapshot-log-bytes", "0",
                                      "--wal-segment-bytes", "1048576"])
    node.data_dir = str(small_disk / "data")
    node.start()
    c = node.client()
    c.set("before", "ok")
    filler = small_disk / "filler"
    fill_disk(filler)
    value = "x" * 4096
    acked = []
    errors = []
    for i in range(400):
        try:
            c.set(f"k{i}", value)
            acked.append(i)
        except redis.ResponseError as e:
            errors.append(str(e))
    assert errors, "writes must fail once the disk is full"
    assert any("MISCONF" in e or "not applied" in e for e in errors), errors[:3]
    # Reads keep working.
    assert c.get("before") == "ok"
    for i in acked[-5:]:
        assert c.get(f"k{i}") == value
    # Space returns: writes resume (the server probes the disk).
    os.remove(filler)
    wait_until(lambda: _write_ok(c), 15, what="writes to resume")
    node.kill()
    node.start()
    c = node.client()
    assert c.get("before") == "ok"
    for i in acked:
        assert c.get(f"k{i}") == value, f"acknowledged k{i} lost"


def _write_ok(c):
    try:
        return c.set("after", "ok")
    except redis.ResponseError:
        return False
