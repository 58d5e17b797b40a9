"""Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO) and the
MEMORY command family.

- bitmaps: the same request bytes go to our server and to a real redis-server 7.0.15 and the
  reply bytes must be identical, in RESP2 and RESP3, errors included; a seeded random
  sequence of bit commands is compared the same way, reply by reply and value by value;
  which commands count as changes (rdb_changes_since_last_save) and invalidate WATCH is
  compared too; a bitmap survives DEBUG RELOAD; a real redis-server replica of our master
  ends up with the same bitmaps.
- MEMORY: HELP, DOCTOR, MALLOC-STATS, PURGE texts and errors identical to Redis's; STATS has
  Redis's field names in Redis's order; USAGE is null for a missing key and grows with the
  value. The sizes themselves are our own and are not compared with Redis's.
"""
import random

import pytest

from resp import RawConn, encode, parse
from test_differential import compare, run
from test_replication_master import (servers, start_real_replica, in_sync, wait_until,  # noqa: F401
                                     assert_same_data, run_stream_script)

BIG = 512 * 1024 * 1024 * 8   # first bit offset past proto-max-bulk-len

CASES = {
    "setbit_getbit": [
        ("SETBIT", "b", "7", "1"), ("GET", "b"), ("GETBIT", "b", "7"), ("GETBIT", "b", "6"),
        ("GETBIT", "b", "100000"), ("GETBIT", "nokey", "0"), ("SETBIT", "b", "7", "1"),
        ("SETBIT", "b", "7", "0"), ("SETBIT", "b", "100", "1"), ("STRLEN", "b"), ("GET", "b"),
        ("OBJECT", "ENCODING", "b"), ("SETBIT", "b", "0", "2"), ("SETBIT", "b", "0", "-1"),
        ("SETBIT", "b", "0", "x"), ("SETBIT", "b", "0", ""), ("SETBIT", "b", "-1", "1"),
        ("SETBIT", "b", "x", "1"), ("SETBIT", "b", str(BIG), "1"), ("SETBIT", "b", str(BIG - 1), "x"),
        ("GETBIT", "b", str(BIG)), ("GETBIT", "b", "-1"), ("GETBIT", "b", "1.5"),
        ("GETBIT", "b", "#1"), ("SETBIT", "b", "#1", "1"), ("SETBIT", "b", "01", "1"),
        ("SETBIT", "b"), ("GETBIT", "b"), ("SETBIT", "b", "1", "1", "1"),
    ],
    "integer_encoded_strings": [
        ("SET", "n", "123"), ("OBJECT", "ENCODING", "n"), ("GETBIT", "n", "2"), ("GETBIT", "n", "7"),
        ("BITCOUNT", "n"), ("BITPOS", "n", "1"), ("BITFIELD_RO", "n", "GET", "u8", "0"),
        ("SETBIT", "n", "6", "0"), ("GET", "n"), ("OBJECT", "ENCODING", "n"),
        ("SET", "n", "-9"), ("SETBIT", "n", "40", "1"), ("GET", "n"), ("OBJECT", "ENCODING", "n"),
        ("SET", "m", "7"), ("BITFIELD", "m", "INCRBY", "u8", "0", "1"), ("GET", "m"),
        ("SET", "e", "abc"), ("SETBIT", "e", "0", "1"), ("OBJECT", "ENCODING", "e"), ("GET", "e"),
    ],
    "wrongtype": [
        ("RPUSH", "l", "a"), ("SETBIT", "l", "0", "1"), ("GETBIT", "l", "0"), ("BITCOUNT", "l"),
        ("BITCOUNT", "l", "x", "y"), ("BITPOS", "l", "1"), ("BITPOS", "l", "2"),
        ("BITPOS", "l", "1", "x"), ("BITOP", "AND", "d", "l"), ("BITOP", "AND", "d", "nokey", "l"),
        ("BITOP", "NOT", "l", "l"), ("BITFIELD", "l", "GET", "u8", "0"), ("BITFIELD", "l", "SET", "u8", "0", "1"),
        ("BITFIELD_RO", "l", "GET", "u8", "0"), ("BITFIELD", "l"), ("SETBIT", "l", "x", "1"),
        ("SETBIT", "l", "0", "5"), ("GETBIT", "l", "-5"), ("EXISTS", "d"),
        ("SET", "s", "x"), ("BITOP", "OR", "l", "s"), ("TYPE", "l"), ("GET", "l"),
    ],
    "bitcount": [
        ("SET", "s", "foobar"), ("BITCOUNT", "s"), ("BITCOUNT", "s", "0", "0"), ("BITCOUNT", "s", "1", "1"),
        ("BITCOUNT", "s", "0", "-1"), ("BITCOUNT", "s", "-2", "-1"), ("BITCOUNT", "s", "-1", "-2"),
        ("BITCOUNT", "s", "5", "100"), ("BITCOUNT", "s", "100", "200"), ("BITCOUNT", "s", "-100", "-50"),
        ("BITCOUNT", "s", "1", "5", "BIT"), ("BITCOUNT", "s", "1", "5", "byte"), ("BITCOUNT", "s", "5", "30", "bit"),
        ("BITCOUNT", "s", "-5", "-1", "BIT"), ("BITCOUNT", "s", "0", "47", "BIT"), ("BITCOUNT", "s", "3", "3", "BIT"),
        ("BITCOUNT", "s", "7", "8", "BIT"), ("BITCOUNT", "s", "-9223372036854775808", "9223372036854775807"),
        ("BITCOUNT", "s", "-9223372036854775808", "9223372036854775807", "BIT"),
        ("BITCOUNT", "s", "0"), ("BITCOUNT", "s", "0", "1", "bits"), ("BITCOUNT", "s", "0", "1", "BIT", "x"),
        ("BITCOUNT", "s", "x", "1"), ("BITCOUNT", "s", "0", "1.0"),
        ("BITCOUNT", "nokey"), ("BITCOUNT", "nokey", "x", "y"), ("BITCOUNT", "nokey", "0"),
        ("BITCOUNT", "nokey", "0", "1", "bad"), ("BITCOUNT",),
        ("SET", "empty", ""), ("BITCOUNT", "empty"), ("BITCOUNT", "empty", "0", "-1"),
        ("BITCOUNT", "empty", "0", "-1", "BIT"),
        ("SET", "big", "\xff" * 100 + "\x0f" * 33), ("BITCOUNT", "big"), ("BITCOUNT", "big", "3", "120"),
        ("BITCOUNT", "big", "13", "1000", "BIT"),
    ],
    "bitpos": [
        ("SET", "s", "\xff\xf0\x00"), ("BITPOS", "s", "0"), ("BITPOS", "s", "1"), ("BITPOS", "s", "0", "1"),
        ("BITPOS", "s", "1", "2"), ("BITPOS", "s", "1", "2", "-1"), ("BITPOS", "s", "0", "0", "0"),
        ("BITPOS", "s", "0", "0", "1"), ("BITPOS", "s", "1", "-1"), ("BITPOS", "s", "0", "-1", "-2"),
        ("BITPOS", "s", "1", "7", "15", "BIT"), ("BITPOS", "s", "0", "7", "15", "BIT"),
        ("BITPOS", "s", "0", "3", "7", "bit"), ("BITPOS", "s", "1", "13", "23", "BIT"),
        ("BITPOS", "s", "0", "13", "BIT"), ("BITPOS", "s", "1", "1", "2", "BYTE"),
        ("BITPOS", "s", "0", "-3", "-1", "BIT"), ("BITPOS", "s", "1", "12", "12", "BIT"),
        ("BITPOS", "s", "0", "12", "12", "BIT"), ("BITPOS", "s", "1", "5", "2", "BIT"),
        ("BITPOS", "s", "1", "-100", "100", "BIT"),
        ("SET", "ones", "\xff\xff\xff"), ("BITPOS", "ones", "0"), ("BITPOS", "ones", "0", "1"),
        ("BITPOS", "ones", "0", "1", "-1"), ("BITPOS", "ones", "0", "0", "23", "BIT"),
        ("BITPOS", "ones", "0", "0", "-1", "BYTE"), ("BITPOS", "ones", "1", "3", "9", "BIT"),
        ("SET", "zeros", "\x00" * 40), ("BITPOS", "zeros", "1"), ("BITPOS", "zeros", "0"),
        ("BITPOS", "zeros", "1", "5", "30"), ("BITPOS", "zeros", "1", "3", "200", "BIT"),
        ("SET", "late", "\x00" * 37 + "\x01"), ("BITPOS", "late", "1"), ("BITPOS", "late", "1", "2", "-1"),
        ("BITPOS", "nokey", "1"), ("BITPOS", "nokey", "0"), ("BITPOS", "nokey", "1", "x"),
        ("BITPOS", "nokey", "0", "0", "-1", "bad"), ("BITPOS", "s", "2"), ("BITPOS", "s", "-1"),
        ("BITPOS", "s", "x"), ("BITPOS", "s", "1", "x"), ("BITPOS", "s", "1", "0", "x"),
        ("BITPOS", "s", "1", "x", "0", "bad"), ("BITPOS", "s", "1", "0", "x", "bad"),
        ("BITPOS", "s", "1", "0", "1", "bad"), ("BITPOS", "s", "1", "0", "1", "BIT", "x"),
        ("SET", "empty", ""), ("BITPOS", "empty", "0"), ("BITPOS", "empty", "1"),
        ("BITPOS", "empty", "0", "0", "-1"), ("BITPOS", "empty", "0", "0", "-1", "BIT"),
        ("BITPOS",), ("BITPOS", "s"),
    ],
    "bitop": [
        ("SET", "a", "abc"), ("SET", "b", "\x0f\xf0"), ("SET", "c", "123"),
        ("BITOP", "AND", "d", "a", "b"), ("GET", "d"), ("OBJECT", "ENCODING", "d"),
        ("BITOP", "or", "d", "a", "b", "c"), ("GET", "d"), ("BITOP", "XOR", "d", "a", "b", "c", "nokey"),
        ("GET", "d"), ("BITOP", "NOT", "d", "a"), ("GET", "d"), ("BITOP", "Not", "d", "nokey"),
        ("EXISTS", "d"), ("BITOP", "AND", "d", "a", "nokey"), ("GET", "d"),
        ("BITOP", "AND", "d", "nokey"), ("EXISTS", "d"), ("BITOP", "AND", "nothere", "nokey", "nokey2"),
        ("BITOP", "NOT", "d", "a", "b"), ("BITOP", "NOT", "d"), ("BITOP", "NAND", "d", "a"),
        ("BITOP", "AND", "d"), ("BITOP", "AND"), ("BITOP", "OR", "a", "a", "b"), ("GET", "a"),
        ("SET", "t", "x", "EX", "100"), ("BITOP", "OR", "t", "b"), ("TTL", "t"),
        ("SET", "long1", "\xaa" * 70), ("SET", "long2", "\x55" * 65 + "\xff"),
        ("BITOP", "AND", "d", "long1", "long2"), ("GET", "d"), ("BITOP", "OR", "d", "long1", "long2"),
        ("GET", "d"), ("BITOP", "XOR", "d", "long2", "long1"), ("GET", "d"),
        ("SET", "empty", ""), ("BITOP", "OR", "d", "empty", "empty"), ("EXISTS", "d"),
    ],
    "bitfield": [
        ("BITFIELD", "f", "SET", "i8", "0", "100", "GET", "i8", "0", "GET", "u4", "0", "GET", "u4", "4"),
        ("BITFIELD", "f", "INCRBY", "i8", "0", "100"), ("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "100"),
        ("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "100", "GET", "i8", "0"),
        ("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-1000", "OVERFLOW", "WRAP", "INCRBY", "i8", "0", "-1"),
        ("BITFIELD", "f", "SET", "u8", "#1", "255", "INCRBY", "u8", "#1", "10", "GET", "u8", "8"),
        ("BITFIELD", "f", "OVERFLOW", "sat", "SET", "u8", "#2", "300", "SET", "i4", "#10", "-100", "GET", "u8", "#2"),
        ("BITFIELD", "f", "overflow", "fail", "SET", "u8", "#3", "256", "SET", "u8", "#3", "-1", "SET", "u8", "#3", "255"),
        ("BITFIELD", "f", "SET", "i64", "0", "-9223372036854775808", "GET", "i64", "0", "GET", "u63", "0", "GET", "u63", "1"),
        ("BITFIELD", "f", "INCRBY", "i64", "0", "-1"), ("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "-1"),
        ("BITFIELD", "f", "SET", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1"),
        ("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "9223372036854775807"),
        ("BITFIELD", "f", "SET", "u63", "3", "9223372036854775807", "INCRBY", "u63", "3", "1", "GET", "u63", "3"),
        ("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "u63", "3", "-9223372036854775808", "INCRBY", "u1", "100", "5"),
        ("BITFIELD", "f", "OVERFLOW", "WRAP", "INCRBY", "u2", "1", "-5", "INCRBY", "i3", "7", "-9", "INCRBY", "i1", "9", "1"),
        ("BITFIELD", "f", "SET", "i1", "0", "1", "SET", "i1", "0", "-1", "GET", "i1", "0", "SET", "u1", "0", "2"),
        ("GET", "f"), ("STRLEN", "f"),
        ("BITFIELD", "f", "GET", "u8", "1000", "GET", "i16", "#100000"), ("BITFIELD", "nokey", "GET", "u8", "0"),
        ("BITFIELD", "nokey", "OVERFLOW", "FAIL"), ("BITFIELD", "f"), ("BITFIELD", "f", "OVERFLOW", "WRAP"),
        ("BITFIELD", "f", "GET", "u64", "0"), ("BITFIELD", "f", "GET", "i65", "0"), ("BITFIELD", "f", "GET", "i0", "0"),
        ("BITFIELD", "f", "GET", "x8", "0"), ("BITFIELD", "f", "GET", "", "0"), ("BITFIELD", "f", "GET", "u", "0"),
        ("BITFIELD", "f", "GET", "U8", "0"), ("BITFIELD", "f", "GET", "u08", "0"), ("BITFIELD", "f", "GET", "u-1", "0"),
        ("BITFIELD", "f", "GET", "u8", "-1"), ("BITFIELD", "f", "GET", "u8", "x"), ("BITFIELD", "f", "GET", "u8", "#-1"),
        ("BITFIELD", "f", "GET", "u8", str(BIG)), ("BITFIELD", "f", "GET", "u8", "#536870912"),
        ("BITFIELD", "f", "GET", "u8", "#2305843009213693953"), ("BITFIELD", "f", "GET", "u8", "##1"),
        ("BITFIELD", "f", "SET", "u8", "0"), ("BITFIELD", "f", "SET", "u8", "0", "x"),
        ("BITFIELD", "f", "INCRBY", "u8", "0", "1.5"), ("BITFIELD", "f", "GET", "u8"),
        ("BITFIELD", "f", "OVERFLOW"), ("BITFIELD", "f", "OVERFLOW", "BAD", "GET", "u8", "0"),
        ("BITFIELD", "f", "BAD", "u8", "0"), ("BITFIELD", "f", "GET", "u8", "0", "SET", "u8", "x", "1"),
        ("BITFIELD", "f", "GET", "u8", "0", "extra"), ("BITFIELD",),
        ("BITFIELD", "g", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "5"), ("EXISTS", "g"), ("STRLEN", "g"),
        ("BITFIELD", "g", "SET", "u8", "#200", "1"), ("STRLEN", "g"),
    ],
    "bitfield_ro": [
        ("SET", "f", "\x81\x02"), ("BITFIELD_RO", "f", "GET", "u8", "0", "GET", "i4", "0", "GET", "i16", "#0"),
        ("BITFIELD_RO", "f"), ("BITFIELD_RO", "f", "SET", "u8", "0", "1"), ("BITFIELD_RO", "f", "INCRBY", "u8", "0", "1"),
        ("BITFIELD_RO", "f", "OVERFLOW", "SAT"), ("BITFIELD_RO", "f", "GET", "u64", "0"),
        ("BITFIELD_RO", "f", "SET", "u8", "x", "1"), ("BITFIELD_RO", "nokey", "SET", "u8", "0", "1"),
        ("BITFIELD_RO", "nokey", "GET", "i8", "0"), ("BITFIELD_RO", "f", "BAD"), ("BITFIELD_RO",),
        ("GET", "f"),
    ],
    "resp3": [
        ("SETBIT", "b", "3", "1"), ("GETBIT", "b", "3"), ("BITCOUNT", "b"), ("BITPOS", "b", "1"),
        ("BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9", "GET", "u8", "0"),
        ("BITFIELD_RO", "b", "GET", "u4", "0"), ("BITOP", "NOT", "c", "b"), ("GET", "c"),
        ("MEMORY", "USAGE", "nokey"), ("MEMORY", "HELP"), ("MEMORY", "DOCTOR"),
    ],
    "proto_max_bulk_len": [
        ("CONFIG", "SET", "proto-max-bulk-len", "1mb"), ("SETBIT", "b", str(8 * 1024 * 1024), "1"),
        ("SETBIT", "b", str(8 * 1024 * 1024 - 1), "1"), ("STRLEN", "b"), ("GETBIT", "b", str(8 * 1024 * 1024)),
        ("BITFIELD", "b", "GET", "u8", "#131072"), ("BITFIELD", "b", "SET", "u8", "#131071", "1"),
        ("CONFIG", "SET", "proto-max-bulk-len", "512mb"), ("GETBIT", "b", str(8 * 1024 * 1024)),
    ],
    "transactions": [
        ("MULTI",), ("SETBIT", "b", "1", "1"), ("BITFIELD", "b", "GET", "u8", "0"), ("SETBIT", "b", "x", "1"),
        ("BITCOUNT", "b"), ("EXEC",), ("GET", "b"),
    ],
    "memory_text": [
        ("MEMORY", "HELP"), ("memory", "help"), ("MEMORY", "HELP", "x"), ("MEMORY", "DOCTOR"),
        ("MEMORY", "DOCTOR", "x"), ("MEMORY", "malloc-stats", "x"),
        ("MEMORY", "PURGE"), ("MEMORY", "PURGE", "x"), ("MEMORY", "STATS", "x"), ("MEMORY",),
        ("MEMORY", "NOSUCH"), ("MEMORY", "USAGE"), ("MEMORY", "USAGE", "nokey"),
        ("MEMORY", "USAGE", "nokey", "SAMPLES", "5"), ("MEMORY", "USAGE", "nokey", "SAMPLES"),
        ("MEMORY", "USAGE", "nokey", "SAMPLES", "-1"), ("MEMORY", "USAGE", "nokey", "SAMPLES", "x"),
        ("MEMORY", "USAGE", "nokey", "FOO"), ("MEMORY", "USAGE", "nokey", "SAMPLES", "0", "SAMPLES", "x"),
        ("SET", "k", "v"), ("MEMORY", "USAGE", "k", "SAMPLES", "-1"), ("MEMORY", "USAGE", "k", "x", "y"),
    ],
}


RESP3 = {"resp3"}


def run_resp3(srv, steps):
    """`run` on a connection switched to RESP3 first; HELLO's own reply (which carries the
    connection id) is not compared."""
    out = []
    with RawConn(srv.port) as c:
        assert c.call("HELLO", "3")[:1] == b"%"
        for s in steps:
            c.send(encode(*s))
            out.append((s, c.read_reply()))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_bytes_as_redis(server, reference, name):
    if name in RESP3:
        want, got = run_resp3(reference, CASES[name]), run_resp3(server, CASES[name])
        for (step, w), (_, g) in zip(want, got):
            assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)
    else:
        compare(server, reference, CASES[name])


def random_commands(rng, n):
    """A seeded mix of bit commands over a few keys, including ones that grow strings,
    fail, overflow and touch integer-encoded and empty values."""
    keys = ["k1", "k2", "k3", "k4"]
    types = ["u1", "u3", "u8", "u13", "u32", "u63", "i1", "i5", "i8", "i17", "i32", "i64"]
    cmds = []
    for _ in range(n):
        k = rng.choice(keys)
        r = rng.random()
        off = str(rng.choice([rng.randrange(0, 64), rng.randrange(0, 600)]))
        if r < 0.2:
            cmds.append(("SETBIT", k, off, str(rng.randrange(2))))
        elif r < 0.3:
            cmds.append(("GETBIT", k, off))
        elif r < 0.4:
            args = ["BITCOUNT", k]
            if rng.random() < 0.7:
                args += [str(rng.randrange(-80, 80)), str(rng.randrange(-80, 80))]
                if rng.random() < 0.6:
                    args.append(rng.choice(["BIT", "BYTE"]))
            cmds.append(tuple(args))
        elif r < 0.55:
            args = ["BITPOS", k, str(rng.randrange(2))]
            if rng.random() < 0.8:
                args.append(str(rng.randrange(-80, 80)))
                if rng.random() < 0.7:
                    args.append(str(rng.randrange(-80, 80)))
                    if rng.random() < 0.6:
                        args.append(rng.choice(["BIT", "BYTE"]))
            cmds.append(tuple(args))
        elif r < 0.65:
            op = rng.choice(["AND", "OR", "XOR", "NOT"])
            srcs = [rng.choice(keys)] if op == "NOT" else rng.sample(keys, rng.randrange(1, 4))
            cmds.append(("BITOP", op, rng.choice(keys), *srcs))
        elif r < 0.9:
            args = ["BITFIELD", k]
            for _ in range(rng.randrange(1, 5)):
                if rng.random() < 0.3:
                    args += ["OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"])]
                t = rng.choice(types)
                o = rng.choice([off, "#%d" % rng.randrange(0, 8)])
                what = rng.choice(["GET", "SET", "INCRBY"])
                if what == "GET":
                    args += ["GET", t, o]
                else:
                    v = rng.choice([rng.randrange(-300, 300), rng.randrange(-2 ** 63, 2 ** 63),
                                    2 ** 63 - 1, -2 ** 63, rng.randrange(-2 ** 20, 2 ** 20)])
                    args += [what, t, o, str(v)]
            cmds.append(tuple(args))
        elif r < 0.95:
            cmds.append(("SET", k, rng.choice(["123", "-7", "", "abc", "\xff\x00\x81"])))
        else:
            cmds.append(("GET", k))
    return cmds


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_match_redis(server, reference, seed):
    steps = random_commands(random.Random(seed), 400)
    steps += [("GET", k) for k in ("k1", "k2", "k3", "k4")]
    compare(server, reference, steps)


def changes(srv):
    with RawConn(srv.port) as c:
        text = parse(c.call("INFO", "persistence")).decode()
    return int(text.split("rdb_changes_since_last_save:")[1].split()[0])


DIRTY_STEPS = [
    ("SETBIT", "b", "7", "1"), ("SETBIT", "b", "7", "1"), ("SETBIT", "b", "7", "0"), ("SETBIT", "b", "7", "0"),
    ("SETBIT", "b", "40", "0"), ("BITFIELD", "b", "SET", "u8", "0", "0"), ("BITFIELD", "b", "SET", "u8", "0", "3"),
    ("BITFIELD", "b", "GET", "u8", "0"), ("BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5"),
    ("BITFIELD", "n", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "5"),
    ("BITFIELD", "b", "INCRBY", "u8", "0", "1", "INCRBY", "u8", "8", "0", "SET", "u8", "16", "9"),
    ("BITFIELD", "b", "SET", "u8", "200", "0"), ("BITOP", "AND", "d", "x", "y"), ("BITOP", "OR", "d", "b"),
    ("BITOP", "OR", "d", "b"), ("BITOP", "AND", "d", "x"), ("GETBIT", "b", "0"), ("BITCOUNT", "b"),
]


def test_changes_counted_as_redis_counts_them(server, reference):
    """Which bit commands count as a change (and so are propagated and fire WATCH)."""
    for srv in (server, reference):
        with RawConn(srv.port) as c:
            c.call("SET", "x", "")
    want, got = [], []
    for step in DIRTY_STEPS:
        for srv, out in ((reference, want), (server, got)):
            before = changes(srv)
            with RawConn(srv.port) as c:
                c.call(*step)
            out.append((step, changes(srv) - before))
    assert got == want


@pytest.mark.parametrize("write, fires", [
    (("SETBIT", "w", "0", "0"), False), (("SETBIT", "w", "0", "1"), True), (("SETBIT", "w", "100", "0"), True),
    (("BITFIELD", "w", "SET", "u8", "0", "0"), False), (("BITFIELD", "w", "INCRBY", "u8", "0", "1"), True),
    (("BITFIELD", "w", "GET", "u8", "0"), False), (("BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "u1", "0", "3"), False),
    (("BITOP", "OR", "w", "src"), True), (("BITOP", "OR", "other", "w"), False),
])
def test_watch(server, reference, write, fires):
    steps = [("SET", "w", "\x00"), ("SET", "src", "a"), ("WATCH", "w")]
    for srv in (server, reference):
        out = run(srv, steps + [write])
        assert out[-1][1][:1] != b"-"
    # WATCH is per connection: the write comes from a second one, as a client's would.
    for srv in (reference, server):
        with RawConn(srv.port) as c, RawConn(srv.port) as other:
            c.call("FLUSHALL")
            c.call("SET", "w", "\x00")
            c.call("SET", "src", "a")
            c.call("WATCH", "w")
            other.call(*write)
            c.call("MULTI")
            c.call("PING")
            reply = c.call("EXEC")
            assert (reply == b"*-1\r\n") == fires, (srv.name, write, reply)


def test_bitmap_survives_debug_reload(server):
    with server.conn() as c:
        assert c.call("SETBIT", "bm", "100000", "1") == b":0\r\n"
        c.call("BITFIELD", "bm", "SET", "i64", "#3", "-123456789")
        c.call("SET", "num", "77")
        c.call("SETBIT", "num", "0", "1")
        before = [c.call("GET", "bm"), c.call("GET", "num"), c.call("BITCOUNT", "bm")]
        assert c.call("DEBUG", "RELOAD") == b"+OK\r\n"
        after = [c.call("GET", "bm"), c.call("GET", "num"), c.call("BITCOUNT", "bm")]
        assert after == before
        assert c.call("BITFIELD", "bm", "GET", "i64", "#3") == b"*1\r\n:-123456789\r\n"
        assert c.call("GETBIT", "bm", "100000") == b":1\r\n"
        assert c.call("STRLEN", "bm") == b":12501\r\n"


def test_real_replica_gets_identical_bitmaps(servers):
    master = servers.ours()
    replica = start_real_replica(servers, master.port)
    rng = random.Random(7)
    with master.conn() as c:
        for cmd in random_commands(rng, 300):
            c.call(*cmd)
        c.call("SETBIT", "far", "800000", "1")
        c.call("BITFIELD", "far", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9")   # fails: not sent
        c.call("BITOP", "XOR", "x", "far", "k1", "k2")
        c.call("SET", "stamp", "done")
    assert wait_until(lambda: in_sync(master, replica), 10)
    assert_same_data(master, replica)
    import redis
    r = redis.Redis(host="127.0.0.1", port=replica.port)
    assert r.get("stamp") == b"done"
    assert r.getbit("far", 800000) == 1


def test_command_info_and_docs(server, reference):
    names = ["SETBIT", "GETBIT", "BITCOUNT", "BITPOS", "BITOP", "BITFIELD", "BITFIELD_RO"]
    for sub in (("INFO",), ("DOCS",)):
        want = run(reference, [("COMMAND", *sub, *names)])[0][1]
        got = run(server, [("COMMAND", *sub, *names)])[0][1]
        if sub == ("INFO",):
            assert got == want
        else:   # a map: its order is Redis's hash order
            w, g = parse(want), parse(got)
            assert dict(zip(g[0::2], map(repr, g[1::2]))) == dict(zip(w[0::2], map(repr, w[1::2])))
    # MEMORY's subcommands come in Redis's (random) dict order: compare them as a set.
    w = parse(run(reference, [("COMMAND", "INFO", "MEMORY")])[0][1])[0]
    g = parse(run(server, [("COMMAND", "INFO", "MEMORY")])[0][1])[0]
    assert g[:9] == w[:9]
    assert sorted(map(repr, g[9])) == sorted(map(repr, w[9]))


BIT_STREAM_SCRIPT = [
    ("SETBIT", "b", "7", "1"), ("SETBIT", "b", "7", "1"),            # the second changes nothing
    ("SETBIT", "b", "100", "0"),                                    # grows the string: sent
    ("BITFIELD", "b", "GET", "u8", "0"),                            # read only: not sent
    ("BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"),  # fails: not sent
    ("BITFIELD", "b", "SET", "u8", "0", "1", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"),
    ("BITFIELD", "b", "SET", "u8", "0", "1"),                       # same value: not sent
    ("BITFIELD_RO", "b", "GET", "u8", "0"),
    ("BITOP", "AND", "d", "b", "nokey"), ("BITOP", "OR", "d", "nokey"), ("BITOP", "OR", "d", "nokey"),
    ("GETBIT", "b", "7"), ("BITCOUNT", "b"), ("BITPOS", "b", "1"),
    ("SETBIT", "b", "x", "1"), ("SET", "end", "1"),
]


def test_stream_of_bit_commands_is_the_same_as_redis(servers):
    ours = run_stream_script(servers.ours().port, BIT_STREAM_SCRIPT)
    theirs = run_stream_script(servers.real().port, BIT_STREAM_SCRIPT)
    assert ours == theirs
    assert ["SETBIT", "b", "7", "1"] in ours and ours.count(["SETBIT", "b", "7", "1"]) == 1


# ---- MEMORY ----

def test_memory_usage_grows_with_value(server):
    r = server.client()
    assert r.memory_usage("missing") is None
    r.set("s", "x")
    small = r.memory_usage("s")
    r.set("s", "x" * 10000)
    big = r.memory_usage("s")
    assert 0 < small < 100 < 10000 < big < 10300
    r.setbit("bits", 8 * 100000, 1)
    assert r.memory_usage("bits") > 100000
    sizes = []
    for n in (1, 100, 1000):
        r.delete("l", "h", "z", "st", "set")
        r.rpush("l", *["e%d" % i for i in range(n)])
        r.hset("h", mapping={"f%d" % i: "v" * 20 for i in range(n)})
        r.zadd("z", {"m%d" % i: i for i in range(n)})
        r.sadd("set", *["m%d" % i for i in range(n)])
        for i in range(n):
            r.xadd("st", {"f": "v%d" % i})
        sizes.append([r.memory_usage(k) for k in ("l", "h", "z", "set", "st")])
        if not server.is_redis:   # we measure whole values; Redis extrapolates from samples
            assert sizes[-1] == [r.memory_usage(k, samples=0) for k in ("l", "h", "z", "set", "st")]
    for kind in range(5):
        assert 0 < sizes[0][kind] <= sizes[1][kind] < sizes[2][kind], sizes   # a stream node preallocates
    # Each listed element takes some bytes: 1000 elements hold at least 5 KB.
    assert all(s > 5000 for s in sizes[2]), sizes


def test_memory_usage_counts_ttl_and_key(server):
    r = server.client()
    r.set("k", "v" * 100)
    plain = r.memory_usage("k")
    r.expire("k", 1000)
    if not server.is_redis:   # our expiry lives in the entry block; Redis keeps it elsewhere
        assert r.memory_usage("k") > plain
    r.set("k" * 200, "v" * 100)
    assert r.memory_usage("k" * 200) >= plain + 199 - 16   # malloc rounds to 16 bytes


def test_memory_malloc_stats_as_a_libc_build_of_redis(server):
    """The reference redis-server is built with jemalloc and prints jemalloc's report; we
    run on glibc malloc and answer what redis-server built with libc answers."""
    if server.is_redis:
        pytest.skip("the redis-server under test is built with jemalloc")
    for proto in ("2", "3"):
        with server.conn() as c:
            c.call("HELLO", proto)
            assert c.call("MEMORY", "MALLOC-STATS") == b"$45\r\nStats not supported for the current allocator\r\n"


def test_memory_doctor_reports_on_filled_instance(server):
    """Past the 'very little memory' threshold the doctor runs its checks; with no problem
    found it says so in Redis's words (or lists issues under Redis's heading)."""
    r = server.client()
    r.set("big", "x" * (8 << 20))
    text = r.execute_command("MEMORY", "DOCTOR").decode()
    assert text in ("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n",) \
        or (text.startswith("Sam, I detected a few issues in this Redis instance memory implants:\n\n")
            and text.endswith("I'm here to keep you safe, Sam. I want to help you.\n")), text
    r.delete("big")


def memory_stats_pairs(srv, *setup):
    with srv.conn() as c:
        for cmd in setup:
            c.call(*cmd)
        raw = c.call("MEMORY", "STATS")
    v = parse(raw)
    return raw, list(zip(v[0::2], v[1::2]))


def test_memory_stats_field_names_and_order(server, reference):
    setup = [("SET", "a", "1"), ("SELECT", "3"), ("SET", "b", "2"), ("EXPIRE", "b", "100")]
    _, want = memory_stats_pairs(reference, *setup)
    raw, got = memory_stats_pairs(server, *setup)
    assert [k for k, _ in got] == [k for k, _ in want]
    names = dict(got)
    for db in (b"db.0", b"db.3"):
        sub = names[db]
        assert sub[0::2] == [b"overhead.hashtable.main", b"overhead.hashtable.expires",
                             b"overhead.hashtable.slot-to-keys"]
        assert all(isinstance(x, int) and x >= 0 for x in sub[1::2])
    assert names[b"keys.count"] == 2
    assert names[b"total.allocated"] > 0 and names[b"peak.allocated"] >= names[b"total.allocated"]
    assert names[b"dataset.bytes"] + names[b"overhead.total"] == names[b"total.allocated"]
    # Ratios are bulk strings in RESP2 (addReplyDouble), as Redis sends them.
    for k in (b"dataset.percentage", b"peak.percentage", b"fragmentation"):
        float(names[k])
    assert b"$" in raw


def test_memory_stats_resp3_is_a_map_with_doubles(server, reference):
    def shape(srv):
        with srv.conn() as c:
            c.call("HELLO", "3")
            c.call("SET", "a", "1")
            raw = c.call("MEMORY", "STATS")
        return raw
    want, got = shape(reference), shape(server)
    assert want[:1] == got[:1] == b"%"
    assert got.split(b"\r\n")[0] == want.split(b"\r\n")[0]
    assert b"$18\r\ndataset.percentage\r\n," in got
    assert b"$10\r\nkeys.count\r\n:1\r\n" in got


def test_memory_stats_with_a_replica(servers):
    master = servers.ours()
    replica = start_real_replica(servers, master.port)
    assert replica.alive()
    stats = dict(memory_stats_pairs(master)[1])
    assert stats[b"replication.backlog"] > 0
    assert stats[b"peak.allocated"] >= stats[b"total.allocated"]
    assert stats[b"overhead.total"] >= stats[b"startup.allocated"] + stats[b"replication.backlog"]
    assert stats[b"dataset.bytes"] + stats[b"overhead.total"] == stats[b"total.allocated"]
