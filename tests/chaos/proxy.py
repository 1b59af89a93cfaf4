"""Controllable TCP proxies, one per directed link, on one asyncio loop.

Each `Link` listens on 127.0.0.1:<port> and forwards every accepted
connection to a target address. Its mode can be changed at any time from any
thread (`ProxySet` runs the loop in a background thread):

  pass       forward bytes both ways (optionally delayed)
  cut        close every open connection and refuse new ones (a new
             connection is accepted and closed at once, so the dialer sees
             a reset/EOF rather than a hang)
  blackhole  keep connections open and accept new ones, but read and drop
             every byte in both directions (the peer sees silence, as with a
             dead host; its own timeouts must notice)

and two degradations that apply while in pass mode:

  delay_ms   every chunk is held this long (plus up to jitter_ms) before it
             is forwarded; order within a connection is kept (TCP), so
             reordering only happens between different links
  drop_prob  on a TCP stream one cannot drop a segment without corrupting the
             stream, so "drop" means: each chunk, with this probability,
             closes the connection (both sides), losing whatever was in
             flight; the dialer reconnects

A peer link i->j carries what node i sends to node j (node j answers on its
own link j->i, except the handshake reply). A client link carries a client's
commands to one node and the replies back.
"""
import asyncio
import random
import socket
import threading
import time


class Link:
    def __init__(self, name, target_port, port=0, seed=0):
        self.name = name
        self.target = ("127.0.0.1", target_port)
        self.port = port
        self.mode = "pass"
        self.delay_ms = 0.0
        self.jitter_ms = 0.0
        self.drop_prob = 0.0
        self.rng = random.Random(seed)
        self.server = None
        self.conns = set()   # (client_writer, upstream_writer)
        self.stats = {"accepted": 0, "refused": 0, "bytes": 0, "dropped_conns": 0}

    def describe(self):
        extra = []
        if self.delay_ms or self.jitter_ms:
            extra.append(f"delay {self.delay_ms:.0f}+{self.jitter_ms:.0f}ms")
        if self.drop_prob:
            extra.append(f"drop {self.drop_prob:.2f}")
        return self.mode + (" " + ",".join(extra) if extra else "")

    async def start(self, sock):
        self.server = await asyncio.start_server(self._on_accept, sock=sock)

    def _close_all(self):
        for cw, uw in list(self.conns):
            for w in (cw, uw):
                try:
                    w.transport.abort()
                except Exception:
                    pass
        self.conns.clear()

    async def _on_accept(self, reader, writer):
        if self.mode == "cut":
            self.stats["refused"] += 1
            writer.transport.abort()
            return
        try:
            ur, uw = await asyncio.wait_for(asyncio.open_connection(*self.target), 2.0)
        except (OSError, asyncio.TimeoutError):
            writer.transport.abort()
            return
        if self.mode == "cut":
            writer.transport.abort()
            uw.transport.abort()
            return
        self.stats["accepted"] += 1
        pair = (writer, uw)
        self.conns.add(pair)
        t1 = asyncio.ensure_future(self._pump(reader, uw, pair))
        t2 = asyncio.ensure_future(self._pump(ur, writer, pair))
        await asyncio.wait([t1, t2], return_when=asyncio.FIRST_COMPLETED)
        for t in (t1, t2):
            t.cancel()
        for w in pair:
            try:
                w.transport.abort()
            except Exception:
                pass
        self.conns.discard(pair)

    async def _pump(self, reader, writer, pair):
        # Chunks go through a queue so a delay holds each chunk for its own
        # deadline while reading continues (bandwidth is not throttled).
        queue = asyncio.Queue()

        async def sender():
            while True:
                due, data = await queue.get()
                if data is None:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if pair not in self.conns:
                    return
                writer.write(data)
                await writer.drain()

        st = asyncio.ensure_future(sender())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if pair not in self.conns:
                    break
                if self.mode == "blackhole":
                    continue
                if self.drop_prob and self.rng.random() < self.drop_prob:
                    self.stats["dropped_conns"] += 1
                    break
                self.stats["bytes"] += len(data)
                delay = self.delay_ms + (self.rng.random() * self.jitter_ms if self.jitter_ms else 0)
                queue.put_nowait((time.monotonic() + delay / 1000.0, data))
                if st.done():
                    break
            # Flush what is queued (normal EOF) unless the link was cut.
            queue.put_nowait((0, None))
            if pair in self.conns and self.mode == "pass":
                try:
                    await asyncio.wait_for(st, 5)
                except Exception:
                    pass
        finally:
            st.cancel()


class ProxySet:
    """All links of a run, on one event loop in a daemon thread."""

    def __init__(self, seed=0):
        self.links = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="proxies", daemon=True)
        self.thread.start()
        self.seed = seed
        self._closed = False

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _call(self, fn, *args, timeout=10):
        async def wrapper():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def add(self, name, target_port):
        """Creates a link to target_port on a fresh port; returns that port."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        link = Link(name, target_port, sock.getsockname()[1], seed=hash((self.seed, name)) & 0xffffffff)
        asyncio.run_coroutine_threadsafe(link.start(sock), self.loop).result(10)
        self.links[name] = link
        return link.port

    def set(self, name, mode=None, delay_ms=None, jitter_ms=None, drop_prob=None):
        link = self.links[name]

        def apply():
            if delay_ms is not None:
                link.delay_ms = delay_ms
            if jitter_ms is not None:
                link.jitter_ms = jitter_ms
            if drop_prob is not None:
                link.drop_prob = drop_prob
            if mode is not None:
                link.mode = mode
                if mode == "cut":
                    link._close_all()
        self._call(apply)

    def heal(self, names=None):
        for name in (names or list(self.links)):
            self.set(name, mode="pass", delay_ms=0, jitter_ms=0, drop_prob=0)

    def state(self):
        return {n: l.describe() for n, l in self.links.items()}

    def close(self):
        if self._closed:
            return
        self._closed = True

        async def shutdown():
            for link in self.links.values():
                link._close_all()
                if link.server:
                    link.server.close()
        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
