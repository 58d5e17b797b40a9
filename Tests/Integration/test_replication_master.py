"""Replication, master side: our server as the master of a real redis-server 7 replica and of
raw-socket replicas that read the stream byte for byte.

- a real replica syncs, follows writes made under redis-benchmark load (keys, values and TTLs
  match), and resumes with +CONTINUE after CLIENT KILL TYPE replica;
- the propagated stream (SELECT, rewrites of relative expiries, INCRBYFLOAT, SET ... GET) is
  the same command sequence a real redis-server 7.0 master sends for the same writes;
- PSYNC against the backlog: +CONTINUE with the exact missing bytes, +FULLRESYNC when the
  offset is gone, sync_* stats;
- WAIT, ROLE, REPLCONF and INFO replication.
"""
import os
import re
import subprocess
import tempfile
import time

import pytest

from conftest import Server
from resp import RawConn, Closed, encode, parse, RespError

OUR_CMD = os.environ.get(
    "SERVER_CMD", ".build/release/swift-redis --port {port} --bind 127.0.0.1 --save '' --appendonly no")


def info(port, section):
    with RawConn(port) as c:
        text = parse(c.call("INFO", section)).decode()
    return dict(l.split(":", 1) for l in text.splitlines() if l and not l.startswith("#") and ":" in l)


def wait_until(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.fixture
def servers():
    """Starts servers by command template and stops them all at the end."""
    started = []
    dirs = []

    def make(template, name):
        s = Server(template, name).start()
        started.append(s)
        return s

    def ours():
        return make(OUR_CMD, "server")

    def real(*extra):
        d = tempfile.mkdtemp(prefix="replmaster-")   # a disk-based sync writes its RDB here
        dirs.append(d)
        return make("redis-server --port {port} --save '' --appendonly no --dir %s %s" % (d, " ".join(extra)),
                    "redis")

    make.ours, make.real = ours, real
    yield make
    for s in started:
        s.stop()
    for d in dirs:
        subprocess.run(["rm", "-rf", d])


def start_real_replica(servers, master_port):
    r = servers.real("--replicaof 127.0.0.1 %d" % master_port)
    assert wait_until(lambda: info(r.port, "replication").get("master_link_status") == "up", 10), \
        "replica never linked:\n" + r.log_tail()
    return r


def in_sync(master, replica):
    m = int(info(master.port, "replication")["master_repl_offset"])
    return int(info(replica.port, "replication").get("slave_repl_offset", -1)) == m


def snapshot_of(port, dbs=16):
    """{db: {key: (value, pttl)}} over SCAN of every non-empty database."""
    import redis
    out = {}
    for db in range(dbs):
        r = redis.Redis(host="127.0.0.1", port=port, db=db, socket_timeout=10)
        if r.dbsize() == 0:
            continue
        keys = {}
        for k in r.scan_iter(count=1000):
            ttl = r.pttl(k)
            t = r.type(k)
            if t == b"list":
                value = ("list", r.lrange(k, 0, -1))
            elif t == b"hash":
                value = ("hash", sorted(r.hgetall(k).items()))
            elif t == b"set":
                value = ("set", sorted(r.smembers(k)))
            elif t == b"zset":
                value = ("zset", r.zrange(k, 0, -1, withscores=True))
            elif t == b"stream":
                value = ("stream", r.xrange(k), r.xinfo_stream(k)["last-generated-id"])
            else:
                value = r.get(k)
            # As an absolute time, so the time spent scanning does not count as a difference.
            keys[k] = (value, ttl if ttl < 0 else int(time.time() * 1000) + ttl)
        out[db] = keys
    return out


def assert_same_data(master, replica, ttl_tolerance_ms=250):
    a, b = snapshot_of(master.port), snapshot_of(replica.port)
    assert sorted(a) == sorted(b), "non-empty databases differ"
    for db in a:
        assert len(a[db]) == len(b[db]), "db %d: %d keys on master, %d on replica" % (db, len(a[db]), len(b[db]))
        for k, (v, ttl) in a[db].items():
            assert k in b[db], "db %d: %r missing on replica" % (db, k)
            v2, ttl2 = b[db][k]
            assert v == v2, "db %d key %r: %r vs %r" % (db, k, v, v2)
            if ttl < 0:
                assert ttl2 == ttl, "db %d key %r: pttl %d vs %d" % (db, k, ttl, ttl2)
            else:
                assert ttl2 > 0 and abs(ttl - ttl2) <= ttl_tolerance_ms, \
                    "db %d key %r: expires at %d vs %d" % (db, k, ttl, ttl2)


class RawReplica:
    """A replica made of a socket: handshake, PSYNC, then the stream as bytes and commands."""

    def __init__(self, port, replid="?", offset=-1, listening_port=None):
        self.c = RawConn(port)
        if listening_port is not None:
            assert self.c.call("REPLCONF", "listening-port", listening_port) == b"+OK\r\n"
        assert self.c.call("REPLCONF", "capa", "psync2") == b"+OK\r\n"   # no eof: an RDB with a length
        self.c.send(encode("PSYNC", replid, offset))
        self.reply = self._line()
        self.rdb = None
        if self.reply.startswith(b"+FULLRESYNC"):
            _, self.replid, off = self.reply.decode().split()
            self.offset = int(off)
            self.rdb = self._bulk_without_crlf()
        elif self.reply.startswith(b"+CONTINUE"):
            self.offset = offset - 1

    def _line(self):
        while True:
            # A master busy saving sends newlines to keep the link alive.
            while self.c.buf.startswith(b"\n"):
                self.c.buf = self.c.buf[1:]
            i = self.c.buf.find(b"\r\n")
            if i >= 0 and self.c.buf:
                line, self.c.buf = self.c.buf[:i], self.c.buf[i + 2:]
                return line
            self.c._fill()

    def _bulk_without_crlf(self):
        head = self._line()
        assert head.startswith(b"$"), head
        n = int(head[1:])
        while len(self.c.buf) < n:
            self.c._fill()
        body, self.c.buf = self.c.buf[:n], self.c.buf[n:]
        return body

    def read_bytes(self, n, timeout=5.0):
        self.c.sock.settimeout(timeout)
        while len(self.c.buf) < n:
            self.c._fill()
        out, self.c.buf = self.c.buf[:n], self.c.buf[n:]
        return out

    def commands(self, quiet=0.5):
        """Every whole command received until nothing arrives for `quiet` seconds."""
        self.c.sock.settimeout(quiet)
        while True:
            try:
                self.c._fill()
            except (OSError, Closed):
                break
        cmds = []
        while self.c.buf:
            raw = self.c.read_reply()
            cmds.append(parse(raw))
        return cmds

    def close(self):
        self.c.close()


def normalized(cmds):
    """Commands without keepalives, with absolute times replaced (they differ by run)."""
    out = []
    for cmd in cmds:
        words = [w.decode() for w in cmd]
        if words[0].upper() == "PING" or (words[0].upper() == "REPLCONF" and words[1].upper() == "GETACK"):
            continue
        for i in range(1, len(words)):
            if words[i - 1].upper() in ("PXAT", "EXAT") or (words[0].upper() in ("PEXPIREAT", "EXPIREAT") and i == 2):
                if words[i] != "1":   # the one fixed time of the script
                    assert abs(int(words[i]) - time.time() * 1000) < 2_000_000, cmd
                    words[i] = "<time>"
        out.append(words)
    return out


STREAM_SCRIPT = [
    ("SET", "k1", "v1"),
    ("SET", "k2", "v2", "EX", "100"),
    ("SET", "k3", "v3", "PX", "100000", "NX"),
    ("SET", "k3", "nope", "NX"),                 # no change: nothing propagated
    ("SETEX", "k4", "100", "v"),
    ("PSETEX", "k5", "100000", "v"),
    ("SET", "k6", "v6", "EXAT", str(int(time.time()) + 1000)),
    ("SET", "k1", "v7", "GET"),
    ("SET", "k1", "v8", "XX", "GET", "KEEPTTL"),
    ("INCR", "n"),
    ("INCRBY", "n", "5"),
    ("INCRBYFLOAT", "f", "1.5"),
    ("INCRBYFLOAT", "f", "0.1"),
    ("APPEND", "a", "x"),
    ("MSET", "m1", "1", "m2", "2"),
    ("DEL", "m1", "nosuchkey"),
    ("DEL", "nosuchkey"),                        # no change
    ("SELECT", "3"),
    ("SET", "x", "y"),
    ("GETDEL", "x"),
    ("SELECT", "0"),
    ("EXPIRE", "k1", "100"),
    ("GETEX", "k2", "PERSIST"),
    ("GETEX", "k1", "EX", "50"),
    ("GETSET", "k1", "z"),
    ("SETNX", "k9", "1"),
    ("SETRANGE", "k9", "3", "abc"),
    ("MSETNX", "q1", "1", "q2", "2"),
    ("PERSIST", "k4"),
    ("SET", "past", "v", "PXAT", "1"),
    ("GET", "past"),                             # its DEL goes here, not whenever active expiry runs
    ("SET", "gone", "v", "PX", "1"),
    ("SLEEP", 0.05),
    ("GET", "gone"),                             # expired: a DEL travels (lazily or actively)
    ("RENAME", "k9", "k10"),
    ("COPY", "k10", "k11"),
    ("MOVE", "k11", "2"),
    ("EXPIRE", "k10", "-1"),                     # a past expiry deletes: sent as DEL
    ("SELECT", "2"),
    ("FLUSHDB",),
    ("SELECT", "0"),
    ("FLUSHALL",),
]


# Writes of the other types, whose rewrites (BLPOP -> LPOP, HINCRBYFLOAT -> HSET, SPOP ->
# SREM, XADD * -> XADD <id>, BZPOPMIN -> ZPOPMIN) must also match what Redis sends.
TYPES_SCRIPT = [
    ("LPUSH", "l", "a", "b", "c"), ("RPOP", "l"), ("LMOVE", "l", "l2", "LEFT", "RIGHT"), ("BLPOP", "l", "0"),
    ("LINSERT", "l2", "BEFORE", "a", "z"),
    ("HSET", "h", "f", "1"), ("HINCRBYFLOAT", "h", "f", "1.5"), ("HINCRBY", "h", "g", "2"), ("HDEL", "h", "f", "nope"),
    ("SADD", "s", "1", "2", "3"), ("SREM", "s", "1"), ("SMOVE", "s", "s2", "2"), ("SPOP", "s2"),
    ("ZADD", "z", "1", "a", "2", "b"), ("ZINCRBY", "z", "1.5", "a"), ("ZPOPMIN", "z"), ("ZADD", "z", "GT", "CH", "5", "b"),
    ("ZUNIONSTORE", "zu", "1", "z"), ("BZPOPMIN", "z", "0"),
    ("XADD", "x", "1-1", "f", "v"), ("XADD", "x", "MAXLEN", "1", "2-1", "f", "v"), ("XDEL", "x", "2-1"),
    ("XTRIM", "x", "MAXLEN", "0"), ("XADD", "y", "*", "f", "v"), ("XGROUP", "CREATE", "y", "g", "$"),
    ("EXPIRE", "h", "100"),
    ("MULTI",), ("SET", "t1", "1"), ("INCR", "t1"), ("SPOP", "s"), ("GET", "t1"), ("EXEC",),
    ("MULTI",), ("GET", "t1"), ("EXEC",),                  # nothing written: nothing sent
    ("MULTI",), ("WAIT", "5", "0"), ("SET", "t2", "x", "EX", "100"), ("EXEC",),   # WAIT does not block here
]


def run_stream_script(port, script=None):
    replica = RawReplica(port)
    assert replica.rdb.startswith(b"REDIS"), replica.rdb[:16]
    with RawConn(port) as c:
        for cmd in script or STREAM_SCRIPT:
            if cmd[0] == "SLEEP":
                time.sleep(cmd[1])
            else:
                c.call(*cmd)
    cmds = replica.commands()
    replica.close()
    return normalized(cmds)


def test_stream_is_the_same_as_redis_for_the_same_writes(servers):
    ours = run_stream_script(servers.ours().port)
    theirs = run_stream_script(servers.real().port)
    assert ours == theirs
    # The rewrites themselves, spelled out.
    assert ["SET", "k2", "v2", "PXAT", "<time>"] in ours
    assert ["SET", "k4", "v", "PXAT", "<time>"] in ours
    assert ["SET", "f", "1.6", "KEEPTTL"] in ours
    assert ["SET", "k1", "v7"] in ours


def test_stream_of_other_types_is_the_same_as_redis(servers):
    def ids_replaced(cmds):
        return [[re.sub(r"^\d{13}-\d+$", "<id>", w) for w in cmd] for cmd in cmds]
    ours = ids_replaced(run_stream_script(servers.ours().port, TYPES_SCRIPT))
    theirs = ids_replaced(run_stream_script(servers.real().port, TYPES_SCRIPT))
    assert ours == theirs
    assert ["SREM", "s2", "2"] in ours and ["HSET", "h", "f", "2.5"] in ours
    # Only the transaction with several writes is wrapped (Redis 7.0 sends a lone write bare).
    assert ours.count(["MULTI"]) == 1 and ours.count(["EXEC"]) == 1


def test_real_replica_follows_writes_under_benchmark_load(servers):
    import redis
    master = servers.ours()
    replica = start_real_replica(servers, master.port)
    bench = subprocess.Popen(["redis-benchmark", "-p", str(master.port), "-t", "set,incr", "-n", "40000",
                              "-r", "2000", "-P", "16", "-c", "8", "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
    r1 = redis.Redis(host="127.0.0.1", port=master.port, db=1, socket_timeout=10)
    i = 0
    while bench.poll() is None or i < 300:
        r.set("ex:%d" % i, i, ex=100 + i % 50)
        r.psetex("px:%d" % i, 200000, "v")
        r.set("short:%d" % i, "s", px=50)       # expires during the test: DEL travels
        r.mset({"m:%d" % i: i, "n:%d" % i: -i})
        r.incr("counter")
        r1.set("db1:%d" % i, i)
        if i % 3 == 0:
            r.delete("m:%d" % (i - 3))
            r.expire("n:%d" % i, 1000)
        i += 1
    assert bench.wait(60) == 0
    time.sleep(0.2)   # let the short-lived keys expire and their DELs go out
    r.dbsize()
    with RawConn(master.port) as c:
        assert c.call("WAIT", "1", "5000") == b":1\r\n"
    assert wait_until(lambda: in_sync(master, replica), 10)
    assert_same_data(master, replica)
    assert int(info(master.port, "stats")["sync_full"]) == 1
    m = info(master.port, "replication")
    assert m["connected_slaves"] == "1"
    assert re.fullmatch(r"ip=127\.0\.0\.1,port=%d,state=online,offset=\d+,lag=\d+" % replica.port, m["slave0"])


def test_replica_resumes_with_continue_after_client_kill(servers):
    import redis
    master = servers.ours()
    replica = start_real_replica(servers, master.port)
    r = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
    for i in range(200):
        r.set("before:%d" % i, i, ex=500)
    with RawConn(master.port) as c:
        lines = parse(c.call("CLIENT", "LIST", "TYPE", "replica")).decode().splitlines()
        assert len(lines) == 1 and " flags=S " in lines[0]
        assert c.call("CLIENT", "KILL", "TYPE", "replica") == b":1\r\n"
    for i in range(200):
        r.set("after:%d" % i, i)
    r.incrbyfloat("f", "2.5")
    assert wait_until(lambda: info(master.port, "stats")["sync_partial_ok"] == "1" and in_sync(master, replica), 15), \
        replica.log_tail()
    assert "Successful partial resynchronization with master" in replica.log_tail(60)
    s = info(master.port, "stats")
    assert (s["sync_full"], s["sync_partial_ok"], s["sync_partial_err"]) == ("1", "1", "0")
    assert_same_data(master, replica)
    # Same again with the older type name.
    with RawConn(master.port) as c:
        assert c.call("CLIENT", "KILL", "TYPE", "slave") == b":1\r\n"
    r.set("third", "x")
    assert wait_until(lambda: info(master.port, "stats")["sync_partial_ok"] == "2" and in_sync(master, replica), 15)
    assert_same_data(master, replica)


def test_psync_from_backlog_sends_exactly_the_missing_bytes(servers):
    master = servers.ours()
    first = RawReplica(master.port)
    replid, start = first.replid, first.offset
    with RawConn(master.port) as c:
        for i in range(50):
            c.call("SET", "key:%d" % i, "x" * i)
        stream = first.read_bytes(int(info(master.port, "replication")["master_repl_offset"]) - start)
    # Continue from several points of what the first replica saw: the same bytes follow.
    cuts = list(range(0, len(stream), len(stream) // 7)) + [len(stream)]
    for cut in cuts:
        again = RawReplica(master.port, replid, start + cut + 1)
        assert again.reply == ("+CONTINUE %s" % replid).encode()
        assert again.read_bytes(len(stream) - cut) == stream[cut:]
        again.close()
    # Unknown id, or an offset ahead of ours: a full resync, counted as a failed partial one.
    with RawConn(master.port) as c:
        c.call("FLUSHALL")
    before = info(master.port, "stats")
    full = RawReplica(master.port, "f" * 40, 1)
    assert full.reply.startswith(b"+FULLRESYNC ")
    ahead = RawReplica(master.port, replid, 10 ** 9)
    assert ahead.reply.startswith(b"+FULLRESYNC ")
    forced = RawReplica(master.port, "?", -1)   # "?" is not a failed attempt
    assert forced.reply.startswith(b"+FULLRESYNC ")
    after = info(master.port, "stats")
    assert int(after["sync_full"]) == int(before["sync_full"]) + 3
    assert int(after["sync_partial_err"]) == int(before["sync_partial_err"]) + 2
    assert int(after["sync_partial_ok"]) == len(cuts)
    for x in (first, full, ahead, forced):
        x.close()


def test_backlog_keeps_only_its_size_and_refuses_older_offsets(servers):
    master = servers.ours()
    with RawConn(master.port) as c:
        assert c.call("CONFIG", "SET", "repl-backlog-size", "16kb") == b"+OK\r\n"
        assert parse(c.call("CONFIG", "GET", "repl-backlog-size")) == [b"repl-backlog-size", b"16384"]
    first = RawReplica(master.port)
    with RawConn(master.port) as c:
        for i in range(100):
            c.call("SET", "k", "v" * 500)
        c.call("FLUSHALL")
    rep = info(master.port, "replication")
    offset = int(rep["master_repl_offset"])
    assert rep["repl_backlog_active"] == "1"
    assert rep["repl_backlog_histlen"] == "16384"
    assert int(rep["repl_backlog_first_byte_offset"]) == offset - 16384 + 1
    oldest = int(rep["repl_backlog_first_byte_offset"])
    assert RawReplica(master.port, first.replid, oldest).reply.startswith(b"+CONTINUE")
    assert RawReplica(master.port, first.replid, oldest - 1).reply.startswith(b"+FULLRESYNC")
    first.close()


def test_full_sync_of_an_existing_dataset(servers):
    import redis
    master = servers.ours()
    r = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
    for db in (0, 5):
        rd = redis.Redis(host="127.0.0.1", port=master.port, db=db, socket_timeout=10)
        for i in range(500):
            rd.set("s:%d" % i, "v%d" % i, ex=1000 + i if i % 2 else None)
        rd.set("int", 12345)
        rd.set("big", "x" * 100000)
        rd.rpush("list", *range(300))
        rd.hset("hash", mapping={"f%d" % i: i for i in range(50)})
        rd.sadd("set", *range(100))
        rd.sadd("strset", "a", "b", "c")
        rd.pexpire("list", 900000)
    replica = start_real_replica(servers, master.port)
    r.set("after-sync", "1")
    r.lpush("list", "new")
    assert wait_until(lambda: in_sync(master, replica), 10)
    assert_same_data(master, replica)
    s = info(master.port, "stats")
    assert (s["sync_full"], s["sync_partial_ok"], s["sync_partial_err"]) == ("1", "0", "0")


def test_full_sync_of_sorted_sets_and_streams(servers):
    import redis
    master = servers.ours()
    r = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
    r.zadd("zset", {"m%d" % i: i / 3 for i in range(200)})
    r.zadd("smallz", {"a": 1.5, "b": -2})
    for i in range(30):
        r.xadd("stream", {"f": i})
    replica = start_real_replica(servers, master.port)
    r.zadd("zset", {"late": 7})
    r.xadd("stream", {"late": 1})
    assert wait_until(lambda: in_sync(master, replica), 10)
    assert_same_data(master, replica)


def test_replicas_asking_together_share_one_snapshot(servers):
    master = servers.ours()
    with RawConn(master.port) as c:
        for i in range(100):
            c.call("SET", "k%d" % i, "v")
    a = RawReplica(master.port)
    b = RawReplica(master.port)
    # Nothing changed in between: the second gets the very bytes of the first (the RDB
    # holds its creation time and memory use, so a second snapshot would differ).
    assert a.rdb == b.rdb and a.offset == b.offset and a.rdb.startswith(b"REDIS0010")
    with RawConn(master.port) as c:
        c.call("SET", "k0", "changed")
    c2 = RawReplica(master.port)
    assert c2.offset > a.offset and b"changed" in c2.rdb
    for x in (a, b, c2):
        x.close()


def test_wait(servers):
    master = servers.ours()
    with RawConn(master.port) as c:
        assert c.call("WAIT", "0", "0") == b":0\r\n"
        t = time.monotonic()
        assert c.call("WAIT", "1", "200") == b":0\r\n"   # no replica: waits out the timeout
        assert time.monotonic() - t >= 0.18
    replica = start_real_replica(servers, master.port)
    with RawConn(master.port) as c:
        c.call("SET", "k", "v")
        t = time.monotonic()
        assert c.call("WAIT", "1", "5000") == b":1\r\n"
        assert time.monotonic() - t < 2.5     # answered by the GETACK round trip, not the timeout
        assert c.call("WAIT", "1", "0") == b":1\r\n"
        # A WAIT that cannot be satisfied holds the connection's next requests until it times out.
        t = time.monotonic()
        c.send(encode("WAIT", "2", "300") + encode("PING") + encode("GET", "k"))
        assert c.read_replies(3) == [b":1\r\n", b"+PONG\r\n", b"$1\r\nv\r\n"]
        assert time.monotonic() - t >= 0.28
        # Other clients are not held meanwhile.
        c.send(encode("WAIT", "2", "1000"))
        t = time.monotonic()
        with RawConn(master.port) as other:
            assert other.call("SET", "k2", "v") == b"+OK\r\n"
        assert time.monotonic() - t < 0.5
        assert c.read_reply() == b":1\r\n"
    assert replica.alive()


def test_wait_errors_match_redis(servers):
    ours, real = servers.ours(), servers.real()
    for cmd in [("WAIT", "x", "0"), ("WAIT", "1", "-1"), ("WAIT", "1", "abc"), ("WAIT", "1"), ("WAIT", "0", "0")]:
        with RawConn(ours.port) as a, RawConn(real.port) as b:
            assert a.call(*cmd) == b.call(*cmd), cmd


def test_replconf_and_role_match_redis(servers):
    ours, real = servers.ours(), servers.real()
    script = [
        ("ROLE",),
        ("REPLCONF",),
        ("REPLCONF", "listening-port"),
        ("REPLCONF", "listening-port", "abc"),
        ("REPLCONF", "listening-port", "7000"),
        ("REPLCONF", "capa", "eof", "capa", "whatever"),
        ("REPLCONF", "ip-address", "10.0.0.1"),
        ("REPLCONF", "ip-address", "x" * 300),
        ("REPLCONF", "rdb-only", "2"),
        ("REPLCONF", "rdb-only", "1"),
        ("REPLCONF", "nosuchoption", "1"),
        ("REPLCONF", "listening-port", "7000", "bogus", "1"),
        ("PSYNC", "?"),
        ("PSYNC", "?", "notanumber"),
        ("SYNC", "extra"),
    ]
    with RawConn(ours.port) as a, RawConn(real.port) as b:
        for cmd in script:
            assert a.call(*cmd) == b.call(*cmd), cmd
        # ACK and GETACK from a client that is not a replica get no reply at all.
        for c in (a, b):
            c.send(encode("REPLCONF", "ACK", "5") + encode("REPLCONF", "GETACK", "*") + encode("PING"))
        assert a.read_reply() == b.read_reply() == b"+PONG\r\n"


def test_info_replication_fields_match_redis(servers):
    ours, real = servers.ours(), servers.real()
    a, b = info(ours.port, "replication"), info(real.port, "replication")
    assert list(a) == list(b)
    for k in ("role", "connected_slaves", "master_failover_state", "master_replid2", "master_repl_offset",
              "second_repl_offset", "repl_backlog_active", "repl_backlog_size", "repl_backlog_first_byte_offset",
              "repl_backlog_histlen"):
        assert a[k] == b[k], k
    assert re.fullmatch(r"[0-9a-f]{40}", a["master_replid"])
    assert a["master_replid"] != info(ours.port, "server")["run_id"]
    s = info(ours.port, "stats")
    assert (s["sync_full"], s["sync_partial_ok"], s["sync_partial_err"]) == ("0", "0", "0")


def test_role_and_info_with_a_replica(servers):
    master = servers.ours()
    replica = start_real_replica(servers, master.port)
    with RawConn(master.port) as c:
        c.call("SET", "k", "v")
        assert c.call("WAIT", "1", "5000") == b":1\r\n"
        role = parse(c.call("ROLE"))
    offset = int(info(master.port, "replication")["master_repl_offset"])
    assert role[0] == b"master" and role[1] >= offset - 14   # a PING may follow
    assert role[2] == [[b"127.0.0.1", str(replica.port).encode(), role[2][0][2]]]
    assert int(role[2][0][2]) > 0
    m = info(master.port, "replication")
    assert m["repl_backlog_active"] == "1" and m["repl_backlog_first_byte_offset"] == "1"
    assert int(m["repl_backlog_histlen"]) == int(m["master_repl_offset"])
    # Killing the replica's process: its connection goes away and so does it from the list.
    replica.kill()
    assert wait_until(lambda: info(master.port, "replication")["connected_slaves"] == "0", 5)
    with RawConn(master.port) as c:
        assert parse(c.call("ROLE"))[2] == []


def test_replica_that_does_not_read_is_dropped_at_its_output_limit(servers):
    master = servers.ours()
    with RawConn(master.port) as c:
        assert c.call("CONFIG", "SET", "client-output-buffer-limit", "replica 4mb 0 0") == b"+OK\r\n"
    stuck = RawReplica(master.port)          # never reads past the snapshot
    stuck.c.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
    healthy = start_real_replica(servers, master.port)
    assert info(master.port, "replication")["connected_slaves"] == "2"
    with RawConn(master.port) as c:
        for i in range(300):
            c.call("SET", "big:%d" % (i % 10), "x" * 100_000)
        assert wait_until(lambda: info(master.port, "replication")["connected_slaves"] == "1", 10)
        assert c.call("WAIT", "1", "5000") == b":1\r\n"
    assert "closed for overcoming of output buffer limits" in master.log_tail(80)
    assert int(info(master.port, "stats")["client_output_buffer_limit_disconnections"]) >= 1
    assert wait_until(lambda: in_sync(master, healthy), 10)
    assert_same_data(master, healthy)
    stuck.close()


def test_replication_config_and_min_replicas_match_redis(servers):
    ours, real = servers.ours(), servers.real()
    script = [
        ("CONFIG", "GET", "repl-backlog-size"),
        ("CONFIG", "GET", "repl-backlog-ttl"),
        ("CONFIG", "GET", "repl-ping-replica-period"),
        ("CONFIG", "GET", "repl-timeout"),
        ("CONFIG", "GET", "min-replicas-to-write"),
        ("CONFIG", "GET", "min-replicas-max-lag"),
        ("CONFIG", "SET", "repl-backlog-size", "100"),
        ("CONFIG", "GET", "repl-backlog-size"),
        ("CONFIG", "SET", "repl-ping-replica-period", "0"),
        ("CONFIG", "SET", "min-replicas-to-write", "1"),
        ("SET", "k", "v"),
        ("GET", "k"),
        ("CONFIG", "SET", "min-replicas-max-lag", "0"),   # a lag of 0 turns the check off
        ("SET", "k", "v"),
        ("CONFIG", "SET", "min-replicas-max-lag", "10"),
        ("INCR", "n"),
        ("CONFIG", "SET", "min-replicas-to-write", "0"),
        ("SET", "k", "v"),
    ]
    with RawConn(ours.port) as a, RawConn(real.port) as b:
        for cmd in script:
            assert a.call(*cmd) == b.call(*cmd), cmd
    with RawConn(ours.port) as a:
        a.call("CONFIG", "SET", "min-replicas-to-write", "1")
    assert info(ours.port, "replication")["min_slaves_good_slaves"] == "0"
    replica = start_real_replica(servers, ours.port)
    assert wait_until(lambda: info(ours.port, "replication")["min_slaves_good_slaves"] == "1", 5)
    with RawConn(ours.port) as a:
        assert a.call("SET", "k", "w") == b"+OK\r\n"
    replica.kill()
    assert wait_until(lambda: info(ours.port, "replication")["connected_slaves"] == "0", 5)
    with RawConn(ours.port) as a:
        assert a.call("SET", "k", "x") == b"-NOREPLICAS Not enough good replicas to write.\r\n"


def test_silent_replicas_time_out_and_sync_only_ones_do_not(servers):
    master = servers.ours()
    with RawConn(master.port) as c:
        assert c.call("CONFIG", "SET", "repl-timeout", "1") == b"+OK\r\n"
    silent = RawReplica(master.port, listening_port=7777)   # PSYNC, then never ACKs
    old = RawConn(master.port)                              # SYNC: expected never to ACK
    old.send(encode("SYNC"))
    assert wait_until(lambda: info(master.port, "replication")["connected_slaves"] == "2", 5)
    assert wait_until(lambda: info(master.port, "replication")["connected_slaves"] == "1", 6)
    assert "Disconnecting timedout replica (streaming sync): 127.0.0.1:7777" in master.log_tail(40)
    assert old.is_open(wait=0.2)
    old.close()
    silent.close()


def test_backlog_is_freed_after_its_ttl_without_replicas(servers):
    master = servers.ours()
    with RawConn(master.port) as c:
        assert c.call("CONFIG", "SET", "repl-backlog-ttl", "1") == b"+OK\r\n"
    first = RawReplica(master.port)
    before = info(master.port, "replication")
    assert before["repl_backlog_active"] == "1" and before["master_replid"] == first.replid
    first.close()
    assert wait_until(lambda: info(master.port, "replication")["repl_backlog_active"] == "0", 6)
    after = info(master.port, "replication")
    assert after["master_replid"] != first.replid   # nobody may continue the old history
    assert after["repl_backlog_first_byte_offset"] == "0" and after["repl_backlog_histlen"] == "0"
    assert "Replication backlog freed after 1 seconds without connected replicas." in master.log_tail(40)
    again = RawReplica(master.port, first.replid, first.offset + 1)
    assert again.reply.startswith(b"+FULLRESYNC ")
    again.close()


def test_announced_address_shows_in_info_and_role(servers):
    master = servers.ours()
    c = RawConn(master.port)
    assert c.call("REPLCONF", "listening-port", "6390", "ip-address", "10.1.2.3") == b"+OK\r\n"
    c.send(encode("PSYNC", "?", "-1"))
    assert wait_until(lambda: info(master.port, "replication")["connected_slaves"] == "1", 5)
    assert info(master.port, "replication")["slave0"].startswith("ip=10.1.2.3,port=6390,state=online,offset=0,lag=")
    with RawConn(master.port) as q:
        assert parse(q.call("ROLE"))[2] == [[b"10.1.2.3", b"6390", b"0"]]
    c.close()


def test_large_writes_reach_the_replica_whole(servers):
    import redis
    master = servers.ours()
    replica = start_real_replica(servers, master.port)
    r = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=30)
    big = bytes(range(256)) * (80 * 1024)          # 20 MB, every byte value
    r.set("big", big)
    r.mset({"m%d" % i: b"y" * 100_000 for i in range(100)})   # 10 MB in one command
    with RawConn(master.port) as c:
        assert c.call("WAIT", "1", "10000") == b":1\r\n"
    assert wait_until(lambda: in_sync(master, replica), 10)
    rr = redis.Redis(host="127.0.0.1", port=replica.port, socket_timeout=30)
    assert rr.get("big") == big
    assert rr.dbsize() == 101 and rr.strlen("m99") == 100_000
