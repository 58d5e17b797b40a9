"""Pub/sub against a real redis-server, byte for byte, plus fan-out across reactors and the
pubsub class of client-output-buffer-limit.

Script steps, run in order on both servers:
  (i, "CMD", ...)        command on connection i, one reply read
  ("send", i, "CMD", ...) command sent, nothing read (a reply per channel follows)
  ("read", i, n)          n replies read from connection i (confirmations, messages)
  ("sorted", i, "CMD", ...) array reply compared as a sorted list (hash order differs)
  ("nocompare", i, "CMD", ...) sent and read but not compared (HELLO's client id)
"""
import socket
import time

import pytest

from conftest import Server, _server_cmd, is_redis_server
from resp import RawConn, encode, parse


def run_script(srv, steps, connections=3):
    conns = [RawConn(srv.port) for _ in range(connections)]
    out = []
    try:
        for step in steps:
            kind = step[0]
            if kind == "send":
                conns[step[1]].send(encode(*step[2:]))
            elif kind == "read":
                out.append((step, conns[step[1]].read_replies(step[2])))
            elif kind == "sorted":
                out.append((step, sorted(parse(conns[step[1]].call(*step[2:])))))
            elif kind == "nocompare":
                conns[step[1]].call(*step[2:])
            else:
                out.append((step, conns[kind].call(*step[1:])))
    finally:
        for c in conns:
            c.close()
    return out


def compare_script(server, reference, steps):
    want = run_script(reference, steps)
    got = run_script(server, steps)
    for (step, w), (_, g) in zip(want, got):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)
    assert len(want) == len(got)


SCRIPTS = {
    "subscribe_publish_unsubscribe": [
        (0, "SUBSCRIBE", "news"), (1, "PUBLISH", "news", "hello"), ("read", 0, 1),
        (1, "PUBLISH", "other", "x"), (1, "PUBLISH", "news", ""), ("read", 0, 1),
        (0, "UNSUBSCRIBE", "news"), (1, "PUBLISH", "news", "gone"), (0, "PING"),
    ],
    "subscribe_several_and_twice": [
        ("send", 0, "SUBSCRIBE", "a", "b", "a"), ("read", 0, 3), (0, "SUBSCRIBE", "b"),
        ("send", 0, "UNSUBSCRIBE", "b", "zz"), ("read", 0, 2), (0, "UNSUBSCRIBE"), (0, "UNSUBSCRIBE"),
        (0, "PING"),
    ],
    "unsubscribe_when_not_subscribed": [
        (0, "UNSUBSCRIBE"), (0, "PUNSUBSCRIBE"), (0, "UNSUBSCRIBE", "x"), (0, "PUNSUBSCRIBE", "p*"),
        (0, "PING"), (0, "GET", "x"),
    ],
    "subscribed_context_rules": [
        (0, "SUBSCRIBE", "c"), (0, "GET", "x"), (0, "SET", "x", "1"), (0, "CLIENT", "ID"),
        (0, "MULTI"), (0, "PUBLISH", "c", "m"), (0, "PING"), (0, "PING", "hi"), (0, "PSUBSCRIBE", "p*"),
        (0, "PUNSUBSCRIBE", "p*"), (0, "EXEC"), (0, "NOSUCH"), (0, "GET"), (0, "UNSUBSCRIBE", "c"),
        (0, "PING"), (0, "GET", "x"),
    ],
    "patterns": [
        ("send", 0, "PSUBSCRIBE", "news.*", "h?llo"), ("read", 0, 2),
        (1, "PUBLISH", "news.tech", "t"), ("read", 0, 1), (1, "PUBLISH", "hello", "h"), ("read", 0, 1),
        (1, "PUBLISH", "news", "no"), (1, "PUBLISH", "hallo", "a"), ("read", 0, 1),
        (0, "PUNSUBSCRIBE", "news.*"), (1, "PUBLISH", "news.tech", "none"), (1, "PUBSUB", "NUMPAT"),
        (0, "PUNSUBSCRIBE"), (1, "PUBSUB", "NUMPAT"),
    ],
    "channel_and_pattern_both_match": [
        (0, "SUBSCRIBE", "news.a"), (0, "PSUBSCRIBE", "news.*"), (1, "PUBLISH", "news.a", "m"),
        ("read", 0, 2), (2, "PSUBSCRIBE", "news.*"), (1, "PUBLISH", "news.b", "n"), ("read", 0, 1),
        ("read", 2, 1),
    ],
    "pubsub_introspection": [
        (0, "SUBSCRIBE", "x1"), (1, "SUBSCRIBE", "x1"), (2, "PSUBSCRIBE", "x*"),
        ("sorted", 1 - 1 + 1, "PING"),
    ],
    "pubsub_errors": [
        (0, "PUBSUB"), (0, "PUBSUB", "FOO"), (0, "PUBSUB", "NUMPAT", "x"), (0, "PUBSUB", "CHANNELS", "a", "b"),
        (0, "PUBSUB", "NUMSUB"), (0, "PUBSUB", "NUMSUB", "a", "b"), (0, "PUBSUB", "HELP"),
        (0, "PUBSUB", "CHANNELS"), (0, "PUBLISH", "a"), (0, "SUBSCRIBE"), (0, "PSUBSCRIBE"),
        (0, "PUBSUB", "NUMPAT"),
    ],
    "resp3_shapes": [
        ("nocompare", 0, "HELLO", "3"), (0, "UNSUBSCRIBE"), (0, "PUNSUBSCRIBE"),
        (0, "SUBSCRIBE", "r"), (0, "PSUBSCRIBE", "r*"), (1, "PUBLISH", "r", "v"), ("read", 0, 2),
        (0, "GET", "x"), (0, "PING"), (0, "SET", "k", "v"),
        # Publishing to itself: the push comes before PUBLISH's own reply.
        ("send", 0, "PUBLISH", "r", "self"), ("read", 0, 3),
        (0, "MULTI"), (0, "PUBLISH", "r", "tx"), (0, "EXEC"), ("read", 0, 1),
        (0, "UNSUBSCRIBE", "r"), (0, "PUNSUBSCRIBE"),
    ],
    "resp2_to_resp3_while_subscribed": [
        (0, "SUBSCRIBE", "s"), ("nocompare", 0, "HELLO", "3"), (0, "GET", "x"), (0, "PING"),
        ("nocompare", 0, "HELLO", "2"), (0, "PING"), (0, "GET", "x"),
    ],
    "subscribe_inside_multi": [
        (0, "MULTI"), (0, "SUBSCRIBE", "q"), (0, "GET", "x"), (0, "EXEC"), (0, "PING"),
        (1, "PUBLISH", "q", "z"), ("read", 0, 1), (0, "UNSUBSCRIBE"),
    ],
    "publish_counts_receivers": [
        (0, "SUBSCRIBE", "c"), (1, "SUBSCRIBE", "c"), (2, "PUBLISH", "c", "m"), (2, "PUBLISH", "d", "m"),
        ("read", 0, 1), ("read", 1, 1),
    ],
}
SCRIPTS["pubsub_introspection"] = [
    (0, "SUBSCRIBE", "x1"), ("send", 1, "SUBSCRIBE", "x1", "x2"), ("read", 1, 2),
    ("send", 2, "PSUBSCRIBE", "x*", "y*"), ("read", 2, 2),
    ("nocompare", 2, "PING"),
]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_pubsub_script(server, reference, name):
    compare_script(server, reference, SCRIPTS[name])


def test_pubsub_channels_numsub_numpat(server, reference):
    def go(srv):
        with RawConn(srv.port) as a, RawConn(srv.port) as b, RawConn(srv.port) as q:
            a.send(encode("SUBSCRIBE", "x1", "x2", "y1"))
            a.read_replies(3)
            b.send(encode("SUBSCRIBE", "x1"))
            b.read_replies(1)
            b.send(encode("PSUBSCRIBE", "x*", "y*", "x*"))
            b.read_replies(3)
            return [sorted(parse(q.call("PUBSUB", "CHANNELS"))), sorted(parse(q.call("PUBSUB", "CHANNELS", "x*"))),
                    q.call("PUBSUB", "CHANNELS", "nomatch*"), q.call("PUBSUB", "NUMSUB", "x1", "x2", "zz"),
                    q.call("PUBSUB", "NUMPAT")]

    assert go(server) == go(reference)


def test_client_list_shows_subscriptions(server):
    with server.conn() as a, server.conn() as q:
        a_id, q_id = parse(a.call("CLIENT", "ID")), parse(q.call("CLIENT", "ID"))
        a.send(encode("SUBSCRIBE", "c1", "c2"))
        a.read_replies(2)
        a.send(encode("PSUBSCRIBE", "p*"))
        a.read_replies(1)
        lines = [l for l in parse(q.call("CLIENT", "LIST", "TYPE", "pubsub")).decode().splitlines()
                 if l.startswith("id=%d " % a_id)]
        assert len(lines) == 1
        assert " flags=P " in lines[0] and " sub=2 psub=1 " in lines[0]
        normal = parse(q.call("CLIENT", "LIST", "TYPE", "normal")).decode()
        assert "id=%d " % q_id in normal and "id=%d " % a_id not in normal
        assert q.call("CLIENT", "KILL", "ID", str(a_id)) == b":1\r\n"
        assert a.read_until_close() == b""
        time.sleep(0.1)
        # The killed subscriber is gone from the channels.
        assert q.call("PUBLISH", "c1", "m") == b":0\r\n"
        assert q.call("PUBSUB", "NUMPAT") == b":0\r\n"


def test_closed_subscriber_is_forgotten(server):
    with server.conn() as q:
        a = server.conn()
        a.call("SUBSCRIBE", "gone")
        assert q.call("PUBSUB", "NUMSUB", "gone") == b"*2\r\n$4\r\ngone\r\n:1\r\n"
        a.close()
        deadline = time.monotonic() + 5
        while q.call("PUBSUB", "NUMSUB", "gone") != b"*2\r\n$4\r\ngone\r\n:0\r\n":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert q.call("PUBLISH", "gone", "x") == b":0\r\n"


@pytest.fixture(scope="module")
def two_reactor_server():
    cmd = _server_cmd()
    if not is_redis_server(cmd.split()):   # redis-server has no --reactors
        cmd += " --reactors 2"
    srv = Server(cmd, "server").start()
    yield srv
    srv.stop()


def test_fan_out_across_reactors_in_publish_order(two_reactor_server):
    srv = two_reactor_server
    subs = [RawConn(srv.port) for _ in range(40)]
    try:
        for i, s in enumerate(subs):
            if i % 2:
                assert s.call("SUBSCRIBE", "fan") == b"*3\r\n$9\r\nsubscribe\r\n$3\r\nfan\r\n:1\r\n"
            else:
                assert s.call("PSUBSCRIBE", "f*") == b"*3\r\n$10\r\npsubscribe\r\n$2\r\nf*\r\n:1\r\n"
        with srv.conn() as pub:
            # Connections alternate between the two reactors, so both deliver.
            ids = parse(pub.call("CLIENT", "LIST")).decode()
            assert ids.count("\n") == 41
            pipeline = b"".join(encode("PUBLISH", "fan", "m%d" % i) for i in range(200))
            pub.send(pipeline)
            assert pub.read_replies(200) == [b":40\r\n"] * 200
        for i, s in enumerate(subs):
            got = s.read_replies(200)
            for n, reply in enumerate(got):
                if i % 2:
                    assert reply == b"*3\r\n$7\r\nmessage\r\n$3\r\nfan\r\n$%d\r\nm%d\r\n" % (len(b"m%d" % n), n)
                else:
                    assert reply == b"*4\r\n$8\r\npmessage\r\n$2\r\nf*\r\n$3\r\nfan\r\n$%d\r\nm%d\r\n" % (len(b"m%d" % n), n)
    finally:
        for s in subs:
            s.close()
    srv.assert_alive()


def test_pubsub_output_limit_disconnects_slow_subscriber(two_reactor_server):
    srv = two_reactor_server
    with srv.conn() as admin:
        assert admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 2mb 0 0") == b"+OK\r\n"
        try:
            slow = socket.create_connection(("127.0.0.1", srv.port))
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.sendall(encode("SUBSCRIBE", "flood"))
            time.sleep(0.2)
            # A normal client that does not read is not held to the pubsub class.
            idle = RawConn(srv.port)
            big = "x" * 100000
            deadline = time.monotonic() + 10
            receivers = 1
            while receivers == 1 and time.monotonic() < deadline:
                receivers = parse(admin.call("PUBLISH", "flood", big))
            assert receivers == 0, "the slow subscriber was never disconnected"
            assert admin.call("PUBSUB", "NUMSUB", "flood") == b"*2\r\n$5\r\nflood\r\n:0\r\n"
            assert idle.call("PING") == b"+PONG\r\n"
            idle.close()
            slow.close()
        finally:
            admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60")
    srv.assert_alive()


def test_pubsub_soft_limit_config_roundtrip(server):
    with server.conn() as c:
        assert c.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 10mb 5mb 30 replica 300mb 100mb 90") == b"+OK\r\n"
        got = parse(c.call("CONFIG", "GET", "client-output-buffer-limit"))
        assert got[1] == b"normal 0 0 0 slave 314572800 104857600 90 pubsub 10485760 5242880 30"
        c.call("CONFIG", "SET", "client-output-buffer-limit", "slave 256mb 64mb 60 pubsub 32mb 8mb 60")


def test_client_kill_type_pubsub(server):
    with server.conn() as a, server.conn() as q:
        a.call("PSUBSCRIBE", "k*")
        killed = parse(q.call("CLIENT", "KILL", "TYPE", "pubsub"))
        assert killed >= 1
        assert a.read_until_close() == b""
        # The killer itself is a normal client and still works.
        assert q.call("PING") == b"+PONG\r\n"
