"""HyperLogLog (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST) against redis-server 7.0.15.

A HLL is a string whose bytes are Redis's own layout, so besides the replies the stored
bytes (GET) are compared with the real server's after every change: sparse updates,
sparse-to-dense promotion (by register value and by hll-sparse-max-bytes), merges, the
cached cardinality in the header. HLL bytes made by Redis are SET into ours and counted the
same; RDB files and replication carry them both ways unchanged.
"""
import subprocess
import tempfile

import pytest

from conftest import Server, _server_cmd, _reference_cmd
from resp import RawConn, encode, parse
from test_differential import compare
from test_replication_master import info, wait_until


def elements(prefix, start, stop):
    return ["%s%d" % (prefix, i) for i in range(start, stop)]


def pipelined_adds(key, prefix, n, batch=500):
    """PFADD steps adding n elements, `batch` per command."""
    return [("PFADD", key, *elements(prefix, i, min(n, i + batch))) for i in range(0, n, batch)]


# A sparse HLL whose opcodes cover 16383 registers instead of 16384 (XZERO:16383).
SHORT_SPARSE = b"HYLL\x01\x00\x00\x00" + b"\x00" * 7 + b"\x80" + bytes([0x7f, 0xfe])
# One whose VAL run passes the last register (XZERO:16383, then VAL 1 x4).
OVERFLOW_SPARSE = b"HYLL\x01\x00\x00\x00" + b"\x00" * 7 + b"\x80" + bytes([0x7f, 0xfe, 0x83])
# A dense HLL one byte short, and one with an unknown encoding byte.
SHORT_DENSE = b"HYLL\x00\x00\x00\x00" + b"\x00" * 8 + b"\x00" * 12287
BAD_ENCODING = b"HYLL\x02\x00\x00\x00" + b"\x00" * 8 + bytes([0x7f, 0xff])

CASES = {
    "small_adds_and_bytes": [
        ("PFADD", "h", "a", "b", "c"), ("GET", "h"), ("PFCOUNT", "h"), ("GET", "h"),
        ("PFADD", "h", "a"), ("GET", "h"), ("PFADD", "h", "d"), ("GET", "h"), ("PFCOUNT", "h"),
        ("PFADD", "h"), ("PFADD", "new"), ("GET", "new"), ("PFCOUNT", "new"), ("GET", "new"),
        ("PFADD", "bin", "\x00", "", "\xff\xfe", "x" * 1000), ("GET", "bin"), ("PFCOUNT", "bin"),
        ("TYPE", "h"), ("OBJECT", "ENCODING", "h"), ("STRLEN", "h"), ("PFCOUNT", "missing"),
        ("PFADD", "h", *elements("e", 0, 10)), ("GET", "h"), ("PFCOUNT", "h"),
        ("PFDEBUG", "DECODE", "h"), ("PFDEBUG", "ENCODING", "h"),
    ],
    "thousand_elements": pipelined_adds("k", "m", 1000, batch=7) + [
        ("GET", "k"), ("PFCOUNT", "k"), ("GET", "k"), ("PFDEBUG", "ENCODING", "k"), ("PFDEBUG", "DECODE", "k"),
        ("PFADD", "one", *elements("one", 0, 1000)), ("GET", "one"), ("PFCOUNT", "one"),
    ],
    # One element per command up to the promotion, the bytes compared every 100.
    "promotion_by_size": [step for i in range(0, 2200, 100)
                          for step in pipelined_adds("p", "x%d-" % i, 100, batch=1) + [("GET", "p")]] + [
        ("PFDEBUG", "ENCODING", "p"), ("PFCOUNT", "p"),
    ],
    "config_sparse_max_bytes": [
        ("CONFIG", "GET", "hll-sparse-max-bytes"), ("CONFIG", "SET", "hll-sparse-max-bytes", "100"),
        ("CONFIG", "GET", "hll-sparse-max-bytes"), *pipelined_adds("c", "y", 60, batch=3),
        ("PFDEBUG", "ENCODING", "c"), ("GET", "c"), ("PFCOUNT", "c"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "1k"), ("CONFIG", "GET", "hll-sparse-max-bytes"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "-1"), ("CONFIG", "SET", "hll-sparse-max-bytes", "x"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "0"), ("PFADD", "z", "a", "b"), ("PFDEBUG", "ENCODING", "z"),
        ("PFADD", "z0"), ("PFDEBUG", "ENCODING", "z0"), ("GET", "z"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "3000"), ("CONFIG", "GET", "hll-sparse-max-bytes"),
    ],
    "merge": [
        ("PFADD", "a", *elements("a", 0, 50)), ("PFADD", "b", *elements("b", 0, 70)),
        ("PFADD", "big", *elements("g", 0, 3000)),
        ("PFMERGE", "m", "a", "b"), ("GET", "m"), ("PFCOUNT", "m"), ("PFDEBUG", "ENCODING", "m"),
        ("PFMERGE", "m", "a", "b", "nothere"), ("GET", "m"),
        ("PFMERGE", "a", "b"), ("GET", "a"), ("PFCOUNT", "a"),          # destination among the sources
        ("PFMERGE", "d", "a", "big"), ("GET", "d"), ("PFDEBUG", "ENCODING", "d"), ("PFCOUNT", "d"),
        ("PFMERGE", "big", "a"), ("GET", "big"), ("PFCOUNT", "big"),
        ("PFMERGE", "empty"), ("GET", "empty"), ("PFMERGE", "empty2", "nothere"), ("GET", "empty2"),
        ("PFCOUNT", "a", "b"), ("PFCOUNT", "a", "b", "big", "nothere"), ("PFCOUNT", "nothere", "nothere2"),
        ("GET", "a"), ("GET", "b"),                                     # a union count stores nothing
        ("SET", "str", "hello"), ("PFMERGE", "str", "a"), ("PFMERGE", "a", "str"), ("GET", "a"),
        ("RPUSH", "list", "x"), ("PFMERGE", "list"), ("PFMERGE", "out", "a", "list"), ("EXISTS", "out"),
        ("PFMERGE",),
    ],
    "wrong_types_and_corrupt_values": [
        ("RPUSH", "l", "1"), ("PFADD", "l", "x"), ("PFCOUNT", "l"), ("PFCOUNT", "l", "l"),
        ("PFDEBUG", "GETREG", "l"), ("SET", "s", "not a hll at all"), ("PFADD", "s", "x"),
        ("PFCOUNT", "s"), ("PFCOUNT", "s", "x"), ("SET", "i", "12345"), ("PFADD", "i", "x"),
        ("PFCOUNT", "i"), ("SET", "short", "HYLL"), ("PFCOUNT", "short"),
        ("SET", "sd", SHORT_DENSE), ("PFCOUNT", "sd"), ("SET", "be", BAD_ENCODING), ("PFADD", "be", "x"),
        ("SET", "ss", SHORT_SPARSE), ("PFCOUNT", "ss"), ("PFCOUNT", "ss", "nothere"), ("PFADD", "ss", "x"),
        ("PFMERGE", "o", "ss"), ("PFDEBUG", "TODENSE", "ss"), ("PFDEBUG", "GETREG", "ss"),
        ("PFDEBUG", "DECODE", "ss"), ("GET", "ss"),
        ("SET", "ov", OVERFLOW_SPARSE), ("PFCOUNT", "ov"), ("PFMERGE", "o2", "ov"), ("PFDEBUG", "TODENSE", "ov"),
        ("PFADD",), ("PFCOUNT",), ("PFDEBUG", "GETREG"), ("PFDEBUG", "GETREG", "a", "b"),
        ("PFSELFTEST", "x"),
    ],
    "pfdebug": [
        ("PFDEBUG", "ENCODING", "nothere"), ("PFDEBUG", "nosuch", "nothere"),
        ("PFADD", "h", *elements("q", 0, 40)), ("PFDEBUG", "nosuch", "h"), ("PFDEBUG", "DECODE", "h"),
        ("PFDEBUG", "encoding", "h"), ("PFDEBUG", "GETREG", "h"), ("PFDEBUG", "ENCODING", "h"), ("GET", "h"),
        ("PFDEBUG", "DECODE", "h"), ("PFDEBUG", "TODENSE", "h"), ("PFADD", "h2", "z"),
        ("PFDEBUG", "TODENSE", "h2"), ("PFDEBUG", "todense", "h2"), ("GET", "h2"), ("PFCOUNT", "h2"),
        ("PFDEBUG", "bad\r\nname", "h2"),
    ],
    "cache_and_encoding": [
        # An embstr HLL SET by a client becomes raw once a PF command has looked at it.
        ("PFADD", "h", "x"), ("GET", "h"), ("PFCOUNT", "h"), ("GET", "h"),
        ("SET", "copy", b"HYLL\x01\x00\x00\x00" + b"\x00" * 8 + bytes([0x7f, 0xff])),
        ("OBJECT", "ENCODING", "copy"), ("PFCOUNT", "copy"), ("OBJECT", "ENCODING", "copy"),
        ("PFADD", "copy", "x"), ("GET", "copy"), ("PFCOUNT", "copy"), ("GET", "copy"),
        ("APPEND", "copy", ""), ("PFCOUNT", "copy"),
    ],
    "huge_sparse_limit": [
        # Sparse strings longer than a dense one: every register through the opcodes.
        ("CONFIG", "SET", "hll-sparse-max-bytes", "100000"),
        *[step for i in range(0, 60000, 2000)
          for step in (("PFADD", "big", *elements("b", i, i + 2000)), ("STRLEN", "big"))],
        ("PFDEBUG", "ENCODING", "big"), ("GET", "big"), ("PFCOUNT", "big"), ("PFMERGE", "m", "big"), ("GET", "m"),
        ("PFDEBUG", "TODENSE", "big"), ("GET", "big"), ("PFCOUNT", "big"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "3000"),
    ],
    "ttl_is_kept": [
        ("PFADD", "t", "a"), ("EXPIRE", "t", "1000"), ("PFADD", "t", *elements("t", 0, 500)), ("TTL", "t"),
        ("PFADD", "t", *elements("u", 0, 3000)), ("TTL", "t"), ("PFCOUNT", "t"), ("TTL", "t"),
        ("PFMERGE", "t", "nothere"), ("TTL", "t"), ("PFDEBUG", "TODENSE", "t"), ("TTL", "t"), ("GET", "t"),
    ],
    "command_metadata": [
        ("COMMAND", "INFO", "pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"),
        ("COMMAND", "DOCS", "pfadd"), ("COMMAND", "DOCS", "pfcount"), ("COMMAND", "DOCS", "pfmerge"),
    ],
    "watch_sees_the_cache_update": [
        ("PFADD", "w", "a", "b"), ("WATCH", "w"), ("PFCOUNT", "w"), ("MULTI",), ("PING",), ("EXEC",),
        ("WATCH", "w"), ("PFCOUNT", "w"), ("MULTI",), ("PING",), ("EXEC",),
        ("WATCH", "w"), ("PFADD", "w", "a"), ("MULTI",), ("PING",), ("EXEC",),
        ("MULTI",), ("PFADD", "w", "c"), ("PFCOUNT", "w"), ("PFMERGE", "w2", "w"), ("GET", "w2"), ("EXEC",),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_replies_and_bytes_as_redis(server, reference, name):
    compare(server, reference, CASES[name])


def test_hundred_thousand_elements(server, reference):
    # Checkpoints through sparse growth, promotion and the dense estimator's ranges.
    steps = []
    done = 0
    for stop in (10, 100, 300, 1000, 2000, 5000, 20000, 100000):
        for i in range(done, stop, 1000):
            steps.append(("PFADD", "k", *elements("el", i, min(stop, i + 1000))))
        steps += [("PFCOUNT", "k"), ("GET", "k")]
        done = stop
    compare(server, reference, steps)


def test_counts_match_redis_for_many_sizes(server, reference):
    steps = []
    for n in (0, 1, 2, 5, 17, 64, 150, 500, 999, 2500, 4000, 12000, 40000):
        steps.append(("PFADD", "n%d" % n, *elements("v%d-" % n, 0, n)))
        steps.append(("PFCOUNT", "n%d" % n))
        steps.append(("GET", "n%d" % n))
    steps.append(("PFCOUNT", *["n%d" % n for n in (0, 1, 17, 2500, 40000)]))
    compare(server, reference, steps)


def test_hll_made_by_redis_is_counted_and_extended_the_same(server, reference):
    with RawConn(reference.port) as c:
        for key, n in (("sparse", 300), ("dense", 20000)):
            for i in range(0, n, 1000):
                c.call("PFADD", key, *elements(key, i, min(n, i + 1000)))
        c.call("PFCOUNT", "dense")                     # one with a valid cache, one without
        blobs = {k: parse(c.call("GET", k)) for k in ("sparse", "dense")}
    assert blobs["sparse"][4] == 1 and blobs["dense"][4] == 0
    steps = []
    for k, blob in blobs.items():
        steps += [("SET", k, blob), ("PFCOUNT", k), ("GET", k), ("PFADD", k, "more", "and more"),
                  ("GET", k), ("PFCOUNT", k), ("PFMERGE", "u", k), ("GET", "u")]
    steps += [("PFCOUNT", "sparse", "dense")]
    compare(server, reference, steps)


def test_selftest_passes(server):
    with RawConn(server.port, timeout=120) as c:
        assert c.call("PFSELFTEST") == b"+OK\r\n"


def test_dense_add_never_touches_bytes_past_the_value(server, reference):
    # The last register (16383) sits at bit offset 2 of the last byte: setting it must
    # leave the key's length and the rest of the bytes as Redis has them.
    steps = [("PFADD", "d", *elements("x", 0, 3000)), ("PFDEBUG", "TODENSE", "d")]
    for i in range(0, 200000, 5000):
        steps.append(("PFADD", "d", *elements("y", i, i + 5000)))
    steps += [("STRLEN", "d"), ("GET", "d"), ("PFCOUNT", "d")]
    compare(server, reference, steps)


# --- persistence and replication ---------------------------------------------------------

def start(template, tmp, name):
    return Server(template + " --dir %s --dbfilename dump.rdb" % tmp, name).start()


def fill(c):
    c.call("PFADD", "sparse", *elements("s", 0, 200))
    for i in range(0, 30000, 1000):
        c.call("PFADD", "dense", *elements("d", i, i + 1000))
    c.call("PFCOUNT", "dense")
    c.call("PFADD", "empty")
    c.call("PFMERGE", "merged", "sparse", "dense")


KEYS = ("sparse", "dense", "empty", "merged")


def values(port):
    """Each key's bytes, its count, and its bytes after the count (which caches it)."""
    with RawConn(port) as c:
        return {k: (c.call("GET", k), c.call("PFCOUNT", k), c.call("GET", k)) for k in KEYS}


def test_rdb_round_trips_between_redis_and_ours():
    started = []
    dirs = [tempfile.mkdtemp(prefix="hll-") for _ in range(3)]
    try:
        # Written by Redis, loaded by ours.
        ref = start(_reference_cmd(), dirs[0], "reference"); started.append(ref)
        with RawConn(ref.port) as c:
            fill(c)
            assert c.call("SAVE") == b"+OK\r\n"
        want = values(ref.port)
        ours = start(_server_cmd(), dirs[0], "server"); started.append(ours)
        assert values(ours.port) == want

        # DEBUG RELOAD in ours keeps the bytes, cached counts included.
        with RawConn(ours.port) as c:
            assert c.call("DEBUG", "RELOAD") == b"+OK\r\n"
        assert values(ours.port) == {k: (after, n, after) for k, (_, n, after) in want.items()}

        # Written by ours, loaded by Redis.
        ours2 = start(_server_cmd(), dirs[1], "server"); started.append(ours2)
        with RawConn(ours2.port) as c:
            fill(c)
            assert c.call("SAVE") == b"+OK\r\n"
        assert values(ours2.port) == want
        ref2 = start(_reference_cmd(), dirs[1], "reference"); started.append(ref2)
        assert values(ref2.port) == want
    finally:
        for s in started:
            s.stop()
        for d in dirs:
            subprocess.run(["rm", "-rf", d])


def test_real_replica_of_ours_ends_with_the_same_bytes():
    d = tempfile.mkdtemp(prefix="hll-repl-")
    master = Server(_server_cmd(), "server").start()
    replica = None
    try:
        with RawConn(master.port) as c:
            c.call("PFADD", "before", *elements("b", 0, 500))      # goes over in the full sync
        replica = Server("redis-server --port {port} --save '' --appendonly no --dir %s --replicaof 127.0.0.1 %d"
                         % (d, master.port), "redis").start()
        assert wait_until(lambda: info(replica.port, "replication").get("master_link_status") == "up", 10), \
            replica.log_tail()
        with RawConn(master.port) as c:
            fill(c)
            c.call("PFADD", "before", "x")
            c.call("PFCOUNT", "before")                       # the cache update is propagated
            c.call("PFADD", "todense", "a", "b")
            c.call("PFDEBUG", "TODENSE", "todense")
            c.call("SET", "copied", parse(c.call("GET", "sparse")))
            c.call("PFADD", "copied", "one more")

        def in_sync():
            m = info(master.port, "replication")["master_repl_offset"]
            return info(replica.port, "replication").get("slave_repl_offset") == m
        assert wait_until(in_sync, 10)
        keys = KEYS + ("before", "todense", "copied")
        with RawConn(master.port) as m, RawConn(replica.port) as r:
            for k in keys:
                assert m.call("GET", k) == r.call("GET", k), k
            # The replica's cached cardinality is already valid where the master's is.
            assert parse(r.call("GET", "before"))[15] & 0x80 == 0
            assert parse(r.call("GET", "todense"))[4] == 0          # dense there too
    finally:
        if replica is not None:
            replica.stop()
        master.stop()
        subprocess.run(["rm", "-rf", d])


PROPAGATION_SCRIPT = [
    ("PFADD", "h", "a", "b"), ("PFADD", "h", "a"), ("PFCOUNT", "h"), ("PFCOUNT", "h"),
    ("PFCOUNT", "h", "nothere"), ("PFADD", "h2"), ("PFADD", "h2"), ("PFMERGE", "m", "h", "h2"),
    ("PFCOUNT", "m"), ("PFDEBUG", "TODENSE", "m"), ("PFDEBUG", "TODENSE", "m"), ("PFDEBUG", "GETREG", "h"),
    ("PFDEBUG", "ENCODING", "h"), ("PFCOUNT", "nothere"), ("SET", "s", "x"), ("PFADD", "s", "y"),
]


def propagated(port):
    """The commands a replica that connects by socket receives for the script."""
    c = RawConn(port)
    assert c.call("REPLCONF", "capa", "psync2") == b"+OK\r\n"
    c.send(encode("PSYNC", "?", -1))
    # +FULLRESYNC line, then the RDB payload as $<len>\r\n<bytes>.
    while b"\r\n" not in c.buf:
        c._fill()
    line, _, c.buf = c.buf.partition(b"\r\n")
    assert line.startswith(b"+FULLRESYNC"), line
    while True:
        while b"\r\n" not in c.buf:
            c._fill()
        if c.buf.startswith(b"\n"):     # keepalive newlines before the payload
            c.buf = c.buf[1:]
            continue
        break
    head, _, rest = c.buf.partition(b"\r\n")
    assert head.startswith(b"$"), head
    size = int(head[1:])
    c.buf = rest
    while len(c.buf) < size:
        c._fill()
    c.buf = c.buf[size:]
    with RawConn(port) as w:
        for cmd in PROPAGATION_SCRIPT:
            w.call(*cmd)
    c.sock.settimeout(0.5)
    while True:
        try:
            c._fill()
        except Exception:
            break
    cmds = []
    while c.buf:
        cmd = [x.decode() for x in parse(c.read_reply())]
        if cmd[0].upper() != "PING":
            cmds.append(cmd)
    c.close()
    return cmds


def test_propagated_commands_are_the_same_as_redis(server, reference):
    ours, theirs = propagated(server.port), propagated(reference.port)
    assert ours == theirs
    assert ["PFCOUNT", "h"] in ours and ["PFDEBUG", "TODENSE", "m"] in ours


def test_ours_as_replica_of_a_real_master_ends_with_the_same_bytes():
    d = tempfile.mkdtemp(prefix="hll-master-")
    master = Server("redis-server --port {port} --save '' --appendonly no --dir %s" % d, "reference").start()
    replica = None
    try:
        with RawConn(master.port) as c:
            c.call("PFADD", "before", *elements("b", 0, 800))          # in the full sync
        replica = Server(_server_cmd() + " --replicaof 127.0.0.1 %d" % master.port, "server").start()
        assert wait_until(lambda: info(replica.port, "replication").get("master_link_status") == "up", 10), \
            replica.log_tail()
        with RawConn(master.port) as c:
            fill(c)
            c.call("PFADD", "before", "x")
            c.call("PFCOUNT", "before")
            c.call("PFADD", "todense", "a")
            c.call("PFDEBUG", "TODENSE", "todense")

        def in_sync():
            m = info(master.port, "replication")["master_repl_offset"]
            return info(replica.port, "replication").get("slave_repl_offset") == m
        assert wait_until(in_sync, 10)
        with RawConn(master.port) as m, RawConn(replica.port) as r:
            for k in KEYS + ("before", "todense"):
                assert m.call("GET", k) == r.call("GET", k), k
    finally:
        if replica is not None:
            replica.stop()
        master.stop()
        subprocess.run(["rm", "-rf", d])
