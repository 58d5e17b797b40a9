"""Keyspace notifications, SWAPDB and LCS, differential against a real redis-server.

For notifications, a client subscribed to the pattern `__key*__:*` records every message
while a corpus of commands runs on another connection; the recorded message bytes must be
identical to redis-server's, in the same order, for several notify-keyspace-events values.
A final PUBLISH on a channel of its own marks the end of the sequence.
"""
import difflib
import time

import pytest

from resp import RawConn, encode, parse


class Sleep:
    def __init__(self, seconds):
        self.seconds = seconds

    def __repr__(self):
        return "Sleep(%r)" % self.seconds


class Block:
    """Send `args` on side connection `conn` without reading its reply (a blocking pop)."""

    def __init__(self, conn, *args):
        self.conn, self.args = conn, args

    def __repr__(self):
        return "Block(%r, %r)" % (self.conn, self.args)


class Served:
    """Read the reply of side connection `conn`'s blocked command."""

    def __init__(self, conn):
        self.conn = conn

    def __repr__(self):
        return "Served(%r)" % self.conn


class Restore:
    """DUMP `src` and RESTORE it as `dst` (extra arguments appended)."""

    def __init__(self, src, dst, *extra):
        self.src, self.dst, self.extra = src, dst, extra

    def __repr__(self):
        return "Restore(%r, %r)" % (self.src, self.dst)


def wait_blocked(srv, n):
    """Until `n` clients are blocked (INFO clients), so a push comes after the block."""
    deadline = time.monotonic() + 5
    with RawConn(srv.port) as c:
        while time.monotonic() < deadline:
            info = parse(c.call("INFO", "clients")).decode()
            for line in info.split("\r\n"):
                if line.startswith("blocked_clients:") and int(line.split(":")[1]) >= n:
                    return
            time.sleep(0.01)
    raise AssertionError("clients did not block")


def record(srv, flags, steps, resp3=False):
    """Runs `steps` with notify-keyspace-events `flags`; returns (messages, replies)."""
    with RawConn(srv.port) as admin:
        assert admin.call("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
    sub = RawConn(srv.port)
    main = RawConn(srv.port)
    side = {}
    replies = []
    try:
        if resp3:
            sub.call("HELLO", "3")
        sub.send(encode("PSUBSCRIBE", "__key*__:*"))
        sub.read_reply()
        sub.send(encode("SUBSCRIBE", "notify-test-end"))
        sub.read_reply()
        for s in steps:
            if isinstance(s, Sleep):
                time.sleep(s.seconds)
            elif isinstance(s, Block):
                if s.conn not in side:
                    side[s.conn] = RawConn(srv.port)
                side[s.conn].send(encode(*s.args))
                wait_blocked(srv, sum(1 for _ in side))
            elif isinstance(s, Served):
                replies.append((s, side.pop(s.conn).read_reply()))
            elif isinstance(s, Restore):
                payload = parse(main.call("DUMP", s.src))
                replies.append((s, main.call("RESTORE", s.dst, "0", payload, *s.extra)))
            else:
                replies.append((s, main.call(*s)))
        main.call("PUBLISH", "notify-test-end", "x")
        messages = []
        while True:
            m = sub.read_reply()
            if b"notify-test-end" in m:
                break
            messages.append(m)
    finally:
        for c in [sub, main] + list(side.values()):
            c.close()
        with RawConn(srv.port) as admin:
            admin.call("CONFIG", "SET", "notify-keyspace-events", "")
            admin.call("FLUSHALL")
    return messages, replies


def show(messages):
    return "\n".join(repr(parse(m)[1:]) for m in messages)


FLAG_SETS = ["KEA", "KEAnm", "Kl", "Ex", "En", "Eg$", "Kszh", "Etm"]

CORPUS = {
    "strings": [
        ("SET", "a", "1"), ("SET", "a", "2", "EX", "100"), ("SET", "b", "v", "PX", "100000", "NX"),
        ("SET", "b", "w", "NX"), ("SET", "b", "v", "XX", "KEEPTTL"), ("SET", "nob", "v", "XX"),
        ("SET", "a", "3", "GET"), ("SETNX", "c", "1"), ("SETNX", "c", "2"), ("SETEX", "d", "100", "v"),
        ("PSETEX", "e", "100000", "v"), ("GETSET", "a", "4"), ("GETSET", "gs", "1"),
        ("MSET", "m1", "1", "m2", "2"), ("MSETNX", "m3", "1", "m4", "2"), ("MSETNX", "m1", "x", "m5", "y"),
        ("APPEND", "a", "xyz"), ("APPEND", "newapp", "x"), ("SETRANGE", "a", "1", "Q"),
        ("SETRANGE", "sr", "3", "x"), ("SETRANGE", "a", "0", ""), ("SETRANGE", "nosr", "0", ""),
        ("INCR", "n"), ("INCRBY", "n", "5"), ("DECR", "n"), ("DECRBY", "n", "2"),
        ("INCRBYFLOAT", "f", "1.5"), ("INCR", "a"), ("GETDEL", "a"), ("GETDEL", "nokey"),
        ("GETEX", "b", "EX", "100"), ("GETEX", "b", "PERSIST"), ("GETEX", "b"), ("GETEX", "d", "PXAT", "1"),
        ("GETEX", "nokey", "EX", "5"), ("GET", "c"), ("GET", "missing"), ("STRLEN", "missing"),
        ("MGET", "missing", "c", "missing2"), ("GETRANGE", "missing", "0", "1"),
        ("SETBIT", "bits", "7", "1"), ("SETBIT", "bits", "7", "1"), ("SETBIT", "bits", "7", "0"),
        ("BITOP", "OR", "dest", "bits", "c"), ("BITOP", "AND", "dest", "missing1", "missing2"),
        ("BITFIELD", "bf", "SET", "u8", "0", "255"), ("BITFIELD", "bf", "GET", "u8", "0"),
        ("BITFIELD", "bf2", "INCRBY", "u8", "0", "1"), ("BITCOUNT", "missing"),
        ("PFADD", "h", "a", "b", "c"), ("PFADD", "h", "a"), ("PFADD", "h2"), ("PFMERGE", "h3", "h"),
        ("PFCOUNT", "h"), ("LCS", "c", "e"), ("SET", "big", "x", "EXAT", "1"),
    ],
    "keys": [
        ("SET", "a", "1"), ("SET", "b", "2"), ("DEL", "a", "b", "missing"), ("SET", "a", "1"),
        ("UNLINK", "a", "missing"), ("SET", "k", "v"), ("EXPIRE", "k", "100"), ("PEXPIRE", "k", "100000"),
        ("EXPIREAT", "k", "4102444800"), ("PEXPIREAT", "k", "4102444800000"), ("EXPIRE", "k", "100", "NX"),
        ("PERSIST", "k"), ("PERSIST", "k"), ("EXPIRE", "missing", "10"), ("SET", "gone", "v"),
        ("EXPIREAT", "gone", "1"), ("SET", "gone", "v"), ("EXPIRE", "gone", "0"), ("SET", "gone", "v"),
        ("PEXPIRE", "gone", "-5"),
        ("SET", "r1", "v"), ("RENAME", "r1", "r2"), ("SET", "r3", "x"), ("RENAME", "r2", "r3"),
        ("RENAME", "r3", "r3"), ("RENAMENX", "r3", "r4"), ("SET", "r5", "x"), ("RENAMENX", "r4", "r5"),
        ("RENAME", "missing", "x"), ("EXPIRE", "r4", "100"), ("RENAME", "r4", "r6"),
        ("MOVE", "r6", "1"), ("SET", "r5", "x"), ("SELECT", "1"), ("SET", "r5", "y"), ("SELECT", "0"),
        ("MOVE", "r5", "1"), ("MOVE", "missing", "1"),
        ("SET", "src", "v"), ("COPY", "src", "dst"), ("COPY", "src", "dst"), ("COPY", "src", "dst", "REPLACE"),
        ("COPY", "src", "dst", "DB", "2"), ("RPUSH", "lsrc", "a"), ("COPY", "lsrc", "ldst"),
        Restore("src", "restored"), Restore("lsrc", "restored", "REPLACE"), Restore("src", "restored"),
        ("TOUCH", "src", "missing"), ("TYPE", "missing"), ("EXISTS", "missing", "src"), ("TTL", "missing"),
        ("PTTL", "missing"), ("EXPIRETIME", "missing"), ("OBJECT", "ENCODING", "missing"), ("DUMP", "missing"),
        ("SET", "lazy", "v"), ("PEXPIRE", "lazy", "10"), Sleep(0.05), ("GET", "lazy"),
        ("SET", "lazy2", "v"), ("PEXPIRE", "lazy2", "10"), Sleep(0.05), ("EXISTS", "lazy2"),
        ("SET", "lazy3", "v"), ("PEXPIRE", "lazy3", "10"), Sleep(0.05), ("SET", "lazy3", "w"),
        ("SET", "lazy4", "v"), ("PEXPIRE", "lazy4", "10"), Sleep(0.05), ("RPUSH", "lazy4", "w"),
        ("RPUSH", "sl", "3", "1", "2"), ("SORT", "sl", "STORE", "sorted"), ("SORT", "missing", "STORE", "sorted"),
        ("SELECT", "3"), ("SET", "in3", "v"), ("DEL", "in3"), ("SELECT", "0"),
        ("FLUSHDB",), ("SET", "x", "1"), ("FLUSHALL",),
        ("SET", "act", "v", "PX", "20"), Sleep(0.4), ("SET", "after", "1"),
        ("SELECT", "3"), ("SET", "act3", "v", "PX", "20"), ("SELECT", "0"), Sleep(0.4), ("SET", "after", "2"),
        ("HINCRBYFLOAT", "hf", "f", "1.5"), ("EXPIRE", "hf", "100"), ("EXPIRE", "hf", "50", "GT"),
        ("EXPIRE", "hf", "50", "LT"), ("EXPIRE", "hf", "500", "XX"), ("EXPIRE", "hf", "5", "NX"),
        ("MULTI",), ("GET", "nokey"), ("SET", "hf", "v"), ("EXEC",),
    ],
    "lists": [
        ("LPUSH", "l", "a", "b", "c"), ("RPUSH", "l", "d"), ("LPUSHX", "nol", "x"), ("RPUSHX", "l", "e"),
        ("LINSERT", "l", "BEFORE", "a", "z"), ("LINSERT", "l", "BEFORE", "nosuch", "z"), ("LSET", "l", "0", "q"),
        ("LPOP", "l"), ("RPOP", "l", "2"), ("LPOP", "l", "0"), ("LTRIM", "l", "0", "0"), ("LREM", "l", "0", "nosuch"),
        ("LREM", "l", "0", "b"), ("LPUSH", "l2", "a", "b"), ("LMOVE", "l2", "l3", "LEFT", "RIGHT"),
        ("RPOPLPUSH", "l2", "l3"), ("RPOPLPUSH", "l3", "l3"), ("LMPOP", "2", "nol", "l3", "LEFT", "COUNT", "5"),
        ("LPOP", "l3"), ("LPOP", "nol"), ("LRANGE", "nol", "0", "-1"), ("LLEN", "nol"),
        ("RPUSH", "t", "a", "b", "c"), ("LTRIM", "t", "5", "10"), ("RPUSH", "t", "x"), ("LPOP", "t", "5"),
        Block(1, "BLPOP", "bl", "0"), ("RPUSH", "bl", "x", "y"), Served(1), ("LPOP", "bl"),
        Block(1, "BLMOVE", "bm", "bdst", "LEFT", "LEFT", "0"), ("LPUSH", "bm", "v"), Served(1),
        Block(1, "BRPOP", "bq", "0"), ("MULTI",), ("RPUSH", "bq", "1"), ("RPUSH", "other", "2"), ("EXEC",),
        Served(1), Block(1, "BLMPOP", "0", "1", "bp", "RIGHT", "COUNT", "2"), ("RPUSH", "bp", "1", "2", "3"),
        Served(1), ("BLPOP", "bp", "0"), ("RPUSH", "bp", "z"), ("BRPOPLPUSH", "bp", "bp2", "0"),
    ],
    "hashes": [
        ("HSET", "h", "f", "v", "f2", "v2"), ("HSET", "h", "f", "v"), ("HSETNX", "h", "f", "x"),
        ("HSETNX", "h", "f3", "x"), ("HSETNX", "h2", "f", "x"), ("HMSET", "h", "a", "1"), ("HINCRBY", "h", "n", "1"),
        ("HINCRBYFLOAT", "h", "fl", "1.5"), ("HINCRBY", "hn", "n", "1"), ("HDEL", "h", "f", "f2"),
        ("HDEL", "h", "nosuch"), ("HDEL", "h2", "f"), ("HGET", "missing", "f"), ("HGETALL", "missing"),
        ("HLEN", "missing"), ("HDEL", "h", "f3", "a", "n", "fl"),
    ],
    "sets": [
        ("SADD", "s", "a", "b", "c"), ("SADD", "s", "a"), ("SREM", "s", "a"), ("SREM", "s", "zz"),
        ("SMOVE", "s", "s2", "b"), ("SMOVE", "s", "s2", "c"), ("SMOVE", "s2", "s2", "c"),
        ("SMOVE", "missing", "s2", "c"), ("SADD", "s2", "x", "y", "z"),
        ("SINTERSTORE", "d", "s2", "s2"), ("SUNIONSTORE", "d2", "s2", "missing"), ("SDIFFSTORE", "d", "s2", "s2"),
        ("SINTERSTORE", "d2", "s2", "missing"), ("SINTERSTORE", "d3", "missing", "s2"), ("SPOP", "d3"),
        ("SADD", "one", "1"), ("SPOP", "one"), ("SADD", "p", "1", "2", "3", "4"), ("SPOP", "p", "0"),
        ("SPOP", "p", "2"), ("SPOP", "p", "5"), ("SPOP", "missing"), ("SISMEMBER", "missing", "a"),
        ("SCARD", "missing"), ("SMEMBERS", "missing"), ("SINTERCARD", "1", "missing"),
    ],
    "zsets": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "z", "INCR", "5", "a"), ("ZINCRBY", "z", "1", "b"),
        ("ZADD", "z", "1", "c"), ("ZADD", "z", "3", "c"), ("ZADD", "z", "NX", "9", "c"), ("ZADD", "z", "CH", "9", "c"),
        ("ZREM", "z", "nosuch"), ("ZREM", "z", "c"), ("ZADD", "z", "4", "d", "5", "e", "6", "f"),
        ("ZREMRANGEBYSCORE", "z", "100", "200"), ("ZREMRANGEBYSCORE", "z", "4", "4"),
        ("ZREMRANGEBYRANK", "z", "0", "0"), ("ZREMRANGEBYLEX", "z", "-", "+"),
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZUNIONSTORE", "u", "2", "z", "missing"),
        ("ZINTERSTORE", "u", "2", "z", "missing"), ("ZINTERSTORE", "u", "2", "z", "missing"),
        ("ZDIFFSTORE", "u", "1", "z"), ("ZRANGESTORE", "rs", "z", "0", "1"), ("ZRANGESTORE", "rs", "z", "5", "9"),
        ("ZPOPMIN", "z"), ("ZPOPMAX", "z", "0"), ("ZPOPMAX", "z", "10"), ("ZPOPMIN", "missing"),
        ("ZADD", "m", "1", "a", "2", "b"), ("ZMPOP", "2", "missing", "m", "MIN", "COUNT", "5"),
        Block(1, "BZPOPMIN", "bz", "0"), ("ZADD", "bz", "1", "a"), Served(1),
        Block(1, "BZMPOP", "0", "1", "bz", "MAX"), ("ZADD", "bz", "5", "x"), Served(1),
        ("ZSCORE", "missing", "a"), ("ZCARD", "missing"), ("ZRANGE", "missing", "0", "-1"),
        ("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
        ("GEOADD", "g", "13.361389", "38.115556", "Palermo"),
        ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
        ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"),
        ("GEORADIUS", "g", "15", "37", "200", "km", "STORE", "gr"),
        ("GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "gr"),
        ("GEORADIUSBYMEMBER", "g", "Palermo", "1", "km", "STORE", "gr"),
    ],
    "streams": [
        ("XADD", "st", "1-1", "f", "v"), ("XADD", "st", "MAXLEN", "1", "2-1", "f", "v"),
        ("XADD", "st", "MAXLEN", "5", "3-1", "f", "v"), ("XADD", "nost", "NOMKSTREAM", "1-1", "f", "v"),
        ("XTRIM", "st", "MAXLEN", "0"), ("XTRIM", "st", "MAXLEN", "0"), ("XADD", "st", "4-1", "f", "v"),
        ("XADD", "st", "5-1", "f", "v"), ("XDEL", "st", "4-1"), ("XDEL", "st", "9-9"), ("XSETID", "st", "10-1"),
        ("XGROUP", "CREATE", "st", "g", "0"), ("XGROUP", "CREATE", "st2", "g", "$", "MKSTREAM"),
        ("XGROUP", "CREATECONSUMER", "st", "g", "c1"), ("XGROUP", "CREATECONSUMER", "st", "g", "c1"),
        ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "st", ">"), ("XACK", "st", "g", "5-1"),
        ("XCLAIM", "st", "g", "c3", "0", "5-1"), ("XAUTOCLAIM", "st", "g", "c4", "0", "0"),
        ("XGROUP", "DELCONSUMER", "st", "g", "c1"), ("XGROUP", "SETID", "st", "g", "0"),
        ("XGROUP", "DESTROY", "st", "g"), ("XGROUP", "DESTROY", "st", "g"), ("XLEN", "missing"),
        ("XRANGE", "missing", "-", "+"), ("XADD", "st", "MINID", "6", "11-1", "f", "v"),
        Block(1, "XREAD", "BLOCK", "0", "STREAMS", "bs", "$"), ("XADD", "bs", "1-1", "f", "v"), Served(1),
        ("XGROUP", "CREATE", "bs", "g2", "$"),
        Block(1, "XREADGROUP", "GROUP", "g2", "cc", "BLOCK", "0", "STREAMS", "bs", ">"),
        ("XADD", "bs", "2-1", "f", "v"), Served(1),
    ],
    "reads": [
        ("GETBIT", "m", "0"), ("BITPOS", "m", "1"), ("BITCOUNT", "m"), ("BITFIELD_RO", "m", "GET", "u8", "0"),
        ("BITFIELD", "m", "GET", "u8", "0"), ("HRANDFIELD", "m"), ("SRANDMEMBER", "m"), ("ZRANDMEMBER", "m"),
        ("LINDEX", "m", "0"), ("LPOS", "m", "a"), ("XINFO", "STREAM", "m"), ("XPENDING", "m", "g"),
        ("SORT_RO", "m"), ("SORT", "m"), ("DUMP", "m"), ("GEOPOS", "m", "a"), ("GEODIST", "m", "a", "b"),
        ("GEOHASH", "m", "a"), ("ZRANK", "m", "a"), ("ZCOUNT", "m", "0", "1"), ("ZLEXCOUNT", "m", "-", "+"),
        ("HSTRLEN", "m", "f"), ("HEXISTS", "m", "f"), ("HMGET", "m", "f"), ("HKEYS", "m"), ("HVALS", "m"),
        ("SMISMEMBER", "m", "a"), ("ZMSCORE", "m", "a"), ("PFCOUNT", "m"), ("PFCOUNT", "m", "m2"),
        ("OBJECT", "ENCODING", "m"), ("MEMORY", "USAGE", "m"), ("COPY", "m", "d"), ("RENAME", "m", "d"),
        ("LMOVE", "m", "d", "LEFT", "LEFT"), ("SMOVE", "m", "d", "a"), ("SINTER", "m", "m2"), ("SUNION", "m", "m2"),
        ("SDIFF", "m", "m2"), ("SUNIONSTORE", "d", "m", "m2"), ("ZUNION", "2", "m", "m2"),
        ("ZUNIONSTORE", "d", "2", "m", "m2"), ("ZINTERCARD", "2", "m", "m2"), ("SINTERCARD", "2", "m", "m2"),
        ("GEOSEARCH", "m", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
        ("GEORADIUS_RO", "m", "0", "0", "1", "km"), ("XREAD", "STREAMS", "m", "0"), ("XREVRANGE", "m", "+", "-"),
        ("XLEN", "m"), ("ZRANGEBYSCORE", "m", "0", "1"), ("ZREVRANGE", "m", "0", "1"), ("LRANGE", "m", "0", "1"),
        ("HSCAN", "m", "0"), ("SSCAN", "m", "0"), ("ZSCAN", "m", "0"), ("SUBSTR", "m", "0", "1"),
        ("GETEX", "m"), ("GETDEL", "m"), ("APPEND", "x", "1"), ("GETRANGE", "x", "0", "1"), ("EXPIRE", "m", "1"),
        ("PERSIST", "m"), ("MOVE", "m", "1"), ("TTL", "m"), ("TYPE", "m"), ("STRLEN", "m"), ("LLEN", "m"),
        ("SCARD", "m"), ("ZCARD", "m"), ("HLEN", "m"), ("HGETALL", "m"), ("ZSCORE", "m", "a"),
        ("LPOP", "m"), ("RPOP", "m", "2"), ("SPOP", "m"), ("ZPOPMIN", "m"), ("HDEL", "m", "f"), ("SREM", "m", "a"),
        ("ZREM", "m", "a"), ("XDEL", "m", "1-1"), ("XTRIM", "m", "MAXLEN", "0"), ("XACK", "m", "g", "1-1"),
        ("XCLAIM", "m", "g", "c", "0", "1-1"), ("XAUTOCLAIM", "m", "g", "c", "0", "0"), ("LSET", "m", "0", "x"),
        ("LINSERT", "m", "BEFORE", "a", "b"), ("LREM", "m", "0", "a"), ("LTRIM", "m", "0", "1"),
        ("ZREMRANGEBYRANK", "m", "0", "1"), ("SETRANGE", "m", "0", ""), ("INCR", "m2"), ("DEL", "m2"),
        ("SET", "m3", "v", "GET"), ("GETSET", "m4", "v"), ("SET", "m5", "v", "NX", "GET"),
        ("EXISTS", "m", "m3"), ("MGET", "m", "m3"), ("TOUCH", "m"), ("DEL", "m4", "m5", "x"), ("RANDOMKEY",), ("KEYS", "*"),
        ("SCAN", "0"), ("DBSIZE",), ("LCS", "m", "m3"),
    ],
    "reload": [
        ("SET", "a", "1"), ("RPUSH", "l", "x"), ("HSET", "h", "f", "v"), ("SET", "t", "v", "EX", "100"),
        ("DEBUG", "RELOAD"), ("GET", "a"), ("LPOP", "l"), ("SWAPDB", "0", "1"), ("GET", "a"),
    ],
    "transactions": [
        ("MULTI",), ("SET", "a", "1"), ("LPUSH", "l", "x"), ("INCR", "a"), ("DEL", "l"), ("EXEC",),
        ("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("WATCH", "a"), ("MULTI",), ("EXPIRE", "a", "10"),
        ("EXEC",),
    ],
}


@pytest.mark.parametrize("flags", FLAG_SETS)
@pytest.mark.parametrize("family", sorted(CORPUS))
def test_keyspace_events(server, reference, family, flags):
    steps = CORPUS[family]
    want, want_replies = record(reference, flags, steps)
    got, got_replies = record(server, flags, steps)
    assert got == want, "flags %r, redis-server (-) vs ours (+):\n%s" % (
        flags, "\n".join(difflib.unified_diff(show(want).split("\n"), show(got).split("\n"), lineterm="", n=2)))
    # the corpus exercises the commands as redis-server answers them (SPOP's are random)
    def fixed(replies):
        return [(s, r) for s, r in replies if not (isinstance(s, tuple) and s[0] == "SPOP")]
    for (step, w), (_, g) in zip(fixed(want_replies), fixed(got_replies)):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)


@pytest.mark.parametrize("family", ["lists", "keys"])
def test_keyspace_events_to_a_resp3_subscriber(server, reference, family):
    want, _ = record(reference, "KEA", CORPUS[family], resp3=True)
    got, _ = record(server, "KEA", CORPUS[family], resp3=True)
    assert want and want[0].startswith(b">4\r\n")
    assert got == want


def test_config_notify_keyspace_events(server, reference):
    steps = [("CONFIG", "GET", "notify-keyspace-events")]
    for value in ["KEA", "Elnm", "", "g$lshzxetdKE", "AKEmn", "xK", "Ag", "KEQ", "A", "m", "e$"]:
        steps += [("CONFIG", "SET", "notify-keyspace-events", value), ("CONFIG", "GET", "notify-keyspace-events")]
    steps += [("CONFIG", "SET", "notify-keyspace-events", "")]
    out = []
    for srv in (reference, server):
        with RawConn(srv.port) as c:
            out.append([c.call(*s) for s in steps])
    assert out[1] == out[0]


def test_events_default_off(server):
    """With the default "" nothing is published, not even keymiss or new."""
    with RawConn(server.port) as sub, RawConn(server.port) as c:
        assert parse(c.call("CONFIG", "GET", "notify-keyspace-events")) == [b"notify-keyspace-events", b""]
        sub.send(encode("PSUBSCRIBE", "*"))
        sub.read_reply()
        c.call("SET", "a", "1")
        c.call("GET", "missing")
        assert parse(c.call("PUBLISH", "probe", "x")) == 1
        assert parse(sub.read_reply()) == [b"pmessage", b"*", b"probe", b"x"]


# ---------------------------------------------------------------------------------------
# LCS and SWAPDB, reply bytes against redis-server's.

def replies(srv, steps):
    out = []
    with RawConn(srv.port) as c:
        for s in steps:
            out.append((s, c.call(*s)))
    return out


def compare_replies(server, reference, steps):
    want = replies(reference, steps)
    got = replies(server, steps)
    for (step, w), (_, g) in zip(want, got):
        if step[0] == "HELLO":
            continue   # carries the client id
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)


LCS_SETUP = [
    ("MSET", "key1", "ohmytext", "key2", "mynewtext", "e", "", "n1", "12345", "n2", "2345678",
     "bin1", "a\x00b\r\nc\xff", "bin2", "\x00\r\n\xffab"),
    ("SET", "long1", "ACGTTGCAACGTAGCTAGGCTAACGTTGCAGTCGATCGATGCTAGCTAGCTTTGCA" * 3),
    ("SET", "long2", "TGCATCGACGTAGCTAGCTAGGGCTACGATCGTAGCTGACTGATCGTAGCTAGCA" * 3),
    ("RPUSH", "list", "a"),
]

LCS_CASES = [
    ("LCS", "key1", "key2"), ("LCS", "key1", "key2", "LEN"), ("LCS", "key1", "key2", "IDX"),
    ("LCS", "key1", "key2", "IDX", "WITHMATCHLEN"), ("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"),
    ("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
    ("LCS", "key1", "key2", "idx", "minmatchlen", "-5", "withmatchlen"),
    ("LCS", "key1", "key2", "LEN", "IDX"), ("LCS", "key1", "key2", "IDX", "LEN"),
    ("LCS", "key1", "key2", "MINMATCHLEN"), ("LCS", "key1", "key2", "MINMATCHLEN", "x"),
    ("LCS", "key1", "key2", "BOGUS"), ("LCS", "key1", "key2", "LEN", "LEN"),
    ("LCS", "key1", "key2", "WITHMATCHLEN"), ("LCS", "key1", "key2", "MINMATCHLEN", "3"),
    ("LCS", "key1", "missing"), ("LCS", "missing", "missing2", "IDX"), ("LCS", "missing", "key2", "LEN"),
    ("LCS", "e", "key1", "IDX", "WITHMATCHLEN"), ("LCS", "key1", "key1", "IDX", "WITHMATCHLEN"),
    ("LCS", "n1", "n2"), ("LCS", "n1", "n2", "IDX"), ("LCS", "bin1", "bin2"), ("LCS", "bin1", "bin2", "IDX"),
    ("LCS", "long1", "long2"), ("LCS", "long1", "long2", "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN"),
    ("LCS", "long1", "long2", "LEN"),
    ("LCS", "list", "key1"), ("LCS", "key1", "list", "BOGUS"), ("LCS", "missing", "list", "LEN"),
    ("LCS", "key1"), ("LCS",),
]


def test_lcs(server, reference):
    compare_replies(server, reference, LCS_SETUP + LCS_CASES)


def test_lcs_resp3(server, reference):
    compare_replies(server, reference, [("HELLO", "3")] + LCS_SETUP + LCS_CASES)


def test_lcs_memory_guard(server, reference):
    steps = [("CONFIG", "SET", "proto-max-bulk-len", "1mb"), ("SET", "a", "x" * 600), ("SET", "b", "y" * 600),
             ("LCS", "a", "b"), ("LCS", "a", "b", "LEN"), ("SET", "b", "y" * 400), ("LCS", "a", "b", "LEN"),
             ("CONFIG", "SET", "proto-max-bulk-len", "512mb")]
    compare_replies(server, reference, steps)


def test_swapdb(server, reference):
    steps = [
        ("SWAPDB",), ("SWAPDB", "0"), ("SWAPDB", "0", "1", "2"), ("SWAPDB", "x", "1"), ("SWAPDB", "0", "y"),
        ("SWAPDB", "x", "y"), ("SWAPDB", "-1", "0"), ("SWAPDB", "0", "16"), ("SWAPDB", "16", "x"),
        ("SWAPDB", "3000000000", "0"), ("SWAPDB", "0", "1.5"), ("SWAPDB", "0", "0"),
        ("SET", "a", "in0"), ("RPUSH", "l", "1", "2"), ("SET", "t", "v", "EX", "100"), ("SELECT", "1"),
        ("SET", "b", "in1"), ("SELECT", "0"), ("SWAPDB", "0", "1"), ("DBSIZE",), ("GET", "a"), ("GET", "b"),
        ("SELECT", "1"), ("DBSIZE",), ("GET", "a"), ("LRANGE", "l", "0", "-1"), ("TTL", "t"),
        ("SWAPDB", "1", "0"), ("GET", "a"), ("SWAPDB", "1", "1"), ("SWAPDB", "15", "1"), ("DBSIZE",),
        ("SELECT", "15"), ("DBSIZE",), ("KEYS", "*"), ("FLUSHALL",),
    ]
    compare_replies(server, reference, steps)


def swapdb_watch_outcomes(srv):
    """EXEC results of watchers of keys present in one, the other or neither database."""
    out = []
    for present_in in ["watched", "other", "neither", "both", "expired", "expired-and-other", "other-expired",
                       "expired-and-other-expired"]:
        with RawConn(srv.port) as w, RawConn(srv.port) as c:
            c.call("FLUSHALL")
            c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
            if present_in in ("watched", "both"):
                c.call("SET", "k", "0")
            if present_in.startswith("expired"):
                c.call("SET", "k", "0", "PX", "1")
                time.sleep(0.01)
                if present_in == "expired-and-other":
                    present_in = "other"
            if present_in in ("other", "both"):
                c.call("SELECT", "2")
                c.call("SET", "k", "2")
            if present_in.endswith("other-expired"):
                c.call("SELECT", "2")
                c.call("SET", "k", "2", "PX", "1")
                time.sleep(0.01)
            c.call("SELECT", "0")
            w.call("WATCH", "k")
            w.call("MULTI")
            w.call("PING")
            out.append(c.call("SWAPDB", "0", "2"))
            out.append(w.call("EXEC"))
            c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    return out


def test_swapdb_dirties_watchers(server, reference):
    assert swapdb_watch_outcomes(server) == swapdb_watch_outcomes(reference)


def swapdb_serves_blocked(srv):
    with RawConn(srv.port) as b, RawConn(srv.port) as c:
        c.call("SELECT", "4")
        c.call("RPUSH", "q", "from4")
        b.call("SELECT", "0")
        b.send(encode("BLPOP", "q", "0"))
        wait_blocked(srv, 1)
        swapped = c.call("SWAPDB", "0", "4")
        served = b.read_reply()
        c.call("SELECT", "0")
        return swapped, served, c.call("EXISTS", "q"), c.call("SELECT", "4"), c.call("EXISTS", "q")


def test_swapdb_serves_blocked_clients(server, reference):
    assert swapdb_serves_blocked(server) == swapdb_serves_blocked(reference)


def test_swapdb_replication_stream(reference):
    """SWAPDB goes to replicas with the SELECT of its client's database, and later writes
    are still selected by number."""
    from test_propagation_wrap import masked, stream_of
    from test_replication_master import OUR_CMD
    from conftest import Server
    script = [("SELECT", "2"), ("SET", "a", "1"), ("SWAPDB", "2", "5"), ("SET", "b", "1"), ("SELECT", "5"),
              ("SET", "c", "1"), ("SWAPDB", "0", "5"), ("SET", "d", "1"), ("SELECT", "0"), ("SET", "e", "1"),
              ("SWAPDB", "3", "3"), ("SET", "f", "1")]
    ours = Server(OUR_CMD, "server").start()
    try:
        got = masked(stream_of(ours.port, script))
    finally:
        ours.stop()
    want = masked(stream_of(reference.port, script))
    assert got == want
    assert b"SWAPDB" in want


def test_swapdb_applied_by_a_replica(server):
    """A replica of ours applies SWAPDB from its master's stream."""
    from test_replication_master import OUR_CMD
    from conftest import Server
    replica = Server(OUR_CMD, "replica").start()
    try:
        with RawConn(replica.port) as r, RawConn(server.port) as m:
            assert r.call("REPLICAOF", "127.0.0.1", str(server.port)) == b"+OK\r\n"
            m.call("SET", "a", "0")
            m.call("SELECT", "1")
            m.call("SET", "b", "1")
            m.call("SWAPDB", "0", "1")
            m.call("SET", "c", "1")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                r.call("SELECT", "1")
                if r.call("EXISTS", "a", "c") == b":2\r\n":
                    break
                time.sleep(0.05)
            assert r.call("EXISTS", "a", "c") == b":2\r\n"
            r.call("SELECT", "0")
            assert r.call("GET", "b") == b"$1\r\n1\r\n"
    finally:
        replica.stop()


def replica_events(master_cmd, replica_cmd):
    """Events a replica publishes while applying its master's stream."""
    from conftest import Server
    master = Server(master_cmd, "master").start()
    replica = Server(replica_cmd, "replica").start()
    try:
        with RawConn(replica.port) as r, RawConn(master.port) as m, RawConn(replica.port) as sub:
            assert r.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == b"+OK\r\n"
            assert r.call("REPLICAOF", "127.0.0.1", str(master.port)) == b"+OK\r\n"
            deadline = time.monotonic() + 10
            while b"master_link_status:up" not in r.call("INFO", "replication"):
                assert time.monotonic() < deadline, "replica did not sync"
                time.sleep(0.05)
            sub.send(encode("PSUBSCRIBE", "__key*__:*"))
            sub.read_reply()
            sub.send(encode("SUBSCRIBE", "notify-test-end"))
            sub.read_reply()
            for cmd in [("SET", "a", "1", "EX", "100"), ("LPUSH", "l", "x", "y"), ("RPOP", "l", "2"),
                        ("HSET", "h", "f", "v"), ("SADD", "s", "1"), ("SPOP", "s"), ("ZADD", "z", "1", "a"),
                        ("XADD", "st", "1-1", "f", "v"), ("INCRBYFLOAT", "n", "1.5"), ("RENAME", "a", "b"),
                        ("SELECT", "3"), ("SET", "c", "1"), ("MOVE", "c", "0"), ("SWAPDB", "0", "3"),
                        ("SELECT", "0"), ("PEXPIRE", "c", "1"), ("GET", "missing")]:
                m.call(*cmd)
            time.sleep(0.2)   # the expiry's DEL comes from the master's active cycle
            m.call("PUBLISH", "notify-test-end", "x")
            messages = []
            while True:
                msg = sub.read_reply()
                if b"notify-test-end" in msg:
                    break
                messages.append(msg)
            return messages
    finally:
        replica.stop()
        master.stop()


def test_replica_publishes_events_of_applied_commands():
    from test_replication_master import OUR_CMD
    from conftest import _reference_cmd
    want = replica_events(_reference_cmd(), _reference_cmd())
    got = replica_events(OUR_CMD, OUR_CMD)
    assert got == want, "redis-server (-) vs ours (+):\n" + "\n".join(
        difflib.unified_diff(show(want).split("\n"), show(got).split("\n"), lineterm=""))
    assert any(b"expired" in m or b"del" in m for m in want)
