"""Set commands, compared byte for byte with a real redis-server (RESP2 and RESP3), plus
property checks for what is random (SPOP, SRANDMEMBER) or unordered (hashtable sets).
Steps are those of test_hashes.py: tuples compare bytes, Unordered compares the header
and the sorted elements, Quiet sends without comparing."""
import pytest

from resp import parse
from test_hashes import Quiet, Unordered, compare, split_reply


def ints(key, n, start=0):
    return [("SADD", key) + tuple(str(i) for i in range(start, start + n))]


def words(key, n, prefix="m"):
    return [("SADD", key) + tuple("%s%d" % (prefix, i) for i in range(n))]


WRONG = [("SET", "str", "v")]

CASES = {
    "sadd_srem_basic": [
        ("SADD", "s", "a", "b", "a"), ("SADD", "s", "c"), ("SADD", "s", "a"), ("SCARD", "s"), ("SCARD", "nokey"),
        ("TYPE", "s"), ("OBJECT", "ENCODING", "s"), ("SREM", "s", "a", "z", "a"), ("SREM", "nokey", "a"),
        ("SREM", "s", "b", "c", "d"), ("EXISTS", "s"), ("SADD", "s"), ("SREM", "s"),
        ("SADD", "s", "", "\x00\r\n"), ("SISMEMBER", "s", ""), ("SISMEMBER", "s", "\x00\r\n"),
    ],
    "intset": [
        ("SADD", "s", "3", "1", "-2", "10", "1"), ("OBJECT", "ENCODING", "s"), ("SMEMBERS", "s"),
        ("SADD", "s", "9223372036854775807", "-9223372036854775808"), ("SMEMBERS", "s"),
        ("SISMEMBER", "s", "3"), ("SISMEMBER", "s", "03"), ("SISMEMBER", "s", "x"), ("SISMEMBER", "s", "4"),
        ("SREM", "s", "03", "+3", " 3", "3"), ("SMEMBERS", "s"), ("SMISMEMBER", "s", "1", "2", "10", "x"),
        ("SADD", "s2", "01"), ("OBJECT", "ENCODING", "s2"), ("SADD", "s3", "-0"), ("OBJECT", "ENCODING", "s3"),
        ("SADD", "s4", "9223372036854775808"), ("OBJECT", "ENCODING", "s4"), ("SSCAN", "s", "0"),
        ("SSCAN", "s", "0", "MATCH", "1*"), ("SADD", "s", "abc"), ("OBJECT", "ENCODING", "s"),
        Unordered("SMEMBERS", "s"), ("SCARD", "s"),
    ],
    "intset_limit": ints("s", 512) + [
        ("OBJECT", "ENCODING", "s"), ("SCARD", "s"), ("SADD", "s", "100"), ("SADD", "s", "512"),
        ("OBJECT", "ENCODING", "s"), ("SCARD", "s"), ("SREM", "s", "512"), ("OBJECT", "ENCODING", "s"),
        ("SISMEMBER", "s", "511"), Unordered("SMEMBERS", "s"),
    ],
    "smismember": [
        ("SADD", "s", "a", "b"), ("SMISMEMBER", "s", "a", "x", "b"), ("SMISMEMBER", "nokey", "a", "b"),
        ("SMISMEMBER", "s"), ("SMISMEMBER", "s", "a"),
    ],
    "smove": [
        ("SADD", "a", "1", "2", "x"), ("SADD", "b", "3"), ("SMOVE", "a", "b", "1"), ("SMEMBERS", "b"),
        ("SMOVE", "a", "b", "nope"), ("SMOVE", "nokey", "b", "1"), ("SMOVE", "a", "c", "x"),
        ("OBJECT", "ENCODING", "c"), ("SMOVE", "a", "d", "2"), ("OBJECT", "ENCODING", "d"), ("EXISTS", "a"),
        ("SMOVE", "b", "b", "3"), ("SMOVE", "b", "b", "9"), ("SMOVE", "b", "d", "3"), ("SMEMBERS", "d"),
        ("SMOVE", "d", "b", "2"), ("SADD", "b", "2"), ("SMOVE", "b", "d", "2"), ("SMEMBERS", "d"),
        ("SMEMBERS", "b"), ("SMOVE", "d", "b"), ("SADD", "i", "1", "2"), ("SADD", "t", "x"),
        ("SMOVE", "i", "t", "1"), ("OBJECT", "ENCODING", "i"), ("SMOVE", "t", "i", "x"), ("OBJECT", "ENCODING", "i"),
        Unordered("SMEMBERS", "i"), ("EXISTS", "t"), ("SET", "e", "v"), ("EXPIRE", "i", "100"),
        ("SMOVE", "i", "fresh", "2"), ("TTL", "i"), ("TTL", "fresh"),
    ],
    "spop_srandmember_shapes": [
        ("SPOP", "nokey"), ("SPOP", "nokey", "0"), ("SPOP", "nokey", "3"), ("SPOP", "nokey", "-1"),
        ("SPOP", "nokey", "x"), ("SPOP", "s", "1", "2"), ("SRANDMEMBER", "nokey"), ("SRANDMEMBER", "nokey", "3"),
        ("SRANDMEMBER", "nokey", "-3"), ("SRANDMEMBER", "nokey", "0"), ("SRANDMEMBER", "nokey", "x"),
        ("SRANDMEMBER", "s", "1", "2"), ("SRANDMEMBER", "nokey", "-9223372036854775808"),
        ("SADD", "s", "5", "1", "3"), ("SRANDMEMBER", "s", "3"), ("SRANDMEMBER", "s", "10"),
        ("SRANDMEMBER", "s", "0"), ("SRANDMEMBER", "s", "-9223372036854775808"),
        ("SPOP", "s", "0"), ("SPOP", "s", "9223372036854775807"), ("EXISTS", "s"), ("SADD", "s", "5", "1", "3"),
        ("SPOP", "s", "3"), ("EXISTS", "s"), ("SADD", "s", "7"), ("SPOP", "s"),
        ("EXISTS", "s"), ("SADD", "w", "b", "a"), Unordered("SPOP", "w", "5"), ("EXISTS", "w"),
    ],
    "sinter": [
        ("SADD", "a", "1", "2", "3", "4"), ("SADD", "b", "2", "3", "5"), ("SADD", "c", "3", "2", "x"),
        ("SINTER", "a", "b"), ("SINTER", "a", "b", "c"), ("SINTER", "a"), ("SINTER", "a", "nokey"),
        ("SINTER", "a", "a"), ("SINTERSTORE", "d", "a", "b"), ("SMEMBERS", "d"), ("OBJECT", "ENCODING", "d"),
        ("SINTERSTORE", "d", "a", "nokey"), ("EXISTS", "d"), ("SINTERSTORE", "d", "a", "b", "c"),
        ("OBJECT", "ENCODING", "d"), ("SMEMBERS", "d"), ("SADD", "e", "q"), ("SINTERSTORE", "d", "a", "e"),
        ("EXISTS", "d"), ("SINTERSTORE", "a", "a", "b"), ("SMEMBERS", "a"), ("SMEMBERS", "nokey"),
        ("SADD", "w1", "x", "y", "z"), ("SADD", "w2", "y", "z", "q"), Unordered("SINTER", "w1", "w2"),
        ("SINTERSTORE", "w3", "w1", "w2"), Unordered("SMEMBERS", "w3"), ("OBJECT", "ENCODING", "w3"),
        ("SET", "str", "v"), ("SINTERSTORE", "str", "w1", "w2"), ("TYPE", "str"),
    ],
    "sintercard": [
        ("SADD", "a", "1", "2", "3", "4"), ("SADD", "b", "2", "3", "4", "x"), ("SINTERCARD", "2", "a", "b"),
        ("SINTERCARD", "2", "a", "b", "LIMIT", "2"), ("SINTERCARD", "2", "a", "b", "limit", "0"),
        ("SINTERCARD", "1", "a"), ("SINTERCARD", "2", "a", "nokey"), ("SINTERCARD", "0", "a"),
        ("SINTERCARD", "3", "a", "b"), ("SINTERCARD", "x", "a"), ("SINTERCARD", "-1", "a"),
        ("SINTERCARD", "1", "a", "LIMIT", "-1"), ("SINTERCARD", "1", "a", "LIMIT", "x"),
        ("SINTERCARD", "1", "a", "LIMIT"), ("SINTERCARD", "1", "a", "bogus", "1"), ("SINTERCARD", "2", "a", "a"),
        ("SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "3"),
    ],
    "sunion_sdiff": [
        ("SADD", "a", "1", "2", "3"), ("SADD", "b", "3", "4"), ("SADD", "c", "10", "-1"), ("SUNION", "a", "b", "c"),
        ("SUNION", "a", "nokey"), ("SUNION", "nokey"), ("SDIFF", "a", "b"), ("SDIFF", "a", "b", "c"),
        ("SDIFF", "nokey", "a"), ("SDIFF", "a", "nokey"), ("SDIFF", "a", "a"), ("SDIFF", "a"),
        ("SUNIONSTORE", "d", "a", "b"), ("SMEMBERS", "d"), ("OBJECT", "ENCODING", "d"),
        ("SDIFFSTORE", "d", "a", "b"), ("SMEMBERS", "d"), ("SDIFFSTORE", "d", "a", "a"), ("EXISTS", "d"),
        ("SUNIONSTORE", "d", "nokey"), ("EXISTS", "d"), ("SADD", "w", "x", "3"), Unordered("SUNION", "a", "w"),
        ("SUNIONSTORE", "e", "a", "w"), ("OBJECT", "ENCODING", "e"), ("SDIFF", "w", "a"),
        Unordered("SDIFF", "e", "w"), ("SDIFFSTORE", "e", "e", "w"), ("OBJECT", "ENCODING", "e"),
        ("SMEMBERS", "e"), ("SUNIONSTORE", "a", "a", "b"), ("SMEMBERS", "a"), ("EXPIRE", "a", "100"),
        ("SUNIONSTORE", "a", "a"), ("TTL", "a"), ("SADD", "t", "1"), ("EXPIRE", "t", "100"),
        ("SMOVE", "a", "t", "4"), ("TTL", "t"), ("SADD", "a", "q"), ("SREM", "t", "4"), ("TTL", "t"),
        ("SPOP", "t", "5"), ("TTL", "t"),
    ] + ints("big1", 300) + ints("big2", 300, 250) + [
        ("SUNIONSTORE", "u", "big1", "big2"), ("OBJECT", "ENCODING", "u"), ("SCARD", "u"),
        ("SDIFF", "big1", "big2", "a"), ("SDIFF", "a", "big1", "big2"), ("SINTER", "big2", "big1"),
        ("SINTERCARD", "2", "big1", "big2", "LIMIT", "10"),
    ],
    "wrongtype": WRONG + [
        ("SADD", "s", "1"), ("SADD", "str", "a"), ("SREM", "str", "a"), ("SMEMBERS", "str"),
        ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"), ("SCARD", "str"), ("SPOP", "str"),
        ("SPOP", "str", "2"), ("SPOP", "str", "-2"), ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "2"),
        ("SMOVE", "str", "s", "a"), ("SMOVE", "s", "str", "1"), ("SMOVE", "s", "str", "9"),
        ("SMOVE", "nokey", "str", "1"), ("SINTER", "s", "str"), ("SINTER", "nokey", "str"),
        ("SINTERSTORE", "d", "nokey", "str"), ("SUNION", "nokey", "str"), ("SDIFF", "s", "str"),
        ("SDIFFSTORE", "d", "s", "str"), ("SUNIONSTORE", "d", "str"), ("SINTERCARD", "2", "nokey", "str"),
        ("SSCAN", "str", "0"), ("SSCAN", "str", "0", "bogus"), ("SSCAN", "str", "x"), ("SMEMBERS", "s"),
        ("HSET", "h", "f", "v"), ("SADD", "h", "m"), ("SINTERSTORE", "str", "s"), ("TYPE", "str"),
    ],
    "sscan": [
        ("SSCAN", "nokey", "0"), ("SSCAN", "nokey", "0", "bogus"), ("SSCAN", "nokey", "x"),
        ("SADD", "s", "1", "2", "12"), ("SSCAN", "s", "0", "MATCH", "1*"), ("SSCAN", "s", "0", "COUNT", "1"),
        ("SSCAN", "s", "0", "COUNT", "0"), ("SSCAN", "s", "0", "COUNT", "x"), ("SSCAN", "s", "0", "TYPE", "set"),
        ("SSCAN", "s", "0", "MATCH"), ("SSCAN", "s", "-1"), ("SSCAN", "s", ""), ("SSCAN", "s", "99"),
        ("SSCAN", "s", "5", "MATCH", "2"),
    ],
    "resp3": [
        Quiet("HELLO", "3"), ("SADD", "s", "3", "1", "2"), ("SMEMBERS", "s"), ("SMEMBERS", "nokey"),
        ("SINTER", "s", "nokey"), ("SUNION", "s"), ("SDIFF", "s", "nokey"), ("SPOP", "nokey"),
        ("SPOP", "nokey", "2"), ("SPOP", "s", "0"), ("SRANDMEMBER", "nokey"), ("SRANDMEMBER", "nokey", "2"),
        ("SRANDMEMBER", "s", "5"), ("SRANDMEMBER", "s", "0"), ("SMISMEMBER", "s", "1", "x"),
        ("SSCAN", "s", "0"), ("SSCAN", "nokey", "0"), ("SINTERCARD", "1", "s"), ("SPOP", "s", "3"),
        ("SADD", "w", "a", "b", "c"), Unordered("SMEMBERS", "w"), Unordered("SUNION", "w", "nokey"),
        Unordered("SRANDMEMBER", "w", "3"),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_set_differential(server, reference, name):
    want = compare(server, reference, CASES[name])
    assert want


def test_srandmember_negative_count_shape(server, reference):
    """A negative count may repeat members: compare the reply type and length."""
    for srv in (reference, server):
        pass
    shapes = []
    for srv in (reference, server):
        with srv.conn() as c:
            c.call("SADD", "s", "a", "b")
            c.call("SADD", "i", "1", "2")
            r2 = [split_reply(c.call("SRANDMEMBER", k, "-5"))[0] for k in ("s", "i")]
            c.call("HELLO", "3")
            r3 = [split_reply(c.call("SRANDMEMBER", k, "-5"))[0] for k in ("s", "i")]
            shapes.append((r2, r3))
    assert shapes[1] == shapes[0]


@pytest.mark.parametrize("n", [10, 600, 2000])
@pytest.mark.parametrize("kind", ["ints", "words"])
def test_spop_srandmember_properties(server, n, kind):
    make = ints if kind == "ints" else words
    with server.conn() as c:
        c.call(*make("s", n)[0])
        members = set(parse(c.call("SMEMBERS", "s")))
        assert len(members) == n
        assert parse(c.call("SRANDMEMBER", "s")) in members
        for count in (1, 3, n // 2, n - 1):
            got = parse(c.call("SRANDMEMBER", "s", str(count)))
            assert len(got) == count and len(set(got)) == count and set(got) <= members
        rep = parse(c.call("SRANDMEMBER", "s", "-%d" % (2 * n)))
        assert len(rep) == 2 * n and set(rep) <= members
        # Pop in the three ways Redis does: one, a few, most of what is left.
        popped = [parse(c.call("SPOP", "s"))]
        popped += parse(c.call("SPOP", "s", "3"))
        left = n - 4
        popped += parse(c.call("SPOP", "s", str(left - 1)))
        assert len(popped) == len(set(popped)) == n - 1 and set(popped) <= members
        rest = parse(c.call("SMEMBERS", "s"))
        assert len(rest) == 1 and set(rest) | set(popped) == members
        assert parse(c.call("SCARD", "s")) == 1
        assert parse(c.call("SPOP", "s", "5")) == rest
        assert parse(c.call("EXISTS", "s")) == 0


def test_spop_is_random(server):
    with server.conn() as c:
        firsts = set()
        for _ in range(40):
            c.call(*words("s", 20)[0])
            firsts.add(parse(c.call("SPOP", "s")))
            c.call("DEL", "s")
        assert len(firsts) > 5


def test_sscan_hashtable_covers_everything(server):
    with server.conn() as c:
        c.call(*words("s", 3000)[0])
        assert parse(c.call("OBJECT", "ENCODING", "s")) == b"hashtable"
        cursor, seen, rounds = b"0", set(), 0
        while True:
            cursor, items = parse(c.call("SSCAN", "s", cursor, "COUNT", "100"))
            seen.update(items)
            rounds += 1
            c.call("SREM", "s", "m%d" % (2999 - rounds))
            c.call("SADD", "s", "new%d" % rounds)
            if cursor == b"0":
                break
        assert rounds > 10
        assert {b"m%d" % i for i in range(2999 - rounds)} <= seen
        _, matched = parse(c.call("SSCAN", "s", "0", "MATCH", "m10?", "COUNT", "100000"))
        assert sorted(matched) == sorted(b"m10%d" % i for i in range(10))


def test_grow_and_shrink(server):
    with server.conn() as c:
        for i in range(0, 5000, 500):
            c.call(*words("s", 500, prefix="k%d_" % i)[0])
        assert parse(c.call("SCARD", "s")) == 5000
        gone = ["k%d_%d" % (i, j) for i in range(0, 5000, 500) for j in range(500) if j % 10]
        for k in range(0, len(gone), 300):
            assert parse(c.call("SREM", "s", *gone[k:k + 300])) == len(gone[k:k + 300])
        left = {b"k%d_%d" % (i, j) for i in range(0, 5000, 500) for j in range(0, 500, 10)}
        assert set(parse(c.call("SMEMBERS", "s"))) == left
        assert parse(c.call("SMISMEMBER", "s", "k0_0", "k0_1")) == [1, 0]
        for _ in range(len(left)):
            assert parse(c.call("SRANDMEMBER", "s")) in left
            break
        assert set(parse(c.call("SPOP", "s", str(len(left) - 1)))) < left
        assert parse(c.call("SCARD", "s")) == 1


def test_copy_is_independent(server):
    with server.conn() as c:
        c.call("SADD", "s", "1", "2")
        c.call("SADD", "w", "a")
        assert parse(c.call("COPY", "s", "s2")) == 1
        assert parse(c.call("COPY", "w", "w2")) == 1
        c.call("SADD", "s2", "3")
        c.call("SADD", "w2", "b")
        assert parse(c.call("SMEMBERS", "s")) == [b"1", b"2"]
        assert parse(c.call("SMEMBERS", "s2")) == [b"1", b"2", b"3"]
        assert parse(c.call("SMEMBERS", "w")) == [b"a"]
        assert sorted(parse(c.call("SMEMBERS", "w2"))) == [b"a", b"b"]


STAT_STEPS = [
    ("SADD", "s", "1", "2"), ("SADD", "w", "a"), ("HSET", "h", "f", "v"), ("SREM", "s", "9"),
    ("SREM", "nokey", "1"), ("SISMEMBER", "s", "1"), ("SISMEMBER", "nokey", "1"), ("SCARD", "s"),
    ("SMISMEMBER", "nokey", "1"), ("SMEMBERS", "s"), ("SPOP", "nokey"), ("SPOP", "nokey", "2"),
    ("SRANDMEMBER", "s"), ("SRANDMEMBER", "nokey", "2"), ("SMOVE", "s", "w", "9"), ("SMOVE", "nokey", "w", "1"),
    ("SINTER", "s", "w"), ("SINTERSTORE", "d", "s", "nokey"), ("SUNION", "s", "nokey"),
    ("SUNIONSTORE", "d", "s", "w"), ("SDIFFSTORE", "d", "w", "s"), ("SINTERCARD", "2", "s", "w"),
    ("SSCAN", "s", "0"), ("HGET", "h", "f"), ("HGET", "nokey", "f"), ("HDEL", "h", "x"), ("HDEL", "nokey", "x"),
    ("HINCRBY", "h", "n", "1"), ("HSETNX", "h", "f", "v"), ("HMGET", "h", "f"), ("HGETALL", "nokey"),
    ("HRANDFIELD", "h"), ("HSCAN", "nokey", "0"), ("HLEN", "h"), ("HEXISTS", "h", "f"),
]


def test_keyspace_hits_and_misses(server, reference):
    """Read lookups count keyspace_hits/misses, write lookups do not (as in Redis)."""
    counts = []
    for srv in (reference, server):
        with srv.conn() as c:
            c.call("CONFIG", "RESETSTAT")
            for step in STAT_STEPS:
                c.call(*step)
            info = parse(c.call("INFO", "stats")).decode()
            fields = dict(l.split(":", 1) for l in info.splitlines() if ":" in l)
            counts.append((fields["keyspace_hits"], fields["keyspace_misses"]))
    assert counts[1] == counts[0]


def test_random_intset_operations_match_redis(server, reference):
    """Random SADD/SREM on integer sets: SMEMBERS must stay ascending and equal to
    Redis's after every step, and the encoding must stay the same."""
    import random
    rnd = random.Random(11)
    steps = []
    for _ in range(400):
        key = "s%d" % rnd.randrange(2)
        if rnd.random() < 0.6:
            steps.append(("SADD", key) + tuple(str(rnd.randrange(-300, 300)) for _ in range(rnd.randrange(1, 8))))
        else:
            steps.append(("SREM", key) + tuple(str(rnd.randrange(-300, 300)) for _ in range(rnd.randrange(1, 8))))
        steps.append(("OBJECT", "ENCODING", key))
        steps.append(("SMEMBERS", key) if rnd.random() < 0.5 else ("SCARD", key))
    compare(server, reference, steps)


@pytest.mark.parametrize("pipeline", [1, 16])
def test_redis_benchmark_hset_sadd_spop(server, pipeline):
    """redis-benchmark's HSET, SADD and SPOP run clean, and leave what they should: one
    hash field and an emptied set without -r; about r fields and members with -r."""
    from test_tools import bench
    n = 5000
    bench(server, "-t", "hset,sadd,spop", "-n", str(n), "-c", "20", "-P", str(pipeline), "-q")
    r = server.client()
    fields = r.hgetall("myhash")
    assert list(fields) == [b"element:__rand_int__"] and len(fields[b"element:__rand_int__"]) == 3
    assert r.exists("myset") == 0  # one member, popped by the first SPOP
    r.flushall()
    bench(server, "-t", "hset,sadd", "-n", str(n), "-c", "20", "-P", str(pipeline), "-r", "1000", "-q")
    assert 900 < r.hlen("myhash") <= 1000
    assert 900 < r.scard("myset") <= 1000
    assert r.object("encoding", "myhash") == b"hashtable"
    bench(server, "-t", "spop", "-n", str(n), "-c", "20", "-P", str(pipeline), "-q")
    assert r.exists("myset") == 0
