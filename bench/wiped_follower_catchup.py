#!/usr/bin/python3
"""Catch-up of a wiped follower, phase by phase (docs/benchmarks.md, ninth session).

    bench/wiped_follower_catchup.py build/tandemd 300000 [--no-save] [--perf]
        [--tandemd-arg=--snapshot-log-bytes --tandemd-arg=0]

Starts 3 tandemd nodes (default configuration plus any --tandemd-arg) on
free ports in a temporary directory, loads KEYS x 1000-byte SETs into the
leader (redis-benchmark -P 16, 8 clients), SAVEs on every node (unless
--no-save: the follower then gets whatever the automatic snapshots and the
log give it), SIGKILLs a follower, deletes its data dir and restarts it.
Prints the time until it has the leader's last index and DBSIZE, when its
log says it started receiving, received and installed a snapshot, its loop
stalls, and each node's CPU seconds. --perf records the new follower
(perf record -g, 250 Hz) into perf.data in the current directory. Alternate
binaries run by run when comparing: one run is noisy on a shared VM.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tandemd")
    ap.add_argument("keys", type=int)
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--tandemd-arg", action="append", default=[])
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="tandem-wiped-follower-")
    ports = []
    for _ in range(3):
        ports.append(benchlib.free_port(ports))
    cluster = ",".join(f"{i + 1}=127.0.0.1:{p}" for i, p in enumerate(ports))
    procs = {}

    def start(i):
        procs[i] = benchlib.spawn(
            [args.tandemd, "--node-id", str(i), "--listen", f"127.0.0.1:{ports[i - 1]}",
             "--data-dir", f"{root}/n{i}", "--cluster", cluster] + args.tandemd_arg,
            log_path=f"{root}/n{i}.log")

    def leader():
        for i in (1, 2, 3):
            if benchlib.info(ports[i - 1]).get("tandem_role") == "leader":
                return i
        return None

    try:
        for i in (1, 2, 3):
            start(i)
        lead = benchlib.wait_for(leader, "a leader")
        t = time.monotonic()
        subprocess.run(["redis-benchmark", "-p", str(ports[lead - 1]), "-t", "set", "-d", "1000",
                        "-r", str(args.keys * 100), "-n", str(args.keys), "-P", "16", "-c", "8",
                        "-q"], stdout=subprocess.DEVNULL, check=True)
        print(f"load: {args.keys} SETs in {time.monotonic() - t:.1f}s")
        if not args.no_save:
            for i in (1, 2, 3):
                benchlib.wait_for(lambda: benchlib.call(ports[i - 1], "SAVE", timeout=300) == "OK",
                                  f"SAVE on node {i}", timeout=300, interval=0.1)
        lead = benchlib.wait_for(leader, "a leader")
        f = next(i for i in (1, 2, 3) if i != lead)
        benchlib.stop(procs[f])
        shutil.rmtree(f"{root}/n{f}")
        offset = os.path.getsize(f"{root}/n{f}.log")
        last = int(benchlib.info(ports[lead - 1])["tandem_last_log_index"])
        dbsize = benchlib.call(ports[lead - 1], "DBSIZE")
        t = time.monotonic()
        start(f)
        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-F", "250", "-g", "-o", "perf.data", "-p",
                                     str(procs[f].pid)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        benchlib.wait_for(
            lambda: int(benchlib.info(ports[f - 1]).get("tandem_applied_index", 0)) >= last and
            benchlib.call(ports[f - 1], "DBSIZE") == dbsize, "the follower to catch up",
            timeout=600)
        took = time.monotonic() - t
        if perf:
            perf.send_signal(2)
            perf.wait()
        cpu = {}
        for i in (1, 2, 3):
            with open(f"/proc/{procs[i].pid}/stat") as st:
                fields = st.read().rsplit(")", 1)[1].split()
            cpu[i] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"{root}/n{f}.log", "rb") as lf:
            lf.seek(offset)
            text = lf.read().decode(errors="replace")

        def at(pattern):
            m = re.search(r"(\d\d):(\d\d):(\d\d\.\d+) .*" + pattern, text)
            return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None
        t0 = at("ready on")
        size = re.search(r"receiving snapshot at index \d+ \((\d+) bytes", text)
        phases = [(name, at(p)) for name, p in [("receive started", "receiving snapshot"),
                                                 ("received", r"snapshot at index \d+ received"),
                                                 ("installed", "installed snapshot")]]
        print(f"caught up in {took:.2f}s" +
              (f" (snapshot of {int(size[1]) / 2**20:.0f} MiB)" if size else " (no snapshot)") +
              "".join(f"; {n} +{v - t0:.2f}s" for n, v in phases if v is not None and t0))
        for line in text.splitlines():
            if "stalled" in line or "installed snapshot" in line or "starting over" in line:
                print("  " + line[24:])
        print("CPU seconds since start, per node:",
              ", ".join(f"node {i}{' (new)' if i == f else ''} {c:.1f}" for i, c in cpu.items()))
    finally:
        for p in procs.values():
            benchlib.stop(p)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
