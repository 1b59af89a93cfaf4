#!/usr/bin/python3
"""Memory per key: loads the same keys into tandemd and redis-server and
prints the RSS growth per key of each and the ratio Tandem/Redis.

Usage: bench/memory_per_key.py [--keys 1000000] [--tandemd PATH]
                               [--key-format key:{}] [--value-format value:{}]

Each server starts empty; the script reads its VmRSS, loads SET key:N value:N
for N in [0, keys) through one connection with 1000 commands per pipelined
batch, waits for the replies, settles for a moment, reads VmRSS again and
reports (after - before) / keys. tandemd runs with --fsync no (the log is
written but the measurement is of the process's memory), redis-server with
--save "" --appendonly no. Servers run in their own process groups and are
killed on exit, on an exception and on SIGINT/SIGTERM/SIGHUP.
"""
import argparse
import os
import shutil
import socket
import sys
import tempfile
import time

from benchlib import DEFAULT_TANDEMD, free_port, spawn, stop

BATCH = 1000




def connect(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.sendall(b"PING\r\n")
            if s.recv(64).startswith(b"+PONG"):
                return s
            s.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"server on port {port} did not answer PING")


def start(argv, port):
    proc = spawn(argv)
    return proc, connect(port, proc)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def load(sock, keys, key_format, value_format):
    expected = b"+OK\r\n" * BATCH
    for start in range(0, keys, BATCH):
        n = min(BATCH, keys - start)
        sock.sendall(b"".join(resp(b"SET", key_format.format(i).encode(),
                                   value_format.format(i).encode())
                              for i in range(start, start + n)))
        want = len(b"+OK\r\n") * n
        got = b""
        while len(got) < want:
            chunk = sock.recv(want - len(got))
            if not chunk:
                raise RuntimeError("connection closed while loading")
            got += chunk
        if got != expected[:want]:
            raise RuntimeError(f"unexpected reply while loading: {got[:200]!r}")


def dbsize(sock):
    sock.sendall(b"DBSIZE\r\n")
    return int(sock.recv(64).split(b"\r\n")[0][1:])


def measure(name, argv, port, args):
    proc, sock = start(argv, port)
    time.sleep(0.5)
    before = rss_bytes(proc.pid)
    t0 = time.monotonic()
    load(sock, args.keys, args.key_format, args.value_format)
    seconds = time.monotonic() - t0
    time.sleep(1.0)
    after = rss_bytes(proc.pid)
    n = dbsize(sock)
    if n != args.keys:
        raise RuntimeError(f"{name}: DBSIZE {n}, expected {args.keys}")
    sock.close()
    stop(proc)
    per_key = (after - before) / args.keys
    print(f"  {name}: RSS {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB, "
          f"{per_key:.1f} bytes/key, loaded in {seconds:.1f} s", file=sys.stderr)
    return before, after, per_key


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--tandemd", default=DEFAULT_TANDEMD)
    ap.add_argument("--key-format", default="key:{}")
    ap.add_argument("--value-format", default="value:{}")
    args = ap.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (scripts/install-deps.sh)")
    if not os.access(args.tandemd, os.X_OK):
        sys.exit(f"{args.tandemd} is missing: run ./scripts/build.sh")
    workdir = tempfile.mkdtemp(prefix="tandem-mem-")
    try:
        tport = free_port()
        t = measure("tandemd", [args.tandemd, "--listen", f"127.0.0.1:{tport}", "--data-dir",
                                os.path.join(workdir, "tandem"), "--fsync", "no",
                                "--log-level", "warn"], tport, args)
        rport = free_port()
        r = measure("redis-server", ["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--dir", workdir],
                    rport, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{args.keys} keys {args.key_format} -> {args.value_format}, RSS growth per key\n")
    print("| server | RSS before MiB | RSS after MiB | bytes/key |")
    print("|---|---|---|---|")
    for name, (before, after, per_key) in (("tandemd", t), ("redis-server", r)):
        print(f"| {name} | {before / 2**20:.1f} | {after / 2**20:.1f} | {per_key:.1f} |")
    print(f"\nratio Tandem/Redis: {t[2] / r[2]:.2f}")


if __name__ == "__main__":
    main()
