#!/usr/bin/python3
"""Tandem's fault-injection harness ("our own Jepsen").

Starts N tandemd processes on 127.0.0.1 whose every peer link (i dials j) and
every client link goes through a controllable proxy (proxy.py), runs >= 10
concurrent clients over a small keyspace (registers, counters, append-only
sets) while a seeded nemesis injects faults, then heals everything and checks:

  * linearizability of every register key (linearizability.py)
  * counters: acknowledged <= final <= acknowledged + unknown; no two
    acknowledged INCRs of a key returned the same value
  * sets (APPEND of unique tokens): every acknowledged token is in the final
    value; no definitely failed token is; no token twice
  * at most one leader per term (INFO replication polled on every node)
  * all replicas' DEBUG DIGEST equal after healing; a leader and progress
    after healing; no node exits unless the nemesis killed it

Usage:
  tests/chaos/run.py --seed 7 --duration 120           # one run, random faults
  tests/chaos/run.py --ci                               # CI schedule, exit 1 on anomaly
  tests/chaos/run.py --unsafe --seed 1                  # --durability leader: must find anomalies
See docs/testing.md.
"""
import argparse
import ctypes
import html
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from linearizability import Op, check, format_history  # noqa: E402
from proxy import ProxySet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("TANDEM_BUILD_DIR", os.path.join(ROOT, "build"))
TANDEMD = os.path.join(BUILD, "tandemd")

HEARTBEAT_MS = 50
ELECTION_MS = 400

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def parse_info(raw):
    if isinstance(raw, dict):
        return {k: str(v) for k, v in raw.items()}
    out = {}
    for line in raw.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.strip().split(":", 1)
            out[k] = v
    return out


def now():
    return time.monotonic()


# ---------------------------------------------------------------------------
# cluster with proxies


class Node:
    def __init__(self, nid, port, data_dir, log_path):
        self.id, self.port, self.data_dir, self.log_path = nid, port, data_dir, log_path
        self.proc = None
        self.paused = False
        self.killed = False   # by the nemesis (an exit we expect)
        self.spec = None
        self.extra = []

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def up(self):
        return self.running and not self.paused

    def start(self):
        args = [TANDEMD, "--node-id", str(self.id), "--listen", f"127.0.0.1:{self.port}",
                "--data-dir", self.data_dir, "--cluster", self.spec,
                "--heartbeat-ms", str(HEARTBEAT_MS), "--election-timeout-ms", str(ELECTION_MS),
                "--log-level", "info"] + self.extra
        with open(self.log_path, "ab") as log:
            log.write(f"---- {time.strftime('%H:%M:%S')} start {' '.join(args)}\n".encode())
            log.flush()
            kw = {}
            if threading.current_thread() is threading.main_thread():
                kw["preexec_fn"] = _die_with_parent
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, **kw)
        self.paused = False
        self.killed = False

    def kill(self):
        if self.running:
            self.killed = True
            if self.paused:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(30)
        self.paused = False

    def pause(self):
        if self.running and not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.running and self.paused:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def client(self, timeout=1.0):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)

    def info(self, timeout=0.5):
        c = self.client(timeout)
        try:
            return parse_info(c.execute_command("INFO", "replication"))
        finally:
            c.close()


class Cluster:
    """N nodes; node i reaches node j through proxy link 'i->j'; clients reach
    node i through link 'c->i'. The harness itself talks to nodes directly."""

    def __init__(self, base_dir, n, durability, seed, extra_args=()):
        self.base_dir = base_dir
        self.n = n
        self.proxies = ProxySet(seed)
        self.nodes = {}
        ports = set()
        for i in range(1, n + 1):
            p = _free_port(ports)
            ports.add(p)
            self.nodes[i] = Node(i, p, os.path.join(base_dir, f"node-{i}"),
                                 os.path.join(base_dir, f"node-{i}.log"))
        self.client_ports = {}
        for i, node in self.nodes.items():
            spec = []
            for j, other in self.nodes.items():
                if j == i:
                    spec.append(f"{j}=127.0.0.1:{node.port}")
                else:
                    spec.append(f"{j}=127.0.0.1:{self.proxies.add(f'{i}->{j}', other.port)}")
            node.spec = ",".join(spec)
            node.extra = ["--durability", durability] + list(extra_args)
            self.client_ports[i] = self.proxies.add(f"c->{i}", node.port)

    def peer_links(self):
        return [f"{i}->{j}" for i in self.nodes for j in self.nodes if i != j]

    def start_all(self):
        for node in self.nodes.values():
            if not node.running:
                node.start()

    def close(self):
        for node in self.nodes.values():
            try:
                node.kill()
            except Exception:
                pass
        self.proxies.close()

    def infos(self):
        out = {}
        for i, node in self.nodes.items():
            if node.up:
                try:
                    out[i] = node.info()
                except (redis.RedisError, OSError):
                    out[i] = None
        return out

    def leader(self):
        """The node reporting tandem_role leader with the highest term."""
        best = None
        for i, info in self.infos().items():
            if info and info.get("tandem_role") == "leader":
                term = int(info.get("tandem_term", -1))
                if best is None or term > best[0]:
                    best = (term, i)
        return best[1] if best else None

    def wait_leader(self, timeout=30.0):
        deadline = now() + timeout
        while now() < deadline:
            infos = self.infos()
            leaders = [(int(v.get("tandem_term", -1)), i) for i, v in infos.items()
                       if v and v.get("tandem_role") == "leader"]
            if leaders:
                term, lid = max(leaders)
                agree = sum(1 for v in infos.values()
                            if v and int(v.get("tandem_term", -1)) == term
                            and v.get("tandem_leader_id") == str(lid))
                if agree >= self.n // 2 + 1:
                    return lid
            time.sleep(0.05)
        return None


def _ephemeral_port_low():
    """The first port of the kernel's ephemeral (source port) range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _free_port(taken):
    """A port free now and below the kernel's ephemeral range. A node's port
    is released here and bound only when the node starts; from the ephemeral
    range, the source port of any outbound connection meanwhile (proxies
    connect to nodes all the time) could take it, and the node would fail to
    start with EADDRINUSE (seen: the same node three times in one CI run)."""
    low = _ephemeral_port_low()
    rng = random.Random()
    while True:
        p = rng.randrange(1024 if low <= 10000 else 10000, low)
        if p in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        return p


# ---------------------------------------------------------------------------
# clients


class NodeDown(Exception):
    """Could not connect: nothing was sent."""


class Client(threading.Thread):
    """One client: a connection per node (through the client proxies), talks
    to the node it believes leads, follows READONLY by asking INFO."""

    def __init__(self, cid, cluster, workload, seed, stop, op_timeout):
        super().__init__(name=f"client-{cid}", daemon=True)
        self.cid = cid
        self.cluster = cluster
        self.w = workload
        self.rng = random.Random(seed * 1000 + cid)
        self.stop_event = stop
        self.op_timeout = op_timeout
        self.history = []
        self.conns = {}
        self.target = 1 + cid % cluster.n
        self.seq = 0
        self.crash = None

    def _conn(self, nid):
        c = self.conns.get(nid)
        if c is None:
            c = redis.Connection(host="127.0.0.1", port=self.cluster.client_ports[nid],
                                 socket_timeout=self.op_timeout, socket_connect_timeout=0.5,
                                 decode_responses=True)
            try:
                c.connect()
            except (redis.RedisError, OSError) as e:
                raise NodeDown(str(e))
            self.conns[nid] = c
        return c

    def _drop(self, nid):
        c = self.conns.pop(nid, None)
        if c is not None:
            try:
                c.disconnect()
            except Exception:
                pass

    def _call(self, nid, *commands):
        """Sends commands pipelined; returns the replies (exceptions raised)."""
        c = self._conn(nid)
        try:
            if len(commands) == 1:
                c.send_command(*commands[0])
            else:
                c.send_packed_command(c.pack_commands(commands))
            return [c.read_response() for _ in commands]
        except BaseException:
            self._drop(nid)
            raise

    def _discover(self):
        """Asks the nodes (starting with the current target) who leads."""
        order = [self.target] + [i for i in self.cluster.nodes if i != self.target]
        for nid in order:
            try:
                info = parse_info(self._call(nid, ("INFO", "replication"))[0])
            except (redis.RedisError, OSError, NodeDown):
                continue
            if info.get("tandem_role") == "leader":
                self.target = nid
                return
            lid = int(info.get("tandem_leader_id", "0") or 0)
            if lid in self.cluster.nodes:
                self.target = lid
                return
        self.target = self.rng.choice(list(self.cluster.nodes))
        time.sleep(0.05)

    def run(self):
        try:
            while not self.stop_event.is_set():
                self.one_op()
        except Exception as e:  # a harness bug must not pass silently
            import traceback
            self.crash = traceback.format_exc()
            raise e
        finally:
            for nid in list(self.conns):
                self._drop(nid)

    def one_op(self):
        w = self.w
        r = self.rng.random()
        self.seq += 1
        tok = f"c{self.cid}.{self.seq}"
        if r < w["register"]:
            key = f"r{self.rng.randrange(w['registers'])}"
            if self.rng.random() < 0.5:
                rec = {"w": "register", "f": "write", "key": key, "value": tok}
                cmds = [("SET", key, tok)]
            else:
                rec = {"w": "register", "f": "read", "key": key}
                cmds = [("INFO", "replication"), ("GET", key), ("INFO", "replication")]
        elif r < w["register"] + w["counter"]:
            key = f"n{self.rng.randrange(w['counters'])}"
            rec = {"w": "counter", "f": "incr", "key": key}
            cmds = [("INCR", key)]
        else:
            key = f"s{self.rng.randrange(w['sets'])}"
            rec = {"w": "set", "f": "add", "key": key, "value": tok}
            cmds = [("APPEND", key, tok + " ")]
        nid = self.target
        rec.update(client=self.cid, node=nid)
        rec["invoke"] = now()
        try:
            replies = self._call(nid, *cmds)
            rec["complete"] = now()
            if rec["f"] == "read":
                a, b = parse_info(replies[0]), parse_info(replies[2])
                if (a.get("tandem_role") == "leader" and b.get("tandem_role") == "leader"
                        and a.get("tandem_term") == b.get("tandem_term")):
                    rec["status"], rec["result"] = "ok", replies[1]
                else:
                    # served by a follower (allowed to be stale): not a
                    # linearizable read, so not part of the history
                    rec["status"], rec["error"] = "fail", "not served by a leader"
                    self._discover()
            else:
                rec["status"], rec["result"] = "ok", replies[0]
        except NodeDown as e:
            rec["complete"] = now()
            rec["status"], rec["error"] = "fail", f"connect: {e}"
            self._discover()
        except redis.ResponseError as e:
            rec["complete"] = now()
            msg = str(e)
            rec["error"] = msg
            rec["status"] = "unknown" if msg.startswith("UNKNOWN") else "fail"
            self._discover()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            rec["complete"] = now()
            rec["status"], rec["error"] = "unknown", f"{type(e).__name__}: {e}"
            self._discover()
        self.history.append(rec)


class Monitor(threading.Thread):
    """Polls INFO replication of every running node: (term, role) samples for
    the election-safety check; notices nodes that exit on their own."""

    def __init__(self, cluster, stop, interval=0.1):
        super().__init__(name="monitor", daemon=True)
        self.cluster, self.stop_event, self.interval = cluster, stop, interval
        self.samples = []        # (t, node, term, role, leader_id)
        self.unexpected_exits = []
        self.lock = threading.Lock()

    def run(self):
        while not self.stop_event.wait(self.interval):
            for i, node in list(self.cluster.nodes.items()):
                proc = node.proc
                if proc is not None and proc.poll() is not None and not node.killed:
                    with self.lock:
                        if not any(e[1] == i and e[2] == proc.pid for e in self.unexpected_exits):
                            self.unexpected_exits.append((now(), i, proc.pid, proc.returncode))
                if not node.up:
                    continue
                try:
                    info = node.info(timeout=0.3)
                except (redis.RedisError, OSError):
                    continue
                with self.lock:
                    self.samples.append((now(), i, int(info.get("tandem_term", -1)),
                                         info.get("tandem_role"),
                                         int(info.get("tandem_leader_id", 0) or 0)))


# ---------------------------------------------------------------------------
# nemesis

FAULTS = ["kill-leader", "kill-minority", "kill-all", "pause-leader", "pause-random",
          "isolate-leader", "split", "one-way-out", "one-way-in", "bridge", "blackhole-leader",
          "flaky", "client-cut-leader"]


class Nemesis:
    def __init__(self, cluster, rng, log):
        self.c = cluster
        self.rng = rng
        self.log = log
        self.faults = []   # dicts: name, start, end, detail

    def _leader_or_random(self):
        lid = self.c.leader()
        return lid if lid is not None else self.rng.choice(list(self.c.nodes))

    def _cut(self, pairs, mode="cut"):
        for a, b in pairs:
            self.c.proxies.set(f"{a}->{b}", mode=mode)

    def apply(self, name):
        """Starts fault `name`; returns (detail, heal function)."""
        c, ids = self.c, list(self.c.nodes)
        if name == "kill-leader":
            lid = self._leader_or_random()
            c.nodes[lid].kill()
            return f"SIGKILL node {lid} (leader)", lambda: c.nodes[lid].start()
        if name == "kill-minority":
            victims = self.rng.sample(ids, (len(ids) - 1) // 2)
            for v in victims:
                c.nodes[v].kill()
            return f"SIGKILL nodes {victims}", lambda: [c.nodes[v].start() for v in victims]
        if name == "kill-all":
            for v in ids:
                c.nodes[v].kill()
            return "SIGKILL all nodes", lambda: [c.nodes[v].start() for v in ids]
        if name in ("pause-leader", "pause-random"):
            v = self._leader_or_random() if name == "pause-leader" else self.rng.choice(ids)
            c.nodes[v].pause()
            return f"SIGSTOP node {v}", lambda: c.nodes[v].resume()
        if name in ("isolate-leader", "blackhole-leader"):
            lid = self._leader_or_random()
            pairs = [(lid, j) for j in ids if j != lid] + [(j, lid) for j in ids if j != lid]
            self._cut(pairs, "cut" if name == "isolate-leader" else "blackhole")
            return (f"{'cut' if name == 'isolate-leader' else 'black-hole'} peer links of node "
                    f"{lid} (leader; clients still reach it)"), c.proxies.heal
        if name == "split":
            minority = self.rng.sample(ids, (len(ids) - 1) // 2)
            majority = [i for i in ids if i not in minority]
            pairs = [(a, b) for a in minority for b in majority] + \
                    [(b, a) for a in minority for b in majority]
            self._cut(pairs)
            return f"partition {sorted(minority)} | {sorted(majority)}", c.proxies.heal
        if name == "one-way-out":
            lid = self._leader_or_random()
            self._cut([(lid, j) for j in ids if j != lid])
            return f"cut node {lid} (leader) -> others, one way", c.proxies.heal
        if name == "one-way-in":
            lid = self._leader_or_random()
            self._cut([(j, lid) for j in ids if j != lid])
            return f"cut others -> node {lid} (leader), one way", c.proxies.heal
        if name == "bridge":
            # ring: each node keeps links to its ring neighbours only (with 3
            # nodes: a bridge node sees both halves, which cannot see each other)
            order = ids[:]
            self.rng.shuffle(order)
            n = len(order)
            keep = set()
            for k in range(n):
                a, b = order[k], order[(k + 1) % n]
                if n == 3 and k == n - 1:
                    continue
                keep |= {(a, b), (b, a)}
            pairs = [(a, b) for a in ids for b in ids if a != b and (a, b) not in keep]
            self._cut(pairs)
            return f"ring/bridge {order}: cut {sorted(pairs)}", c.proxies.heal
        if name == "flaky":
            for link in c.peer_links():
                c.proxies.set(link, delay_ms=self.rng.choice([0, 10, 30]),
                              jitter_ms=self.rng.choice([20, 80, 150]),
                              drop_prob=self.rng.choice([0.0, 0.01, 0.03]))
            return "delay+jitter+random connection drops on every peer link", c.proxies.heal
        if name == "client-cut-leader":
            lid = self._leader_or_random()
            c.proxies.set(f"c->{lid}", mode="cut")
            return f"cut clients -> node {lid} (leader)", c.proxies.heal
        raise ValueError(name)

    def run_schedule(self, schedule, stop_at=None):
        for name, dur, quiet in schedule:
            if stop_at is not None and now() + dur > stop_at:
                break
            t = now()
            detail, heal = self.apply(name)
            self.log(f"  fault {name}: {detail} for {dur:.1f}s")
            time.sleep(dur)
            heal()
            self.faults.append({"name": name, "detail": detail, "start": t, "end": now()})
            time.sleep(quiet)


def make_schedule(rng, faults, duration, dmin=1.5, dmax=3.5, qmin=1.0, qmax=2.5):
    out = []
    total = 0.0
    while total < duration:
        name = rng.choice(faults)
        d = rng.uniform(dmin, dmax)
        if name.startswith("pause") or name == "kill-all":
            d = max(d, 2.5 * ELECTION_MS / 1000)   # longer than the election timeout
        q = rng.uniform(qmin, qmax)
        out.append((name, round(d, 2), round(q, 2)))
        total += d + q
    return out


# ---------------------------------------------------------------------------
# checks


def check_registers(history, max_seconds):
    ops = []
    for i, r in enumerate(history):
        if r["w"] != "register":
            continue
        if r["f"] == "write":
            ops.append(Op("write", r["value"], r["invoke"], r["complete"], r["status"],
                          key=r["key"], client=r["client"], id=i, note=f"node {r['node']}"))
        else:
            ops.append(Op("read", r.get("result"), r["invoke"], r["complete"], r["status"],
                          key=r["key"], client=r["client"], id=i, note=f"node {r['node']}"))
    return check(ops, max_seconds=max_seconds)


def check_counters(history, finals):
    anomalies = []
    by_key = defaultdict(lambda: {"ok": 0, "unknown": 0, "values": defaultdict(list)})
    for r in history:
        if r["w"] == "counter":
            k = by_key[r["key"]]
            if r["status"] == "ok":
                k["ok"] += 1
                k["values"][r["result"]].append(r)
            elif r["status"] == "unknown":
                k["unknown"] += 1
    for key, k in sorted(by_key.items()):
        final = int(finals.get(key) or 0)
        if not (k["ok"] <= final <= k["ok"] + k["unknown"]):
            anomalies.append({"check": "counter", "key": key,
                              "message": f"final {final} not within [acknowledged {k['ok']}, "
                                         f"acknowledged + unknown {k['ok'] + k['unknown']}]"})
        dups = {v: rs for v, rs in k["values"].items() if len(rs) > 1}
        if dups:
            v, rs = next(iter(dups.items()))
            anomalies.append({"check": "counter", "key": key, "ops": [history.index(x) for x in rs],
                              "message": f"{len(dups)} values returned by more than one "
                                         f"acknowledged INCR, e.g. {v} by {len(rs)} ops"})
    return anomalies


def check_sets(history, finals):
    anomalies = []
    by_key = defaultdict(list)
    for i, r in enumerate(history):
        if r["w"] == "set":
            by_key[r["key"]].append(i)
    for key, idxs in sorted(by_key.items()):
        toks = (finals.get(key) or "").split()
        present = set(toks)
        lost = [i for i in idxs if history[i]["status"] == "ok" and history[i]["value"] not in present]
        ghost = [i for i in idxs if history[i]["status"] == "fail" and history[i]["value"] in present]
        dup = len(toks) - len(present)
        if lost:
            anomalies.append({"check": "set", "key": key, "ops": lost,
                              "message": f"{len(lost)} acknowledged elements missing from the "
                                         f"final value ({len(present)} present)"})
        if ghost:
            anomalies.append({"check": "set", "key": key, "ops": ghost,
                              "message": f"{len(ghost)} elements whose APPEND failed definitely "
                                         f"are present"})
        if dup:
            anomalies.append({"check": "set", "key": key,
                              "message": f"{dup} elements appear more than once"})
    return anomalies


def check_elections(samples):
    leaders = defaultdict(set)
    for t, nid, term, role, _ in samples:
        if role == "leader":
            leaders[term].add(nid)
    bad = {t: sorted(n) for t, n in leaders.items() if len(n) > 1}
    return [{"check": "election", "message": f"term {t}: leaders {n}"} for t, n in sorted(bad.items())]


# ---------------------------------------------------------------------------
# one run


class RunConfig:
    def __init__(self, name="run", nodes=3, clients=10, seed=1, duration=30.0, durability="majority",
                 faults=None, schedule=None, out_dir=None, op_timeout=1.0, check_seconds=60.0,
                 workload=None, settle=3.0):
        self.name, self.nodes, self.clients, self.seed = name, nodes, clients, seed
        self.duration, self.durability = duration, durability
        self.faults = faults or FAULTS
        self.schedule = schedule
        self.out_dir = out_dir
        self.op_timeout = op_timeout
        self.check_seconds = check_seconds
        self.workload = workload or {"register": 0.45, "counter": 0.2, "set": 0.35,
                                     "registers": 3, "counters": 2, "sets": 2}
        self.settle = settle


def run(cfg, log=print):
    out_dir = cfg.out_dir or tempfile.mkdtemp(prefix=f"tandem-chaos-{cfg.name}-{cfg.seed}-")
    os.makedirs(out_dir, exist_ok=True)
    data_dir = os.path.join(out_dir, "cluster")
    shutil.rmtree(data_dir, ignore_errors=True)
    os.makedirs(data_dir)
    rng = random.Random(cfg.seed)
    schedule = cfg.schedule or make_schedule(rng, cfg.faults, cfg.duration)
    log(f"== {cfg.name}: seed {cfg.seed}, {cfg.nodes} nodes, {cfg.clients} clients, "
        f"durability {cfg.durability}, {len(schedule)} faults planned, output {out_dir}")
    cluster = Cluster(data_dir, cfg.nodes, cfg.durability, cfg.seed)
    stop_clients, stop_monitor = threading.Event(), threading.Event()
    clients, monitor = [], None
    anomalies, notes = [], []
    nemesis = Nemesis(cluster, rng, log)
    finals = {}
    history = []
    t_start = now()
    try:
        cluster.start_all()
        if cluster.wait_leader(60) is None:
            raise RuntimeError("no leader after start")
        monitor = Monitor(cluster, stop_monitor)
        monitor.start()
        clients = [Client(i, cluster, cfg.workload, cfg.seed, stop_clients, cfg.op_timeout)
                   for i in range(cfg.clients)]
        for c in clients:
            c.start()
        time.sleep(1.0)
        nemesis.run_schedule(schedule)
        # heal everything, restart what is down, let clients run on a healthy cluster
        cluster.proxies.heal()
        for node in cluster.nodes.values():
            node.resume()
        cluster.start_all()
        t_healed = now()
        lid = cluster.wait_leader(30)
        if lid is None:
            anomalies.append({"check": "liveness", "message": "no leader within 30 s of healing"})
        time.sleep(cfg.settle)
        stop_clients.set()
        for c in clients:
            c.join(cfg.op_timeout * 4 + 10)
        for c in clients:
            if c.crash:
                raise RuntimeError(f"client {c.cid} crashed:\n{c.crash}")
        history = sorted([r for c in clients for r in c.history], key=lambda r: r["invoke"])
        ok_after = sum(1 for r in history if r["invoke"] > t_healed and r["status"] == "ok"
                       and r["f"] != "read")
        if ok_after == 0:
            anomalies.append({"check": "liveness",
                              "message": "no write acknowledged after healing"})
        # final values, read on the leader (linearizable), and convergence
        keys = ([f"n{i}" for i in range(cfg.workload["counters"])]
                + [f"s{i}" for i in range(cfg.workload["sets"])])
        finals = read_finals(cluster, keys)
        if finals is None:
            anomalies.append({"check": "liveness", "message": "final reads failed for 30 s"})
            finals = {}
        digests = wait_digests(cluster, 30)
        if len(set(digests.values())) != 1:
            anomalies.append({"check": "digest", "message": f"replicas differ after healing: {digests}"})
        stop_monitor.set()
        monitor.join(5)
        for t, nid, pid, rc in monitor.unexpected_exits:
            anomalies.append({"check": "crash", "message": f"node {nid} (pid {pid}) exited with "
                                                          f"{rc} at +{t - t_start:.1f}s; see its log"})
        anomalies += check_elections(monitor.samples)
        anomalies += check_counters(history, finals)
        anomalies += check_sets(history, finals)
        lin = check_registers(history, cfg.check_seconds)
        for key, res in sorted(lin.per_key.items()):
            if res.verdict == "violation":
                anomalies.append({"check": "linearizability", "key": key, "message": res.message,
                                  "ops": sorted(o.id for o in res.witness if o.id is not None)})
            elif res.verdict == "inconclusive":
                notes.append(f"register {key}: INCONCLUSIVE ({res.message})")
    finally:
        stop_clients.set()
        stop_monitor.set()
        cluster.close()
    result = {
        "name": cfg.name, "seed": cfg.seed, "nodes": cfg.nodes, "clients": cfg.clients,
        "durability": cfg.durability, "out_dir": out_dir, "schedule": schedule,
        "faults": nemesis.faults, "anomalies": anomalies, "notes": notes,
        "inconclusive": any("INCONCLUSIVE" in n for n in notes),
        "t0": t_start, "elapsed": now() - t_start, "finals": finals,
        "leader_terms": len({s[2] for s in monitor.samples if s[3] == "leader"}) if monitor else 0,
    }
    result["counts"] = count_ops(history)
    with open(os.path.join(out_dir, "history.jsonl"), "w") as f:
        for r in history:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump({k: v for k, v in result.items()}, f, indent=1, default=str)
    result["timeline"] = write_timeline(os.path.join(out_dir, "timeline.html"), history, result)
    result["history"] = history
    print_report(result, log)
    return result


def read_finals(cluster, keys, timeout=30):
    deadline = now() + timeout
    while now() < deadline:
        lid = cluster.leader()
        if lid is not None:
            c = cluster.nodes[lid].client(5)
            try:
                vals = c.execute_command("INFO", "replication")
                if parse_info(vals).get("tandem_role") == "leader":
                    return {k: c.get(k) for k in keys}
            except (redis.RedisError, OSError):
                pass
            finally:
                c.close()
        time.sleep(0.1)
    return None


def wait_digests(cluster, timeout):
    deadline = now() + timeout
    digests = {}
    while now() < deadline:
        digests = {}
        for i, node in cluster.nodes.items():
            try:
                c = node.client(2)
                digests[i] = c.execute_command("DEBUG", "DIGEST")
                c.close()
            except (redis.RedisError, OSError) as e:
                digests[i] = f"error: {e}"
        if len(set(digests.values())) == 1 and not str(next(iter(digests.values()))).startswith("error"):
            return digests
        time.sleep(0.1)
    return digests


def count_ops(history):
    counts = defaultdict(lambda: defaultdict(int))
    for r in history:
        counts[r["w"]][r["status"]] += 1
        counts["all"][r["status"]] += 1
    return {w: dict(c) for w, c in counts.items()}


def print_report(res, log):
    c = res["counts"].get("all", {})
    total = sum(c.values())
    log("")
    log(f"{'run':<14} {'seed':>5} {'nodes':>5} {'durab.':>8} {'ops':>7} {'ok':>7} {'fail':>6} "
        f"{'unknown':>7} {'faults':>6} {'anomalies':>9}  result")
    verdict = "ANOMALY" if res["anomalies"] else ("INCONCLUSIVE" if res["inconclusive"] else "pass")
    log(f"{res['name']:<14} {res['seed']:>5} {res['nodes']:>5} {res['durability']:>8} {total:>7} "
        f"{c.get('ok', 0):>7} {c.get('fail', 0):>6} {c.get('unknown', 0):>7} "
        f"{len(res['faults']):>6} {len(res['anomalies']):>9}  {verdict}")
    for w in ("register", "counter", "set"):
        wc = res["counts"].get(w, {})
        log(f"    {w:<10} ok {wc.get('ok', 0):>6}  fail {wc.get('fail', 0):>6}  "
            f"unknown {wc.get('unknown', 0):>5}")
    log(f"    faults: " + ", ".join(f["name"] for f in res["faults"]))
    log(f"    leaders seen in {res['leader_terms']} terms; {res['elapsed']:.0f}s")
    for n in res["notes"]:
        log(f"    note: {n}")
    hist = res["history"]
    t0 = res["t0"]
    for a in res["anomalies"]:
        log(f"  ANOMALY [{a['check']}] {a.get('key', '')}: {a['message']}")
        ops = a.get("ops") or []
        if ops:
            shown = ops if a["check"] == "linearizability" else ops[:8]
            if a["check"] == "linearizability":
                log("    smallest non-linearizable sub-history (times in s from start):")
            else:
                log(f"    {len(ops)} ops, e.g. (times in s from start):")
            for i in shown:
                log("      " + describe(hist[i], t0))
    log(f"  timeline: {res['timeline']}")


def describe(r, t0):
    end = f"{r['complete'] - t0:8.3f}" if r.get("complete") else "?"
    what = {"write": f"SET {r['key']} {r.get('value')}",
            "read": f"GET {r['key']}" + (f" -> {r.get('result')!r}" if r["status"] == "ok" else ""),
            "incr": f"INCR {r['key']}" + (f" -> {r.get('result')}" if r["status"] == "ok" else ""),
            "add": f"APPEND {r['key']} {r.get('value')}"}[r["f"]]
    err = f"  [{r['error'][:70]}]" if r.get("error") else ""
    return (f"[{r['invoke'] - t0:8.3f} .. {end}] client {r['client']:<2} node {r['node']} "
            f"{r['status']:<7} {what}{err}")


COLORS = {"ok": "#3a3", "fail": "#c33", "unknown": "#e90"}


def write_timeline(path, history, res):
    t0 = res["t0"]
    t_end = max([r["complete"] for r in history] + [t0 + 1]) - t0
    width = max(1200, int(t_end * 60))
    clients = sorted({r["client"] for r in history})
    row_h = 18
    top = 30
    height = top + row_h * (len(clients) + 1) + 20
    xs = lambda t: 80 + (t - t0) / t_end * (width - 100)  # noqa: E731
    flagged = set()
    for a in res["anomalies"]:
        flagged.update(a.get("ops") or [])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="monospace" font-size="11">']
    for f in res["faults"]:
        x1, x2 = xs(f["start"]), xs(f["end"])
        parts.append(f'<rect x="{x1:.1f}" y="{top - 20}" width="{max(x2 - x1, 1):.1f}" '
                     f'height="{height - top}" fill="#88f" fill-opacity="0.15">'
                     f'<title>{html.escape(f["name"] + ": " + f["detail"])}</title></rect>')
        parts.append(f'<text x="{x1 + 2:.1f}" y="{top - 8}" fill="#449">{html.escape(f["name"])}</text>')
    for s in range(0, int(t_end) + 1, 5):
        parts.append(f'<line x1="{xs(t0 + s):.1f}" y1="{top}" x2="{xs(t0 + s):.1f}" '
                     f'y2="{height - 15}" stroke="#ddd"/><text x="{xs(t0 + s):.1f}" '
                     f'y="{height - 4}">{s}s</text>')
    for row, cid in enumerate(clients):
        y = top + row * row_h
        parts.append(f'<text x="2" y="{y + 12}">client {cid}</text>')
    rows = {cid: top + k * row_h for k, cid in enumerate(clients)}
    for i, r in enumerate(history):
        x1 = xs(r["invoke"])
        x2 = xs(r["complete"])
        y = rows[r["client"]]
        stroke = ' stroke="#000" stroke-width="2"' if i in flagged else ""
        tip = html.escape(describe(r, t0))
        parts.append(f'<rect x="{x1:.1f}" y="{y + 2}" width="{max(x2 - x1, 0.8):.1f}" height="13" '
                     f'fill="{COLORS[r["status"]]}"{stroke}><title>{tip}</title></rect>')
    parts.append("</svg>")
    c = res["counts"].get("all", {})
    body = (f"<h3>Tandem chaos run {html.escape(res['name'])}: seed {res['seed']}, "
            f"{res['nodes']} nodes, durability {res['durability']}</h3>"
            f"<p>ops ok {c.get('ok', 0)}, fail {c.get('fail', 0)}, unknown {c.get('unknown', 0)}; "
            f"{len(res['faults'])} faults (blue bands; hover for details); "
            f"bars: <span style='color:#3a3'>ok</span> / <span style='color:#c33'>fail</span> / "
            f"<span style='color:#e90'>unknown</span>; ops in an anomaly witness are outlined "
            f"black.</p><p>Anomalies: {len(res['anomalies'])}</p><ul>"
            + "".join(f"<li>[{html.escape(a['check'])}] {html.escape(str(a.get('key', '')))} "
                      f"{html.escape(a['message'])}</li>" for a in res["anomalies"])
            + "</ul>")
    with open(path, "w") as f:
        f.write(f"<!doctype html><html><head><meta charset='utf-8'><title>chaos {res['name']}"
                f"</title></head><body>{body}<div style='overflow-x:scroll'>{''.join(parts)}"
                f"</div></body></html>")
    return path


# ---------------------------------------------------------------------------
# schedules


def ci_configs(seed, out_root):
    base = os.path.join(out_root, "ci")
    s3 = [("kill-leader", 2.0, 1.5), ("isolate-leader", 2.5, 1.5), ("pause-leader", 1.5, 1.5),
          ("split", 2.5, 1.5), ("one-way-out", 2.0, 1.5), ("one-way-in", 2.0, 1.5),
          ("kill-minority", 2.0, 1.5), ("bridge", 2.5, 1.5), ("blackhole-leader", 2.5, 1.5),
          ("flaky", 3.0, 1.5), ("client-cut-leader", 1.5, 1.0), ("pause-random", 1.5, 1.0),
          ("kill-all", 1.5, 1.5)]
    s5 = [("split", 2.5, 1.5), ("bridge", 2.5, 1.5), ("kill-minority", 2.0, 1.5),
          ("isolate-leader", 2.5, 1.5), ("flaky", 2.5, 1.5)]
    return [RunConfig("ci-3nodes", nodes=3, seed=seed, schedule=s3,
                      out_dir=os.path.join(base, "3nodes")),
            RunConfig("ci-5nodes", nodes=5, seed=seed + 1, schedule=s5,
                      out_dir=os.path.join(base, "5nodes"))]


def unsafe_config(seed, out_dir=None, rounds=3):
    """--durability leader, the leader's peer links cut while clients keep
    writing to it: it acknowledges writes that no one else has, then a new
    leader is elected and they are rolled back. Must report anomalies."""
    sched = [("isolate-leader", 2.5, 2.0)] * rounds
    return RunConfig("unsafe-leader", nodes=3, seed=seed, durability="leader", schedule=sched,
                     out_dir=out_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of faults")
    ap.add_argument("--nodes", type=int, default=3, choices=(3, 5))
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--durability", default="majority", choices=("leader", "majority", "all"))
    ap.add_argument("--faults", default=",".join(FAULTS), help="comma-separated subset of " + ",".join(FAULTS))
    ap.add_argument("--out", default=None, help="output directory (default: a new temp dir)")
    ap.add_argument("--ci", action="store_true", help="short fixed schedule (3 and 5 nodes)")
    ap.add_argument("--unsafe", action="store_true",
                    help="--durability leader with leader isolation: must find anomalies")
    ap.add_argument("--check-seconds", type=float, default=60.0, help="checker budget per key")
    args = ap.parse_args()
    if not os.path.exists(TANDEMD):
        sys.exit(f"{TANDEMD} not found: ./scripts/build.sh tandemd tandemctl")

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    out_root = args.out or tempfile.mkdtemp(prefix="tandem-chaos-")
    if args.ci:
        configs = ci_configs(args.seed, out_root)
    elif args.unsafe:
        configs = [unsafe_config(args.seed, os.path.join(out_root, "unsafe"))]
    else:
        faults = [f for f in args.faults.split(",") if f]
        bad = [f for f in faults if f not in FAULTS]
        if bad:
            sys.exit(f"unknown faults {bad}")
        configs = [RunConfig("run", nodes=args.nodes, clients=args.clients, seed=args.seed,
                             duration=args.duration, durability=args.durability, faults=faults,
                             out_dir=os.path.join(out_root, "run"), check_seconds=args.check_seconds)]
    results = []
    try:
        for cfg in configs:
            results.append(run(cfg))
    except KeyboardInterrupt:
        print("interrupted; every process stopped")
        sys.exit(130)
    print("\nsummary:")
    for r in results:
        c = r["counts"].get("all", {})
        print(f"  {r['name']:<14} ops {sum(c.values()):>6} (ok {c.get('ok', 0)}, fail {c.get('fail', 0)}, "
              f"unknown {c.get('unknown', 0)}), faults {len(r['faults'])}, anomalies "
              f"{len(r['anomalies'])}{', INCONCLUSIVE' if r['inconclusive'] else ''}  {r['timeline']}")
    found = any(r["anomalies"] for r in results)
    if args.unsafe:
        sys.exit(0 if found else 1)
    sys.exit(1 if found or any(r["inconclusive"] for r in results) else 0)


if __name__ == "__main__":
    main()
