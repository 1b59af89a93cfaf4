"""Fixtures that start real tandemd (and redis-server) processes on 127.0.0.1.

Every server is started on a free port with its own data dir, polled until it
answers PING (never a fixed sleep), and stopped at the end of the test.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("TANDEM_BUILD_DIR", os.path.join(ROOT, "build"))
TANDEMD = os.path.join(BUILD, "tandemd")

sys.path.insert(0, os.path.join(ROOT, "tests"))
from disk_fixtures import small_disk  # noqa: E402,F401  (a fixture for the tests here)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class TandemProcess:
    """One tandemd process. start() waits until it answers PING."""

    def __init__(self, data_dir, port=None, extra_args=(), password=None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.password = password
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(data_dir.rstrip("/")),
                                     os.path.basename(data_dir.rstrip("/")) + ".log")

    @property
    def args(self):
        args = [TANDEMD, "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
                "--log-level", "info"] + self.extra_args
        if self.password:
            args += ["--requirepass", self.password]
        return args

    def start(self, wait=True, timeout=20.0):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20.0):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"tandemd exited with {self.proc.returncode}: {self.log()}")
            try:
                return self.client(socket_timeout=1).ping()
            except (redis.ConnectionError, redis.TimeoutError):
                return False
            except redis.AuthenticationError:
                return True
            except redis.ResponseError as e:
                return "NOAUTH" in str(e)
        wait_until(ready, timeout, what=f"tandemd on port {self.port}")

    def client(self, **kwargs):
        kwargs.setdefault("socket_timeout", 10)
        kwargs.setdefault("decode_responses", True)
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **kwargs)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture
def tandem_factory(tmp_path):
    """Builds TandemProcess objects in tmp_path; stops them all afterwards."""
    procs = []

    def make(name="node", **kwargs):
        p = TandemProcess(str(tmp_path / name), **kwargs)
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.kill()


@pytest.fixture
def tandem(tandem_factory):
    """A running single-node tandemd with --fsync always."""
    return tandem_factory().start()


@pytest.fixture
def r(tandem):
    return tandem.client()


class RedisProcess:
    def __init__(self, workdir, args=()):
        self.port = free_port()
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir] + list(args),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._ready, 20, what="redis-server")

    def _ready(self):
        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.ConnectionError:
            return False

    def client(self, **kwargs):
        kwargs.setdefault("decode_responses", True)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    p = RedisProcess(str(tmp_path / "redis"))
    yield p
    p.stop()


def raw_exchange(port, payload, read_timeout=2.0):
    """Sends raw bytes, returns everything received until the server closes
    the connection or read_timeout passes with no data."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(payload)
        chunks = []
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except socket.timeout:
            pass
        return b"".join(chunks)
