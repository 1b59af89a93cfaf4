"""Unit tests of the register linearizability checker."""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from linearizability import Op, check, check_key, format_history  # noqa: E402


def W(v, a, b, status="ok", client=0, key="k"):
    return Op("write", v, a, b, status, key=key, client=client)


def R(v, a, b, status="ok", client=0, key="k"):
    return Op("read", v, a, b, status, key=key, client=client)


def CAS(exp, new, result, a, b, status="ok", client=0, key="k"):
    return Op("cas", (exp, new), a, b, status, key=key, client=client, result=result)


# --- linearizable histories ---

def test_empty_and_sequential():
    assert check([]).verdict == "ok"
    h = [R(None, 0, 1), W(1, 2, 3), R(1, 4, 5), W(2, 6, 7), R(2, 8, 9)]
    assert check(h).verdict == "ok"


def test_concurrent_write_read_either_value():
    # read overlaps write(2): may see 1 or 2
    for seen in (1, 2):
        h = [W(1, 0, 1), W(2, 2, 6, client=1), R(seen, 3, 4, client=2)]
        assert check(h).verdict == "ok", seen


def test_concurrent_writes_any_order():
    h = [W(1, 0, 5, client=0), W(2, 1, 6, client=1), R(1, 7, 8, client=2), R(1, 9, 10)]
    assert check(h).verdict == "ok"
    h = [W(1, 0, 5, client=0), W(2, 1, 6, client=1), R(2, 7, 8, client=2)]
    assert check(h).verdict == "ok"


def test_cas():
    h = [W(1, 0, 1), CAS(1, 2, True, 2, 3), R(2, 4, 5), CAS(1, 3, False, 6, 7), R(2, 8, 9)]
    assert check(h).verdict == "ok"


def test_failed_ops_are_ignored():
    h = [W(1, 0, 1), W(2, 2, 3, status="fail"), R(1, 4, 5)]
    assert check(h).verdict == "ok"


# --- non-linearizable histories ---

def test_stale_read_after_completed_write():
    h = [W(1, 0, 1), W(2, 2, 3), R(1, 4, 5)]
    r = check(h)
    assert r.verdict == "violation"
    assert r.witness, r
    assert any(o.kind == "read" and o.value == 1 for o in r.witness)


def test_read_of_never_written_value():
    r = check([W(1, 0, 1), R(7, 2, 3)])
    assert r.verdict == "violation"


def test_nil_read_after_write():
    r = check([W(1, 0, 1), R(None, 2, 3)])
    assert r.verdict == "violation"


def test_reads_disagree_on_order():
    # two concurrent writes; one reader sees 1 then 2, another 2 then 1
    h = [W(1, 0, 10, client=0), W(2, 0, 10, client=1),
         R(1, 11, 12, client=2), R(2, 13, 14, client=2),
         R(2, 11, 12, client=3), R(1, 13, 14, client=3)]
    assert check(h).verdict == "violation"


def test_bad_cas():
    h = [W(1, 0, 1), CAS(5, 2, True, 2, 3)]
    assert check(h).verdict == "violation"
    h = [W(1, 0, 1), CAS(1, 2, False, 2, 3)]
    assert check(h).verdict == "violation"


def test_failed_write_must_not_be_seen():
    h = [W(1, 0, 1), W(2, 2, 3, status="fail"), R(2, 4, 5)]
    assert check(h).verdict == "violation"


# --- unknown outcomes ---

def test_unknown_write_must_be_assumed_applied():
    # write(2) timed out, yet a later read sees 2: only explained if it applied
    h = [W(1, 0, 1), W(2, 2, 3, status="unknown", client=1), R(2, 10, 11)]
    assert check(h).verdict == "ok"
    # the same history with write(2) a definite failure is a violation
    h[1] = W(2, 2, 3, status="fail", client=1)
    assert check(h).verdict == "violation"


def test_unknown_write_may_apply_long_after_its_invocation():
    # the unknown write is seen after a later acknowledged write
    h = [W(1, 0, 1), W(2, 2, 3, status="unknown", client=1), W(3, 4, 5), R(3, 6, 7),
         R(2, 100, 101)]
    assert check(h).verdict == "ok"
    # ...but never before its invocation
    h = [W(1, 0, 1), R(2, 2, 3), W(2, 4, 5, status="unknown", client=1)]
    assert check(h).verdict == "violation"


def test_unknown_write_must_be_assumed_never_applied():
    # write(2) timed out; reads keep seeing 1 and then 3: it never took
    # effect (or only after the history ends)
    h = [W(1, 0, 1), W(2, 2, 3, status="unknown", client=1), R(1, 4, 5), R(1, 20, 21),
         W(3, 22, 23), R(3, 24, 25)]
    assert check(h).verdict == "ok"
    # treated as acknowledged at 3 it would be a violation
    h[1] = W(2, 2, 3, status="ok", client=1)
    assert check(h).verdict == "violation"


def test_unknown_write_applied_at_most_once():
    # seen, overwritten, then seen again: an unknown write applies once only
    h = [W(2, 0, 1, status="unknown", client=1), R(2, 2, 3), W(3, 4, 5), R(3, 6, 7),
         R(2, 8, 9)]
    assert check(h).verdict == "violation"


def test_unknown_read_is_ignored():
    h = [W(1, 0, 1), R(99, 2, 3, status="unknown")]
    assert check(h).verdict == "ok"


def test_unknown_cas():
    h = [W(1, 0, 1), CAS(1, 2, None, 2, 3, status="unknown"), R(2, 5, 6)]
    assert check(h).verdict == "ok"
    h = [W(5, 0, 1), CAS(1, 2, None, 2, 3, status="unknown"), R(2, 5, 6)]
    assert check(h).verdict == "violation"


# --- per key, inconclusive, witness ---

def test_split_per_key():
    h = [W(1, 0, 1, key="a"), W(1, 0, 1, key="b"), R(1, 2, 3, key="a"), R(None, 2, 3, key="b")]
    r = check(h)
    assert r.verdict == "violation"
    assert r.key == "b"
    assert r.per_key["a"].verdict == "ok"


def _random_linearizable(n_clients=6, n_ops=300, seed=1, unknown_rate=0.1):
    """Simulates a correct register: each op takes effect at a random point
    inside its interval; unknown writes apply or not."""
    rnd = random.Random(seed)
    events = []
    t = 0.0
    val = 0
    for _ in range(n_ops):
        t += rnd.random()
        c = rnd.randrange(n_clients)
        dur = rnd.random() * 5
        events.append((t + rnd.random() * dur, t, t + dur, c))
    events.sort()
    state = None
    ops = []
    busy = {}
    for point, a, b, c in events:
        if rnd.random() < 0.5:
            val += 1
            st = "unknown" if rnd.random() < unknown_rate else "ok"
            if st == "ok" or rnd.random() < 0.5:
                state = val
            ops.append(W(val, a, b, status=st, client=c))
        else:
            ops.append(R(state, a, b, client=c))
    del busy
    return ops


def test_random_linearizable_histories_pass():
    for seed in range(20):
        h = _random_linearizable(seed=seed)
        r = check(h)
        assert r.verdict == "ok", (seed, r, format_history(r.witness))


def test_random_history_with_injected_stale_read_fails():
    h = _random_linearizable(seed=3, n_ops=400, unknown_rate=0.0)
    # a read, well after everything, of the very first written value
    first = next(o for o in h if o.kind == "write")
    last_end = max(o.complete for o in h)
    writes_after = [o for o in h if o.kind == "write" and o.invoke > first.complete]
    assert writes_after
    h.append(R(first.value, last_end + 1, last_end + 2, client=99))
    r = check(h)
    assert r.verdict == "violation"
    # the witness is much smaller than the history and contains the bad read
    assert len(r.witness) < 10, format_history(r.witness)
    assert any(o.client == 99 for o in r.witness)
    assert check(r.witness).verdict == "violation"


def test_budget_exhaustion_is_inconclusive_never_ok():
    h = _random_linearizable(seed=5, n_ops=300)
    assert check(h).verdict == "ok"
    r = check(h, max_steps=10)
    assert r.verdict == "inconclusive"
    assert not r.ok
    r = check_key(h, max_seconds=1e-9, max_steps=10**9)
    # a tiny time budget: either finished before the first deadline check or inconclusive
    assert r.verdict in ("ok", "inconclusive")


def test_hard_history_is_inconclusive_with_small_budget():
    # many concurrent writes with reads that force a deep search
    h = []
    for i in range(10):
        h.append(W(i, 0, 100, client=i))
    for i in range(10):
        h.append(R(i, 101 + 2 * i, 102 + 2 * i, client=20))
    # not linearizable (each value read once, in order: needs writes in that
    # order, which is fine) -> linearizable; then a final read of value 0 breaks it
    h.append(R(0, 200, 201, client=21))
    r = check(h, max_steps=50)
    assert r.verdict == "inconclusive"
    assert check(h).verdict == "violation"
