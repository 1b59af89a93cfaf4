"""Failures under a concurrent write load with --durability majority: SIGKILL
of the leader, of a follower, of two nodes of five, of every node at once;
SIGSTOP of the leader; failover timing with the default timing flags.

Every acknowledged write must be on the new leader and, after catch-up, on
every node; a write that got a definite error must be on none; writes whose
outcome is unknown (UNKNOWN, connection errors, timeouts) may be either."""
import os
import threading
import time

import pytest
import redis

from clusterlib import (SentinelWriter, WriteLoad, check_writes, percentile_summary,
                        wait_until)


def verify_everywhere(cluster, *outcome_sets, timeout=60):
    digest = cluster.wait_converged(timeout=timeout)
    for node in cluster.up_nodes():
        for outcomes in outcome_sets:
            check_writes(node, outcomes)
    return digest


@pytest.mark.parametrize("n,victims", [
    (3, "leader"),
    (3, "follower"),
    (5, "leader+follower"),
    (5, "two followers"),
])
def test_sigkill_under_load(cluster_factory, n, victims):
    cluster = cluster_factory(n)
    old_leader = cluster.start()
    followers = cluster.followers(old_leader)
    load = WriteLoad(cluster, prefix="k", threads=3).start()
    sentinel = SentinelWriter(cluster, prefix="s").start()
    try:
        load.wait_acks(300)
        wait_until(lambda: len(sentinel.outcomes.acked) >= 20, 15,
                   what=f"the Sentinel client to write ({sentinel.outcomes.summary()})")
        killed = {"leader": [old_leader], "follower": [followers[0]],
                  "leader+follower": [old_leader, followers[0]],
                  "two followers": followers[:2]}[victims]
        t_kill = time.monotonic()
        for node in killed:
            node.kill()
        leader = cluster.wait_leader(timeout=10)
        t_leader = time.monotonic()
        load.wait_acks(300, after=t_kill, timeout=15)
        first = load.outcomes.first_ack_after(t_kill)
        wait_until(lambda: len(sentinel.outcomes.acked_after(t_kill)) >= 20, 15,
                   what=f"the Sentinel client to continue ({sentinel.outcomes.summary()})")
    finally:
        outcomes = load.stop()
        souts = sentinel.stop()
    print(f"{victims} of {n} killed: leader known after {t_leader - t_kill:.3f}s, first ack after "
          f"{first - t_kill:.3f}s; load: {outcomes.summary()}; sentinel: {souts.summary()}")
    if old_leader not in killed:
        assert leader is old_leader
    assert leader not in killed
    # Every acknowledged write is on the leader and on the survivors.
    verify_everywhere(cluster, outcomes, souts)
    # The killed nodes come back and catch up.
    for node in killed:
        node.start()
    verify_everywhere(cluster, outcomes, souts)
    assert len(cluster.up_nodes()) == n


def test_sigkill_all_nodes_then_restart(cluster_factory):
    cluster = cluster_factory(3)
    cluster.start()
    load = WriteLoad(cluster, prefix="k", threads=4).start()
    try:
        load.wait_acks(500)
        for node in cluster:  # as close to "at once" as signals get
            node.proc.kill()
        for node in cluster:
            node.kill()
    finally:
        outcomes = load.stop()
    print(f"load before the crash: {outcomes.summary()}")
    for node in cluster:
        node.start(wait=False)
    for node in cluster:
        node.wait_ready()
    cluster.wait_leader(timeout=15)
    verify_everywhere(cluster, outcomes)
    # And the cluster takes writes again.
    load2 = WriteLoad(cluster, prefix="after", threads=2).start()
    try:
        load2.wait_acks(100)
    finally:
        outcomes2 = load2.stop()
    verify_everywhere(cluster, outcomes, outcomes2)


def _pending_get(client, key, out):
    try:
        out.append(client.get(key))
    except redis.RedisError as e:
        out.append(e)


@pytest.mark.xfail(reason="open: a read that reached the paused leader is served after SIGCONT "
                          "as a follower read once the node hears the new leader: committed and "
                          "monotonic (product.md's follower guarantee) but it may not include "
                          "writes the new leader acknowledged during the pause. Needs follower "
                          "reads that first confirm the leader's commit index (read-index via "
                          "the leader).",
                   strict=False)
def test_sigstop_leader_steps_down_without_stale_reads_or_lost_writes(cluster):
    old = cluster.wait_leader()
    old.client().set("stale", "v0")
    cluster.wait_converged()
    # Writers pinned to the old leader, with timeouts long enough to get the
    # replies to the writes they sent while it was stopped.
    pinned = WriteLoad(cluster, prefix="p", threads=3, socket_timeout=30, pin=old).start()
    reader = old.client(socket_timeout=30)
    reader.ping()
    try:
        pinned.wait_acks(100)
        old.pause()
        t_pause = time.monotonic()
        new = cluster.wait_leader(exclude=[old], timeout=10)
        t_new = time.monotonic()
        nc = new.client()
        nc.set("stale", "v1")
        # A read sent to the stopped leader: it is served after SIGCONT, when
        # the node may still believe it leads.
        result = []
        th = threading.Thread(target=_pending_get, args=(reader, "stale", result))
        th.start()
        time.sleep(0.2)  # let the request reach the stopped node's socket
        old.resume()
        th.join(40)
        assert result, "the read on the resumed node did not return"
        # Violations are collected and asserted last, so that the write checks
        # below still run.
        violations = []
        if not (isinstance(result[0], Exception) or result[0] == "v1"):
            violations.append(f"a read sent while it was stopped returned {result[0]!r} after "
                              f"SIGCONT; 'v1' had been acknowledged by the new leader")
        # Fresh reads right after SIGCONT: an error or the new value, never v0.
        deadline = time.monotonic() + 3
        answers = []
        while time.monotonic() < deadline:
            try:
                answers.append(old.client(socket_timeout=5).get("stale"))
            except redis.RedisError as e:
                answers.append(type(e).__name__ + ": " + str(e)[:40])
        if "v0" in answers:
            violations.append(f"reads after SIGCONT returned v0 {answers.count('v0')} times "
                              f"(first answers {answers[:10]})")
        assert answers[-1] == "v1", answers[-5:]

        def stepped_down():
            info = old.info()
            return (info.get("role") == "slave"
                    and int(info.get("tandem_leader_id", -1)) == new.id)
        wait_until(stepped_down, 10, what="the resumed leader to follow the new one")
    finally:
        outcomes = pinned.stop()
    print(f"new leader after {t_new - t_pause:.3f}s; pinned writers: {outcomes.summary()}; "
          f"read on resume: {result[0]!r}")
    # The writes sent to the stopped leader were refused or reported unknown;
    # any that were acknowledged are on every node.
    late_acks = [a for a in outcomes.acked if a[4] > t_pause]
    verify_everywhere(cluster, outcomes)
    print(f"{len(late_acks)} writes acknowledged by the old leader after it was stopped "
          f"(all of them present)")
    assert not violations, "stale reads on the deposed leader: " + "; ".join(violations)


def test_failover_time_after_sigkill_with_default_timing(cluster_factory):
    rounds = int(os.environ.get("TANDEM_FAILOVER_ROUNDS", "5"))
    cluster = cluster_factory(3, timing=())
    cluster.start()
    to_leader, to_ack = [], []
    all_outcomes = []
    for r in range(rounds):
        leader = cluster.wait_leader(timeout=15)
        load = WriteLoad(cluster, prefix=f"r{r}", threads=2).start()
        try:
            load.wait_acks(100)
            t_kill = time.monotonic()
            leader.kill()
            cluster.wait_leader(exclude=[leader], timeout=10)
            to_leader.append(time.monotonic() - t_kill)
            wait_until(lambda: load.outcomes.first_ack_after(t_kill, not_node=leader.id), 10,
                       what="an acknowledged write on the new leader")
            to_ack.append(load.outcomes.first_ack_after(t_kill, not_node=leader.id) - t_kill)
        finally:
            all_outcomes.append(load.stop())
        leader.start()
        cluster.wait_converged(timeout=30)
    s1, s2 = percentile_summary(to_leader), percentile_summary(to_ack)
    print(f"failover over {rounds} SIGKILLs of the leader (default timing): "
          f"new leader known median {s1['median']:.3f}s max {s1['max']:.3f}s; "
          f"first acknowledged write median {s2['median']:.3f}s max {s2['max']:.3f}s")
    assert s2["max"] < 10.0
    for node in cluster:
        for o in all_outcomes:
            check_writes(node, o)


def test_leader_cut_off_from_the_majority_stops_accepting_writes(cluster):
    leader = cluster.wait_leader()
    c = leader.client(socket_timeout=5)
    c.set("k", "v")
    cluster.wait_converged()
    followers = cluster.followers(leader)
    for f in followers:
        f.pause()
    t0 = time.monotonic()
    try:
        # Within about one election timeout (300 ms here) the leader steps
        # down; writes then get a definite error at once, not a hang.
        wait_until(lambda: leader.info().get("role") != "master", 5,
                   what="the isolated leader to step down")
        stepped = time.monotonic() - t0
        t1 = time.monotonic()
        with pytest.raises(redis.ResponseError):
            leader.client(socket_timeout=5).set("k2", "v2")
        refused = time.monotonic() - t1
    finally:
        for f in followers:
            f.resume()
    print(f"isolated leader stepped down after {stepped:.3f}s; a write was refused in {refused:.3f}s")
    assert stepped < 3.0
    assert refused < 1.0
    cluster.wait_leader()
    cluster.wait_converged()
    for node in cluster:
        assert node.client().get("k2") is None
        assert node.client().get("k") == "v"
