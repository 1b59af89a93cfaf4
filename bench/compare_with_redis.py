#!/usr/bin/python3
"""Runs redis-benchmark against tandemd and redis-server on this machine, in
the same run, interleaved, and prints a Markdown table of requests/s and
p50/p99 latency with the ratio Tandem/Redis.

Usage: bench/compare_with_redis.py [--requests N] [--clients 50] [--sizes 3,1024]
                                   [--tests set,get] [--tandemd PATH]
Needs build/tandemd (./scripts/build.sh) and redis-server, redis-benchmark.

Every server it starts runs in its own process group and is killed (SIGKILL
to the group) on exit, on an exception, and on SIGINT/SIGTERM/SIGHUP, so no
tandemd or redis-server is left behind.
"""
import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import DEFAULT_TANDEMD, free_port, spawn, stop

TANDEMD = DEFAULT_TANDEMD

# (row name, tandemd flags, redis-server flags)
CONFIGS = [
    ("fast: tandem --fsync no | redis appendfsync no",
     ["--fsync", "no"], ["--appendonly", "yes", "--appendfsync", "no"]),
    ("durable: tandem --fsync always | redis appendfsync always",
     ["--fsync", "always"], ["--appendonly", "yes", "--appendfsync", "always"]),
]







def wait_ping(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.05)
    raise TimeoutError(f"server on port {port} did not answer PING")


def start_tandem(workdir, flags):
    port = free_port()
    data = tempfile.mkdtemp(dir=workdir, prefix="tandem-")
    proc = spawn([TANDEMD, "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                  "--log-level", "warn"] + flags)
    wait_ping(port, proc)
    return proc, port


def start_redis(workdir, flags):
    port = free_port()
    data = tempfile.mkdtemp(dir=workdir, prefix="redis-")
    proc = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                  "--save", "", "--dir", data] + flags)
    wait_ping(port, proc)
    return proc, port


def bench(port, test, clients, pipeline, requests, size):
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-t", test, "-c", str(clients),
                        "-P", str(pipeline), "-n", str(requests), "-d", str(size), "-r", "100000",
                        "--csv"], capture_output=True, text=True, timeout=900)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    if r.returncode != 0 or not rows:
        raise RuntimeError(f"redis-benchmark failed: {r.stderr or r.stdout}")
    row = rows[0]
    return float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def main():
    global TANDEMD
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--sizes", default="3", help="comma-separated value sizes in bytes")
    ap.add_argument("--durable-requests", type=int, default=None,
                    help="requests per cell in the durable (fsync always) rows; default --requests")
    ap.add_argument("--tests", default="set,get")
    ap.add_argument("--tandemd", default=TANDEMD, help="tandemd binary (default: $TANDEM_BUILD_DIR "
                    "or build/)")
    args = ap.parse_args()
    TANDEMD = args.tandemd
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (scripts/install-deps.sh)")
    if not os.access(TANDEMD, os.X_OK):
        sys.exit(f"{TANDEMD} is missing: run ./scripts/build.sh")
    load_start = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="tandem-bench-")
    results = []
    try:
        for name, tflags, rflags in CONFIGS:
            requests = args.requests
            if "always" in tflags and args.durable_requests:
                requests = args.durable_requests
            tproc, tport = start_tandem(workdir, tflags)
            rproc, rport = start_redis(workdir, rflags)
            try:
                for size in [int(s) for s in args.sizes.split(",")]:
                    for test in args.tests.split(","):
                        for pipeline in (1, 16):
                            n = requests * (4 if pipeline > 1 else 1)
                            # Interleaved: Tandem then Redis for each cell.
                            t = bench(tport, test, args.clients, pipeline, n, size)
                            r = bench(rport, test, args.clients, pipeline, n, size)
                            results.append((name, test.upper(), pipeline, size, n, t, r))
                            print(f"  {name} {test} -P {pipeline} -d {size}: "
                                  f"tandem {t[0]:.0f}/s redis {r[0]:.0f}/s", file=sys.stderr)
            finally:
                stop(tproc)
                stop(rproc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    load = os.getloadavg()
    print(f"\n{args.clients} clients, requests per cell in the n column, "
          f"keyspace 100000 keys, {os.cpu_count()} cores, "
          f"load average (1/5/15 min) at the start {load_start[0]:.2f} {load_start[1]:.2f} "
          f"{load_start[2]:.2f}, at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print("| config | test | -P | size | n | Tandem rps | Redis rps | ratio | Tandem p50/p99 ms "
          "| Redis p50/p99 ms | p99 ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, test, pipeline, size, n, t, r in results:
        print(f"| {name} | {test} | {pipeline} | {size} | {n} | {t[0]:.0f} | {r[0]:.0f} | "
              f"{t[0] / r[0]:.2f} | {t[1]:.3f}/{t[2]:.3f} | {r[1]:.3f}/{r[2]:.3f} | "
              f"{t[2] / r[2] if r[2] else float('inf'):.2f} |")


if __name__ == "__main__":
    main()
