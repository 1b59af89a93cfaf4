"""The Redis-compatible cluster surface: WAIT, FAILOVER, ROLE, INFO
replication, SENTINEL, and --durability all."""
import time

import pytest
import redis
from redis.sentinel import Sentinel

from clusterlib import Outcomes, WriteLoad, check_writes, classify, wait_until


def test_wait_counts_followers_holding_the_last_write(cluster):
    leader = cluster.wait_leader()
    f1, f2 = cluster.followers(leader)
    c = leader.client()
    c.set("a", "1")
    assert c.wait(2, 5000) == 2
    assert c.wait(1, 5000) >= 1
    f2.pause()
    try:
        c.set("b", "1")  # a majority (leader + f1) still acknowledges it
        t0 = time.monotonic()
        assert c.wait(2, 500) == 1
        elapsed = time.monotonic() - t0
        assert 0.4 <= elapsed < 5, f"WAIT 2 500 returned after {elapsed:.3f}s"
        t0 = time.monotonic()
        assert c.wait(1, 5000) == 1
        assert time.monotonic() - t0 < 2, "WAIT 1 should not wait for the stopped follower"
    finally:
        f2.resume()
    assert c.wait(2, 10000) == 2
    cluster.wait_converged()
    assert f2.client().get("b") == "1"


def test_no_acknowledgement_without_a_majority(cluster):
    leader = cluster.wait_leader()
    f1, f2 = cluster.followers(leader)
    c = leader.client()
    c.set("x", "1")
    assert c.wait(2, 5000) == 2
    f1.kill()
    f2.kill()
    # No majority: the write cannot be acknowledged; WAIT on the earlier
    # write is still answered (both followers held it).
    c2 = leader.client(socket_timeout=3)
    try:
        c2.set("y", "1")
        outcome = "acked"
    except redis.RedisError as e:
        outcome = classify(e)
    assert outcome != "acked", "a write was acknowledged with no follower up (majority)"
    f1.start()
    f2.start()
    cluster.wait_leader()
    cluster.wait_converged()
    if outcome == "failed":
        for node in cluster:
            assert node.client().get("y") is None, "a write with a definite error was applied"


def _failover(leader, *args):
    return leader.client(socket_timeout=20).execute_command("FAILOVER", *args)


def _try_failover(leader, *args):
    try:
        return _failover(leader, *args)
    except redis.RedisError as e:
        return e


def test_failover_to_under_load_loses_nothing(cluster):
    leader = cluster.wait_leader()
    load = WriteLoad(cluster, prefix="k", threads=3).start()
    try:
        load.wait_acks(300)
        target = cluster.followers(leader)[0]
        t0 = time.monotonic()
        reply_to = _try_failover(leader, "TO", "127.0.0.1", target.port, "TIMEOUT", 5000)
        t_ok = time.monotonic() - t0
        new = cluster.wait_leader(timeout=10)
        assert new is target, f"FAILOVER TO node {target.id} made node {new.id} leader ({reply_to!r})"
        load.wait_acks(300, after=time.monotonic())
        # Then a FAILOVER with no target moves leadership to some follower.
        t1 = time.monotonic()
        reply_any = _try_failover(new, "TIMEOUT", 5000)
        t_ok2 = time.monotonic() - t1
        newer = cluster.wait_leader(timeout=10)
        assert newer is not new, f"FAILOVER left node {new.id} leading ({reply_any!r})"
        load.wait_acks(300, after=time.monotonic())
    finally:
        outcomes = load.stop()
    print(f"FAILOVER TO answered {reply_to!r} in {t_ok:.3f}s, FAILOVER {reply_any!r} in "
          f"{t_ok2:.3f}s; load: {outcomes.summary()}")
    cluster.wait_converged(timeout=30)
    for node in cluster:
        check_writes(node, outcomes)
    # Checked last so a wrong reply does not hide a lost write.
    assert reply_to == "OK" and reply_any == "OK", \
        f"FAILOVER under load answered {reply_to!r} and {reply_any!r}, not OK"


def test_failover_on_a_follower_is_an_error(cluster):
    leader = cluster.wait_leader()
    f = cluster.followers(leader)[0]
    with pytest.raises(redis.ResponseError):
        _failover(f)
    assert cluster.wait_leader() is leader


def test_durability_all_refuses_writes_while_a_voter_is_down(cluster_factory):
    cluster = cluster_factory(3, durability="all")
    leader = cluster.start()
    c = leader.client(socket_timeout=5)
    outcomes = Outcomes()
    for i in range(50):
        w = ("set", f"up:{i}", None, str(i))
        assert c.set(w[1], w[3])
        outcomes.add_acked(w, time.monotonic(), leader.id)
    cluster.wait_converged()
    down = cluster.followers(leader)[0]
    down.kill()
    t_kill = time.monotonic()
    i = 0
    results = []

    def write():
        nonlocal i
        w = ("set", f"down:{i}", None, str(i))
        i += 1
        t = time.monotonic()
        try:
            leader.client(socket_timeout=5).set(w[1], w[3])
            outcomes.add_acked(w, time.monotonic(), leader.id)
            results.append(("acked", time.monotonic() - t))
            return "acked"
        except redis.RedisError as e:
            kind = classify(e)
            (outcomes.add_maybe if kind == "maybe" else outcomes.add_failed)(w, str(e))
            results.append((f"{kind}: {e}", time.monotonic() - t))
            return kind

    # Within a bound, writes get an error reply (not a client timeout: "a
    # write errors out while a voter is down"); from then on every write does.
    try:
        wait_until(lambda: write().startswith("failed"), 15,
                   what="writes to get an error reply with a voter down")
    except TimeoutError as e:
        raise AssertionError(f"{e}; outcomes: {results[:8]}") from None
    t_refused = time.monotonic() - t_kill
    for _ in range(5):
        assert write().startswith("failed"), f"a write was not refused with a voter down: {results}"
    print(f"writes refused {t_refused:.3f}s after the kill; outcomes {results[-6:]}")
    assert all(d < 2 for _, d in results[-5:]), f"refusals took long: {results[-5:]}"
    # The leader still answers reads of acknowledged data.
    assert leader.client(socket_timeout=5).get("up:0") == "0"
    down.start()
    wait_until(lambda: write() == "acked", 20, what="writes to be accepted again")
    cluster.wait_converged(timeout=30)
    for node in cluster:
        check_writes(node, outcomes)


def _files_under(path):
    import os
    for root, _, files in os.walk(path):
        for f in files:
            yield os.path.join(root, f)


@pytest.mark.parametrize("deposed", [
    "reconnected",
    "restarted",
])
def test_durability_leader_rolls_back_unreplicated_writes_to_a_file(cluster_factory, deposed):
    cluster = cluster_factory(3, durability="leader")
    leader = cluster.start()
    c = leader.client(socket_timeout=5)
    c.set("before", "1")
    cluster.wait_converged()
    followers = cluster.followers(leader)
    # SIGKILL (not SIGSTOP: a stopped follower would still find the entry in
    # its socket buffer) both followers; the leader alone then holds the write,
    # acknowledged under --durability leader (it cannot have noticed the lost
    # majority yet).
    for f in followers:
        f.kill()
    try:
        acked = c.set("lonely-write", "only-on-the-old-leader")
    except redis.RedisError as e:
        acked = e
    if deposed == "restarted":
        leader.kill()
    else:
        leader.pause()
    for f in followers:
        f.start()
    new = cluster.wait_leader(exclude=[leader], timeout=10)
    new.client().set("after", "1")
    if deposed == "restarted":
        leader.start()
    else:
        leader.resume()
    cluster.wait_converged(timeout=30)
    value = leader.client().get("lonely-write")
    print(f"write on the isolated leader: {acked!r}; after rejoin: {value!r}")
    assert acked is True, f"the leader alone did not acknowledge under --durability leader: {acked!r}"
    assert value is None, "the new leader never had the write; the old leader must roll it back"
    if acked is True and value is None:
        # Rolled back: never silently, it must be in a rollback file.
        files = [p for p in _files_under(leader.data_dir) if "rollback" in p.lower()]
        assert files, f"no rollback file in {leader.data_dir}: {list(_files_under(leader.data_dir))}"
        blob = b"".join(open(p, "rb").read() for p in files)
        assert b"lonely-write" in blob, f"rollback files {files} lack the rolled-back write"
        assert "rollback" in leader.log_text().lower() or "rolled back" in leader.log_text().lower()
    for node in cluster:
        assert node.client().get("before") == "1"
        assert node.client().get("after") == "1"


def test_role_and_info_replication(cluster):
    leader = cluster.wait_leader()
    followers = cluster.followers(leader)
    leader.client().set("k", "v")
    cluster.wait_converged()
    role = leader.client().execute_command("ROLE")
    assert role[0] == "master"
    assert int(role[1]) >= 1
    replica_ports = sorted(int(r[1]) for r in role[2])
    assert replica_ports == sorted(f.port for f in followers)
    info = leader.info()
    assert info["role"] == "master"
    assert info["tandem_node_id"] == str(leader.id)
    assert info["tandem_leader_id"] == str(leader.id)
    assert int(info["connected_slaves"]) == 2
    term = info["tandem_term"]
    for f in followers:
        role = f.client().execute_command("ROLE")
        assert role[0] == "slave"
        assert int(role[2]) == leader.port
        finfo = f.info()
        assert finfo["role"] == "slave"
        assert finfo["tandem_node_id"] == str(f.id)
        assert finfo["tandem_leader_id"] == str(leader.id)
        assert finfo["tandem_term"] == term
        assert int(finfo["master_port"]) == leader.port
    indexes = {n.id: (n.info()["tandem_commit_index"], n.info()["tandem_applied_index"])
               for n in cluster}
    wait_until(lambda: len({(n.info()["tandem_commit_index"], n.info()["tandem_applied_index"])
                            for n in cluster}) == 1, 10,
               what=f"equal commit/applied indexes ({indexes})")


def test_sentinel_commands_on_every_node(cluster):
    leader = cluster.wait_leader()
    followers = cluster.followers(leader)
    for node in cluster:
        c = node.client()
        addr = c.execute_command("SENTINEL", "get-master-addr-by-name", "tandem")
        assert (addr[0], int(addr[1])) == ("127.0.0.1", leader.port), f"node {node.id}: {addr}"
        masters = c.sentinel_masters()
        assert masters["tandem"]["is_master"]
        assert int(masters["tandem"]["port"]) == leader.port
        replicas = c.sentinel_slaves("tandem")
        assert sorted(int(r["port"]) for r in replicas) == sorted(f.port for f in followers)
        assert c.execute_command("SENTINEL", "get-master-addr-by-name", "no-such-cluster") is None
    s = Sentinel([n.address for n in cluster], socket_timeout=2)
    assert s.discover_master("tandem") == ("127.0.0.1", leader.port)
    assert sorted(p for _, p in s.discover_slaves("tandem")) == sorted(f.port for f in followers)
    m = s.master_for("tandem", decode_responses=True)
    m.set("via-sentinel", "1")
    r = s.slave_for("tandem", decode_responses=True)
    wait_until(lambda: r.get("via-sentinel") == "1", 10, what="the replica to serve the write")
    # After a failover the same client objects reach the new leader.
    leader.kill()
    new = cluster.wait_leader(exclude=[leader], timeout=10)

    def write():
        try:
            return m.set("after-failover", "1")
        except redis.ConnectionError:
            return False
    wait_until(write, 15, what="the Sentinel client to write after the failover")
    assert new.client().get("after-failover") == "1"


def test_peers_authenticate_with_requirepass(cluster_factory):
    cluster = cluster_factory(3, password="s3cret")
    outsider = cluster.nodes[3]
    outsider.password = "not-the-cluster-secret"
    for node in cluster:
        node.start(wait=False)
    for node in cluster:
        node.wait_ready()
    leader = cluster.wait_leader()
    assert leader is not outsider
    leader.client().set("k", "v")
    cluster.wait_converged(nodes=[cluster.nodes[1], cluster.nodes[2]])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=leader.port, socket_timeout=5).get("k")
    # A node with the wrong secret is no peer: it never receives the data.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert outsider.digest() == "0" * 40, "a node with the wrong secret received data"
        time.sleep(0.1)
    assert outsider.info().get("role") != "master"
    # With the right secret it joins and catches up.
    outsider.kill()
    outsider.password = "s3cret"
    outsider.start()
    cluster.wait_converged()
    assert outsider.client().get("k") == "v"


def test_peer_handshake_is_checked_and_names_capabilities(cluster):
    """TANDEM.PEER, the first frame of a link between members, refuses a wrong
    cluster id, target or member; its +OK names what this build takes beyond
    the first protocol version (catch-up-hint: the peer_catching_up flag)."""
    node, other = list(cluster)[:2]
    cluster_id = "tandem"  # the default --cluster-id

    def handshake(*args):
        c = node.client(decode_responses=True)
        try:
            return c.execute_command("TANDEM.PEER", *args)
        except redis.ResponseError as e:
            return f"error: {e}"
        finally:
            c.close()
    assert "cluster id mismatch" in handshake("other", other.id, node.id)
    assert "not node" in handshake(cluster_id, other.id, other.id)
    assert "not a member" in handshake(cluster_id, 99, node.id)
    reply = handshake(cluster_id, other.id, node.id)
    assert not str(reply).startswith("error"), reply
    assert "catch-up-hint" in str(reply).split(), reply
