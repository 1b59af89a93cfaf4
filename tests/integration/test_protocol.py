"""Wire-level behaviour: inline commands, pipelining, RESP3, protocol errors."""
import socket

import redis

from conftest import raw_exchange


def test_inline_ping_like_nc(tandem):
    assert raw_exchange(tandem.port, b"PING\r\n", 0.5) == b"+PONG\r\n"


def test_inline_with_quotes(tandem):
    out = raw_exchange(tandem.port, b'SET k "a b\\x41"\r\nGET k\r\n', 0.5)
    assert out == b"+OK\r\n$4\r\na bA\r\n"


def test_pipelined_commands_in_one_packet(tandem):
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\n%d\r\n" % (len(str(i)) + 1, i, i % 10)
                       for i in range(100))
    payload += b"*2\r\n$3\r\nGET\r\n$3\r\nk42\r\n"
    out = raw_exchange(tandem.port, payload, 0.5)
    assert out == b"+OK\r\n" * 100 + b"$1\r\n2\r\n"


def test_command_split_across_packets(tandem):
    with socket.create_connection(("127.0.0.1", tandem.port), timeout=5) as s:
        msg = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
        for i in range(len(msg)):
            s.sendall(msg[i:i + 1])
        assert s.recv(100) == b"+OK\r\n"


def test_protocol_error_closes_only_that_connection(tandem):
    other = tandem.client()
    other.set("survivor", "yes")
    out = raw_exchange(tandem.port, b"*1\r\n$x\r\n")
    assert out == b"-ERR Protocol error: invalid bulk length\r\n"
    out = raw_exchange(tandem.port, b"*abc\r\n")
    assert out == b"-ERR Protocol error: invalid multibulk length\r\n"
    out = raw_exchange(tandem.port, b"*1\r\nfoo\r\n")
    assert out.startswith(b"-ERR Protocol error: expected '$', got 'f'")
    out = raw_exchange(tandem.port, b'GET "unbalanced\r\n')
    assert out == b"-ERR Protocol error: unbalanced quotes in request\r\n"
    assert other.get("survivor") == "yes"


def test_huge_lengths_are_refused_or_cheap(tandem):
    out = raw_exchange(tandem.port, b"*1\r\n$536870913\r\n")
    assert out == b"-ERR Protocol error: invalid bulk length\r\n"
    out = raw_exchange(tandem.port, b"*2147483648\r\n")
    assert out == b"-ERR Protocol error: invalid multibulk length\r\n"
    # A legal announced length with few bytes sent must not make the server
    # allocate it; the server stays up and other clients are served.
    conns = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", tandem.port))
        s.sendall(b"*2\r\n$3\r\nGET\r\n$536870912\r\nabc")
        conns.append(s)
    c = tandem.client()
    assert c.ping()
    rss_kb = int(c.info("memory")["used_memory_rss"]) // 1024
    assert rss_kb < 512 * 1024, "announced lengths must not be allocated up front"
    for s in conns:
        s.close()


def test_too_big_inline_request(tandem):
    out = raw_exchange(tandem.port, b"A" * (70 * 1024))
    assert out == b"-ERR Protocol error: too big inline request\r\n"
    assert tandem.client().ping()


def test_hello_3_switches_to_resp3(tandem):
    out = raw_exchange(tandem.port, b"HELLO 3\r\nHSET h f v\r\nHGETALL h\r\n", 0.5)
    assert out.startswith(b"%7\r\n$6\r\nserver\r\n")
    assert out.endswith(b":1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n")
    out = raw_exchange(tandem.port, b"HELLO 4\r\n", 0.5)
    assert out == b"-NOPROTO unsupported protocol version\r\n"


def test_unknown_command_and_arity_errors(r):
    try:
        r.execute_command("NOSUCHCMD", "a", "b")
        raise AssertionError("expected an error")
    except redis.ResponseError as e:
        assert str(e) == "unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' "
    try:
        r.execute_command("GET")
        raise AssertionError("expected an error")
    except redis.ResponseError as e:
        assert str(e) == "wrong number of arguments for 'get' command"


def test_quit_closes_connection(tandem):
    assert raw_exchange(tandem.port, b"QUIT\r\nPING\r\n") == b"+OK\r\n"


def test_one_pipelining_connection_gets_large_group_commits(tandem):
    # A bulk load over one connection (redis-cli --pipe): while the replies
    # of one read wait for the fsync, the connection reads on, so one commit
    # covers up to 256 KiB of commands instead of one socket read (16 KiB).
    n = 60000
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                       % (len(k), k, len(v), v)
                       for k, v in ((b"bulk:%06d" % i, b"value:%06d" % i) for i in range(n)))
    r = tandem.client()
    flushes_before = int(r.info("persistence")["tandem_log_flushes"])
    with socket.create_connection(("127.0.0.1", tandem.port), timeout=30) as s:
        s.sendall(payload)
        expected = b"+OK\r\n" * n
        got = b""
        while len(got) < len(expected):
            data = s.recv(1 << 20)
            assert data, "connection closed early"
            got += data
    assert got == expected
    assert r.dbsize() == n and r.get("bulk:059999") == "value:059999"
    flushes = int(r.info("persistence")["tandem_log_flushes"]) - flushes_before
    # ~1.9 MB of commands: more than 100 flushes when each 16 KiB read is
    # its own commit; about 8 with read-ahead (more when the client is slow
    # to fill the socket on a loaded machine).
    assert 1 <= flushes <= 40, flushes
