#!/usr/bin/python3
"""Write throughput of a 3-node Tandem cluster beside a redis-server with two
replicas, same machine, same run, interleaved: redis-benchmark SET with 50
clients against each leader/master, with -P 1 and -P 16.

Tandem runs with its defaults (--durability majority --fsync always): a SET
is acknowledged once a majority has it fsync'd. Redis runs with its defaults
(asynchronous replicas, no AOF): a SET is acknowledged before any replica or
disk has it. Usage: bench/cluster_vs_redis_replicas.py [--requests N]
"""
import argparse
import csv
import io
import os
import shutil
import subprocess
import tempfile
import time

from benchlib import DEFAULT_TANDEMD, spawn, stop, free_port

TANDEMD = DEFAULT_TANDEMD


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True,
                          text=True, timeout=10).stdout.strip()


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def bench(port, pipeline, requests):
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-c", "50", "-P",
                        str(pipeline), "-n", str(requests), "-r", "100000", "--csv"],
                       capture_output=True, text=True, timeout=900)
    row = list(csv.DictReader(io.StringIO(r.stdout)))[0]
    return float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=50000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tandem-cluster-bench-")
    procs = []
    try:
        ports = [free_port() for _ in range(3)]
        spec = ",".join(f"{i + 1}=127.0.0.1:{p}" for i, p in enumerate(ports))
        for i, p in enumerate(ports):
            procs.append(spawn([TANDEMD, "--node-id", str(i + 1), "--listen", f"127.0.0.1:{p}",
                                "--data-dir", os.path.join(work, f"t{i + 1}"), "--cluster", spec,
                                "--log-level", "warn"]))
        leader = []
        wait_for(lambda: leader.extend(p for p in ports if cli(p, "ROLE").startswith("master"))
                 or leader, "a Tandem leader")
        rports = [free_port() for _ in range(3)]
        for i, p in enumerate(rports):
            d = os.path.join(work, f"r{i}")
            os.makedirs(d)
            extra = [] if i == 0 else ["--replicaof", "127.0.0.1", str(rports[0])]
            procs.append(spawn(["redis-server", "--port", str(p), "--bind", "127.0.0.1",
                                "--save", "", "--dir", d] + extra))
        wait_for(lambda: "connected_slaves:2" in cli(rports[0], "INFO", "replication"),
                 "two redis replicas")
        rows = []
        for pipeline in (1, 16):
            n = args.requests * (4 if pipeline > 1 else 1)
            t = bench(leader[0], pipeline, n)
            r = bench(rports[0], pipeline, n)
            rows.append((pipeline, n, t, r))
        print(f"\nSET, 50 clients, 3 nodes each, {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.1f}\n")
        print("| -P | n | Tandem 3 nodes (majority, fsync always) rps | p50/p99 ms "
              "| Redis + 2 async replicas rps | p50/p99 ms | ratio |")
        print("|---|---|---|---|---|---|---|")
        for pipeline, n, t, r in rows:
            print(f"| {pipeline} | {n} | {t[0]:.0f} | {t[1]:.3f}/{t[2]:.3f} | {r[0]:.0f} | "
                  f"{r[1]:.3f}/{r[2]:.3f} | {t[0] / r[0]:.2f} |")
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
