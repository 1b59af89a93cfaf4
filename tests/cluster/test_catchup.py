"""Catch-up: a follower that missed writes gets them from the leader's log, or
by snapshot when the leader compacted them, or in full from an empty data
dir; a wiped node never replicates its empty state over the others."""
import datetime
import os
import re
import threading
import time

import pytest
import redis

from clusterlib import Outcomes, check_writes, wait_until
from disk_fixtures import fill_disk


def bulk_write(node, prefix, count, value_size=16, batch=200):
    """Pipelined SETs of unique keys on node; every reply must be OK.
    Returns the Outcomes (all acknowledged)."""
    outcomes = Outcomes()
    c = node.client(socket_timeout=30)
    pad = "x" * max(0, value_size - 12)
    for start in range(0, count, batch):
        pipe = c.pipeline(transaction=False)
        ws = []
        for i in range(start, min(count, start + batch)):
            w = ("set", f"{prefix}:{i}", None, f"{i}.{pad}")
            ws.append(w)
            pipe.set(w[1], w[3])
        replies = pipe.execute(raise_on_error=False)
        for w, reply in zip(ws, replies):
            assert reply is True, f"{w[1]}: {reply!r}"
            outcomes.add_acked(w, time.monotonic(), node.id)
    c.close()
    return outcomes


def save_when_no_snapshot_runs(node, timeout):
    """SAVE on node, retried while an automatic snapshot is in progress."""
    c = node.client(socket_timeout=60)

    def save():
        try:
            return c.save()
        except redis.ResponseError as e:
            if "in progress" in str(e):
                return False
            raise
    wait_until(save, timeout, interval=0.1, what=f"SAVE on node {node.id}")


def wal_segments(node):
    d = os.path.join(node.data_dir, "wal")
    try:
        return sorted(os.listdir(d))
    except OSError:
        return []


def test_follower_catches_up_from_the_log(cluster):
    leader = cluster.wait_leader()
    before = bulk_write(leader, "before", 500)
    cluster.wait_converged()
    down = cluster.followers(leader)[0]
    down.kill()
    t0 = time.monotonic()
    missed = bulk_write(leader, "missed", 5000)
    print(f"5000 writes with one follower down in {time.monotonic() - t0:.2f}s")
    down.start()
    t1 = time.monotonic()
    cluster.wait_converged(timeout=60)
    print(f"follower caught up in {time.monotonic() - t1:.2f}s")
    for node in cluster:
        check_writes(node, before)
        check_writes(node, missed)


def test_follower_down_across_compaction_catches_up_by_snapshot(cluster_factory):
    cluster = cluster_factory(3, extra_args=["--snapshot-log-bytes", "65536",
                                             "--wal-segment-bytes", "16384"])
    leader = cluster.start()
    bulk_write(leader, "early", 200)
    cluster.wait_converged()
    down = cluster.followers(leader)[0]
    down_applied = int(down.info()["tandem_applied_index"])
    down.kill()
    down_log_size = os.path.getsize(down.log_path)
    missed = bulk_write(leader, "missed", 4000, value_size=100)
    save_when_no_snapshot_runs(leader, 30)
    after = bulk_write(leader, "after", 200)
    # Segment files are named by their first index: the entries right after
    # the follower's last one are gone from the leader's log, so only a
    # snapshot can bring it up to date. (The files of compacted segments are
    # deleted on a background thread, just after SAVE returns.)
    def compacted():
        segments = [x for x in wal_segments(leader) if x.endswith(".log")]
        return segments and int(segments[0].split(".")[0]) > down_applied + 1
    wait_until(compacted, 10, interval=0.05,
               what="SAVE to compact the entries the follower misses from the leader's log")
    print(f"follower applied {down_applied}; leader wal after SAVE: "
          f"{sorted(wal_segments(leader))[:3]}...")
    down.start()
    t1 = time.monotonic()
    cluster.wait_converged(timeout=60)
    print(f"follower caught up in {time.monotonic() - t1:.2f}s")
    with open(down.log_path, "rb") as f:
        f.seek(down_log_size)
        restarted_log = f.read().decode(errors="replace")
    snapshot_lines = [l for l in restarted_log.splitlines() if "snapshot" in l.lower()]
    print("follower log lines about snapshots:\n" + "\n".join(snapshot_lines[:20]))
    # It held keys of its own: the snapshot is loaded once received, not
    # beside them as it arrives (a second keyspace's memory).
    assert "installed snapshot" in restarted_log
    assert "loaded as it arrived" not in restarted_log
    for node in cluster:
        check_writes(node, missed)
        check_writes(node, after)
    # The follower keeps working as a follower after the install.
    more = bulk_write(cluster.wait_leader(), "more", 300)
    cluster.wait_converged()
    check_writes(down, more)


@pytest.mark.parametrize("which", [
    "follower",
    "leader",
    "one node while all were down",
])
def test_node_with_empty_data_dir_catches_up(cluster_factory, which):
    cluster = cluster_factory(3)
    leader = cluster.start()
    data = bulk_write(leader, "d", 3000)
    cluster.wait_converged()
    if which == "follower":
        victim = cluster.followers(leader)[0]
        victim.kill()
        victim.wipe()
        more = bulk_write(leader, "m", 500)
        victim.start()
    elif which == "leader":
        victim = leader
        victim.kill()
        victim.wipe()
        new = cluster.wait_leader(exclude=[victim], timeout=10)
        more = bulk_write(new, "m", 500)
        victim.start()
    else:
        victim = cluster.followers(leader)[0]
        cluster.kill_all()
        victim.wipe()
        for node in cluster:
            node.start(wait=False)
        for node in cluster:
            node.wait_ready()
        new = cluster.wait_leader(timeout=15)
        assert new is not victim, "a node with an empty log became leader"
        more = bulk_write(new, "m", 500)
    cluster.wait_converged(timeout=30)
    for node in cluster:
        check_writes(node, data)
        check_writes(node, more)
    assert victim.dbsize() == 3500


def test_empty_follower_loads_the_snapshot_as_it_arrives(cluster_factory):
    """A follower with an empty data dir loads the snapshot while it is
    received (staged apart, swapped in at the install) and ends with the
    leader's exact state: values, expiries and hashes (equal DEBUG
    DIGEST), and keeps following afterwards."""
    cluster = cluster_factory(3, extra_args=["--snapshot-log-bytes", "1048576"])
    leader = cluster.start()
    down = cluster.followers(leader)[0]
    down.kill()
    data = bulk_write(leader, "big", 12000, value_size=500, batch=500)
    c = leader.client()
    for i in range(300):
        c.set(f"ttl:{i}", "v", px=3_600_000)
        c.hset(f"hash:{i}", mapping={"a": i, "b": "x" * (i % 50)})
    c.close()
    for node in cluster.up_nodes():
        save_when_no_snapshot_runs(node, 30)
    down.wipe()
    offset = os.path.getsize(down.log_path)
    down.start()
    cluster.wait_converged(timeout=60)
    with open(down.log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    installs = [l for l in text.splitlines() if "installed snapshot" in l]
    print("\n".join(installs))
    assert installs and all("loaded as it arrived" in l for l in installs), text[-3000:]
    check_writes(down, data)
    ttl = down.client().pttl("ttl:7")
    assert 0 < ttl <= 3_600_000, ttl
    more = bulk_write(cluster.wait_leader(), "more", 300)
    cluster.wait_converged()
    check_writes(down, more)


def test_snapshot_transfer_survives_an_interrupted_receiver(cluster_factory):
    """The follower is SIGKILLed while it receives the snapshot (when the
    test catches that moment), restarted, and still catches up."""
    cluster = cluster_factory(3, extra_args=["--snapshot-log-bytes", "1048576",
                                             "--wal-segment-bytes", "262144"])
    leader = cluster.start()
    down = cluster.followers(leader)[0]
    down.kill()
    data = bulk_write(leader, "big", 20000, value_size=300, batch=500)
    save_when_no_snapshot_runs(leader, 30)
    offset = os.path.getsize(down.log_path)
    down.start(wait=False)

    def receiving():
        with open(down.log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        return "receiving snapshot" in text or "installed snapshot" in text
    caught = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if receiving():
            with open(down.log_path, "rb") as f:
                f.seek(offset)
                caught = "installed snapshot" not in f.read().decode(errors="replace")
            down.kill()
            break
        time.sleep(0.005)
    print(f"receiver killed in the middle of the transfer: {caught}")
    down.start()
    cluster.wait_converged(timeout=60)
    check_writes(down, data)


def test_leader_keeps_its_term_while_streaming_a_large_snapshot(cluster_factory):
    """Streaming a snapshot must not hold the leader's event loop: the
    followers would miss its heartbeats and elect another leader (a 326 MB
    snapshot once held the loop for 1.4 s). A 1 s election timeout: that
    hold still costs the term, while the 0.4-0.6 s stalls a loaded 2-core
    machine gives any node (CI saw them, and an election, around the
    stream) do not."""
    cluster = cluster_factory(3, timing=("--heartbeat-ms", "50", "--election-timeout-ms", "1000"))
    leader = cluster.start()
    down = cluster.followers(leader)[0]
    down.kill()
    t0 = time.monotonic()
    data = bulk_write(leader, "big", 150000, value_size=1000, batch=1000)
    print(f"150k x 1000-byte SETs in {time.monotonic() - t0:.1f}s")
    # SAVE on every running node, so whichever leads once the node returns
    # has compacted its log and must stream a snapshot: a synchronous SAVE
    # of 150 MB can stall a node for longer than the test's election
    # timeout on a loaded machine, and leadership may move during the SAVEs
    # (not what this test is about). The term is read after them.
    for node in cluster.up_nodes():
        save_when_no_snapshot_runs(node, 60)
    down.wipe()

    def leader_and_term():
        node = cluster.wait_leader(all_agree=True)
        info = node.info()  # role and term from one reply
        return (node, int(info["tandem_term"])) if info["tandem_role"] == "leader" else None
    leader, term = wait_until(leader_and_term, 30, interval=0.1, what="the leader and its term")
    offset = os.path.getsize(down.log_path)
    down.start()
    t1 = time.monotonic()
    cluster.wait_converged(timeout=120)
    info = leader.info()
    print(f"follower caught up in {time.monotonic() - t1:.2f}s; leader loop stalls "
          f"{info.get('tandem_loop_stalls')}, longest {info.get('tandem_loop_longest_stall_ms')} ms")
    with open(down.log_path, "rb") as f:
        f.seek(offset)
        assert "installed snapshot" in f.read().decode(errors="replace"), \
            "the follower caught up without a snapshot: the test did not stream one"
    assert info["tandem_role"] == "leader" and int(info["tandem_term"]) == term, \
        f"leadership changed while the snapshot streamed: term {term} -> {info['tandem_term']}"
    check_writes(down, data)


def snapshot_starts(node, offset=0):
    """Indexes of the automatic snapshots node started (its log from offset)."""
    with open(node.log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return [int(m) for m in re.findall(r"background snapshot at index (\d+) started", text)]


def test_followers_hold_off_their_snapshots_while_writes_flow(cluster_factory):
    """Under a steady write load no node forks a snapshot (each fork's
    copy-on-write faults stall that node's loop, and a majority write waits
    on a follower): they snapshot once the writes pause for a second, or
    when their log reaches 4x the threshold."""
    cluster = cluster_factory(3)
    for node in cluster:
        # One cron tick a second: most replication progress between two
        # ticks, where a snapshot may also start.
        node.extra_args = ["--snapshot-log-bytes", "1048576", "--active-expire-hz", "1"]
    leader = cluster.start()
    # ~3 MB of log without a pause: 3x the threshold, under 4x.
    data = bulk_write(leader, "flow", 3000, value_size=1000, batch=100)
    last = int(leader.info()["tandem_last_log_index"])
    cluster.wait_converged(timeout=60)
    check_writes(leader, data)
    for node in cluster:
        wait_until(lambda: snapshot_starts(node), 30, interval=0.1,
                   what=f"node {node.id}'s snapshot once the writes paused")
        print(f"node {node.id}: snapshots at {snapshot_starts(node)}, last index {last}")
        assert min(snapshot_starts(node)) >= last, \
            f"node {node.id} snapshotted while writes were flowing"


def test_leader_holds_off_its_snapshot_while_serving_clients(cluster_factory):
    """A node busy with clients' commands (1000/s or more) takes no automatic
    snapshot until they pause for its quiet time (the snapshot's encoding
    runs in the loop that serves them), unless its log reaches 4x the
    threshold. The followers, which serve no client, snapshot meanwhile."""
    # A 1.5 s election timeout: the read load keeps a core busy, and an
    # election would fail the reads.
    cluster = cluster_factory(3, extra_args=["--snapshot-log-bytes", "1048576"],
                              timing=("--heartbeat-ms", "50", "--election-timeout-ms", "1500"))
    leader = cluster.start()
    offset = os.path.getsize(leader.log_path)
    stop = threading.Event()
    served = [0]
    failure = []

    def read_load():
        try:
            c = leader.client(socket_timeout=30)
            while not stop.is_set():
                pipe = c.pipeline(transaction=False)
                for i in range(100):
                    pipe.get(f"serve:{i}")
                pipe.execute()
                served[0] += 100
                time.sleep(0.02)  # ~3-5k GETs/s: over the 1000/s, gentle on 2 cores
            c.close()
        except Exception as e:  # reported by the test's thread
            failure.append(e)
    reader = threading.Thread(target=read_load)
    reader.start()
    try:
        # ~3 MB of log: over the 1 MiB threshold, under 4x.
        data = bulk_write(leader, "serve", 3000, value_size=1000, batch=100)
        last = int(leader.info()["tandem_last_log_index"])
        cluster.wait_converged(timeout=60)
        for node in cluster.followers(leader):
            wait_until(lambda: snapshot_starts(node), 30, interval=0.1,
                       what=f"follower {node.id}'s snapshot once the writes paused")
        # Past the leader's quiet time for writes (1-3 s by node id).
        wait_until(lambda: leader.info("persistence")["tandem_snapshot_hold"] ==
                   "serving-clients", 10, interval=0.05, what="the leader to hold off")
        start = served[0]
        time.sleep(4.5)  # a condition held over time: longer than any quiet time
        assert not failure, f"the read load failed: {failure[0]!r}"
        assert served[0] - start >= 4500, "the read load ran under 1000 commands/s"
        assert leader.info("persistence")["tandem_snapshot_hold"] == "serving-clients"
        assert not snapshot_starts(leader, offset), \
            "the leader snapshotted while busy with clients"
    finally:
        stop.set()
        reader.join()
    assert not failure, f"the read load failed: {failure[0]!r}"
    wait_until(lambda: snapshot_starts(leader, offset), 30, interval=0.1,
               what="the leader's snapshot once the clients paused")
    assert min(snapshot_starts(leader, offset)) >= last
    check_writes(leader, data)


def test_follower_holds_off_its_snapshots_while_catching_up(cluster_factory):
    """A follower far behind the leader takes no automatic snapshot until it
    has caught up (each would fork and write its whole dataset meanwhile),
    unless its log reaches 4x the threshold."""
    cluster = cluster_factory(3)
    for node in cluster:
        node.extra_args = ["--snapshot-log-bytes", "0"]  # the leader keeps its whole log
    leader = cluster.start()
    down = cluster.followers(leader)[0]
    down.kill()
    down.wipe()
    data = bulk_write(leader, "lag", 3000, value_size=1000, batch=500)
    last = int(leader.info()["tandem_last_log_index"])
    # ~3 MB of log to catch up: under 4x a 1 MiB threshold, over 2x.
    down.extra_args = ["--snapshot-log-bytes", "1048576"]
    offset = os.path.getsize(down.log_path)
    down.start()
    cluster.wait_converged(timeout=60)
    check_writes(down, data)

    def snapshot_indexes():
        return snapshot_starts(down, offset)
    # Caught up, its log is over the threshold: it snapshots now.
    wait_until(snapshot_indexes, 30, interval=0.1, what="the follower's first snapshot")
    print(f"leader's last index {last}; follower snapshots at {snapshot_indexes()}")
    assert min(snapshot_indexes()) >= last - 1000, \
        "the follower snapshotted while it was still catching up"


def anon_huge_page_kib(node):
    """How much of node's memory is in transparent huge pages now."""
    with open(f"/proc/{node.proc.pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    raise AssertionError("no AnonHugePages in smaps_rollup")


def test_new_follower_builds_its_state_in_huge_pages_and_stops_after(cluster_factory):
    """--huge-pages auto: a follower catching up from an empty data dir gets
    huge pages (a fault per 2 MiB instead of per 4 KiB as its heap grows);
    once caught up it forbids them again, and the leader, whose state grew by
    ordinary writes, never had them (util/allocator.h says why)."""
    cluster = cluster_factory(3)
    leader = cluster.start()
    memory = leader.info("memory")
    if memory["tandem_huge_pages"] == "unavailable" or \
            not memory["mem_allocator"].startswith("jemalloc"):
        pytest.skip("no transparent huge pages for the heap here")
    assert memory["tandem_huge_pages_policy"] == "while-loading"
    wait_until(lambda: leader.info("memory")["tandem_huge_pages"] == "off", 10, interval=0.05,
               what="the leader to forbid huge pages")
    down = cluster.followers(leader)[0]
    down.kill()
    down.wipe()
    leader_before_kib = anon_huge_page_kib(leader)  # what it faulted in while starting
    data = bulk_write(leader, "big", 4000, value_size=16000, batch=100)  # 64 MB
    leader_grown_kib = anon_huge_page_kib(leader) - leader_before_kib
    down.start()
    cluster.wait_converged(timeout=60)
    follower_kib = anon_huge_page_kib(down)
    check_writes(down, data)
    wait_until(lambda: down.info("memory")["tandem_huge_pages"] == "off", 10, interval=0.05,
               what="the caught-up follower to forbid huge pages")
    print(f"huge pages: caught-up follower {follower_kib} KiB, leader grew by "
          f"{leader_grown_kib} KiB")
    # ~48 of the 64 MB arrive while it is more than 1000 entries behind.
    assert follower_kib >= 32 * 1024, "the follower built 64 MB without huge pages"
    assert leader_grown_kib <= 0, "the leader's heap got huge pages under ordinary writes"


def test_members_hold_off_their_snapshots_while_a_follower_catches_up(small_disk,
                                                                     cluster_factory):
    """While a follower is far behind, the leader and the other follower take
    no automatic snapshot (each would compete with the catch-up for the
    cores): the leader's appends and heartbeats say a follower is catching
    up. Here the follower's disk is full, so its catch-up waits for space."""
    # A 1.5 s election timeout: the follower on the full disk could not
    # store a new term and would stop.
    cluster = cluster_factory(3, extra_args=["--snapshot-log-bytes", "1048576"],
                              timing=("--heartbeat-ms", "50", "--election-timeout-ms", "1500"))
    leader = cluster.start()
    victim, bystander = cluster.followers(leader)
    victim.kill()
    victim.data_dir = str(small_disk / "data")
    victim.extra_args = ["--wal-segment-bytes", "1048576"]
    victim.start()
    # Once it has the term on disk, the disk fills: it can still write the
    # first ~1000 entries, into the 1 MiB its log segment took beforehand.
    wait_until(lambda: victim.info()["tandem_leader_id"] == str(leader.id), 10,
               what="the follower to learn the leader")
    fill_disk(small_disk / "filler")
    offsets = {n.id: os.path.getsize(n.log_path) for n in (leader, bystander)}
    # ~3 MB of log: over the 1 MiB threshold, under 4x.
    data = bulk_write(leader, "lag", 3000, value_size=1000, batch=500)
    last = int(leader.info()["tandem_last_log_index"])
    wait_until(lambda: int(bystander.info()["tandem_applied_index"]) >= last, 30,
               what="the other follower to apply every write")

    def hold(node):
        return node.info("persistence")["tandem_snapshot_hold"]
    # Past their quiet time (writes-flowing: 1-3 s by node id) both would
    # snapshot, but a follower is catching up, and the leader says so.
    wait_until(lambda: hold(leader) == "follower-catching-up", 30, interval=0.05,
               what="the leader to hold off for the catching-up follower")
    wait_until(lambda: hold(bystander) == "peer-catching-up", 30, interval=0.05,
               what="the other follower to hold off for the catching-up one")
    for node in (leader, bystander):
        p = node.info("persistence")
        assert int(p["tandem_log_bytes_since_snapshot"]) > 1048576, p
    view = leader.info()[f"tandem_follower_{victim.id}"]
    assert int(view["match"]) + 1000 < last, view
    for node in (leader, bystander):
        assert not snapshot_starts(node, offsets[node.id]), \
            f"node {node.id} snapshotted during the catch-up"
    # Space returns: the follower catches up, then the others snapshot.
    os.remove(small_disk / "filler")
    cluster.wait_converged(timeout=60)
    check_writes(victim, data)
    for node in (leader, bystander):
        wait_until(lambda: snapshot_starts(node, offsets[node.id]), 30, interval=0.1,
                   what=f"node {node.id}'s snapshot once the catch-up ended")
        assert min(snapshot_starts(node, offsets[node.id])) >= last


def last_log_time(node, pattern):
    """The time (s since the epoch) of the last line of node's log that
    matches the regex `pattern`."""
    with open(node.log_path, errors="replace") as f:
        lines = [line for line in f if re.search(pattern, line)]
    assert lines, f"no line of node {node.id}'s log matches {pattern!r}"
    return datetime.datetime.strptime(lines[-1][:23], "%Y-%m-%d %H:%M:%S.%f").timestamp()


def test_leader_redials_a_restarted_follower_at_once(cluster):
    """The leader's link to a member that went down redials with a backoff
    growing to 1 s; a restarted follower dials the leader itself, and the
    leader then redials at once, so the follower hears from it (and catches
    up) without waiting the backoff out."""
    leader = cluster.wait_leader()
    node = cluster.followers(leader)[0]

    def leader_link_up():
        return str(leader.info()[f"tandem_follower_{node.id}"]["connected"]) == "1"
    for _ in range(2):
        node.kill()
        # Not a wait for readiness: the leader's dials come about 0, 0.05,
        # 0.15, 0.35, 0.75, 1.55, 2.55, 3.55 s after the loss (which it
        # notices within two heartbeats), so a restart now leaves its next dial
        # about 0.6 s away.
        time.sleep(2.95)
        node.start()
        wait_until(leader_link_up, 10, interval=0.01, what="the leader's link to the follower")
        # From the logs' own times: the test's scheduling does not count.
        delay = (last_log_time(leader, f"connected to peer {node.id} ") -
                 last_log_time(node, r"tandemd node \d+ ready on"))
        print(f"leader's link up {delay * 1000:.0f} ms after the follower was ready")
        assert delay < 0.25, f"the leader redialled {delay:.2f} s after the follower came back"
