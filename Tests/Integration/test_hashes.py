"""Hash commands, compared byte for byte with a real redis-server (RESP2 and RESP3), plus
property checks for what is random (HRANDFIELD) or unordered (hashtable-encoded hashes).

Steps of a case run in order on one connection:
  ("CMD", "arg", ...)     one command; the reply bytes must be identical
  Unordered("CMD", ...)   the reply's header must be identical and its elements (pairs for
                          a map or a flat field/value array) equal as a sorted multiset
  Quiet("CMD", ...)       sent, reply read and not compared (HELLO 3 names the server)
"""
import pytest

from resp import RawConn, encode


class Unordered:
    def __init__(self, *args, pairs=False):
        self.args, self.pairs = args, pairs

    def __repr__(self):
        return "Unordered%r" % (self.args,)


class Quiet:
    def __init__(self, *args):
        self.args = args

    def __repr__(self):
        return "Quiet%r" % (self.args,)


def split_reply(raw):
    """(header line, [each top-level element's raw bytes]) of an aggregate reply."""
    r = RawConn.__new__(RawConn)
    r.buf, r.eof = raw, True
    end = raw.index(b"\r\n")
    header, pos, elems = raw[:end + 2], end + 2, []
    while pos < len(raw):
        nxt = r._skip_reply(pos)
        elems.append(raw[pos:nxt])
        pos = nxt
    return header, elems


def unordered_view(raw, pairs):
    header, elems = split_reply(raw)
    if header[:1] == b"%" or pairs:
        elems = [elems[i] + elems[i + 1] for i in range(0, len(elems), 2)]
    return header, sorted(elems)


def run(srv, steps):
    out = []
    with RawConn(srv.port) as c:
        for s in steps:
            if isinstance(s, Quiet):
                c.call(*s.args)
            elif isinstance(s, Unordered):
                out.append((s, unordered_view(c.call(*s.args), s.pairs)))
            else:
                out.append((s, c.call(*s)))
    return out


def compare(server, reference, steps):
    want = run(reference, steps)
    got = run(server, steps)
    assert len(want) == len(got)
    for (step, w), (_, g) in zip(want, got):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)
    return want


def big_hash(key, n, prefix="f"):
    """HSET steps filling `key` with n fields (hashtable encoding past 512)."""
    args = ["HSET", key]
    for i in range(n):
        args += ["%s%d" % (prefix, i), "v%d" % i]
    return [tuple(args)]


LONG = "x" * 65
WRONG = [("SET", "str", "v")]

CASES = {
    "hset_hget_basic": [
        ("HSET", "h", "f", "v"), ("HSET", "h", "f", "v2", "g", "w"), ("HGET", "h", "f"), ("HGET", "h", "nof"),
        ("HGET", "nokey", "f"), ("HSET", "h", "f"), ("HSET", "h"), ("HSET", "h", "a", "b", "c"),
        ("HMSET", "h", "x", "1", "y", "2"), ("HMSET", "h", "x"), ("HMSET", "h", "a", "b", "c"),
        ("HGETALL", "h"), ("HLEN", "h"), ("HLEN", "nokey"), ("TYPE", "h"), ("OBJECT", "ENCODING", "h"),
        ("HSET", "h", "", ""), ("HGET", "h", ""), ("HSET", "h", "bin\x00\r\n", "\xff\x00"),
        ("HGET", "h", "bin\x00\r\n"), ("HGETALL", "h"),
    ],
    "hsetnx": [
        ("HSETNX", "h", "f", "v"), ("HSETNX", "h", "f", "w"), ("HGET", "h", "f"), ("HSETNX", "h", "g", LONG),
        ("OBJECT", "ENCODING", "h"), ("HSETNX", "h", "a"), ("HSETNX", "h", "a", "b", "c"),
    ],
    "hmget_hexists_hstrlen": [
        ("HSET", "h", "a", "1", "b", "hello"), ("HMGET", "h", "a", "b", "c"), ("HMGET", "nokey", "a", "b"),
        ("HMGET", "h"), ("HEXISTS", "h", "a"), ("HEXISTS", "h", "z"), ("HEXISTS", "nokey", "a"),
        ("HSTRLEN", "h", "b"), ("HSTRLEN", "h", "a"), ("HSTRLEN", "h", "z"), ("HSTRLEN", "nokey", "z"),
        ("HEXISTS", "h"), ("HSTRLEN", "h", "a", "b"),
    ],
    "hdel": [
        ("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"), ("HDEL", "h", "b"), ("HGETALL", "h"),
        ("HDEL", "h", "z", "a", "a"), ("HKEYS", "h"), ("HVALS", "h"), ("HDEL", "nokey", "a"),
        ("HDEL", "h", "c", "d", "e"), ("EXISTS", "h"), ("HDEL", "h"), ("HGETALL", "h"), ("HKEYS", "h"),
        ("HVALS", "h"),
    ],
    "listpack_order": [
        ("HSET", "h", "z", "1", "a", "2", "m", "3"), ("HSET", "h", "a", "22"), ("HGETALL", "h"),
        ("HDEL", "h", "z"), ("HSET", "h", "z", "9"), ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"),
        ("HSCAN", "h", "0"), ("HSCAN", "h", "0", "MATCH", "[am]*"), ("HSCAN", "h", "0", "COUNT", "1"),
        ("HRANDFIELD", "h", "5"), ("HRANDFIELD", "h", "3", "WITHVALUES"), ("HRANDFIELD", "h", "100", "withvalues"),
    ],
    "encoding_conversion": big_hash("h", 512) + [
        ("OBJECT", "ENCODING", "h"), ("HSET", "h", "one-more", "v"), ("OBJECT", "ENCODING", "h"),
        ("HLEN", "h"), ("HSET", "h2", "f", "x" * 64), ("OBJECT", "ENCODING", "h2"),
        ("HSET", "h2", "g", LONG), ("OBJECT", "ENCODING", "h2"), ("HSET", "h3", LONG, "v"),
        ("OBJECT", "ENCODING", "h3"), ("HSET", "h4", "a", "b", "c", LONG), ("OBJECT", "ENCODING", "h4"),
        ("HINCRBY", "h5", "y" * 70, "1"), ("OBJECT", "ENCODING", "h5"),
        ("HINCRBYFLOAT", "h6", "y" * 70, "1.5"), ("OBJECT", "ENCODING", "h6"),
        ("HDEL", "h", "one-more"), ("OBJECT", "ENCODING", "h"),
        Unordered("HGETALL", "h2"), Unordered("HKEYS", "h"), ("HLEN", "h"),
    ],
    "hincrby": [
        ("HINCRBY", "h", "n", "5"), ("HINCRBY", "h", "n", "-7"), ("HGET", "h", "n"), ("HINCRBY", "h", "n", "x"),
        ("HINCRBY", "h", "n", "1.5"), ("HSET", "h", "s", "abc", "sp", " 1", "big", "9223372036854775807"),
        ("HINCRBY", "h", "s", "1"), ("HINCRBY", "h", "sp", "1"), ("HINCRBY", "h", "big", "1"),
        ("HINCRBY", "h", "big", "0"), ("HINCRBY", "h", "big", "-1"), ("HSET", "h", "small", "-9223372036854775808"),
        ("HINCRBY", "h", "small", "-1"), ("HINCRBY", "h", "n", "9223372036854775808"), ("HGETALL", "h"),
        ("HINCRBY", "h", "n"), ("HSET", "h", "lz", "01"), ("HINCRBY", "h", "lz", "1"),
    ],
    "hincrbyfloat": [
        ("HINCRBYFLOAT", "h", "f", "1.5"), ("HINCRBYFLOAT", "h", "f", "0.1"), ("HINCRBYFLOAT", "h", "f", "-3"),
        ("HINCRBYFLOAT", "h", "f", "abc"), ("HINCRBYFLOAT", "h", "f", "inf"), ("HINCRBYFLOAT", "h", "f", "nan"),
        ("HINCRBYFLOAT", "h", "f", "1e400"), ("HSET", "h", "s", "x", "i", "10", "e", "1e3"),
        ("HINCRBYFLOAT", "h", "s", "1"), ("HINCRBYFLOAT", "h", "i", "0.25"), ("HINCRBYFLOAT", "h", "e", "1"),
        ("HINCRBYFLOAT", "h", "g", "5.0e3"), ("HINCRBYFLOAT", "h", "g", "-5000"), Unordered("HGETALL", "h"),
        ("HSET", "h", "m", "1.7976931348623157e308"), ("HINCRBYFLOAT", "h", "m", "1.7976931348623157e308"),
        ("HINCRBYFLOAT", "h", "f", ""), ("HINCRBYFLOAT", "h", "f", " 1"),
    ],
    "wrongtype": WRONG + [
        ("HSET", "str", "f", "v"), ("HMSET", "str", "f", "v"), ("HSETNX", "str", "f", "v"), ("HGET", "str", "f"),
        ("HMGET", "str", "f"), ("HDEL", "str", "f"), ("HLEN", "str"), ("HSTRLEN", "str", "f"),
        ("HEXISTS", "str", "f"), ("HGETALL", "str"), ("HKEYS", "str"), ("HVALS", "str"),
        ("HINCRBY", "str", "f", "1"), ("HINCRBY", "str", "f", "x"), ("HINCRBYFLOAT", "str", "f", "1"),
        ("HINCRBYFLOAT", "str", "f", "x"), ("HRANDFIELD", "str"), ("HRANDFIELD", "str", "2"),
        ("HRANDFIELD", "str", "x"), ("HSCAN", "str", "0"), ("HSCAN", "str", "0", "bogus"), ("HSCAN", "str", "x"),
        ("SADD", "s", "m"), ("HGET", "s", "f"), ("GET", "str"),
    ],
    "hrandfield_errors": [
        ("HSET", "h", "a", "1"), ("HRANDFIELD", "nokey"), ("HRANDFIELD", "nokey", "3"),
        ("HRANDFIELD", "nokey", "-3", "WITHVALUES"), ("HRANDFIELD", "nokey", "0"), ("HRANDFIELD", "h", "0"),
        ("HRANDFIELD", "h", "0", "WITHVALUES"), ("HRANDFIELD", "h", "x"), ("HRANDFIELD", "h", "1", "bogus"),
        ("HRANDFIELD", "h", "1", "WITHVALUES", "x"), ("HRANDFIELD", "h", "-9223372036854775808"),
        ("HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"),
        ("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"), ("HRANDFIELD", "h", "-3"),
        ("HRANDFIELD", "h", "-2", "WITHVALUES"), ("HRANDFIELD", "h"), ("HRANDFIELD", "h", "1"),
        ("HRANDFIELD", "h", "1", "WITHVALUES"), ("HRANDFIELD", "h", "9223372036854775807"),
    ],
    "hscan": [
        ("HSCAN", "nokey", "0"), ("HSCAN", "nokey", "0", "bogus"), ("HSCAN", "nokey", "x"),
        ("HSET", "h", "a", "1", "b", "2", "ab", "3"), ("HSCAN", "h", "0", "MATCH", "a*"),
        ("HSCAN", "h", "0", "match", "a*", "count", "1"), ("HSCAN", "h", "0", "COUNT", "0"),
        ("HSCAN", "h", "0", "COUNT", "x"), ("HSCAN", "h", "0", "MATCH"), ("HSCAN", "h", "0", "TYPE", "hash"),
        ("HSCAN", "h", "-1"), ("HSCAN", "h", "18446744073709551616"), ("HSCAN", "h", ""),
        ("HSCAN", "h", "0", "COUNT", "-1"), ("HSCAN", "h", "0", "MATCH", "*"), ("HSCAN", "h", "7"),
        ("HSCAN", "h", "123456", "MATCH", "b"), ("HSET", "h", "a", "x", "a", "y", "new", "1", "new", "2"),
        ("HGETALL", "h"),
    ],
    "resp3": [
        Quiet("HELLO", "3"), ("HSET", "h", "a", "1", "b", "2"), ("HGETALL", "h"), ("HGETALL", "nokey"),
        ("HKEYS", "h"), ("HVALS", "nokey"), ("HMGET", "h", "a", "z"), ("HGET", "h", "z"),
        ("HRANDFIELD", "nokey"), ("HRANDFIELD", "nokey", "2"), ("HRANDFIELD", "h", "5", "WITHVALUES"),
        ("HRANDFIELD", "h", "0", "WITHVALUES"), ("HSCAN", "h", "0"), ("HSCAN", "nokey", "0"),
        ("HINCRBYFLOAT", "h", "a", "0.5"), ("HSTRLEN", "h", "a"),
    ] + big_hash("big", 600) + [Unordered("HGETALL", "big"), Unordered("HKEYS", "big")],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hash_differential(server, reference, name):
    want = compare(server, reference, CASES[name])
    assert want


def fields_of(conn, key):
    from resp import parse
    return parse(conn.call("HKEYS", key))


def test_hrandfield_properties(server):
    from resp import parse
    with server.conn() as c:
        for key, n in (("small", 10), ("big", 700)):
            c.call(*big_hash(key, n)[0])
            fields = set(fields_of(c, key))
            assert len(fields) == n
            one = parse(c.call("HRANDFIELD", key))
            assert one in fields
            picked = parse(c.call("HRANDFIELD", key, "5"))
            assert len(picked) == 5 and len(set(picked)) == 5 and set(picked) <= fields
            # Most of the hash: still distinct fields.
            picked = parse(c.call("HRANDFIELD", key, str(n - 1)))
            assert len(set(picked)) == n - 1 and set(picked) <= fields
            rep = parse(c.call("HRANDFIELD", key, "-50"))
            assert len(rep) == 50 and set(rep) <= fields
            pairs = parse(c.call("HRANDFIELD", key, "-20", "WITHVALUES"))
            assert len(pairs) == 40
            for f, v in zip(pairs[0::2], pairs[1::2]):
                assert b"v" + f[1:] == v
            pairs = parse(c.call("HRANDFIELD", key, "4", "WITHVALUES"))
            assert len(pairs) == 8 and len(set(pairs[0::2])) == 4
            # Every field shows up eventually.
            seen = set()
            for _ in range(200):
                seen.update(parse(c.call("HRANDFIELD", key, "-%d" % n)))
                if seen == fields:
                    break
            assert seen == fields


def test_hrandfield_resp3_pairs(server):
    with server.conn() as c:
        c.call("HELLO", "3")
        c.call("HSET", "h", "a", "1", "b", "2", "c", "3")
        _, elems = split_reply(c.call("HRANDFIELD", "h", "-5", "WITHVALUES"))
        assert len(elems) == 5
        for e in elems:
            header, inner = split_reply(e)
            assert header == b"*2\r\n" and len(inner) == 2
        header, elems = split_reply(c.call("HRANDFIELD", "h", "2", "WITHVALUES"))
        assert header == b"*2\r\n" and all(e.startswith(b"*2\r\n") for e in elems)


def test_hscan_hashtable_covers_everything(server):
    from resp import parse
    with server.conn() as c:
        c.call(*big_hash("h", 1000)[0])
        assert parse(c.call("OBJECT", "ENCODING", "h")) == b"hashtable"
        cursor, seen, rounds = b"0", {}, 0
        while True:
            cursor, items = parse(c.call("HSCAN", "h", cursor, "COUNT", "50"))
            for f, v in zip(items[0::2], items[1::2]):
                seen[f] = v
            rounds += 1
            if cursor == b"0":
                break
        assert rounds > 1
        assert len(seen) == 1000 and all(seen[b"f%d" % i] == b"v%d" % i for i in range(1000))
        # Fields deleted and added during a scan: those present throughout still all appear.
        cursor, seen = b"0", set()
        i = 0
        while True:
            cursor, items = parse(c.call("HSCAN", "h", cursor, "COUNT", "20"))
            seen.update(items[0::2])
            c.call("HDEL", "h", "f%d" % (999 - i))
            c.call("HSET", "h", "new%d" % i, "x")
            i += 1
            if cursor == b"0":
                break
        kept = {b"f%d" % j for j in range(1000 - i)}
        assert kept <= seen
        _, matched = parse(c.call("HSCAN", "h", "0", "MATCH", "f99*", "COUNT", "100000"))
        assert set(matched[0::2]) == {f for f in kept if f.startswith(b"f99")}


def test_hincrbyfloat_propagates_hset(server):
    """HINCRBYFLOAT leaves the exact formatted result, as HSET would."""
    from resp import parse
    with server.conn() as c:
        assert parse(c.call("HINCRBYFLOAT", "h", "f", "10.5")) == b"10.5"
        assert parse(c.call("HINCRBYFLOAT", "h", "f", "0.1")) == b"10.6"
        assert parse(c.call("HGET", "h", "f")) == b"10.6"


def test_many_fields_and_deletes(server):
    """A hash grown and shrunk through its table's resizes keeps exactly its fields."""
    from resp import parse
    with server.conn() as c:
        for i in range(0, 3000, 100):
            c.call(*big_hash("h", 100, prefix="k%d_" % i)[0])
        assert parse(c.call("HLEN", "h")) == 3000
        for i in range(0, 3000, 100):
            for j in range(0, 100, 2):
                c.call("HDEL", "h", "k%d_%d" % (i, j))
        assert parse(c.call("HLEN", "h")) == 1500
        keys = set(parse(c.call("HKEYS", "h")))
        assert keys == {b"k%d_%d" % (i, j) for i in range(0, 3000, 100) for j in range(1, 100, 2)}
        for k in list(keys)[:1400]:
            assert parse(c.call("HDEL", "h", k)) == 1
        assert parse(c.call("HLEN", "h")) == 100
        left = set(parse(c.call("HKEYS", "h")))
        assert left == set(list(keys)[1400:])
        for k in left:
            assert parse(c.call("HEXISTS", "h", k)) == 1
        assert parse(c.call("HRANDFIELD", "h")) in left
        for k in left:
            c.call("HDEL", "h", k)
        assert parse(c.call("EXISTS", "h")) == 0


def test_copy_is_independent(server):
    from resp import parse
    with server.conn() as c:
        c.call("HSET", "h", "a", "1")
        assert parse(c.call("COPY", "h", "h2")) == 1
        c.call("HSET", "h2", "b", "2")
        assert parse(c.call("HLEN", "h")) == 1
        assert parse(c.call("HGETALL", "h2")) == [b"a", b"1", b"b", b"2"]
        assert parse(c.call("OBJECT", "ENCODING", "h2")) == b"listpack"


def test_random_listpack_operations_match_redis(server, reference):
    """Random HSET/HDEL/HINCRBY on small hashes: the listpack order of HGETALL after each
    step must match Redis's exactly, through deletions, updates and re-insertions."""
    import random
    rnd = random.Random(7)
    steps = []
    for _ in range(600):
        key = "h%d" % rnd.randrange(3)
        op = rnd.random()
        field = "f%d" % rnd.randrange(25)
        if op < 0.5:
            steps.append(("HSET", key, field, "v%d" % rnd.randrange(1000)))
        elif op < 0.8:
            steps.append(("HDEL", key, field, "f%d" % rnd.randrange(25)))
        else:
            steps.append(("HINCRBY", key, field, str(rnd.randrange(-5, 5))))
        steps.append(("HGETALL", key))
    compare(server, reference, steps)
