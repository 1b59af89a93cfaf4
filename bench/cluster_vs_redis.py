#!/usr/bin/python3
"""Issue 6's table: a 3-node Tandem cluster against a redis-server with two
replicas, started by this script on 127.0.0.1 (free ports, temporary dirs),
printed as Markdown.

Sections (--sections, default all):

  throughput  redis-benchmark against the Tandem leader and the Redis master,
              interleaved cell by cell (the order alternates), three rows:
                default                  tandemd defaults (--durability majority
                                         --fsync always) | redis-server defaults
                                         (async replicas, no AOF)
                like for like, fast      --durability leader --fsync no |
                                         --appendonly yes --appendfsync no
                like for like, durable   --durability majority --fsync always |
                                         --appendonly yes --appendfsync always
                                         (Redis's replicas stay asynchronous)
              SET and GET, --clients 50, -P 1 and -P 16, -d 3 and 1024,
              -r --keyspace; every key of the keyspace is written before the
              GET cells so every GET hits; after each cell the script waits
              until the followers/replicas have caught up. --repeat N runs
              every cell N times and reports the medians (each side's) and
              the range of a single run's ratio: single cells move by
              10-30% between runs on a shared 2-core machine.
  memory      RSS growth per key of every process, after --memory-keys SETs of
              key:N value:N into the Tandem leader and the Redis master (both
              default configuration), from /proc/PID/status VmRSS; then SAVE
              on every Tandem node (compacts the log it keeps in memory) and
              RSS again.
  catchup     load --catchup-mb MiB (1000-byte incompressible values) into a
              running cluster, then a follower with an empty data dir: for
              Tandem a follower is SIGKILLed, its data dir deleted and it is
              restarted (Tandem has no membership change command yet); for
              Redis a new empty redis-server gets REPLICAOF (full sync; the
              master runs with repl-diskless-sync-delay 0 so the 5 s wait for
              more replicas is not counted). Time until it holds the data.
  failover    --failovers SIGKILLs of the Tandem leader (default timing and
              durability) under a light write load (2 clients, one write at
              a time): time from the kill to the first write acknowledged by
              another node; the killed node is restarted and caught up
              between rounds.

Data is loaded over --load-connections connections, 1000 SETs per
pipelined write, two writes in flight each.

Every server runs in its own process group and is killed on exit, on an
exception and on SIGINT/SIGTERM/SIGHUP. Readiness is polled, never slept
for. A server that exits or a redis-benchmark error stops the run, with one
exception: when the Tandem leader changed during a cell (redis-benchmark
stops at the first UNKNOWN or READONLY reply), the cell runs again on the
new leader, up to 4 times, and the elections are reported in the table (a
cell that lost its leader every time is reported as failed); loads send
what was not acknowledged again to the new leader.

Usage: bench/cluster_vs_redis.py [--tandemd PATH] [--quick]
           [--sections throughput,memory,catchup,failover] [--requests N]
           [--repeat N]
"""
import argparse
import csv
import io
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (DEFAULT_TANDEMD, ROOT, RedisGroup, RespError, Server, TandemCluster,
                      WriteLoad, call, free_port, load, rss_bytes, set_batches, wait_for)

SECTIONS = ("throughput", "memory", "catchup", "failover")
REDIS_BASE = ["--save", ""]

# (row, tandemd flags, Tandem description, redis-server flags, Redis description)
ROWS = [
    ("default", [], "defaults (majority, fsync always)",
     [], "defaults (async replicas, no AOF)"),
    ("like for like, fast", ["--durability", "leader", "--fsync", "no"],
     "--durability leader --fsync no",
     ["--appendonly", "yes", "--appendfsync", "no"], "--appendonly yes --appendfsync no"),
    ("like for like, durable", ["--durability", "majority", "--fsync", "always"],
     "--durability majority --fsync always",
     ["--appendonly", "yes", "--appendfsync", "always"],
     "--appendonly yes --appendfsync always"),
]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def out(text=""):
    print(text, flush=True)


def loadavg():
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def command_output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"? ({e})"


def machine_facts(args):
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    commit = command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "status", "--porcelain", "--", "src"])
    st = os.stat(args.tandemd)
    return [
        ("command", " ".join(["bench/cluster_vs_redis.py"] + sys.argv[1:])),
        ("cores", f"{os.cpu_count()} ({model}), {mem} RAM, Linux {platform.release()}"),
        ("load average at start (1/5/15 min)", loadavg()),
        ("redis-server", command_output(["redis-server", "--version"])),
        ("tandemd", f"{args.tandemd} ({command_output([args.tandemd, '--version'])}, built "
                    f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(st.st_mtime))})"),
        ("git commit of the checkout",
         commit + (" (src/ has uncommitted changes)" if dirty else "")),
    ] + ([("note", args.note)] if args.note else []) + (
        [("extra tandemd arguments", " ".join(args.tandemd_arg))] if args.tandemd_arg else [])


# --- throughput ---


class BenchmarkError(RuntimeError):
    pass


def redis_benchmark(port, test, clients, pipeline, n, size, keyspace):
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", test, "-c", str(clients),
            "-P", str(pipeline), "-n", str(n), "-d", str(size), "-r", str(keyspace), "--csv"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    # Tandem has no CONFIG GET; redis-benchmark only warns about it.
    errors = [l for l in r.stderr.splitlines()
              if l.strip() and not l.startswith("WARNING: Could not fetch server CONFIG")]
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    if r.returncode != 0 or errors or len(rows) != 1 or rows[0].get("test") != test.upper():
        raise BenchmarkError(f"{' '.join(argv)} failed (exit {r.returncode}): "
                           f"stderr {r.stderr.strip()[:500]!r} stdout {r.stdout.strip()[:500]!r}")
    row = rows[0]
    return float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def fill_batches(keyspace, size):
    """SET key:%012d (redis-benchmark's -r keys) to size 'x' bytes for every
    key of the keyspace, so that every GET of the next cells hits."""
    value = b"x" * size
    return set_batches(range(keyspace), "key:{:012d}", lambda i: value)


class Pair:
    """One Tandem cluster and one Redis group of a row. A Tandem cell or load
    that fails because the leader changed (redis-benchmark stops at the first
    error reply: UNKNOWN, READONLY) is run again on the new leader, and the
    leader change is recorded; any other failure stops the run."""

    def __init__(self, args, workdir, i, tflags, rflags):
        self.cluster = TandemCluster(args.tandemd, workdir, 3, tflags + args.tandemd_arg,
                                     name=f"row{i}-tandem")
        self.group = RedisGroup(workdir, 2, REDIS_BASE + rflags, name=f"row{i}-redis")
        self.leader = None
        self.term = 0
        self.connections = args.load_connections

    def start(self):
        self.leader = self.cluster.start()
        self.term = self.cluster.term(self.leader)
        self.group.start()

    def stop(self):
        self.cluster.stop()
        self.group.stop()

    def tandem_settle(self):
        """Waits for a leader and for the followers to catch up; returns the
        number of elections (terms) since the last call."""
        self.leader = self.cluster.settle()
        term, self.term = self.term, self.cluster.term(self.leader)
        if self.term != term:
            log(f"  Tandem leader: {self.leader.name}, term {term} -> {self.term}")
        return self.term - term

    def redis_settle(self):
        self.group.check()
        self.group.wait_sync()

    def tandem_bench(self, *bench_args, attempts=4):
        elections = 0
        for attempt in range(attempts):
            try:
                result = redis_benchmark(self.leader.port, *bench_args)
            except BenchmarkError as e:
                self.cluster.check()
                changed = self.tandem_settle()
                if not changed:
                    raise
                elections += changed
                log(f"  redis-benchmark on Tandem failed after a leader change, running the cell "
                    f"again: {str(e)[-200:]}")
                continue
            return result, elections + self.tandem_settle()
        log(f"  giving up on this cell: the Tandem leader changed during each of {attempts} runs")
        return None, elections

    def fill(self, keyspace, size):
        """Writes every key of the keyspace on both; returns (elections,
        acknowledged Tandem writes that were missing afterwards)."""
        def retry(e):
            log(f"  fill on Tandem interrupted ({str(e)[:120]}); sending the rest to the leader")
        elections = lost = 0
        for attempt in range(5):
            load(lambda: self.cluster.wait_leader(60, all_agree=True).port,
                 fill_batches(keyspace, size), retries=50, on_retry=retry,
                 connections=self.connections)
            elections += self.tandem_settle()
            n = call(self.leader.port, "DBSIZE")
            if n == keyspace:
                break
            # Acknowledged by a leader that was deposed before the followers
            # had them: rolled back (allowed with --durability leader only).
            lost += keyspace - n
            log(f"  fill: the Tandem leader has {n} of {keyspace} keys after a leader change: "
                f"{keyspace - n} acknowledged writes were rolled back; filling again")
        else:
            raise RuntimeError(f"Tandem: DBSIZE {n} after filling {keyspace} keys 5 times")
        load(lambda: self.group.master.port, fill_batches(keyspace, size),
             connections=self.connections)
        self.redis_settle()
        n = call(self.group.master.port, "DBSIZE")
        if n != keyspace:
            raise RuntimeError(f"Redis: DBSIZE {n} after filling {keyspace} keys")
        return elections, lost


def median_of_runs(runs):
    """The per-metric medians (rps, p50, p99) of a cell's repetitions, each
    side's separately, and the lowest-highest ratio of a single run. Runs
    where Tandem failed (its leader changed every time) count for Redis
    only; Tandem's result is None if every run failed."""
    def medians(results):
        return tuple(statistics.median(x[k] for x in results) for k in range(3))
    tandem = [t for t, _ in runs if t is not None]
    r = medians([r for _, r in runs])
    ratios = [t[0] / r_[0] for t, r_ in runs if t is not None]
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "-"
    return (medians(tandem) if tandem else None), r, spread


def throughput_section(args, workdir):
    results = []
    cell = 0
    load_start = loadavg()
    for i, (row, tflags, tdesc, rflags, rdesc) in enumerate(ROWS):
        pair = Pair(args, workdir, i, tflags, rflags)
        try:
            pair.start()
            log(f"throughput: {row}: Tandem leader on port {pair.leader.port}, Redis master on "
                f"port {pair.group.master.port}")
            for size in args.sizes:
                for test in ("set", "get"):
                    fill_changes, lost = pair.fill(args.keyspace, size) if test == "get" else (0, 0)
                    for pipeline in (1, 16):
                        n = args.requests * (4 if pipeline > 1 else 1)
                        changes, note = fill_changes, (
                            f"; {lost} acknowledged writes of the fill rolled back" if lost else "")
                        fill_changes = lost = 0
                        runs = []  # (tandem result or None, redis result), one per repetition
                        for _ in range(args.repeat):
                            order = ("tandem", "redis") if cell % 2 == 0 else ("redis", "tandem")
                            cell += 1
                            got = {}
                            for who in order:
                                bench_args = (test, args.clients, pipeline, n, size, args.keyspace)
                                if who == "tandem":
                                    got[who], c = pair.tandem_bench(*bench_args)
                                    changes += c
                                else:
                                    got[who] = redis_benchmark(pair.group.master.port, *bench_args)
                                    pair.redis_settle()
                            t, r = got["tandem"], got["redis"]
                            runs.append((t, r))
                            log(f"  {row} {test} -P {pipeline} -d {size} n {n}: tandem "
                                f"{f'{t[0]:.0f}/s' if t else 'failed'} redis {r[0]:.0f}/s"
                                + (f" ({t[0] / r[0]:.2f})" if t else ""))
                        t, r, spread = median_of_runs(runs)
                        results.append((row, test.upper(), pipeline, size, n, t, r,
                                        f"{changes}{note}" if changes or note else "", spread))
                        if changes or note:
                            log(f"  {changes} Tandem election(s){note}")
        finally:
            pair.stop()
    out("## Throughput and latency: Tandem 3 nodes (leader) vs redis-server + 2 replicas "
        "(master)\n")
    out(f"redis-benchmark, {args.clients} clients, -r {args.keyspace} (every key written before "
        f"the GET cells), n requests per cell; Tandem and Redis run one after the other per cell, "
        f"alternating who goes first; load average at the start of the section {load_start}, at "
        f"the end {loadavg()}. Rows:\n")
    for row, _, tdesc, _, rdesc in ROWS:
        out(f"- **{row}**: Tandem {tdesc}; Redis {rdesc}")
    out("- every redis-server also runs with `--save \"\"` (no RDB snapshots)\n")
    if args.repeat > 1:
        out(f"Every cell ran {args.repeat} times (Tandem and Redis alternating which goes first "
            f"each time); the figures are the medians of the runs, each side's separately; "
            f"**ratio range**: the lowest and highest ratio of a single run.\n")
    extra = " ratio range |" if args.repeat > 1 else ""
    out("| row | test | -P | -d | n | Tandem rps | Redis rps | ratio | Tandem p50/p99 ms "
        "| Redis p50/p99 ms | p99 ratio | Tandem elections |" + extra)
    out("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if extra else ""))
    for row, test, pipeline, size, n, t, r, changes, spread in results:
        tail = f" {spread} |" if extra else ""
        if t is None:
            out(f"| {row} | {test} | {pipeline} | {size} | {n} | **failed** | {r[0]:.0f} | - | "
                f"- | {r[1]:.3f}/{r[2]:.3f} | - | {changes} |" + tail)
            continue
        p99 = f"{t[2] / r[2]:.2f}" if r[2] else "-"
        out(f"| {row} | {test} | {pipeline} | {size} | {n} | {t[0]:.0f} | {r[0]:.0f} | "
            f"{t[0] / r[0]:.2f} | {t[1]:.3f}/{t[2]:.3f} | {r[1]:.3f}/{r[2]:.3f} | {p99} | "
            f"{changes} |" + tail)
    out("\nTandem elections: terms the cluster went through during the cell (and the GET fill "
        "before it) although every node stayed up; a redis-benchmark run that failed because the "
        "leader changed (it stops at the first error reply, e.g. UNKNOWN) was run again on the new "
        "leader, and the figures are of the run that completed; **failed**: the leader changed "
        "during each of 4 runs.\n")


# --- memory ---


def tandem_load(cluster, batches, what, connections):
    """Loads batches into the Tandem leader, sending what was not
    acknowledged again to the new leader after a leader change; waits until
    every follower has it. Returns (leader, interruptions, terms)."""
    term0 = cluster.term(cluster.wait_leader(60, all_agree=True))

    def retry(e):
        log(f"  {what}: load on Tandem interrupted ({str(e)[:100]}); sending the rest to the "
            f"leader")
    interruptions = load(lambda: cluster.wait_leader(60, all_agree=True).port, batches,
                         retries=100, on_retry=retry, connections=connections)
    leader = cluster.settle(1800)
    return leader, interruptions, (term0, cluster.term(leader))


def stable_rss(pid, timeout=30.0):
    """VmRSS once five readings 0.2 s apart are within 1% of each other."""
    readings = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readings = (readings + [rss_bytes(pid)])[-5:]
        if len(readings) == 5 and max(readings) - min(readings) <= 0.01 * max(readings):
            break
        time.sleep(0.2)
    return readings[-1]


def no_snapshot_running(cluster):
    return all(n.info("persistence").get("rdb_bgsave_in_progress") == "0" for n in cluster.up())


def memory_section(args, workdir):
    keys = args.memory_keys
    cluster = TandemCluster(args.tandemd, workdir, 3, args.tandemd_arg, name="mem-tandem")
    group = RedisGroup(workdir, 2, REDIS_BASE, name="mem-redis")
    rows = []
    try:
        leader = cluster.start()
        group.start()
        redis_procs = [("redis-server master", group.master)] + [
            ("redis-server replica", r) for r in group.replicas]
        before = {s: rss_bytes(s.pid) for s in cluster.nodes + group.servers}
        t0 = time.monotonic()
        leader, interruptions, terms = tandem_load(
            cluster, set_batches(range(keys), "key:{}", lambda i: b"value:%d" % i), "memory",
            args.load_connections)
        wait_for(lambda: no_snapshot_running(cluster), "Tandem snapshots to finish", 600,
                 check=cluster.check)
        times = {"Tandem": time.monotonic() - t0}
        t0 = time.monotonic()
        load(lambda: group.master.port, set_batches(range(keys), "key:{}",
                                                   lambda i: b"value:%d" % i),
             connections=args.load_connections)
        group.wait_sync(600)
        times["Redis"] = time.monotonic() - t0
        log(f"memory: {keys} keys loaded: Tandem {times['Tandem']:.1f}s ({interruptions} "
            f"interruptions, term {terms[0]} -> {terms[1]}), Redis {times['Redis']:.1f}s")
        procs = [("Tandem leader", leader)] + [
            ("Tandem follower", n) for n in cluster.nodes if n is not leader] + redis_procs
        for _, s in procs:
            n = s.dbsize()
            if n != keys:
                raise RuntimeError(f"{s.name}: DBSIZE {n}, expected {keys}")
        after = {s: rss_bytes(s.pid) for _, s in procs}
        logs = {s: s.info("persistence") for s in cluster.nodes}
        # How much of it is the log kept in memory since the last snapshot:
        # SAVE on every node compacts it; then RSS until it stops moving.
        saved = {}
        for s in cluster.nodes:
            try:
                call(s.port, "SAVE", timeout=300)
            except RespError as e:
                log(f"memory: SAVE on {s.name}: {e}")
                continue
            saved[s] = stable_rss(s.pid)
        for name, s in procs:
            rows.append((name, s, before[s], after[s], (after[s] - before[s]) / keys,
                         saved.get(s)))
    finally:
        cluster.stop()
        group.stop()
    per = {}
    for name, _, _, _, pk, _ in rows:
        per.setdefault(name, pk)
    out(f"## Memory of {keys} keys\n")
    out(f"`SET key:N value:N` for N < {keys} into the Tandem leader (default configuration) and "
        f"the Redis master (`--save \"\"`), {args.load_connections} connection(s), 1000 commands "
        f"per pipelined batch; RSS (VmRSS) right after start (cluster formed, replicas "
        f"connected) and after the load once every follower/replica holds every key (and no "
        f"Tandem snapshot is running); then `SAVE` on every Tandem node (a snapshot, after "
        f"which the log kept in memory is compacted) and RSS again once it stops moving. Load "
        f"time: Tandem {times['Tandem']:.1f} s, Redis {times['Redis']:.1f} s."
        + (f" The Tandem load was interrupted {interruptions} time(s) by a leader change (term "
           f"{terms[0]} -> {terms[1]}); 'leader' is the node that led at the end."
           if terms[0] != terms[1] or interruptions else "") + "\n")
    out("| process | RSS after start MiB | RSS after load MiB | bytes/key | log in memory: "
        "entries (bytes) since the last snapshot | RSS after SAVE MiB | bytes/key after SAVE |")
    out("|---|---|---|---|---|---|---|")
    for name, srv, b, a, pk, sv in rows:
        lg = logs.get(srv)
        lg = (f"{int(lg['tandem_log_last_index']) - int(lg['tandem_snapshot_index'])} "
              f"({int(lg['tandem_log_bytes_since_snapshot']) / 2**20:.1f} MiB)" if lg else "-")
        after_save = f"{sv / 2**20:.1f} | {(sv - b) / keys:.1f}" if sv else "- | -"
        out(f"| {name} | {b / 2**20:.1f} | {a / 2**20:.1f} | {pk:.1f} | {lg} | {after_save} |")
    ratio = per["Tandem leader"] / per["redis-server master"]
    out(f"\nRatio Tandem leader / Redis master: **{ratio:.2f}**; Tandem follower / Redis "
        f"replica (first of each): {per['Tandem follower'] / per['redis-server replica']:.2f}\n")


# --- catch-up ---


VALUE_SIZE = 1000


def catchup_values():
    pool = random.Random(6).randbytes(1 << 21)  # incompressible, deterministic

    def value_of(i):
        off = (i * 7919) % (len(pool) - VALUE_SIZE)
        return pool[off:off + VALUE_SIZE]
    return value_of


def catchup_keys(args):
    return args.catchup_mb * 2**20 // VALUE_SIZE


KEY_FORMAT = "key:{:08d}"


def tandem_caught_up(node, last, dbsize):
    i = node.info(timeout=5)
    if (i.get("role") != "slave" or i.get("master_link_status") != "up"
            or int(i.get("tandem_applied_index", -1)) < last):
        return False
    return node.dbsize(timeout=10) == dbsize


def catchup_tandem(args, workdir):
    keys = catchup_keys(args)
    cluster = TandemCluster(args.tandemd, workdir, 3, args.tandemd_arg, name="catchup-tandem",
                            log_level="info")
    try:
        cluster.start()
        t0 = time.monotonic()
        leader, interruptions, terms = tandem_load(
            cluster, set_batches(range(keys), KEY_FORMAT, catchup_values()), "catchup",
            args.load_connections)
        load_s = time.monotonic() - t0
        li = leader.info()
        lp = leader.info("persistence")
        last, dbsize = int(li["tandem_last_log_index"]), leader.dbsize()
        if dbsize != keys:
            raise RuntimeError(f"Tandem leader DBSIZE {dbsize}, expected {keys}")
        log(f"catchup: Tandem loaded {keys} keys in {load_s:.1f}s ({interruptions} interruptions, "
            f"term {terms[0]} -> {terms[1]}); leader last index {last}, "
            f"snapshot index {lp.get('tandem_snapshot_index')}, log first index "
            f"{lp.get('tandem_log_first_index')}")
        victim = next(n for n in cluster.nodes if n is not leader)
        victim.kill()
        victim.wipe()
        log_offset = os.path.getsize(victim.log_path)
        victim_id = cluster.nodes.index(victim) + 1
        t0 = time.monotonic()
        victim.start()
        victim.wait_ready()
        # The leader's view of the empty follower as soon as it answers: with
        # HEAD c8cf033 the leader keeps the old match index (lag 0) and sends
        # nothing until the next write, so one write starts the catch-up.
        view = leader.info().get(f"tandem_follower_{victim_id}", "?")
        own = victim.info()
        call(leader.port, "SET", "catchup:nudge", "1")
        last, dbsize = int(leader.info()["tandem_last_log_index"]), dbsize + 1
        wait_for(lambda: tandem_caught_up(victim, last, dbsize),
                 f"the new Tandem follower to reach index {last} and {dbsize} keys", 3600,
                 interval=0.05, check=cluster.check)
        seconds = time.monotonic() - t0
        stale = (f"right after the restart the leader reported the empty follower as `{view}` "
                 f"while the follower's own last log index was "
                 f"{own.get('tandem_last_log_index')}")
        with open(victim.log_path, "rb") as f:
            f.seek(log_offset)
            lines = f.read().decode(errors="replace").splitlines()
        notes = [l for l in lines if "snapshot" in l.lower()][:6]
        return dict(keys=keys, load_s=load_s, seconds=seconds, dbsize=dbsize,
                    interruptions=interruptions, terms=terms, stale=stale,
                    how=(f"leader's snapshot at index {lp.get('tandem_snapshot_index')}, log from "
                         f"index {lp.get('tandem_log_first_index')} to {last}"),
                    notes=notes, rss=rss_bytes(victim.pid))
    finally:
        cluster.stop()


def redis_caught_up(server, dbsize):
    i = server.info(timeout=5)
    if i.get("master_link_status") != "up" or i.get("master_sync_in_progress") != "0":
        return False
    try:
        return server.dbsize(timeout=10) == dbsize
    except RespError:  # LOADING
        return False


def catchup_redis(args, workdir):
    keys = catchup_keys(args)
    group = RedisGroup(workdir, 2, REDIS_BASE, name="catchup-redis",
                       master_flags=["--repl-diskless-sync-delay", "0"])
    new = None
    try:
        group.start()
        master = group.master
        t0 = time.monotonic()
        load(lambda: master.port, set_batches(range(keys), KEY_FORMAT, catchup_values()),
             connections=args.load_connections)
        group.wait_sync(1800)
        load_s = time.monotonic() - t0
        dbsize = master.dbsize()
        if dbsize != keys:
            raise RuntimeError(f"Redis master DBSIZE {dbsize}, expected {keys}")
        port = free_port([s.port for s in group.servers])
        d = os.path.join(workdir, "catchup-redis-new")
        new = Server("new redis replica", ["redis-server", "--port", str(port), "--bind",
                                           "127.0.0.1", "--dir", d, "--logfile", d + ".log"]
                     + REDIS_BASE, port, d, d + ".log")
        new.start()
        new.wait_ready()
        t0 = time.monotonic()
        call(new.port, "REPLICAOF", "127.0.0.1", str(master.port))
        wait_for(lambda: redis_caught_up(new, dbsize),
                 f"the new Redis replica to finish its full sync ({dbsize} keys)", 3600,
                 interval=0.05, check=lambda: (group.check(), new.check()))
        seconds = time.monotonic() - t0
        return dict(keys=keys, load_s=load_s, seconds=seconds, dbsize=dbsize,
                    how="full sync (RDB over the socket, loaded from disk by the replica)",
                    notes=[], rss=rss_bytes(new.pid))
    finally:
        group.stop()
        if new is not None:
            new.kill()


def catchup_section(args, workdir):
    load_start = loadavg()
    t = catchup_tandem(args, workdir)
    log(f"catchup: Tandem follower caught up in {t['seconds']:.2f}s")
    r = catchup_redis(args, workdir)
    log(f"catchup: Redis replica caught up in {r['seconds']:.2f}s")
    keys = t["keys"]
    mib = keys * (len(KEY_FORMAT.format(0)) + VALUE_SIZE) / 2**20
    out(f"## Catch-up of a new follower from {mib:.0f} MiB\n")
    out(f"{keys} keys `{KEY_FORMAT.format(0)}`... with {VALUE_SIZE}-byte incompressible values "
        f"({mib:.0f} MiB of keys and values) loaded into a running 3-node group (default "
        f"configurations; {args.load_connections} connection(s), 1000 SETs per pipelined batch "
        f"each, two batches in flight), then a follower with an empty data dir: Tandem: a "
        f"follower SIGKILLed, its data dir deleted, restarted (timed from the restart); Redis: "
        f"a new empty redis-server, timed from REPLICAOF (master with "
        f"`repl-diskless-sync-delay 0`). Done when it has applied the leader's last index "
        f"(Tandem) / `master_link_status:up` and `master_sync_in_progress:0` (Redis) and DBSIZE "
        f"matches. Load average at the start {load_start}, at the end {loadavg()}.\n")
    out("| server | load time s (load MiB/s) | catch-up s | catch-up MiB/s | RSS of the new "
        "follower MiB | how |")
    out("|---|---|---|---|---|---|")
    for name, x in (("Tandem", t), ("Redis", r)):
        out(f"| {name} | {x['load_s']:.1f} ({mib / x['load_s']:.0f}) | {x['seconds']:.2f} | "
            f"{mib / x['seconds']:.0f} | {x['rss'] / 2**20:.0f} | {x['how']} |")
    out(f"\nRatio of catch-up MiB/s Tandem/Redis: **{r['seconds'] / t['seconds']:.2f}**\n")
    out(f"Tandem: {t['stale']}; the script writes one key to the leader as soon as the restarted "
        f"node answers PING (without a write the catch-up does not start while the cluster is "
        f"idle), and that write is part of the target.\n")
    if t["interruptions"] or t["terms"][0] != t["terms"][1]:
        out(f"While loading, the Tandem leader changed (term {t['terms'][0]} -> {t['terms'][1]}) "
            f"and the load was interrupted {t['interruptions']} time(s); the unacknowledged "
            f"batches were sent again to the new leader.\n")
    if t["notes"]:
        out("New Tandem follower's log lines about the snapshot:\n")
        out("```")
        for line in t["notes"]:
            out(line[:300])
        out("```\n")


# --- failover ---


def failover_section(args, workdir):
    rounds = args.failovers
    cluster = TandemCluster(args.tandemd, workdir, 3, args.tandemd_arg, name="failover-tandem",
                            log_level="info")
    to_ack, rejoin, errors = [], [], []
    load_start = loadavg()
    try:
        cluster.start()
        for r in range(rounds):
            leader = cluster.wait_leader(60, all_agree=True)
            cluster.wait_sync(leader)
            load = WriteLoad(cluster, prefix=f"r{r}", threads=2)
            load.start()
            try:
                wait_for(lambda: load.count_after(-1) >= 100, "100 acknowledged writes", 60,
                         check=cluster.check)
                t_kill = time.monotonic()
                leader.kill()
                first = wait_for(lambda: load.first_ack_after(t_kill, not_node=leader),
                                 "a write acknowledged by a new leader", 60, check=cluster.check)
                to_ack.append(first - t_kill)
            finally:
                load.stop()
            errors.append(load.errors)
            t0 = time.monotonic()
            leader.start()
            leader.wait_ready()
            new_leader = cluster.wait_leader(60)
            cluster.wait_sync(new_leader, 300)
            rejoin.append(time.monotonic() - t0)
            log(f"failover {r + 1}/{rounds}: first ack on the new leader {to_ack[-1]:.3f}s after "
                f"the kill; killed node back as a caught-up follower {rejoin[-1]:.2f}s after "
                f"its restart")
    finally:
        cluster.stop()
    out(f"## Failover: {rounds} SIGKILLs of the Tandem leader\n")
    out(f"3 nodes, default configuration and timing; 2 clients writing one SET at a time to "
        f"whichever node reports itself leader; per round: 100 acknowledged writes, SIGKILL the "
        f"leader, wait for a write acknowledged by another node, restart the killed node and wait "
        f"until it is a caught-up follower. Load average at the start {load_start}, at the end "
        f"{loadavg()}.\n")
    out("| measure | median s | max s | min s |")
    out("|---|---|---|---|")
    out(f"| kill -> first acknowledged write on the new leader | {statistics.median(to_ack):.3f} "
        f"| {max(to_ack):.3f} | {min(to_ack):.3f} |")
    out(f"| restart -> killed node caught up as follower | {statistics.median(rejoin):.2f} | "
        f"{max(rejoin):.2f} | {min(rejoin):.2f} |")
    out(f"\nPer round (kill -> first ack, s): {', '.join(f'{x:.3f}' for x in to_ack)}; failed "
        f"or unknown writes per round (the clients then look for the leader again): "
        f"{', '.join(str(e) for e in errors)}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tandemd", default=DEFAULT_TANDEMD,
                    help="tandemd binary (default: $TANDEM_BUILD_DIR/tandemd or build/tandemd)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help="comma-separated subset of " + ",".join(SECTIONS))
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 10000 requests, 100000 keys, 50 MiB catch-up, 2 failovers")
    ap.add_argument("--requests", type=int, help="requests per -P 1 cell (x4 with -P 16); "
                    "default 100000")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every throughput cell this many times (Tandem and Redis "
                         "alternating) and report the medians and the range of the ratio")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--sizes", default="3,1024", help="value sizes (-d), comma-separated")
    ap.add_argument("--keyspace", type=int, default=100000, help="redis-benchmark -r")
    ap.add_argument("--memory-keys", type=int, help="default 1000000")
    ap.add_argument("--catchup-mb", type=int, help="MiB of values for catch-up; default 1024")
    ap.add_argument("--failovers", type=int, help="default 10")
    ap.add_argument("--tandemd-arg", action="append", default=[],
                    help="an extra tandemd argument for every node of every section (repeat it; "
                    "e.g. --tandemd-arg=--snapshot-log-bytes --tandemd-arg=0)")
    ap.add_argument("--load-connections", type=int, default=4,
                    help="connections that load data (GET fill, memory, catch-up), each with 1000 "
                    "SETs per pipelined batch and two batches in flight; default 4")
    ap.add_argument("--note", help="a line for the machine facts, e.g. which commit tandemd was "
                    "built from")
    ap.add_argument("--workdir", help="keep data dirs and server logs here (default: a temporary "
                    "directory, deleted at the end)")
    args = ap.parse_args()
    quick = args.quick
    args.requests = args.requests or (10000 if quick else 100000)
    args.memory_keys = args.memory_keys or (100000 if quick else 1000000)
    args.catchup_mb = args.catchup_mb or (50 if quick else 1024)
    args.failovers = args.failovers or (2 if quick else 10)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (scripts/install-deps.sh)")
    args.tandemd = os.path.abspath(args.tandemd)
    if not os.access(args.tandemd, os.X_OK):
        sys.exit(f"{args.tandemd} is missing: build it (cmake --build --preset release)")

    out("# Tandem 3-node cluster vs redis-server with two replicas (issue 6)\n")
    for k, v in machine_facts(args):
        out(f"- {k}: {v}")
    out()
    t_start = time.monotonic()
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
        workdir = os.path.abspath(args.workdir)
    else:
        workdir = tempfile.mkdtemp(prefix="tandem-cluster-vs-redis-")
    try:
        for name in SECTIONS:
            if name in sections:
                log(f"section {name}")
                t0 = time.monotonic()
                globals()[f"{name}_section"](args, workdir)
                log(f"section {name} took {time.monotonic() - t0:.0f}s")
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    out(f"Load average at the end (1/5/15 min): {loadavg()}; whole run "
        f"{(time.monotonic() - t_start) / 60:.1f} min.")


if __name__ == "__main__":
    main()
