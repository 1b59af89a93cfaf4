"""Linearizability checker for register histories.

The Wing-Gong search with Lowe's memoization (a cache of the configurations
(set of linearized operations, register state) already explored), run per key
(a register history is linearizable iff each key's sub-history is).

An operation is a dict-like `Op`:

  kind     'write' (value = written value), 'read' (value = value read, None
           for nil) or 'cas' (value = (expected, new), result = True/False)
  invoke   monotonic time when the client sent it
  complete monotonic time when the client got the reply (ignored for unknown)
  status   'ok'      - it took effect exactly once between invoke and complete
                       (for a read: it returned `value`)
           'fail'    - definitely not applied: dropped before the search
           'unknown' - may take effect at any time after invoke, or never:
                       completion time is infinite and the search may skip it

Preprocessing (each step provably keeps the answer): failed operations and
unknown reads are dropped (no effect, nothing observed); an unknown write or
cas whose value is never observed by an ok read or a successful cas is dropped
(if it were linearized, no op observes it before the next write, so removing it
keeps a valid linearization).

`check(ops, max_steps=..., max_seconds=...)` returns a `Result` with
`verdict` in {'ok', 'violation', 'inconclusive'}. A search that exhausts its
budget is 'inconclusive', never 'ok'. On a violation, `Result.witness` holds a
small sub-history that is itself not linearizable, obtained only by removals
that cannot turn a linearizable history into a non-linearizable one:
  * cut at the failure point: keep operations invoked before the completion
    of the first operation that no explored configuration could linearize;
    operations still pending at that point become unknown (reads: dropped);
  * drop reads, and writes that no remaining read observes.
"""
import math
import time
from collections import defaultdict

INF = math.inf
NIL = None


class Op:
    __slots__ = ("id", "client", "key", "kind", "value", "result", "invoke", "complete",
                 "status", "note")

    def __init__(self, kind, value=None, invoke=0.0, complete=None, status="ok", key="k",
                 client=0, id=None, result=None, note=""):
        assert kind in ("write", "read", "cas"), kind
        assert status in ("ok", "fail", "unknown"), status
        self.kind, self.value, self.result = kind, value, result
        self.invoke = float(invoke)
        self.complete = INF if (status == "unknown" or complete is None) else float(complete)
        self.status, self.key, self.client, self.id, self.note = status, key, client, id, note

    def copy(self, **changes):
        o = Op(self.kind, self.value, self.invoke, self.complete, self.status, self.key,
               self.client, self.id, self.result, self.note)
        for k, v in changes.items():
            setattr(o, k, v)
        if o.status == "unknown":
            o.complete = INF
        return o

    def describe(self, t0=0.0):
        if self.kind == "write":
            what = f"write({self.value!r})"
        elif self.kind == "read":
            what = f"read() -> {self.value!r}" if self.status == "ok" else "read()"
        else:
            what = f"cas({self.value[0]!r}, {self.value[1]!r})"
            if self.status == "ok":
                what += f" -> {self.result}"
        end = "inf" if self.complete == INF else f"{self.complete - t0:9.4f}"
        return (f"[{self.invoke - t0:9.4f} .. {end}] client {self.client:<3} "
                f"{self.status:<7} {what}" + (f"  ({self.note})" if self.note else ""))

    def __repr__(self):
        return f"<Op {self.describe()}>"


class Result:
    def __init__(self, verdict, key=None, steps=0, witness=None, linearization=None,
                 message="", per_key=None):
        self.verdict = verdict
        self.key = key
        self.steps = steps
        self.witness = witness or []
        self.linearization = linearization
        self.message = message
        self.per_key = per_key or {}

    @property
    def ok(self):
        return self.verdict == "ok"

    def __repr__(self):
        return f"<Result {self.verdict} key={self.key!r} steps={self.steps} {self.message}>"


# ---------------------------------------------------------------------------
# model

ANY = object()  # wildcard state (used only by tests of the search itself)


def _apply(op, state):
    """(allowed, new_state) of linearizing op in state."""
    if op.kind == "write":
        return True, op.value
    if op.kind == "read":
        if state is ANY:
            return True, op.value
        return state == op.value, state
    exp, new = op.value
    if op.status == "unknown":      # applied at all: it succeeded (else == skipped)
        if state is ANY or state == exp:
            return True, new
        return False, state
    if op.result:
        return (state is ANY or state == exp), new
    return (state is ANY or state != exp), state


def _observed_values(ops):
    seen = set()
    for o in ops:
        if o.status != "ok":
            continue
        if o.kind == "read":
            seen.add(o.value)
        elif o.kind == "cas":
            seen.add(o.value[0] if o.result else None)  # a failed cas observes little
            if o.result:
                seen.add(o.value[1])
    return seen


def prepare(ops):
    """Drops what cannot matter (see module doc)."""
    ops = [o for o in ops if o.status != "fail"]
    ops = [o for o in ops if not (o.kind == "read" and o.status == "unknown")]
    observed = _observed_values(ops)
    out = []
    for o in ops:
        if o.status == "unknown":
            v = o.value if o.kind == "write" else o.value[1]
            if v not in observed:
                continue
        out.append(o)
    return out


class _Budget(Exception):
    pass


def _search(ops, initial=NIL, max_steps=2_000_000, deadline=None):
    """Returns (verdict, steps, linearization or None, deepest_stuck_op)."""
    required = sorted([o for o in ops if o.status == "ok"], key=lambda o: (o.invoke, o.complete))
    optional = sorted([o for o in ops if o.status != "ok"], key=lambda o: o.invoke)
    n_req = len(required)
    bit = {}
    for i, o in enumerate(required):
        bit[id(o)] = i
    for j, o in enumerate(optional):
        bit[id(o)] = n_req + j
    if n_req == 0:
        return "ok", 0, [], None

    def candidates(lin, lo):
        # Ok ops: every unlinearized op invoked before the earliest completion
        # among unlinearized ok ops (sorted by invoke, so scan a window).
        m = INF
        window = []
        i = lo
        while i < n_req:
            o = required[i]
            if o.invoke >= m:
                break
            if not (lin >> i) & 1:
                window.append(o)
                if o.complete < m:
                    m = o.complete
            i += 1
        cands = [o for o in window if o.invoke < m]
        cands.sort(key=lambda o: o.complete)
        for j, o in enumerate(optional):
            if o.invoke >= m:
                break
            if not (lin >> (n_req + j)) & 1:
                cands.append(o)
        return cands

    def advance(lo, lin):
        while lo < n_req and (lin >> lo) & 1:
            lo += 1
        return lo

    memo = set()
    steps = 0
    deepest = (-1, None)  # (ok ops linearized, first ok op not linearized)
    frames = [[initial, 0, 0, candidates(0, 0), 0, None]]  # state, lin, lo, cands, pos, op
    while frames:
        f = frames[-1]
        state, lin, lo, cands, pos, _ = f
        if pos >= len(cands):
            frames.pop()
            continue
        f[4] = pos + 1
        op = cands[pos]
        steps += 1
        if steps > max_steps or (deadline is not None and steps % 1024 == 0
                                 and time.monotonic() > deadline):
            raise _Budget(steps)
        allowed, new_state = _apply(op, state)
        if not allowed:
            continue
        lin2 = lin | (1 << bit[id(op)])
        key = (lin2, new_state if new_state is not ANY else ("<any>",))
        if key in memo:
            continue
        memo.add(key)
        lo2 = advance(lo, lin2)
        if lo2 > deepest[0]:
            deepest = (lo2, required[lo2] if lo2 < n_req else None)
        if lo2 == n_req:
            path = [fr[5] for fr in frames[1:]] + [op]
            return "ok", steps, path, None
        frames.append([new_state, lin2, lo2, candidates(lin2, lo2), 0, op])
    return "violation", steps, None, deepest[1]


def check_key(ops, max_steps=2_000_000, max_seconds=None, initial=NIL, shrink=True):
    """Checks one key's history. Returns a Result."""
    key = ops[0].key if ops else None
    prepared = prepare(ops)
    deadline = time.monotonic() + max_seconds if max_seconds else None
    try:
        verdict, steps, path, stuck = _search(prepared, initial, max_steps, deadline)
    except _Budget as b:
        return Result("inconclusive", key, b.args[0],
                      message=f"search budget exhausted after {b.args[0]} steps "
                              f"({len(prepared)} ops after preparation)")
    if verdict == "ok":
        return Result("ok", key, steps, linearization=path)
    witness = _shrink(prepared, stuck, initial) if shrink else prepared
    msg = "not linearizable"
    if stuck is not None:
        what = stuck.describe(stuck.invoke).split("client", 1)[1].strip()
        msg += f"; no order of the ops can place client {what}"
    return Result("violation", key, steps, witness=witness, message=msg)


def _is_violation(ops, initial, max_steps=200_000):
    try:
        return _search(prepare(ops), initial, max_steps)[0] == "violation"
    except _Budget:
        return False


def _cut_at(ops, t1):
    out = []
    for o in ops:
        if o.invoke > t1:
            continue
        if o.complete > t1 and o.status == "ok":
            if o.kind == "read":
                continue
            o = o.copy(status="unknown")
        out.append(o)
    return out


def _drop_unobserved_writes(ops):
    observed = _observed_values(ops)
    return [o for o in ops if not (o.kind == "write" and o.value not in observed)]


def _shrink(ops, stuck, initial, max_checks=300):
    """A small sub-history, still not linearizable (see module doc)."""
    current = list(ops)
    checks = 0
    if stuck is not None:
        cut = _cut_at(current, stuck.complete)
        checks += 1
        if _is_violation(cut, initial):
            current = cut
    # Drop reads before t (binary search on t over the reads' times).
    reads = sorted([o for o in current if o.kind == "read"], key=lambda o: o.invoke)
    lo, hi = 0, len(reads)  # drop reads[:k]
    while lo < hi and checks < max_checks:
        mid = (lo + hi + 1) // 2
        drop = set(id(o) for o in reads[:mid])
        cand = _drop_unobserved_writes([o for o in current if id(o) not in drop])
        checks += 1
        if _is_violation(cand, initial):
            lo = mid
        else:
            hi = mid - 1
    drop = set(id(o) for o in reads[:lo])
    cand = _drop_unobserved_writes([o for o in current if id(o) not in drop])
    if _is_violation(cand, initial):
        current = cand
    # Greedy single removals: reads, then writes that become unobserved.
    i = 0
    while i < len(current) and checks < max_checks:
        o = current[i]
        if o.kind != "read":
            i += 1
            continue
        cand = _drop_unobserved_writes(current[:i] + current[i + 1:])
        checks += 1
        if _is_violation(cand, initial):
            current = cand
        else:
            i += 1
    return sorted(current, key=lambda o: o.invoke)


def check(ops, max_steps=2_000_000, max_seconds=None, initial=NIL):
    """Checks a multi-key history key by key. Verdict: 'violation' if any key
    has one, else 'inconclusive' if any key ran out of budget, else 'ok'."""
    by_key = defaultdict(list)
    for o in ops:
        by_key[o.key].append(o)
    per_key = {}
    for k in sorted(by_key, key=str):
        per_key[k] = check_key(by_key[k], max_steps=max_steps, max_seconds=max_seconds,
                               initial=initial)
    verdicts = [r.verdict for r in per_key.values()]
    if "violation" in verdicts:
        first = next(r for r in per_key.values() if r.verdict == "violation")
        verdict = "violation"
    elif "inconclusive" in verdicts:
        first = next(r for r in per_key.values() if r.verdict == "inconclusive")
        verdict = "inconclusive"
    else:
        first = None
        verdict = "ok"
    res = Result(verdict, first.key if first else None,
                 sum(r.steps for r in per_key.values()),
                 witness=first.witness if first else None,
                 message=first.message if first else "", per_key=per_key)
    return res


def format_history(ops, t0=None):
    if not ops:
        return "  (empty)"
    if t0 is None:
        t0 = min(o.invoke for o in ops)
    return "\n".join("  " + o.describe(t0) for o in sorted(ops, key=lambda o: o.invoke))
