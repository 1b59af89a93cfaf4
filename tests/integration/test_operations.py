"""Operating basics: start-up errors, signals, SHUTDOWN, AUTH, CONFIG, tools."""
import os
import signal
import socket
import subprocess

import pytest
import redis

from conftest import BUILD, TANDEMD, TandemProcess, free_port, raw_exchange, wait_until


def test_port_in_use_gives_clear_error(tandem_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        node = tandem_factory(port=port)
        proc = subprocess.run(node.args, capture_output=True, timeout=30)
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr.decode()
    assert "in use" in proc.stderr.decode()


def test_unusable_data_dir_gives_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = subprocess.run([TANDEMD, "--listen", f"127.0.0.1:{free_port()}", "--data-dir",
                           str(blocker / "sub")], capture_output=True, timeout=30)
    assert proc.returncode != 0
    assert "data dir" in proc.stderr.decode()


def test_data_dir_locked_by_another_process(tandem_factory, tmp_path):
    node = tandem_factory().start()
    other = subprocess.run([TANDEMD, "--listen", f"127.0.0.1:{free_port()}", "--data-dir",
                            node.data_dir], capture_output=True, timeout=30)
    assert other.returncode != 0
    assert "in use by another tandemd" in other.stderr.decode()


def test_sigterm_stops_cleanly_and_keeps_data(tandem_factory):
    node = tandem_factory(extra_args=["--fsync", "no"]).start()
    node.client().set("k", "v")
    node.proc.send_signal(signal.SIGTERM)
    assert node.proc.wait(timeout=30) == 0
    assert "shutting down (SIGTERM)" in node.log()
    node.start()
    assert node.client().get("k") == "v"


def test_shutdown_command(tandem_factory):
    node = tandem_factory().start()
    c = node.client()
    c.set("k", "v")
    c.shutdown()  # redis-py returns once the server closes the connection
    assert node.proc.wait(timeout=30) == 0
    node.start()
    assert node.client().get("k") == "v"


def test_requirepass(tandem_factory):
    node = tandem_factory(password="s3cret").start()
    anon = redis.Redis(port=node.port, decode_responses=True)
    with pytest.raises(redis.AuthenticationError):
        anon.get("k")
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        anon.execute_command("AUTH", "wrong")
    assert anon.execute_command("AUTH", "s3cret")
    assert anon.set("k", "v")
    c = node.client()
    assert c.get("k") == "v"
    # Before AUTH, big multibulk requests are refused like Redis does.
    out = raw_exchange(node.port, b"*100\r\n")
    assert out.startswith(b"-ERR Protocol error: unauthenticated multibulk length")


def test_config_get_set(r):
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_set("maxmemory-policy", "allkeys-lru")
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert "appendfsync" in r.config_get("*")
    with pytest.raises(redis.ResponseError, match="immutable"):
        r.config_set("databases", "16")
    assert r.config_set("appendfsync", "everysec")
    r.set("after-fsync-change", "1")
    assert r.get("after-fsync-change") == "1"


def test_client_commands(tandem):
    c = tandem.client()
    assert c.client_setname("worker-1")
    assert c.client_getname() == "worker-1"
    my_id = c.client_id()
    listing = c.client_list()
    assert any(cl["name"] == "worker-1" and int(cl["id"]) == my_id for cl in listing)
    other = tandem.client()
    other.ping()
    other_id = other.client_id()
    assert c.execute_command("CLIENT", "KILL", "ID", other_id) == 1
    # redis-py notices the closed connection and reconnects: a new client id.
    assert other.client_id() != other_id
    assert all(int(cl["id"]) != other_id for cl in c.client_list())


def test_info_sections(r):
    r.set("k", "v")
    info = r.info()
    assert info["redis_version"] == "7.0.0"
    assert info["role"] == "master"
    assert info["db0"]["keys"] == 1
    assert "used_memory" in r.info("memory")


def built_with_jemalloc():
    """tandemd links jemalloc unless its build was configured with
    -DTANDEM_JEMALLOC=OFF (src/util/allocator.h)."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "TANDEM_JEMALLOC:BOOL=OFF" not in f.read()
    except OSError:
        return True


def test_info_memory_names_the_allocator_and_counts_what_is_allocated(r):
    # used_memory is what the keyspace and the rest hold, not what the
    # allocator has mapped.
    before = r.info("memory")
    if built_with_jemalloc():
        assert before["mem_allocator"].startswith("jemalloc-")
    else:
        assert before["mem_allocator"] == "libc"
    value = "x" * 10000
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"big:{i}", value)
    pipe.execute()
    after = r.info("memory")
    assert after["used_memory"] >= before["used_memory"] + 2000 * 10000
    assert after["used_memory_rss"] >= after["used_memory"] // 2


def system_thp_mode():
    """The bracketed word of the kernel's THP setting ("never" if it has none)."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            text = f.read()
    except OSError:
        return "never"
    return text[text.index("[") + 1:text.index("]")]


def proc_field(pid, file, key):
    """An integer field of /proc/PID/FILE ("THP_enabled:", "AnonHugePages:")."""
    with open(f"/proc/{pid}/{file}") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/{pid}/{file}")


@pytest.mark.parametrize("args, wanted", [
    # auto: only while building the state in bulk, which a single node does
    # only at start-up (tests/cluster/test_catchup.py has a new follower's).
    ([], False),
    (["--huge-pages", "on"], True),
    (["--huge-pages", "off"], False),
    (["--snapshot-method", "fork"], False),
    (["--snapshot-method", "fork", "--huge-pages", "on"], True),
])
def test_huge_pages_back_the_heap_as_asked(tandem_factory, args, wanted):
    mode = system_thp_mode()
    if mode == "never":
        pytest.skip("this system's transparent huge pages are off")
    node = tandem_factory(extra_args=args).start()
    c = node.client()
    pid = node.proc.pid
    assert proc_field(pid, "status", "THP_enabled:") == (1 if wanted else 0)
    memory = c.info("memory")
    on = wanted and (memory["mem_allocator"].startswith("jemalloc") or mode == "always")
    assert memory["tandem_huge_pages"] == ("on" if on else "off")
    before_kib = proc_field(pid, "smaps_rollup", "AnonHugePages:")
    value = "v" * 100000
    pipe = c.pipeline(transaction=False)
    for i in range(640):
        pipe.set(f"big:{i}", value)
    pipe.execute()
    grown_kib = proc_field(pid, "smaps_rollup", "AnonHugePages:") - before_kib
    if on:
        assert grown_kib >= 2048, "64 MB of values and not one huge page"
    else:
        assert grown_kib <= 0, f"{grown_kib} KiB more in huge pages with them off"


def thread_names(pid):
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names.append(f.read().strip())
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return names


def kernel_at_least(major, minor):
    release = os.uname().release.split(".")
    return (int(release[0]), int(release[1].split("-")[0])) >= (major, minor)


@pytest.mark.parametrize("args", [[], ["--heap-prefault", "off"]])
def test_heap_prefault_runs_as_asked(tandem_factory, args):
    """--heap-prefault on (the default, with jemalloc): a helper thread
    faults in the heap's new memory as it grows (src/util/heap_prefault.h)."""
    node = tandem_factory(extra_args=args).start()
    c = node.client()
    memory = c.info("memory")
    # Needs jemalloc (not in sanitizer builds) and MADV_POPULATE_WRITE.
    on = not args and memory["mem_allocator"].startswith("jemalloc") and \
        kernel_at_least(5, 14)
    assert memory["tandem_heap_prefault"] == ("on" if on else "off")
    assert ("heap-prefault" in thread_names(node.proc.pid)) == on
    before = memory["tandem_heap_prefault_populated_bytes"]
    value = "v" * 100000
    pipe = c.pipeline(transaction=False)
    for i in range(640):  # 64 MB
        pipe.set(f"big:{i}", value)
    pipe.execute()
    if on:
        wait_until(lambda: c.info("memory")["tandem_heap_prefault_populated_bytes"]
                   >= before + 16 * 1024 * 1024, 10, interval=0.05,
                   what="the helper to fault in memory for the growing heap")
    else:
        assert c.info("memory")["tandem_heap_prefault_populated_bytes"] == 0
    for i in range(0, 640, 37):
        assert c.get(f"big:{i}") == value


def test_redis_cli_drives_the_server(tandem):
    def cli(*args):
        return subprocess.run(["redis-cli", "-p", str(tandem.port)] + list(args),
                              capture_output=True, text=True, timeout=30).stdout.strip()
    assert cli("SET", "greeting", "hello world") == "OK"
    assert cli("GET", "greeting") == "hello world"
    assert cli("HSET", "h", "a", "1", "b", "2") == "2"
    assert cli("HGETALL", "h").split("\n") == ["a", "1", "b", "2"] or \
        sorted(cli("HGETALL", "h").split("\n")) == ["1", "2", "a", "b"]
    assert cli("NOSUCH").startswith("ERR unknown command 'NOSUCH'")
    assert cli("COMMAND", "COUNT").isdigit()
    piped = subprocess.run(["redis-cli", "-p", str(tandem.port), "--pipe"],
                           input="".join(f"SET p{i} {i}\r\n" for i in range(1000)),
                           capture_output=True, text=True, timeout=60)
    assert "errors: 0, replies: 1000" in piped.stdout
    assert cli("GET", "p999") == "999"


def test_redis_benchmark_runs_without_errors(tandem):
    proc = subprocess.run(["redis-benchmark", "-p", str(tandem.port), "-n", "2000", "-c", "10",
                           "-q", "-t", "ping,set,get,incr,hset,mset"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "ERR" not in out and "error" not in out.lower(), out
    for test in ["SET", "GET", "INCR", "HSET", "MSET"]:
        assert test in out, out
