"""Followers reach the leader's state: every write command replicates, expiry
reaches followers as deletes, followers refuse writes, serve committed and
monotonic reads, and refuse reads once they lost the leader for too long."""
import random
import threading
import time

import pytest
import redis

from clusterlib import READONLY_TEXT, WriteLoad, wait_until

EMPTY_DIGEST = "0" * 40


def random_write(c, rng, keys, ttl_ms=(100, 800)):
    """Issues one random write command (or a read that may expire a key on
    the leader). Errors such as WRONGTYPE are expected and ignored."""
    k = rng.choice(keys)
    k2 = rng.choice(keys)
    v = rng.choice([b"", b"x", b"12", b"-3", b"3.5", b"hello world", bytes(rng.randrange(256) for _ in range(8)),
                    b"v" * rng.randrange(1, 300)])
    n = rng.randrange(-5, 100)
    long_s = rng.randrange(1000, 100000)
    short_ms = rng.randrange(*ttl_ms)
    future_s = int(time.time()) + long_s
    op = rng.randrange(48)
    cmds = [
        ("SET", k, v),
        ("SET", k, v, "EX", long_s),
        ("SET", k, v, "PX", short_ms),
        ("SET", k, v, "NX"),
        ("SET", k, v, "XX", "KEEPTTL"),
        ("SET", k, v, "GET"),
        ("SETNX", k, v),
        ("SETEX", k, long_s, v),
        ("PSETEX", k, short_ms, v),
        ("MSET", k, v, k2, b"m" + v),
        ("MSETNX", k, v, k2, v),
        ("APPEND", k, v),
        ("SETRANGE", k, rng.randrange(0, 40), v or b"z"),
        ("INCR", k),
        ("DECR", k),
        ("INCRBY", k, n),
        ("DECRBY", k, n),
        ("INCRBYFLOAT", k, f"{rng.uniform(-10, 10):.4f}"),
        ("GETSET", k, v),
        ("GETDEL", k),
        ("GETEX", k, "EX", long_s),
        ("GETEX", k, "PERSIST"),
        ("GETEX", k, "PX", short_ms),
        ("DEL", k, k2),
        ("UNLINK", k),
        ("RENAME", k, k2),
        ("RENAMENX", k, k2),
        ("COPY", k, k2, "REPLACE"),
        ("EXPIRE", k, long_s),
        ("EXPIRE", k, long_s, "GT"),
        ("PEXPIRE", k, short_ms),
        ("EXPIREAT", k, future_s),
        ("PEXPIREAT", k, int(time.time() * 1000) + short_ms),
        ("PERSIST", k),
        ("SETBIT", k, rng.randrange(0, 200), rng.randrange(2)),
        ("BITOP", rng.choice(["AND", "OR", "XOR"]), k, k2, rng.choice(keys)),
        ("BITOP", "NOT", k, k2),
        ("HSET", k, f"f{rng.randrange(8)}", v, f"f{rng.randrange(8)}", v + b"2"),
        ("HSETNX", k, f"f{rng.randrange(8)}", v),
        ("HMSET", k, "a", v, "b", n),
        ("HDEL", k, f"f{rng.randrange(8)}", "a"),
        ("HINCRBY", k, f"f{rng.randrange(8)}", n),
        ("HINCRBYFLOAT", k, f"f{rng.randrange(8)}", f"{rng.uniform(-5, 5):.3f}"),
        ("GET", k),          # reads may expire keys on the leader (a replicated delete)
        ("HGETALL", k),
        ("EXISTS", k, k2),
        ("TTL", k),
        ("STRLEN", k),
    ]
    cmd = cmds[op % len(cmds)]
    try:
        c.execute_command(*cmd)
        return True
    except redis.ResponseError as e:
        assert "UNKNOWN" not in str(e) and "READONLY" not in str(e), f"{cmd}: {e}"
        return False


def dump_keyspace(node):
    """Every key with its type and value (bytes), read on node."""
    c = node.client(decode_responses=False)
    out = {}
    for key in c.scan_iter(count=1000):
        t = c.type(key)
        if t == b"string":
            val = c.get(key)
        elif t == b"hash":
            val = tuple(sorted(c.hgetall(key).items()))
        elif t == b"none":
            continue
        else:
            val = t
        if val is None:  # hidden (expired) on a follower
            continue
        out[key] = (t, val, c.pttl(key) > 0)
    c.close()
    return out


def test_every_write_command_replicates(cluster):
    leader = cluster.wait_leader()
    c = leader.client(decode_responses=False)
    rng = random.Random(4001)
    keys = [f"k{i}".encode() for i in range(40)]
    applied = 0
    for i in range(3000):
        if i == 1000:
            c.flushdb()
        applied += random_write(c, rng, keys)
    assert applied > 1500
    # One last write of each kind of value so the keyspace is not empty.
    c.set("final:string", "s")
    c.hset("final:hash", mapping={"a": "1", "b": "2"})
    c.setbit("final:bits", 77, 1)
    c.set("final:ttl", "t", ex=100000)
    # Let every short TTL pass and make the leader expire what it still holds
    # (a lazy expiry on the leader is a replicated delete).
    time.sleep(1.0)
    for key in c.scan_iter(count=1000):
        c.exists(key)
    digest = cluster.wait_converged(timeout=30)
    assert digest != EMPTY_DIGEST
    # An independent check that does not trust DEBUG DIGEST.
    expected = dump_keyspace(leader)
    assert len(expected) >= 4
    for f in cluster.followers(leader):
        assert dump_keyspace(f) == expected, f"node {f.id} differs from the leader"
        assert f.dbsize() == c.dbsize()


def test_concurrent_writers_on_shared_keys_replicate(cluster):
    leader = cluster.wait_leader()
    keys = [f"shared{i}".encode() for i in range(12)]
    stop = threading.Event()
    counts = []
    errors = []

    def worker(seed):
        rng = random.Random(seed)
        c = leader.client(decode_responses=False)
        n = 0
        try:
            while not stop.is_set():
                random_write(c, rng, keys, ttl_ms=(50, 400))
                n += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        counts.append(n)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.5)  # the load's duration
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sum(counts) > 500
    time.sleep(0.5)  # let the short TTLs pass
    c = leader.client()
    for key in keys:
        c.exists(key)
    digest = cluster.wait_converged(timeout=30)
    expected = dump_keyspace(leader)
    for f in cluster.followers(leader):
        assert dump_keyspace(f) == expected
    print(f"{sum(counts)} commands from 4 clients, digest {digest}")


def test_expiry_reaches_followers_as_deletes(cluster_factory):
    # A long election timeout so a SIGSTOPped leader stays leader; a long
    # max-staleness so followers keep serving reads meanwhile.
    cluster = cluster_factory(3, timing=("--heartbeat-ms", "100", "--election-timeout-ms", "6000"),
                              extra_args=["--max-staleness", "60000"])
    cluster.start()
    leader = cluster.wait_leader()
    followers = cluster.followers(leader)
    c = leader.client()
    t0 = time.monotonic()
    c.set("e:px", "v", px=1500)
    c.set("e:pexpire", "v")
    c.pexpire("e:pexpire", 1500)
    c.hset("e:hash", "f", "v")
    c.pexpire("e:hash", 1500)
    c.setbit("e:bits", 3, 1)
    c.pexpireat("e:bits", int(time.time() * 1000) + 1500)
    c.set("keep", "v")
    before = cluster.wait_converged(timeout=10)
    if time.monotonic() - t0 < 1.2:
        for f in followers:
            fc = f.client()
            assert fc.get("e:px") == "v"
            assert fc.exists("e:px", "e:pexpire", "e:hash", "e:bits") == 4
    # Stop the leader before the keys expire: nobody may delete them now.
    leader.pause()
    try:
        assert time.monotonic() - t0 < 1.5, "too slow to pause the leader before the expiry"
        time.sleep(max(0.0, t0 + 1.5 - time.monotonic()) + 0.7)  # past the expiry, several expire cycles
        for f in followers:
            fc = f.client()
            # hidden from reads ...
            assert fc.get("e:px") is None
            assert fc.get("e:pexpire") is None
            assert fc.hget("e:hash", "f") is None
            assert fc.getbit("e:bits", 3) == 0
            assert fc.exists("e:px", "e:pexpire", "e:hash", "e:bits") == 0
            assert fc.get("keep") == "v"
            # ... but not deleted: only the leader's log may delete them.
            assert fc.dbsize() == 5, f"node {f.id} deleted expired keys on its own"
            assert f.digest() == before, f"node {f.id} changed its data with no leader"
    finally:
        leader.resume()
    # The leader expires them and its deletes reach every follower.
    for f in followers:
        wait_until(lambda: f.dbsize() == 1, 10, what=f"node {f.id} to receive the expiry deletes")
    after = cluster.wait_converged(timeout=10)
    assert after != before
    assert leader.client().dbsize() == 1


def test_followers_refuse_writes(cluster):
    leader = cluster.wait_leader()
    leader.client().set("k", "v")
    cluster.wait_converged()
    for f in cluster.followers(leader):
        fc = f.client()
        for cmd in [("SET", "k", "w"), ("HSET", "h", "f", "v"), ("DEL", "k"), ("EXPIRE", "k", 10),
                    ("SETBIT", "b", 1, 1), ("INCR", "n"), ("FLUSHALL",)]:
            # redis-py turns "-READONLY <text>" into ReadOnlyError("<text>").
            with pytest.raises(redis.ReadOnlyError) as e:
                fc.execute_command(*cmd)
            assert "READONLY " + str(e.value) == READONLY_TEXT, cmd
        assert fc.get("k") == "v"
    cluster.wait_converged()
    assert leader.client().get("k") == "v"


def test_follower_reads_are_monotonic_and_catch_up(cluster):
    leader = cluster.wait_leader()
    followers = cluster.followers(leader)
    stop = threading.Event()
    acked = [0]
    problems = []

    def incrementer():
        c = leader.client()
        while not stop.is_set():
            acked[0] = c.incr("counter")

    def reader(node):
        c = node.client()
        last = 0
        reads = 0
        while not stop.is_set():
            try:
                v = c.get("counter")
            except redis.RedisError as e:
                problems.append(f"node {node.id}: read error after {reads} reads "
                                f"at {time.monotonic() - t0:.3f}s: {e}")
                return
            v = int(v) if v is not None else 0
            if v < last:
                problems.append(f"node {node.id}: read {v} after {last}")
            last = v
            reads += 1
        if reads < 10:
            problems.append(f"node {node.id}: only {reads} reads")

    threads = [threading.Thread(target=incrementer)] + [threading.Thread(target=reader, args=(f,))
                                                         for f in followers]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(2.0)  # the load's duration
    stop.set()
    for t in threads:
        t.join(30)
    assert not problems, problems[:10]
    assert acked[0] > 50
    for f in followers:
        wait_until(lambda: f.client().get("counter") == str(acked[0]), 10,
                   what=f"node {f.id} to read the last counter value")


def test_follower_refuses_reads_after_max_staleness(cluster_factory):
    cluster = cluster_factory(3, extra_args=["--max-staleness", "1000"])
    cluster.start()
    leader = cluster.wait_leader()
    lone, other = cluster.followers(leader)
    leader.client().set("k", "v")
    cluster.wait_converged()
    assert lone.client().get("k") == "v"
    leader.pause()
    other.pause()
    t0 = time.monotonic()
    try:
        def refused():
            try:
                value = lone.client(socket_timeout=3).get("k")
            except redis.ResponseError as e:
                return str(e)
            assert value == "v", f"stale follower returned {value!r}"
            return None
        err = wait_until(refused, 10, what="the leaderless follower to refuse reads")
        assert err.startswith("MASTERDOWN"), err
        print(f"reads refused {time.monotonic() - t0:.2f}s after the leader went silent: {err}")
    finally:
        leader.resume()
        other.resume()
    cluster.wait_leader()
    wait_until(lambda: lone.client().get("k") == "v", 10, what="reads to work again")
