"""A connection whose unsent output piles up has its requests held back, not dropped: the
other clients keep being served, and once it reads, every reply arrives complete and in
the order its requests were sent. (redis-server runs such a pipeline to the end at once, so
the check that requests were held is this server's own behaviour.)
"""
import socket
import time

from resp import RawConn, encode, parse


def test_held_requests_resume_in_order(server):
    big = b"y" * 100000
    with server.conn() as setup:
        setup.call("SET", "big", big)
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    n = 300
    pipeline = (encode("GET", "big") * n + encode("PING") +
                b"".join(encode("INCR", "seq") for _ in range(n)) + encode("GET", "seq"))
    s.sendall(pipeline)
    # While that client reads nothing, its output passes the congestion threshold and
    # the rest of its pipeline waits; another client is answered at once.
    time.sleep(0.5)
    t = time.monotonic()
    with server.conn() as other:
        for _ in range(10):
            assert other.call("PING") == b"+PONG\r\n"
        # Its INCRs have not all run yet: they are held until it reads.
        ran = parse(other.call("GET", "seq"))
    assert time.monotonic() - t < 2
    assert ran is None or int(ran) < n
    c = RawConn.__new__(RawConn)
    c.sock, c.buf, c.eof = s, b"", False
    want_big = b"$100000\r\n" + big + b"\r\n"
    for _ in range(n):
        assert c.read_reply() == want_big
    assert c.read_reply() == b"+PONG\r\n"
    for i in range(1, n + 1):
        assert c.read_reply() == b":%d\r\n" % i
    assert c.read_reply() == b"$3\r\n%d\r\n" % n
    s.close()


def test_normal_pipeline_is_not_held(server):
    # 16-deep pipelines with small replies, as redis-benchmark -P 16 sends: all answered.
    with server.conn() as c:
        for round_ in range(50):
            c.send(b"".join(encode("SET", "k%d" % i, "v") for i in range(16)))
            assert c.read_replies(16) == [b"+OK\r\n"] * 16


def test_long_pipeline_sent_before_reading_completes(server):
    """redis-py sends a whole pipeline before reading any reply. When the replies pass the
    congestion threshold while the client is still sending, its input must still be read:
    pausing it would leave both sides waiting for each other."""
    import redis
    r = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=60)
    r.set("v", "x" * 100)
    n = 300000   # about 9 MB of requests and 33 MB of replies: more than socket buffers hold
    p = r.pipeline(transaction=False)
    for _ in range(n):
        p.get("v")
    replies = p.execute()
    assert len(replies) == n and replies[0] == replies[-1] == b"x" * 100
    assert r.ping()
