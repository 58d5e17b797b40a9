"""Sharded pub/sub (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS/SHARDNUMSUB)
and RESET, compared byte for byte with a real redis-server 7.0 in standalone mode.

Scripts use test_pubsub.py's step language:
  (i, "CMD", ...)           command on connection i, one reply read
  ("send", i, "CMD", ...)   command sent, nothing read
  ("read", i, n)            n replies read from connection i
  ("sorted", i, "CMD", ...) array reply compared as a sorted list (hash order differs)
  ("nocompare", i, "CMD", ...) sent and read but not compared
Every script uses channel names of its own: the servers are shared by the module.
"""
import time

import pytest

from resp import RawConn, encode, parse
from test_pubsub import compare_script


SCRIPTS = {
    "ssubscribe_spublish_sunsubscribe": [
        (0, "SSUBSCRIBE", "sa"), (1, "SPUBLISH", "sa", "hello"), ("read", 0, 1),
        (1, "SPUBLISH", "sa-other", "x"), (1, "SPUBLISH", "sa", ""), ("read", 0, 1),
        (0, "SUNSUBSCRIBE", "sa"), (1, "SPUBLISH", "sa", "gone"), (0, "PING"), (0, "GET", "x"),
    ],
    # SUBSCRIBE/PSUBSCRIBE confirmations count channels and patterns; SSUBSCRIBE's count
    # shard channels only (separate counts in 7.0); the client stays in pub/sub mode
    # while either is non-zero.
    "separate_counts": [
        (0, "SUBSCRIBE", "cb"), ("send", 0, "SSUBSCRIBE", "cx", "cy", "cx"), ("read", 0, 3),
        (0, "PSUBSCRIBE", "cp*"), (0, "SUBSCRIBE", "cz"),
        ("send", 0, "SUNSUBSCRIBE", "cy", "cx", "cnone"), ("read", 0, 3),
        (0, "GET", "x"), (0, "SUNSUBSCRIBE"), (0, "SUNSUBSCRIBE", "cx"),
        ("send", 0, "UNSUBSCRIBE", "cz", "cb"), ("read", 0, 2), (0, "GET", "x"),
        (0, "SSUBSCRIBE", "cq"), (0, "PUNSUBSCRIBE"), (0, "GET", "x"), (0, "PING"),
        (0, "UNSUBSCRIBE"), (0, "SUNSUBSCRIBE"), (0, "PING"), (0, "GET", "x"),
    ],
    "sunsubscribe_when_not_subscribed": [
        (0, "SUNSUBSCRIBE"), (0, "SUNSUBSCRIBE", "nx"), ("send", 0, "SUNSUBSCRIBE", "n1", "n2"),
        ("read", 0, 2), (0, "PING"), (0, "GET", "x"),
    ],
    "shard_subscribed_context_rules": [
        (0, "SSUBSCRIBE", "rc"), (0, "GET", "x"), (0, "SPUBLISH", "rc", "m"), (0, "PUBLISH", "rc", "m"),
        (0, "MULTI"), (0, "PING"), (0, "PING", "hi"), (0, "SUBSCRIBE", "rd"), (0, "PSUBSCRIBE", "r*"),
        (0, "PUNSUBSCRIBE", "r*"), (0, "UNSUBSCRIBE", "rd"), (0, "NOSUCH"), (0, "SSUBSCRIBE"),
        (0, "SUNSUBSCRIBE", "rc"), (0, "PING"), (0, "GET", "x"),
    ],
    # Shard messages reach shard subscribers only: not patterns, not a SUBSCRIBE of the
    # same name; PUBLISH does not reach shard subscribers.
    "namespaces_are_separate": [
        (0, "SSUBSCRIBE", "ns"), (1, "SUBSCRIBE", "ns"), (2, "PSUBSCRIBE", "n*"),
        (2, "PING"), (1, "PING"),
        (0, "PING"),
        ("nocompare", 2, "PUNSUBSCRIBE"), ("nocompare", 1, "UNSUBSCRIBE"),
        (1, "SPUBLISH", "ns", "shard"), ("read", 0, 1),
        ("nocompare", 1, "SUBSCRIBE", "ns"), ("nocompare", 2, "PSUBSCRIBE", "n*"),
        (0, "SUNSUBSCRIBE"),
        # 0 is now a plain client: it publishes to the others.
        (0, "SPUBLISH", "ns", "only-shard"), (0, "PUBLISH", "ns", "plain"),
        ("read", 1, 1), ("read", 2, 1),
        (0, "SSUBSCRIBE", "ns"), ("nocompare", 1, "UNSUBSCRIBE"), ("nocompare", 2, "PUNSUBSCRIBE"),
        (1, "PUBLISH", "ns", "plain-again"), (1, "SPUBLISH", "ns", "after"), ("read", 0, 1),
    ],
    "spublish_counts_receivers": [
        (0, "SSUBSCRIBE", "sr"), (1, "SSUBSCRIBE", "sr"), (2, "SPUBLISH", "sr", "m"),
        (2, "SPUBLISH", "sr-none", "m"), ("read", 0, 1), ("read", 1, 1),
    ],
    "resp3_shapes": [
        ("nocompare", 0, "HELLO", "3"), (0, "SUNSUBSCRIBE"), ("send", 0, "SSUBSCRIBE", "r3", "r4"),
        ("read", 0, 2), (1, "SPUBLISH", "r3", "v"), ("read", 0, 1),
        (0, "GET", "x"), (0, "PING"), (0, "SET", "k3", "v"),
        # Publishing to itself: the push comes before SPUBLISH's own reply.
        ("send", 0, "SPUBLISH", "r4", "self"), ("read", 0, 2),
        (0, "MULTI"), (0, "SPUBLISH", "r3", "tx"), (0, "EXEC"), ("read", 0, 1),
        ("send", 0, "SUNSUBSCRIBE", "r3", "r4"), ("read", 0, 2), (0, "SUNSUBSCRIBE"),
    ],
    # SUBSCRIBE stays allowed inside MULTI (Redis's compatibility exception); SSUBSCRIBE
    # is refused there as for any client that may not block.
    "ssubscribe_inside_multi": [
        (0, "MULTI"), (0, "SSUBSCRIBE", "mq"), (0, "SUBSCRIBE", "mr"), (0, "SUNSUBSCRIBE", "mq"),
        (0, "EXEC"), (0, "PING"), (1, "SPUBLISH", "mq", "z"), (1, "PUBLISH", "mr", "z"), ("read", 0, 1),
        (0, "UNSUBSCRIBE"), (0, "PING"),
    ],
    "errors_and_arity": [
        (0, "PUBSUB", "SHARDCHANNELS", "a", "b"), (0, "PUBSUB", "SHARDNUMSUB"),
        (0, "PUBSUB", "shardnumsub", "e-none"), (0, "PUBSUB", "HELP"), (0, "SPUBLISH", "a"),
        (0, "SPUBLISH", "a", "b", "c"), (0, "SSUBSCRIBE"), (0, "RESET", "x"),
        (0, "COMMAND", "INFO", "ssubscribe", "sunsubscribe", "spublish", "reset"),
        (0, "COMMAND", "INFO", "pubsub|shardchannels", "pubsub|shardnumsub"),
        (0, "COMMAND", "DOCS", "spublish", "reset"),
    ],
    "reset_plain": [
        (0, "RESET"), (0, "PING"), (0, "RESET"),
        # REPLCONF alone does not make a replica: RESET still applies.
        (0, "REPLCONF", "listening-port", "6999"), (0, "RESET"), (0, "PING"),
    ],
    "reset_discards_multi": [
        (0, "MULTI"), (0, "SET", "rm", "1"), (0, "RESET"), (0, "EXEC"), (0, "GET", "rm"),
        (0, "MULTI"), (0, "NOSUCH"), (0, "RESET"), (0, "MULTI"), (0, "SET", "rm", "2"), (0, "EXEC"),
        (0, "DEL", "rm"),
    ],
    "reset_unwatches": [
        (0, "WATCH", "rw"), (1, "SET", "rw", "changed"), (0, "RESET"), (0, "MULTI"),
        (0, "SET", "rw", "mine"), (0, "EXEC"), (0, "GET", "rw"), (0, "DEL", "rw"),
    ],
    "reset_selects_db0_and_resp2_and_no_name": [
        (0, "SELECT", "5"), (0, "SET", "rs", "in5"), ("nocompare", 0, "HELLO", "3"),
        (0, "CLIENT", "SETNAME", "someone"), (0, "HSET", "rh", "f", "v"), (0, "HGETALL", "rh"),
        (0, "RESET"), (0, "GET", "rs"), (0, "HGETALL", "rh"), (0, "CLIENT", "GETNAME"),
        (0, "SELECT", "5"), (0, "GET", "rs"), (0, "HGETALL", "rh"), (0, "DEL", "rs", "rh"),
    ],
    "reset_unsubscribes_everything_silently": [
        (0, "SUBSCRIBE", "ra"), (0, "PSUBSCRIBE", "rb*"), (0, "SSUBSCRIBE", "rc2"), (0, "GET", "x"),
        (0, "RESET"), (0, "GET", "x"), (0, "PING"),
        (1, "PUBLISH", "ra", "m"), (1, "PUBLISH", "rbx", "m"), (1, "SPUBLISH", "rc2", "m"),
        (1, "PUBSUB", "NUMSUB", "ra"), (1, "PUBSUB", "SHARDNUMSUB", "rc2"), (1, "PUBSUB", "NUMPAT"),
        (0, "UNSUBSCRIBE"), (0, "SUNSUBSCRIBE"), (0, "PUNSUBSCRIBE"),
    ],
    "reset_resp3_subscriber": [
        ("nocompare", 0, "HELLO", "3"), (0, "SSUBSCRIBE", "r5"), (0, "SUBSCRIBE", "r6"),
        (0, "RESET"), (0, "PING"), (0, "HSET", "rh3", "a", "b"), (0, "HGETALL", "rh3"), (0, "DEL", "rh3"),
    ],
}

@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_shard_script(server, reference, name):
    compare_script(server, reference, SCRIPTS[name])


def test_shardchannels_and_shardnumsub(server, reference):
    def go(srv):
        with RawConn(srv.port) as a, RawConn(srv.port) as b, RawConn(srv.port) as q:
            a.send(encode("SSUBSCRIBE", "hx1", "hx2", "hy1"))
            a.read_replies(3)
            b.send(encode("SSUBSCRIBE", "hx1"))
            b.read_replies(1)
            b.send(encode("SUBSCRIBE", "hz1"))   # a plain channel: not a shard channel
            b.read_replies(1)
            out = [sorted(parse(q.call("PUBSUB", "SHARDCHANNELS", "h*"))),
                   sorted(parse(q.call("PUBSUB", "SHARDCHANNELS", "hx*"))),
                   q.call("PUBSUB", "SHARDCHANNELS", "nomatch*"),
                   q.call("PUBSUB", "SHARDNUMSUB", "hx1", "hx2", "hz1", "zz"),
                   q.call("PUBSUB", "NUMSUB", "hx1", "hz1"),
                   sorted(parse(q.call("PUBSUB", "CHANNELS", "h*")))]
            b.send(encode("SUNSUBSCRIBE", "hx1"))
            b.read_replies(1)
            out.append(q.call("PUBSUB", "SHARDNUMSUB", "hx1"))
            a.send(encode("SUNSUBSCRIBE", "hx1", "hx2", "hy1"))
            a.read_replies(3)
            out.append(q.call("PUBSUB", "SHARDCHANNELS", "h*"))
            return out

    want = go(reference)
    assert go(server) == want
    assert want[0] == [b"hx1", b"hx2", b"hy1"]


def test_unsubscribe_all_shard_channels_in_some_order(server, reference):
    """SUNSUBSCRIBE without arguments confirms each shard channel once (Redis's order is
    its hash order: compared as a set), counting down to 0."""
    def go(srv):
        with RawConn(srv.port) as a:
            a.send(encode("SSUBSCRIBE", "ua", "ub", "uc"))
            a.read_replies(3)
            a.send(encode("SUNSUBSCRIBE"))
            got = [parse(r) for r in a.read_replies(3)]
            return sorted(g[1] for g in got), [g[2] for g in got], [g[0] for g in got], a.call("GET", "x")

    assert go(server) == go(reference)


def client_line(q, cid, kind=None):
    args = ("CLIENT", "LIST") + (("TYPE", kind) if kind else ())
    lines = [l for l in parse(q.call(*args)).decode().splitlines() if l.startswith("id=%d " % cid)]
    return lines[0] if lines else None


def test_shard_subscriber_is_pubsub_class_and_shows_ssub(server):
    with server.conn() as a, server.conn() as q:
        a_id = parse(a.call("CLIENT", "ID"))
        a.send(encode("SSUBSCRIBE", "oa", "ob"))
        a.read_replies(2)
        line = client_line(q, a_id, "pubsub")
        assert line is not None, "a shard-only subscriber must be of the pubsub class"
        assert " flags=P " in line and " sub=0 psub=0 ssub=2 " in line
        assert client_line(q, a_id, "normal") is None
        a.send(encode("SUNSUBSCRIBE", "oa", "ob"))
        a.read_replies(2)
        line = client_line(q, a_id, "normal")
        assert line is not None and " flags=N " in line and " ssub=0 " in line
        # RESET also brings a subscriber back to the normal class.
        a.call("SSUBSCRIBE", "oc")
        assert client_line(q, a_id, "pubsub") is not None
        assert a.call("RESET") == b"+RESET\r\n"
        assert client_line(q, a_id, "pubsub") is None
        assert " flags=N " in client_line(q, a_id, "normal")


def test_info_counts_shard_channels(server):
    with server.conn() as a, server.conn() as q:
        a.call("SSUBSCRIBE", "info-shard")
        info = parse(q.call("INFO", "stats")).decode()
        assert "\r\npubsubshard_channels:1\r\n" in info
        a.call("SUNSUBSCRIBE", "info-shard")
        info = parse(q.call("INFO", "stats")).decode()
        assert "\r\npubsubshard_channels:0\r\n" in info


def test_closed_shard_subscriber_is_forgotten(server):
    with server.conn() as q:
        a = server.conn()
        a.call("SSUBSCRIBE", "sgone")
        assert q.call("PUBSUB", "SHARDNUMSUB", "sgone") == b"*2\r\n$5\r\nsgone\r\n:1\r\n"
        a.close()
        deadline = time.monotonic() + 5
        while q.call("PUBSUB", "SHARDNUMSUB", "sgone") != b"*2\r\n$5\r\nsgone\r\n:0\r\n":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert q.call("SPUBLISH", "sgone", "x") == b":0\r\n"
