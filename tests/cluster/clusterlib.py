"""Helpers that drive a cluster of real tandemd processes on 127.0.0.1.

A Cluster owns N nodes (one tandemd each, own port, own data dir and log file)
started with the same --cluster spec. Tests start, SIGKILL, SIGSTOP/SIGCONT,
restart and wipe nodes, find the leader by polling INFO replication, and wait
until every replica holds the same data (DEBUG DIGEST). Nothing sleeps a fixed
time except inside bounded polls; every process is killed at teardown.

Write outcomes follow product.md: a reply of OK is an acknowledged write; an
error starting with UNKNOWN, a connection error or a timeout means "maybe
applied"; any other error is a definite failure (the write was not applied).
"""
import ctypes
import os
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("TANDEM_BUILD_DIR", os.path.join(ROOT, "build"))
TANDEMD = os.path.join(BUILD, "tandemd")

# Timing that keeps tests fast: a SIGKILLed leader is replaced within about
# half a second. Tests of the product's default timing pass timing=().
FAST_TIMING = ("--heartbeat-ms", "50", "--election-timeout-ms", "300")

READONLY_TEXT = "READONLY You can't write against a read only replica."

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # A tandemd started by the test runner's main thread dies with the runner,
    # so an aborted run leaves no server behind.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls predicate until it returns a truthy value (returned) or timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (redis.RedisError, OSError) as e:
            last_error = e
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}{suffix}")
        time.sleep(interval)


def parse_info(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        out[k] = v
    return out


class Node:
    """One tandemd process of a cluster."""

    def __init__(self, cluster, node_id, port, data_dir, log_path, extra_args=()):
        self.cluster = cluster
        self.id = node_id
        self.port = port
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.proc = None
        self.paused = False
        self.password = cluster.password

    def __repr__(self):
        return f"<node {self.id} :{self.port} {'paused' if self.paused else 'running' if self.running else 'down'}>"

    @property
    def address(self):
        return ("127.0.0.1", self.port)

    @property
    def args(self):
        c = self.cluster
        return ([TANDEMD, "--node-id", str(self.id), "--listen", f"127.0.0.1:{self.port}",
                 "--data-dir", self.data_dir, "--cluster", c.spec,
                 "--durability", c.durability, "--log-level", c.log_level]
                + list(c.timing) + list(c.extra_args) + self.extra_args
                + (["--requirepass", self.password] if self.password else []))

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def up(self):
        """Running and not SIGSTOPped: expected to answer."""
        return self.running and not self.paused

    def start(self, wait=True, timeout=20.0):
        assert not self.running, f"node {self.id} already running"
        with open(self.log_path, "ab") as log:
            log.write(f"---- start {' '.join(self.args)}\n".encode())
            log.flush()
            kwargs = {}
            if threading.current_thread() is threading.main_thread():
                kwargs["preexec_fn"] = _die_with_parent
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, **kwargs)
        self.paused = False
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20.0):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.id} exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                return self.client(socket_timeout=1, socket_connect_timeout=1).ping()
            except (redis.ConnectionError, redis.TimeoutError):
                return False
        wait_until(ready, timeout, what=f"node {self.id} to answer PING")

    def kill(self, sig=signal.SIGKILL):
        if self.running:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.paused = False

    def stop(self):
        """SIGTERM (clean shutdown), SIGKILL if it does not exit in 30 s."""
        if self.running:
            if self.paused:
                self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def pause(self):
        assert self.running
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        if self.running:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def restart(self, wait=True):
        self.kill()
        return self.start(wait=wait)

    def wipe(self):
        assert not self.running, "wipe a stopped node only"
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def client(self, **kwargs):
        kwargs.setdefault("socket_timeout", 10)
        kwargs.setdefault("socket_connect_timeout", 2)
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("password", self.password)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def info(self, section="replication", timeout=2.0):
        c = self.client(socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            raw = c.execute_command("INFO", section)
            if isinstance(raw, dict):  # redis-py already parsed it
                return {k: v if isinstance(v, dict) else str(v) for k, v in raw.items()}
            return parse_info(raw)
        finally:
            c.close()

    def try_info(self, section="replication", timeout=1.0):
        if not self.up:
            return None
        try:
            return self.info(section, timeout)
        except (redis.RedisError, OSError):
            return None

    def digest(self, timeout=5.0):
        c = self.client(socket_timeout=timeout)
        try:
            return c.execute_command("DEBUG", "DIGEST")
        finally:
            c.close()

    def dbsize(self):
        c = self.client()
        try:
            return c.dbsize()
        finally:
            c.close()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars=6000):
        return self.log_text()[-chars:]


def _role(info):
    return info.get("role") if info else None


def _int(info, key, default=-1):
    try:
        return int(info.get(key, default))
    except (TypeError, ValueError):
        return default


class Cluster:
    def __init__(self, base_dir, n=3, durability="majority", timing=FAST_TIMING, extra_args=(),
                 node_args=None, log_level="info", cluster_id=None, password=None):
        self.base_dir = str(base_dir)
        self.password = password
        self.durability = durability
        self.timing = tuple(timing)
        self.extra_args = list(extra_args)
        if cluster_id:
            self.extra_args += ["--cluster-id", cluster_id]
        self.cluster_id = cluster_id or "tandem"
        self.log_level = log_level
        self.nodes = {}
        node_args = node_args or {}
        ports = {}
        for i in range(1, n + 1):
            port = free_port()
            while port in ports.values():
                port = free_port()
            ports[i] = port
        self.spec = ",".join(f"{i}=127.0.0.1:{p}" for i, p in ports.items())
        for i, port in ports.items():
            self.nodes[i] = Node(self, i, port, os.path.join(self.base_dir, f"node-{i}"),
                                 os.path.join(self.base_dir, f"node-{i}.log"), node_args.get(i, ()))

    # --- lifecycle ---

    def start(self, wait_leader=True, timeout=30.0):
        for node in self.nodes.values():
            node.start(wait=False)
        for node in self.nodes.values():
            node.wait_ready(timeout)
        if wait_leader:
            return self.wait_leader(timeout, all_agree=True)
        return None

    def kill_all(self):
        for node in self.nodes.values():
            node.kill()

    def node(self, i):
        return self.nodes[i]

    def __iter__(self):
        return iter(self.nodes.values())

    def __len__(self):
        return len(self.nodes)

    @property
    def majority(self):
        return len(self.nodes) // 2 + 1

    def up_nodes(self):
        return [n for n in self.nodes.values() if n.up]

    def node_by_port(self, port):
        for n in self.nodes.values():
            if n.port == int(port):
                return n
        return None

    # --- leadership ---

    def infos(self, nodes=None, timeout=1.0):
        nodes = nodes if nodes is not None else self.up_nodes()
        return {n.id: n.try_info("replication", timeout) for n in nodes}

    def leader_now(self, timeout=1.0, all_agree=False):
        """The node that leads now with the agreement of a majority, or None.

        A candidate reports role:master; among those the highest term wins.
        Agreement: a majority of the cluster (counting the leader) reports the
        same term and tandem_leader_id equal to its id.
        """
        infos = self.infos(timeout=timeout)
        masters = [(i, info) for i, info in infos.items() if _role(info) == "master"]
        if not masters:
            return None
        lid, linfo = max(masters, key=lambda m: _int(m[1], "tandem_term"))
        term = _int(linfo, "tandem_term")
        agree = 0
        for i, info in infos.items():
            if not info:
                continue
            if i == lid:
                agree += 1
            elif (_int(info, "tandem_leader_id") == lid and _int(info, "tandem_term") == term
                  and _role(info) == "slave"):
                agree += 1
        needed = len([i for i in infos]) if all_agree else self.majority
        if agree >= needed:
            return self.nodes[lid]
        return None

    def wait_leader(self, timeout=15.0, exclude=(), all_agree=False):
        """The leader agreed by a majority (all_agree: by every running,
        unpaused node, so that each follower has heard from it)."""
        exclude_ids = {getattr(n, "id", n) for n in exclude}

        def found():
            leader = self.leader_now(all_agree=all_agree)
            return leader if leader is not None and leader.id not in exclude_ids else None
        return wait_until(found, timeout, interval=0.02,
                          what=f"a leader agreed by a majority (excluding {sorted(exclude_ids)})")

    def followers(self, leader=None):
        leader = leader or self.wait_leader()
        return [n for n in self.nodes.values() if n.id != leader.id]

    # --- convergence ---

    def digests(self, nodes=None):
        nodes = nodes if nodes is not None else self.up_nodes()
        out = {}
        for n in nodes:
            try:
                out[n.id] = n.digest(timeout=2.0)
            except (redis.RedisError, OSError) as e:
                out[n.id] = f"error: {e}"
        return out

    def wait_converged(self, nodes=None, timeout=30.0):
        """Waits until every given node (default: every running, unpaused
        node) returns the same DEBUG DIGEST; returns it."""
        last = {}

        def equal():
            nonlocal last
            last = self.digests(nodes)
            values = set(last.values())
            if len(values) == 1:
                value = values.pop()
                return value if not value.startswith("error") else None
            return None
        try:
            return wait_until(equal, timeout, interval=0.05, what="equal digests")
        except TimeoutError as e:
            applied = {i: (info or {}).get("tandem_applied_index") for i, info in self.infos().items()}
            raise TimeoutError(f"{e}: digests {last}, applied indexes {applied}") from None

    def logs(self, chars=5000):
        parts = []
        for n in self.nodes.values():
            parts.append(f"===== node {n.id} (port {n.port}) {n.log_path}\n{n.log_tail(chars)}")
        return "\n".join(parts)


# --- write outcomes and load ---


def classify(exc):
    """'maybe' for outcome-unknown errors, 'failed' for definite errors."""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)):
        return "maybe"
    if isinstance(exc, redis.ResponseError) and str(exc).startswith("UNKNOWN"):
        return "maybe"
    return "failed"


class Outcomes:
    """Per-write outcomes of a load, thread-safe. A write is identified by
    (kind, key, field, value); each is issued once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = []    # (kind, key, field, value, t_ack, node_id)
        self.maybe = []    # (kind, key, field, value, error)
        self.failed = []   # (kind, key, field, value, error)

    def add_acked(self, w, t, node_id):
        with self.lock:
            self.acked.append(w + (t, node_id))

    def add_maybe(self, w, err):
        with self.lock:
            self.maybe.append(w + (err,))

    def add_failed(self, w, err):
        with self.lock:
            self.failed.append(w + (err,))

    def acked_after(self, t):
        with self.lock:
            return [a for a in self.acked if a[4] > t]

    def first_ack_after(self, t, not_node=None):
        with self.lock:
            times = [a[4] for a in self.acked if a[4] > t and a[5] != not_node]
        return min(times) if times else None

    def summary(self):
        with self.lock:
            errors = {}
            for w in self.maybe + self.failed:
                text = str(w[4]).split(":")[0][:60]
                errors[text] = errors.get(text, 0) + 1
            return (f"{len(self.acked)} acked, {len(self.maybe)} maybe, {len(self.failed)} failed; "
                    f"errors {errors}")


def read_writes(client, writes):
    """Reads the current values of writes (tuples starting kind, key, field)
    in batches; returns a list of values."""
    out = []
    batch = 500
    for start in range(0, len(writes), batch):
        chunk = writes[start:start + batch]
        pipe = client.pipeline(transaction=False)
        for w in chunk:
            if w[0] == "set":
                pipe.get(w[1])
            else:
                pipe.hget(w[1], w[2])
        out.extend(pipe.execute())
    return out


def check_writes(node, outcomes, check_failed=True):
    """Every acknowledged write is on node; no definitely failed write is."""
    c = node.client(socket_timeout=20)
    try:
        acked = list(outcomes.acked)
        values = read_writes(c, acked)
        missing = [(w, got) for w, got in zip(acked, values) if got != w[3]]
        if missing:
            t0 = min(a[4] for a in acked)
            by_node = {}
            for w, _ in missing:
                by_node[w[5]] = by_node.get(w[5], 0) + 1
            examples = [(w[:4], got, f"acked by node {w[5]} at +{w[4] - t0:.3f}s")
                        for w, got in missing[:5]]
            span = (f"+{min(w[4] for w, _ in missing) - t0:.3f}s.."
                    f"+{max(w[4] for w, _ in missing) - t0:.3f}s")
            raise AssertionError(f"node {node.id} lacks {len(missing)} of {len(acked)} acknowledged "
                                 f"writes (acked by nodes {by_node}, in {span}), e.g. {examples}")
        if check_failed:
            failed = list(outcomes.failed)
            values = read_writes(c, failed)
            present = [(w[:4], w[4]) for w, got in zip(failed, values) if got is not None]
            assert not present, (f"node {node.id} holds {len(present)} writes that got a definite "
                                 f"error, e.g. {present[:5]}")
    finally:
        c.close()


class LeaderFinder:
    """How a load thread finds the leader: asks the nodes it believes are up
    (the harness knows which it stopped) for INFO replication and takes the
    master with the highest term."""

    def __init__(self, cluster):
        self.cluster = cluster

    def find(self):
        best = None
        for n in self.cluster.up_nodes():
            info = n.try_info("replication", timeout=0.5)
            if _role(info) == "master":
                if best is None or _int(info, "tandem_term") > best[0]:
                    best = (_int(info, "tandem_term"), n)
        return best[1] if best else None


class WriteLoad:
    """Threads that each write unique keys (SET, every fourth an HSET) to the
    current leader, re-discovering it after any error, and record every
    outcome. Start with start(), stop with stop()."""

    def __init__(self, cluster, prefix="w", threads=3, socket_timeout=3.0, pause_s=0.0,
                 hset_every=4, pin=None):
        self.cluster = cluster
        self.pin = pin  # a Node: write to it only, never re-discover
        self.prefix = prefix
        self.n_threads = threads
        self.socket_timeout = socket_timeout
        self.pause_s = pause_s
        self.hset_every = hset_every
        self.outcomes = Outcomes()
        self.stop_event = threading.Event()
        self.threads = []
        self.finder = LeaderFinder(cluster)
        self.errors = []

    def start(self):
        for t in range(self.n_threads):
            th = threading.Thread(target=self._run, args=(t,), daemon=True)
            th.start()
            self.threads.append(th)
        return self

    def _run(self, t):
        try:
            self._loop(t)
        except Exception as e:  # a bug in the harness must not pass silently
            self.errors.append(repr(e))

    def _loop(self, t):
        i = 0
        node = None
        client = None
        while not self.stop_event.is_set():
            if client is None:
                node = self.pin if self.pin is not None else self.finder.find()
                if node is None:
                    time.sleep(0.02)
                    continue
                client = node.client(socket_timeout=self.socket_timeout,
                                     socket_connect_timeout=1)
            if self.hset_every and i % self.hset_every == self.hset_every - 1:
                w = ("hset", f"{self.prefix}:h{t}:{i // 1000}", f"f{i}", f"v{t}.{i}")
            else:
                w = ("set", f"{self.prefix}:{t}:{i}", None, f"v{t}.{i}")
            i += 1
            try:
                if w[0] == "set":
                    client.set(w[1], w[3])
                else:
                    client.hset(w[1], w[2], w[3])
                self.outcomes.add_acked(w, time.monotonic(), node.id)
            except redis.RedisError as e:
                kind = classify(e)
                if kind == "maybe":
                    self.outcomes.add_maybe(w, str(e) or type(e).__name__)
                else:
                    self.outcomes.add_failed(w, str(e))
                client.close()
                client = None
                time.sleep(0.05 if self.pin is not None else 0.01)
            if self.pause_s:
                time.sleep(self.pause_s)
        if client is not None:
            client.close()

    def wait_acks(self, count, timeout=15.0, after=None):
        after = after if after is not None else -1.0
        return wait_until(lambda: len(self.outcomes.acked_after(after)) >= count, timeout,
                          what=f"{count} acknowledged writes ({self.outcomes.summary()})")

    def stop(self):
        self.stop_event.set()
        for th in self.threads:
            th.join(timeout=60)
        assert not any(th.is_alive() for th in self.threads), "a load thread did not stop"
        assert not self.errors, f"load threads crashed: {self.errors}"
        return self.outcomes


class SentinelWriter:
    """One thread writing through redis-py's Sentinel (master_for), the way an
    application would: it knows only the node addresses and the cluster id."""

    def __init__(self, cluster, prefix="s", service=None):
        from redis.sentinel import Sentinel
        self.sentinel = Sentinel([n.address for n in cluster],
                                 sentinel_kwargs={"socket_timeout": 0.5,
                                                  "socket_connect_timeout": 0.5},
                                 socket_timeout=2, socket_connect_timeout=1)
        self.service = service or cluster.cluster_id
        self.prefix = prefix
        self.outcomes = Outcomes()
        self.stop_event = threading.Event()
        self.thread = None
        self.errors = []

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        from redis.sentinel import MasterNotFoundError
        try:
            master = self.sentinel.master_for(self.service, decode_responses=True)
            i = 0
            while not self.stop_event.is_set():
                w = ("set", f"{self.prefix}:{i}", None, f"s{i}")
                i += 1
                try:
                    master.set(w[1], w[3])
                    addr = getattr(master.connection_pool, "master_address", None)
                    self.outcomes.add_acked(w, time.monotonic(), addr[1] if addr else None)
                except MasterNotFoundError as e:
                    self.outcomes.add_failed(w, f"MasterNotFoundError {e}")
                    time.sleep(0.05)
                except redis.RedisError as e:
                    if classify(e) == "maybe":
                        self.outcomes.add_maybe(w, str(e) or type(e).__name__)
                    else:
                        self.outcomes.add_failed(w, str(e))
                    time.sleep(0.02)
        except Exception as e:
            self.errors.append(repr(e))

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        assert not self.errors, f"sentinel writer crashed: {self.errors}"
        return self.outcomes


def percentile_summary(values):
    values = sorted(values)
    return {"n": len(values), "median": statistics.median(values), "max": values[-1],
            "min": values[0]}
