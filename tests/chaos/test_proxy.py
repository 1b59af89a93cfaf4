"""The proxy's modes against a local echo server."""
import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from proxy import ProxySet  # noqa: E402


@pytest.fixture
def echo():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve(c):
        with c:
            while True:
                try:
                    d = c.recv(4096)
                except OSError:
                    return
                if not d:
                    return
                c.sendall(d)

    def accept():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    yield srv.getsockname()[1]
    stop.set()
    srv.close()


@pytest.fixture
def proxies():
    p = ProxySet(seed=1)
    yield p
    p.close()


def roundtrip(port, data=b"hello", timeout=1.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            d = s.recv(4096)
            if not d:
                raise ConnectionError("closed")
            got += d
        return got


def test_pass_cut_blackhole_delay_drop(echo, proxies):
    port = proxies.add("a->b", echo)
    assert roundtrip(port) == b"hello"
    proxies.set("a->b", mode="cut")
    with pytest.raises((ConnectionError, OSError)):
        roundtrip(port)
    proxies.set("a->b", mode="blackhole")
    with pytest.raises(socket.timeout):
        roundtrip(port, timeout=0.3)
    proxies.heal()
    assert roundtrip(port) == b"hello"
    proxies.set("a->b", delay_ms=200)
    t = time.monotonic()
    assert roundtrip(port) == b"hello"
    assert time.monotonic() - t >= 0.35  # both directions delayed
    proxies.heal()
    proxies.set("a->b", drop_prob=1.0)
    with pytest.raises((ConnectionError, OSError)):
        roundtrip(port)
    proxies.heal()
    assert roundtrip(port) == b"hello"


def test_cut_closes_open_connections(echo, proxies):
    port = proxies.add("x", echo)
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    s.sendall(b"a")
    assert s.recv(10) == b"a"
    proxies.set("x", mode="cut")
    time.sleep(0.1)
    try:
        s.sendall(b"b")
        assert s.recv(10) == b""
    except OSError:
        pass
    s.close()
