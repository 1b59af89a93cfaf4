"""Process plumbing shared by the benchmark scripts: free ports, servers
started in their own process groups and killed on exit, on an exception and
on SIGINT/SIGTERM/SIGHUP (a benchmark never leaves servers behind); a small
RESP client with no dependencies; polling helpers; a 3-node Tandem cluster
and a redis-server with replicas started from scratch on 127.0.0.1; a write
load that follows the Tandem leader across failovers."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TANDEMD = os.path.join(os.environ.get("TANDEM_BUILD_DIR", os.path.join(ROOT, "build")),
                               "tandemd")

_children = []


def _kill_children():
    while _children:
        stop(_children[-1])


def _on_signal(signo, frame):
    _kill_children()
    sys.exit(128 + signo)


atexit.register(_kill_children)
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def spawn(argv, log_path=None):
    """Starts argv in its own process group; output discarded, or appended to
    log_path."""
    if log_path:
        with open(log_path, "ab") as log:
            log.write(f"---- start {' '.join(argv)}\n".encode())
            log.flush()
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    else:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    _children.append(p)
    return p


def stop(p):
    """Kills p's process group (SIGKILL) and reaps it."""
    if p in _children:
        _children.remove(p)
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()


def free_port(taken=()):
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def tail(path, chars=3000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - chars))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def wait_for(predicate, what, timeout=30.0, interval=0.02, check=None):
    """Polls predicate() until it returns a truthy value (returned). check()
    runs first on every round and raises if a server died; OSError and
    RespError from predicate count as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if check is not None:
            check()
        try:
            value = predicate()
            if value:
                return value
        except (OSError, RespError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}"
                               + (f" (last error: {last!r})" if last else ""))
        time.sleep(interval)


# --- a minimal RESP client ---


class RespError(Exception):
    """An error reply from the server."""


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One connection; call() sends a command and returns its reply (str for
    simple and bulk strings, int, list, None), raising RespError on an error
    reply and OSError on connection problems and timeouts."""

    def __init__(self, port, timeout=10.0, connect_timeout=2.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def read_reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line[:80]!r}")

    def call(self, *args):
        self.sock.sendall(resp(*args))
        reply = self.read_reply()
        if isinstance(reply, RespError):
            raise reply
        return reply

    def expect_ok(self, n):
        """Reads n replies that must all be +OK (raises LoadError if not)."""
        want = 5 * n
        got = self._exact(want)
        if got != b"+OK\r\n" * n:
            i = got.find(b"-")
            raise LoadError("unexpected reply while loading: "
                            f"{got[i:i + 200] if i >= 0 else got[:200]!r}")


class LoadError(Exception):
    """A pipelined load got a reply other than +OK."""


def load(port_of, batches, retries=0, on_retry=None, window=2, timeout=300.0, connections=1):
    """Sends pipelined batches ((bytes, count) pairs of SET commands that must
    each answer +OK) to port_of() over `connections` connections, each with
    `window` batches in flight. After an error reply or a connection error a
    connection calls on_retry(error) and sends its unacknowledged batches
    again (SET is idempotent) to a new port_of(), at most `retries` times in
    all; then the load raises. Returns the number of retries."""
    batches = iter(batches)
    lock = threading.Lock()
    state = {"failures": 0, "stop": False}

    def next_batch():
        with lock:
            return None if state["stop"] else next(batches, None)

    def worker():
        resend = []
        while True:
            conn = None
            inflight = []
            try:
                conn = Conn(port_of(), timeout=timeout)
                while True:
                    while len(inflight) < window:
                        b = resend.pop(0) if resend else next_batch()
                        if b is None:
                            break
                        conn.sock.sendall(b[0])
                        inflight.append(b)
                    if not inflight:
                        return
                    conn.expect_ok(inflight[0][1])
                    inflight.pop(0)
            except (LoadError, OSError) as e:
                resend = inflight + resend
                with lock:
                    state["failures"] += 1
                    if state["failures"] > retries:
                        state["stop"] = True
                        raise
                if on_retry is not None:
                    on_retry(e)
            finally:
                if conn is not None:
                    conn.close()

    if connections <= 1:
        worker()
        return state["failures"]
    errors = []

    def run():
        try:
            worker()
        except Exception as e:  # re-raised below
            with lock:
                state["stop"] = True
            errors.append(e)
    threads = [threading.Thread(target=run, daemon=True) for _ in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return state["failures"]


def call(port, *args, timeout=5.0):
    with Conn(port, timeout=timeout, connect_timeout=timeout) as c:
        return c.call(*args)


def parse_info(text):
    out = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def info(port, section="replication", timeout=2.0):
    return parse_info(call(port, "INFO", section, timeout=timeout))


def set_batches(keys, key_format, value_of, batch=1000):
    """(bytes, count) batches of SET key_format.format(i) value_of(i) for i in
    keys (a range)."""
    for start in range(keys.start, keys.stop, batch):
        stop_ = min(keys.stop, start + batch)
        yield (b"".join(resp(b"SET", key_format.format(i).encode(), value_of(i))
                        for i in range(start, stop_)), stop_ - start)


# --- servers ---


class Server:
    """One server process: argv, port, data dir, log file."""

    def __init__(self, name, argv, port, data_dir, log_path):
        self.name, self.argv, self.port = name, argv, port
        self.data_dir, self.log_path = data_dir, log_path
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        assert not self.running, f"{self.name} already running"
        os.makedirs(self.data_dir, exist_ok=True)
        self.proc = spawn(self.argv, self.log_path)
        return self

    def kill(self):
        """SIGKILL; a killed server is down, not dead (check() passes)."""
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def check(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} (port {self.port}) exited with "
                               f"{self.proc.returncode}; "
                               f"log {self.log_path}:\n{tail(self.log_path)}")

    def wipe(self):
        assert not self.running, "wipe a stopped server only"
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def ping(self):
        return call(self.port, "PING", timeout=1.0) == "PONG"

    def wait_ready(self, timeout=30.0):
        wait_for(self.ping, f"{self.name} to answer PING", timeout, check=self.check)

    def info(self, section="replication", timeout=2.0):
        return info(self.port, section, timeout)

    def dbsize(self, timeout=5.0):
        return call(self.port, "DBSIZE", timeout=timeout)


def _int(d, key, default=-1):
    try:
        return int(d.get(key, default))
    except (TypeError, ValueError):
        return default


class TandemCluster:
    """n tandemd nodes with one --cluster spec, each with its own port, data
    dir and log file under workdir."""

    def __init__(self, tandemd, workdir, n=3, flags=(), name="tandem", log_level="warn"):
        self.name = name
        ports = []
        for _ in range(n):
            ports.append(free_port(ports))
        spec = ",".join(f"{i + 1}=127.0.0.1:{p}" for i, p in enumerate(ports))
        self.nodes = []
        for i, port in enumerate(ports):
            d = os.path.join(workdir, f"{name}-{i + 1}")
            self.nodes.append(Server(f"{name} node {i + 1}",
                                     [tandemd, "--node-id", str(i + 1), "--listen",
                                      f"127.0.0.1:{port}", "--data-dir", d, "--cluster", spec,
                                      "--log-level", log_level] + list(flags),
                                     port, d, d + ".log"))

    def start(self, timeout=60.0):
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_ready(timeout)
        return self.wait_leader(timeout, all_agree=True)

    def stop(self):
        for node in self.nodes:
            node.kill()

    def check(self):
        for node in self.nodes:
            node.check()

    def up(self):
        return [n for n in self.nodes if n.running]

    def leader_now(self, all_agree=False, timeout=1.0):
        """The node that reports role:master with the highest term and that a
        majority (all_agree: every running node) follows in that term."""
        infos = {}
        for n in self.up():
            try:
                infos[n] = n.info(timeout=timeout)
            except (OSError, RespError):
                infos[n] = None
        masters = [(n, i) for n, i in infos.items() if i and i.get("role") == "master"]
        if not masters:
            return None
        leader, linfo = max(masters, key=lambda m: _int(m[1], "tandem_term"))
        term, lid = _int(linfo, "tandem_term"), _int(linfo, "tandem_node_id")
        agree = sum(1 for n, i in infos.items() if i and (n is leader or (
            i.get("role") == "slave" and _int(i, "tandem_leader_id") == lid
            and _int(i, "tandem_term") == term)))
        needed = len(infos) if all_agree else len(self.nodes) // 2 + 1
        return leader if agree >= needed else None

    def wait_leader(self, timeout=30.0, all_agree=False, exclude=()):
        def found():
            leader = self.leader_now(all_agree)
            return leader if leader is not None and leader not in exclude else None
        return wait_for(found, f"a {self.name} leader", timeout, check=self.check)

    def in_sync(self, leader):
        """Every running follower has applied the leader's last log index,
        and the leader has committed it. Raises LeaderLost if the leader no
        longer leads."""
        li = leader.info()
        if li.get("role") != "master":
            raise LeaderLost(f"{leader.name} no longer leads")
        last = _int(li, "tandem_last_log_index")
        if _int(li, "tandem_commit_index") != last:
            return False
        for n in self.up():
            if n is not leader:
                fi = n.info()
                if (fi.get("role") != "slave" or fi.get("master_link_status") != "up"
                        or _int(fi, "tandem_applied_index") < last):
                    return False
        return True

    def wait_sync(self, leader, timeout=300.0):
        wait_for(lambda: self.in_sync(leader), f"{self.name} followers to catch up", timeout,
                 interval=0.05, check=self.check)

    def settle(self, timeout=300.0):
        """Waits for a leader every running node follows and for every
        follower to apply its whole log; returns the leader (which may have
        changed)."""
        deadline = time.monotonic() + timeout
        while True:
            leader = self.wait_leader(max(1.0, deadline - time.monotonic()), all_agree=True)
            try:
                self.wait_sync(leader, max(1.0, deadline - time.monotonic()))
                return leader
            except LeaderLost:
                if time.monotonic() > deadline:
                    raise

    @staticmethod
    def term(node):
        return _int(node.info(), "tandem_term")


class LeaderLost(Exception):
    """The node we took for the leader no longer leads."""


class RedisGroup:
    """A redis-server master and n replicas, each with its own port and dir."""

    def __init__(self, workdir, replicas=2, flags=(), name="redis", master_flags=()):
        self.name = name
        ports = []
        for _ in range(replicas + 1):
            ports.append(free_port(ports))
        self.servers = []
        for i, port in enumerate(ports):
            d = os.path.join(workdir, f"{name}-{i}")
            extra = list(master_flags) if i == 0 else ["--replicaof", "127.0.0.1", str(ports[0])]
            self.servers.append(Server(f"{name} {'master' if i == 0 else f'replica {i}'}",
                                       ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                        "--dir", d, "--logfile", d + ".log"]
                                       + list(flags) + extra, port, d, d + ".log"))

    @property
    def master(self):
        return self.servers[0]

    @property
    def replicas(self):
        return self.servers[1:]

    def start(self, timeout=60.0):
        for s in self.servers:
            s.start()
        for s in self.servers:
            s.wait_ready(timeout)
        self.wait_sync(timeout)
        return self.master

    def stop(self):
        for s in self.servers:
            s.kill()

    def check(self):
        for s in self.servers:
            s.check()

    def in_sync(self):
        mi = self.master.info()
        offset = _int(mi, "master_repl_offset")
        if _int(mi, "connected_slaves", 0) != len(self.replicas):
            return False
        for r in self.replicas:
            ri = r.info()
            if (ri.get("master_link_status") != "up" or ri.get("master_sync_in_progress") != "0"
                    or _int(ri, "master_repl_offset") < offset):
                return False
        return True

    def wait_sync(self, timeout=120.0):
        wait_for(self.in_sync, f"{self.name} replicas to catch up", timeout, interval=0.05,
                 check=self.check)


# --- a write load that follows the Tandem leader ---


class WriteLoad:
    """Threads that each SET unique keys on the current Tandem leader, one at
    a time, finding the leader again (INFO replication on every running node)
    after any error, and record the time and node of every acknowledgement."""

    def __init__(self, cluster, prefix="w", threads=2, socket_timeout=3.0):
        self.cluster, self.prefix, self.n_threads = cluster, prefix, threads
        self.socket_timeout = socket_timeout
        self.lock = threading.Lock()
        self.acks = []       # (monotonic time, node)
        self.errors = 0
        self.crashes = []
        self.stop_event = threading.Event()
        self.threads = []

    def start(self):
        for t in range(self.n_threads):
            th = threading.Thread(target=self._run, args=(t,), daemon=True)
            th.start()
            self.threads.append(th)
        return self

    def _find(self):
        best = None
        for n in self.cluster.up():
            try:
                i = n.info(timeout=0.5)
            except (OSError, RespError):
                continue
            if i.get("role") == "master" and (best is None or _int(i, "tandem_term") > best[0]):
                best = (_int(i, "tandem_term"), n)
        return best[1] if best else None

    def _run(self, t):
        try:
            i, conn, node = 0, None, None
            while not self.stop_event.is_set():
                if conn is None:
                    node = self._find()
                    if node is None:
                        time.sleep(0.01)
                        continue
                    try:
                        conn = Conn(node.port, timeout=self.socket_timeout, connect_timeout=1.0)
                    except OSError:
                        time.sleep(0.01)
                        continue
                i += 1
                try:
                    conn.call("SET", f"{self.prefix}:{t}:{i}", f"v{i}")
                    with self.lock:
                        self.acks.append((time.monotonic(), node))
                except (OSError, RespError):
                    with self.lock:
                        self.errors += 1
                    conn.close()
                    conn = None
                    time.sleep(0.01)
            if conn is not None:
                conn.close()
        except Exception as e:  # a bug here must not pass silently
            self.crashes.append(repr(e))

    def count_after(self, t):
        with self.lock:
            return sum(1 for a in self.acks if a[0] > t)

    def first_ack_after(self, t, not_node=None):
        with self.lock:
            times = [a[0] for a in self.acks if a[0] > t and a[1] is not not_node]
        return min(times) if times else None

    def stop(self):
        self.stop_event.set()
        for th in self.threads:
            th.join(timeout=30)
        if self.crashes:
            raise RuntimeError(f"write load threads crashed: {self.crashes}")
