"""DUMP and RESTORE: payloads cross between this server and a real redis-server 7.0 in
both directions for every value type, errors match byte for byte, and the writes of this
branch (GEOADD, GEOSEARCHSTORE, GEORADIUS STORE, SORT STORE, RESTORE) reach a real replica
of our master intact and as the same command stream a real master sends.
"""
import time

import pytest

from resp import RawConn, parse
from test_differential import compare
from test_replication_master import (servers, start_real_replica, in_sync, assert_same_data,  # noqa: F401
                                     RawReplica, wait_until)

BIG = ["m%03d" % i for i in range(200)]

# Commands building one key of each type and encoding.
VALUES = {
    "str": [("SET", "str", "hello")], "int": [("SET", "int", "12345")],
    "long": [("SET", "long", "x" * 300)], "neg": [("SET", "neg", "-9223372036854775808")],
    "list": [("RPUSH", "list", "a", "1", "bb", "")], "biglist": [("RPUSH", "biglist", *BIG)],
    "intset": [("SADD", "intset", "1", "5", "-3")], "set": [("SADD", "set", "a", "b", "c")],
    "bigset": [("SADD", "bigset", *BIG)], "hash": [("HSET", "hash", "f", "v", "g", "12")],
    "bighash": [("HSET", "bighash", *[x for m in BIG for x in (m, m + "v")])],
    "zset": [("ZADD", "zset", "1.5", "a", "-2", "b", "inf", "c")],
    "bigzset": [("ZADD", "bigzset", *[x for i, m in enumerate(BIG) for x in (str(i * 0.25), m)])],
    "geo": [("GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")],
    "stream": [("XADD", "stream", "1-1", "f", "v"), ("XADD", "stream", "2-5", "a", "b", "c", "d"),
               ("XGROUP", "CREATE", "stream", "g", "0"), ("XREADGROUP", "GROUP", "g", "c1", "COUNT", "1",
                                                         "STREAMS", "stream", ">")],
}


def contents(port, key):
    """What the key holds, read with commands both servers answer alike."""
    with RawConn(port) as c:
        t = parse(c.call("TYPE", key))
        if t == "list":
            v = c.call("LRANGE", key, "0", "-1")
        elif t == "set":
            v = sorted(parse(c.call("SMEMBERS", key)))
        elif t == "hash":
            v = sorted(parse(c.call("HGETALL", key)))
        elif t == "zset":
            v = c.call("ZRANGE", key, "0", "-1", "WITHSCORES")
        elif t == "stream":
            v = (c.call("XRANGE", key, "-", "+"), c.call("XINFO", "GROUPS", key), c.call("XPENDING", key, "g"))
        else:
            v = c.call("GET", key)
        return t, v, c.call("OBJECT", "ENCODING", key), c.call("PTTL", key)


def setup(srv, key):
    with RawConn(srv.port) as c:
        c.call("FLUSHALL")
        for cmd in VALUES[key]:
            c.call(*cmd)
        return parse(c.call("DUMP", key))


def restore_into(srv, key, payload, *extra):
    with RawConn(srv.port) as c:
        c.call("FLUSHALL")
        return c.call("RESTORE", key, "0", payload, *extra)


@pytest.mark.parametrize("key", sorted(VALUES))
def test_redis_payload_restores_here(server, reference, key):
    payload = setup(reference, key)
    assert restore_into(server, key, payload) == b"+OK\r\n"
    assert contents(server.port, key) == contents(reference.port, key)


@pytest.mark.parametrize("key", sorted(VALUES))
def test_our_payload_restores_into_redis(server, reference, key):
    payload = setup(server, key)
    want = contents(server.port, key)
    assert restore_into(reference, key, payload) == b"+OK\r\n"
    assert contents(reference.port, key) == want


def test_ttl_and_options(server, reference):
    payload = setup(reference, "str")
    for srv in (server, reference):
        with RawConn(srv.port) as c:
            c.call("FLUSHALL")
            assert c.call("RESTORE", "a", "100000", payload) == b"+OK\r\n"
            assert 99000 < int(parse(c.call("PTTL", "a"))) <= 100000
            at = int(time.time() * 1000) + 50000
            assert c.call("RESTORE", "b", str(at), payload, "ABSTTL") == b"+OK\r\n"
            assert 49000 < int(parse(c.call("PTTL", "b"))) <= 50000


def test_errors_match_redis(server, reference):
    payload = setup(reference, "list")
    bad_crc = payload[:-1] + bytes([payload[-1] ^ 1])
    new_version = bytearray(payload)
    new_version[-10] = 11
    steps = [
        ("FLUSHALL",), ("DUMP", "nokey"), ("SET", "k", "v"), ("RESTORE", "k", "0", payload),
        ("RESTORE", "k", "0", payload, "REPLACE"), ("TYPE", "k"), ("RESTORE", "k", "0", payload),
        ("RESTORE", "n", "-1", payload), ("RESTORE", "n", "x", payload), ("RESTORE", "n", "0", "short"),
        ("RESTORE", "n", "0", bad_crc), ("RESTORE", "n", "0", bytes(new_version)), ("RESTORE", "n", "0", ""),
        ("RESTORE", "n", "0", payload, "BOGUS"), ("RESTORE", "n", "0", payload, "IDLETIME", "-1"),
        ("RESTORE", "n", "0", payload, "IDLETIME", "x"), ("RESTORE", "n", "0", payload, "FREQ", "256"),
        ("RESTORE", "n", "0", payload, "FREQ", "-1"), ("RESTORE", "n", "0", payload, "IDLETIME", "5", "FREQ", "5"),
        ("RESTORE", "n", "0", payload, "FREQ", "5", "IDLETIME", "5"), ("RESTORE", "n", "0", payload, "IDLETIME"),
        ("RESTORE", "n", "0", payload, "IDLETIME", "10"), ("RESTORE", "n2", "0", payload, "FREQ", "100", "REPLACE"),
        ("RESTORE", "n3", "1", payload, "ABSTTL"), ("EXISTS", "n3"), ("RESTORE", "k", "1", payload, "ABSTTL", "REPLACE"),
        ("EXISTS", "k"), ("RESTORE", "huge", "9223372036854775807", payload), ("EXISTS", "huge"),
        ("RESTORE", "huge2", "9223372036854775807", payload, "ABSTTL"), ("EXISTS", "huge2"), ("LRANGE", "n", "0", "-1"), ("LRANGE", "n2", "0", "-1"), ("DUMP",), ("RESTORE", "n"),
    ]
    compare(server, reference, steps)


def test_bad_data_with_a_valid_checksum(server, reference):
    """A payload whose CRC matches but whose body is not a value: "Bad data format"."""
    import struct

    def crc64(data):
        # Jones CRC-64 (reflected, poly 0xad93d23594c935a9), as Redis's crc64.
        poly, crc = 0x95AC9329AC4BC9B5, 0
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        return crc

    for body in (b"\x00\x05ab", b"\x63xx", b"\x02\x05a"):
        p = body + b"\x0a\x00"
        p += struct.pack("<Q", crc64(p))
        compare(server, reference, [("FLUSHALL",), ("RESTORE", "k", "0", p), ("EXISTS", "k")])


# Writes of this branch's commands. RESTORE payloads are made by a real server first.
def branch_script(payload):
    return [
        ("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
        ("GEOADD", "g", "NX", "CH", "2.349014", "48.864716", "Paris", "1", "1", "Palermo"),
        ("GEOADD", "g", "XX", "13.361389", "38.115556", "Nope"),          # nothing changes: not sent
        ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"),
        ("GEOSEARCHSTORE", "gs2", "g", "FROMLONLAT", "100", "0", "BYRADIUS", "1", "km"),   # nothing: not sent
        ("GEORADIUS", "g", "15", "37", "200", "km", "STORE", "gr"),
        ("GEORADIUSBYMEMBER", "g", "Paris", "10", "km", "STOREDIST", "gr"),
        ("RPUSH", "l", "3", "1", "2"), ("SORT", "l", "STORE", "sl"), ("SORT", "l", "DESC", "STORE", "sl2"),
        ("SORT", "empty", "STORE", "sl2"),
        ("RESTORE", "r1", "0", payload), ("RESTORE", "r1", "0", payload, "REPLACE"),
        ("RESTORE", "r2", "100000", payload), ("SET", "r3", "x"), ("RESTORE", "r3", "1", payload, "ABSTTL", "REPLACE"),
    ]


def stream_of(port, script):
    """The commands a raw replica of `port` receives for `script`, without keepalives and
    with RESTORE's absolute times (which differ by run) masked."""
    replica = RawReplica(port)
    with RawConn(port) as c:
        for cmd in script:
            c.call(*cmd)
    cmds = replica.commands()
    replica.close()
    out = []
    for cmd in cmds:
        if cmd[0].upper() == b"PING" or (cmd[0].upper() == b"REPLCONF" and cmd[1].upper() == b"GETACK"):
            continue
        if cmd[0].upper() == b"RESTORE" and cmd[-1].upper() == b"ABSTTL" and cmd[2] != b"1":
            assert abs(int(cmd[2]) - time.time() * 1000) < 200_000, cmd
            cmd = cmd[:2] + [b"<time>"] + cmd[3:]
        out.append(cmd)
    return out


def test_stream_is_the_same_as_redis(servers, reference):  # noqa: F811
    payload = setup(reference, "list")
    script = branch_script(payload)
    ours = stream_of(servers.ours().port, script)
    theirs = stream_of(servers.real().port, script)
    assert ours == theirs
    # GEOADD travels as the ZADD it became; RESTORE's relative TTL as ABSTTL; a RESTORE
    # over a key that arrives expired as the DEL of that key.
    assert [b"zadd", b"g", b"NX", b"CH", b"3663832805879806", b"Paris", b"3377822707026402", b"Palermo"] in ours
    assert [b"RESTORE", b"r2", b"<time>", payload, b"ABSTTL"] in ours
    assert ours[-1] == [b"DEL", b"r3"]


def test_real_replica_ends_identical(servers, reference):  # noqa: F811
    payload = setup(reference, "bighash")
    master = servers.ours()
    replica = start_real_replica(servers, master.port)
    with RawConn(master.port) as c:
        for cmd in branch_script(payload):
            c.call(*cmd)
    assert wait_until(lambda: in_sync(master, replica), 10)
    assert_same_data(master, replica)
