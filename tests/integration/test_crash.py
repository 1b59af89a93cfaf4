"""SIGKILL tandemd (--fsync always) at random moments under a write load;
every acknowledged write must be there after restart."""
import random
import threading
import time

import redis


def writer(port, prefix, acked, stop):
    c = redis.Redis(port=port, socket_timeout=5)
    i = 0
    while not stop.is_set():
        key = f"{prefix}:{i}"
        try:
            if i % 3 == 0:
                c.hset(f"{prefix}:h", key, i)
            else:
                c.set(key, i)
        except (redis.ConnectionError, redis.TimeoutError):
            return
        acked.append((key, i))
        i += 1


def test_acknowledged_writes_survive_sigkill(tandem_factory):
    rng = random.Random(20261126)
    node = tandem_factory(extra_args=["--fsync", "always", "--snapshot-log-bytes", "300000"])
    node.start()
    all_acked = []
    for round_no in range(6):
        acked_by_thread = [[] for _ in range(4)]
        stop = threading.Event()
        threads = [threading.Thread(target=writer,
                                    args=(node.port, f"r{round_no}t{t}", acked_by_thread[t], stop))
                   for t in range(4)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.2, 1.0))  # the random moment of the crash
        node.kill()
        stop.set()
        for t in threads:
            t.join()
        node.start()
        c = node.client()
        for acked in acked_by_thread:
            all_acked.extend(acked)
        assert sum(len(a) for a in acked_by_thread) > 0
        missing = []
        for key, value in all_acked:
            prefix = key.split(":")[0]
            if value % 3 == 0:
                got = c.hget(f"{prefix}:h", key)
            else:
                got = c.get(key)
            if got != str(value):
                missing.append((key, value, got))
        assert not missing, f"round {round_no}: lost acknowledged writes {missing[:10]}"
