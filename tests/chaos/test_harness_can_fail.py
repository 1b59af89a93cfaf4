"""Proof that the harness can fail: against --durability leader, isolating the
leader's peer links while clients keep writing to it makes it acknowledge
writes that a new leader never has; they are rolled back when it rejoins. The
checks must report it (lost set elements, counter below the acknowledged
increments, non-linearizable registers)."""
import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run as chaos  # noqa: E402


@pytest.mark.skipif(not os.path.exists(chaos.TANDEMD), reason="build/tandemd not built")
def test_unsafe_durability_leader_is_caught():
    out = tempfile.mkdtemp(prefix="tandem-chaos-unsafe-")
    res = chaos.run(chaos.unsafe_config(seed=11, out_dir=out, rounds=2))
    checks = {a["check"] for a in res["anomalies"]}
    assert "set" in checks, res["anomalies"]
    assert "linearizability" in checks or "counter" in checks, res["anomalies"]
    # the witness of a set anomaly names acknowledged ops
    lost = next(a for a in res["anomalies"] if a["check"] == "set")
    assert all(res["history"][i]["status"] == "ok" for i in lost["ops"])
    assert os.path.exists(res["timeline"])
