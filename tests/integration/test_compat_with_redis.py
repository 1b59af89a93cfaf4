"""Differential tests: the same commands against tandemd and redis-server 7.0
must give the same replies (values and error texts)."""
import pytest
import redis

# Each scenario is a list of commands run in order on an empty database.
SCENARIOS = {
    "strings": [
        ["SET", "k", "v"], ["GET", "k"], ["SET", "k", "w", "NX"], ["SET", "k", "w", "XX", "GET"],
        ["SET", "k", "x", "NX", "XX"], ["SET", "k", "x", "EX", "0"], ["SET", "k", "x", "EX", "abc"],
        ["SET", "k", "x", "PX", "-5"], ["SET", "k", "x", "KEEPTTL", "EX", "5"], ["SETNX", "k", "1"],
        ["SETNX", "n", "1"], ["MSET", "a", "1", "b", "2"], ["MGET", "a", "b", "zz"],
        ["MSETNX", "a", "3", "c", "4"], ["MSETNX", "c", "4", "d", "5"], ["GETSET", "a", "10"],
        ["GETDEL", "a"], ["GETDEL", "a"], ["APPEND", "s", "hello"], ["APPEND", "s", " world"],
        ["STRLEN", "s"], ["GETRANGE", "s", "0", "4"], ["GETRANGE", "s", "-5", "-1"],
        ["GETRANGE", "s", "5", "2"], ["SUBSTR", "s", "0", "-1"], ["SETRANGE", "s", "6", "W"],
        ["SETRANGE", "pad", "5", "x"], ["GET", "pad"], ["SETRANGE", "s", "-1", "x"],
        ["SETRANGE", "empty", "0", ""], ["EXISTS", "empty"], ["MSET", "a"], ["MSET", "a", "1", "b"],
    ],
    "counters": [
        ["INCR", "c"], ["INCRBY", "c", "10"], ["DECR", "c"], ["DECRBY", "c", "3"],
        ["INCRBY", "c", "abc"], ["SET", "big", "9223372036854775807"], ["INCR", "big"],
        ["SET", "f", "10.5"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "5.0e3"],
        ["INCRBYFLOAT", "f", "abc"], ["INCR", "f"], ["SET", "sp", " 1"], ["INCR", "sp"],
        ["INCRBYFLOAT", "nf", "1e400"], ["SET", "neg", "-0"], ["INCR", "neg"],
    ],
    "bits": [
        ["SETBIT", "b", "7", "1"], ["SETBIT", "b", "7", "0"], ["SETBIT", "b", "100", "1"],
        ["GETBIT", "b", "100"], ["GETBIT", "b", "1000"], ["SETBIT", "b", "-1", "1"],
        ["SETBIT", "b", "1", "2"], ["SET", "m", "foobar"], ["BITCOUNT", "m"],
        ["BITCOUNT", "m", "1", "1"], ["BITCOUNT", "m", "5", "30", "BIT"], ["BITPOS", "m", "1"],
        ["BITPOS", "m", "0", "2", "-1"], ["SET", "ff", "\xff\xff"], ["BITPOS", "ff", "0"],
        ["BITPOS", "ff", "0", "0", "-1"], ["BITOP", "AND", "dest", "m", "ff"], ["GET", "dest"],
        ["BITOP", "NOT", "dest", "m", "ff"], ["BITOP", "XOR", "dest", "m", "nokey"],
        ["BITOP", "OR", "dest"],
    ],
    "keyspace": [
        ["MSET", "a", "1", "b", "2", "c", "3"], ["DEL", "a", "zz"], ["UNLINK", "b"],
        ["EXISTS", "c", "c", "zz"], ["TYPE", "c"], ["TYPE", "zz"], ["RENAME", "c", "d"],
        ["RENAME", "zz", "e"], ["RENAMENX", "d", "d"], ["SET", "x", "1"], ["RENAMENX", "d", "x"],
        ["COPY", "d", "x"], ["COPY", "d", "x", "REPLACE"], ["COPY", "d", "y"], ["GET", "y"],
        ["KEYS", "[xy]"], ["DBSIZE"], ["EXPIRE", "d", "100"],
        ["TTL", "d"], ["EXPIRE", "d", "200", "NX"], ["EXPIRE", "d", "50", "GT"],
        ["EXPIRE", "d", "50", "LT"], ["EXPIRE", "d", "10", "NX", "XX"], ["PERSIST", "d"],
        ["PERSIST", "d"], ["TTL", "d"], ["TTL", "nokey"], ["PTTL", "nokey"], ["EXPIRETIME", "d"],
        ["EXPIRE", "d", "-1"], ["EXISTS", "d"], ["EXPIRE", "x", "9223372036854775807"],
        ["PEXPIREAT", "x", "1"], ["EXISTS", "x"], ["OBJECT", "ENCODING", "y"],
        ["SET", "n", "12345"], ["OBJECT", "ENCODING", "n"], ["SET", "long", "x" * 50],
        ["OBJECT", "ENCODING", "long"], ["OBJECT", "ENCODING", "nokey"], ["FLUSHDB"], ["DBSIZE"],
    ],
    "hashes": [
        ["HSET", "h", "f1", "v1", "f2", "v2"], ["HSET", "h", "f1", "x"], ["HGET", "h", "f1"],
        ["HSETNX", "h", "f1", "y"], ["HSETNX", "h", "f3", "y"], ["HMGET", "h", "f1", "nof"],
        ["HMSET", "h", "f4", "4"], ["HLEN", "h"], ["HEXISTS", "h", "f4"], ["HSTRLEN", "h", "f1"],
        ["HDEL", "h", "f4", "nof"], ["HINCRBY", "h", "n", "5"], ["HINCRBY", "h", "f1", "1"],
        ["HINCRBYFLOAT", "h", "fl", "1.5"], ["HINCRBYFLOAT", "h", "fl", "abc"], ["HSET", "h"],
        ["HSET", "h", "a"], ["SET", "s", "v"], ["HGET", "s", "f"], ["HSET", "s", "f", "v"],
        ["GET", "h"], ["HDEL", "h", "f1", "f2", "f3", "n", "fl"], ["EXISTS", "h"],
        ["HSET", "big", "f", "x" * 65], ["OBJECT", "ENCODING", "big"],
        ["HINCRBY", "hi", "f", "9223372036854775807"], ["HINCRBY", "hi", "f", "1"],
    ],
    "errors": [
        ["SELECT", "0"], ["SELECT", "x"], ["ECHO", "hi"], ["PING", "a", "b"],
        ["GET", "a", "b"], ["AUTH", "pw"], ["CLIENT", "SETNAME", "bad name"],
        ["CLIENT", "NOSUCH"],
        ["CONFIG", "SET", "nosuchparam", "1"], ["OBJECT", "NOSUCH", "k"],
    ],
}

SORTED_REPLY = {"KEYS", "HKEYS", "HVALS"}


def run(client, cmd):
    try:
        reply = client.execute_command(*cmd)
    except redis.ResponseError as e:
        return ("error", str(e))
    if cmd[0].upper() in SORTED_REPLY and isinstance(reply, list):
        return sorted(reply)
    if cmd[0].upper() == "HGETALL" and isinstance(reply, list):
        return sorted(zip(reply[::2], reply[1::2]))
    return reply


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_replies_as_redis(name, tandem, redis_server):
    t = tandem.client(decode_responses=False)
    rd = redis_server.client(decode_responses=False)
    # Compare raw replies, not redis-py's interpretation of them.
    t.response_callbacks.clear()
    rd.response_callbacks.clear()
    mismatches = []
    for cmd in SCENARIOS[name]:
        got, want = run(t, cmd), run(rd, cmd)
        if got != want:
            mismatches.append(f"{cmd}: tandem={got!r} redis={want!r}")
    assert not mismatches, "\n".join(mismatches)
