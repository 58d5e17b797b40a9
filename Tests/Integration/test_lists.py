"""Lists, compared byte for byte with a real redis-server 7.0.

Each differential case is a list of steps run in order on one fresh connection to each
(emptied) server; every reply must be identical. Steps:
  ("CMD", "arg", ...)   one command, one reply compared
  Quiet("CMD", ...)     one command whose reply is read but not compared (HELLO 3's
                        server details differ)
A randomised case drives long lists through chunk boundaries with a seeded mix of every
command. Blocking commands are tested with several clients at once.
"""
import random
import socket
import subprocess
import threading
import time

import pytest

from resp import RawConn, encode, parse


class Quiet:
    def __init__(self, *args):
        self.args = args

    def __repr__(self):
        return "Quiet%r" % (self.args,)


def run(srv, steps):
    out = []
    with RawConn(srv.port) as c:
        for s in steps:
            if isinstance(s, Quiet):
                c.send(encode(*s.args))
                c.read_reply()
                continue
            c.send(encode(*s))
            out.append((s, c.read_reply()))
    return out


def compare(server, reference, steps):
    want = run(reference, steps)
    got = run(server, steps)
    assert len(got) == len(want)
    for (step, w), (_, g) in zip(want, got):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)


BIG = "b" * 300            # past the one-byte length form
HUGE = "h" * 9000          # larger than a chunk
LMIN = str(-(1 << 63))
LMAX = str((1 << 63) - 1)
WRONG = [("SET", "s", "x")]

CASES = {
    "push_basic": [
        ("LPUSH", "l", "a"), ("LPUSH", "l", "b", "c"), ("RPUSH", "l", "d", "e"),
        ("LRANGE", "l", "0", "-1"), ("LLEN", "l"), ("TYPE", "l"), ("OBJECT", "ENCODING", "l"),
        ("RPUSH", "l", ""), ("LPUSH", "l", BIG), ("RPUSH", "l", HUGE), ("LRANGE", "l", "0", "-1"),
        ("LPUSH",), ("LPUSH", "l"), ("RPUSH", "l"),
    ],
    "pushx": [
        ("LPUSHX", "l", "a"), ("RPUSHX", "l", "a", "b"), ("EXISTS", "l"),
        ("RPUSH", "l", "x"), ("LPUSHX", "l", "a", "b"), ("RPUSHX", "l", "c"),
        ("LRANGE", "l", "0", "-1"), ("LPUSHX", "l"),
    ],
    "wrongtype": WRONG + [
        ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"), ("RPUSHX", "s", "a"),
        ("LPOP", "s"), ("RPOP", "s"), ("LPOP", "s", "2"), ("LLEN", "s"), ("LRANGE", "s", "0", "1"),
        ("LINDEX", "s", "0"), ("LSET", "s", "0", "x"), ("LINSERT", "s", "BEFORE", "a", "b"),
        ("LREM", "s", "0", "a"), ("LTRIM", "s", "0", "1"), ("LPOS", "s", "a"),
        ("LMOVE", "s", "d", "LEFT", "RIGHT"), ("RPOPLPUSH", "s", "d"),
        ("RPUSH", "l", "a"), ("LMOVE", "l", "s", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "s"),
        ("LRANGE", "l", "0", "-1"), ("LMPOP", "2", "nokey", "s", "LEFT"),
        ("BLPOP", "s", "0"), ("BRPOP", "nokey", "s", "0"), ("BLMOVE", "s", "d", "LEFT", "LEFT", "0"),
        ("BRPOPLPUSH", "s", "d", "0"), ("BLMPOP", "0", "1", "s", "LEFT"),
        ("GET", "s"),
    ],
    "pop": [
        ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "0"), ("LPOP", "l", "3"), ("RPOP", "l", "1"),
        ("RPUSH", "l", "a", "b", "c", "d", "e"),
        ("LPOP", "l", "0"), ("LPOP", "l", "-1"), ("LPOP", "l", "x"), ("LPOP", "l", LMAX),
        ("LPOP", "l", "1", "2"), ("RPOP", "l", "1", "2"),
        ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "2"), ("RPOP", "l", "5"), ("EXISTS", "l"),
        ("RPUSH", "l", "x"), ("RPOP", "l", "1"), ("EXISTS", "l"), ("LPOP",),
    ],
    "pop_resp3": [
        Quiet("HELLO", "3"),
        ("LPOP", "l"), ("LPOP", "l", "2"), ("LPOP", "l", "0"), ("RPUSH", "l", "a", "b", "c"),
        ("LPOP", "l", "0"), ("RPOP", "l", "2"), ("LINDEX", "l", "5"), ("LPOS", "l", "zz"),
        ("LPOS", "l", "zz", "COUNT", "0"), ("LMPOP", "1", "nokey", "LEFT"),
        ("LMPOP", "1", "l", "RIGHT", "COUNT", "3"), ("LRANGE", "nokey", "0", "-1"),
        ("BLPOP", "nokey", "0.01"), ("LMOVE", "nokey", "x", "LEFT", "LEFT"),
    ],
    "lrange": [
        ("RPUSH", "l", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
        ("LRANGE", "l", "0", "-1"), ("LRANGE", "l", "2", "4"), ("LRANGE", "l", "-3", "-1"),
        ("LRANGE", "l", "-100", "100"), ("LRANGE", "l", "5", "2"), ("LRANGE", "l", "10", "20"),
        ("LRANGE", "l", "-1", "-5"), ("LRANGE", "l", LMIN, LMAX), ("LRANGE", "l", "0", LMIN),
        ("LRANGE", "l", "a", "1"), ("LRANGE", "l", "0", "b"), ("LRANGE", "nokey", "0", "-1"),
        ("LRANGE", "nokey", "x", "1"), ("LRANGE", "l", "0"), ("LRANGE", "l", "1.5", "2"),
    ],
    "lindex_lset": [
        ("RPUSH", "l", "a", "b", "c"),
        ("LINDEX", "l", "0"), ("LINDEX", "l", "-1"), ("LINDEX", "l", "3"), ("LINDEX", "l", "-4"),
        ("LINDEX", "l", "x"), ("LINDEX", "nokey", "x"), ("LINDEX", "nokey", "0"),
        ("LINDEX", "l", LMIN), ("LINDEX", "l", LMAX),
        ("LSET", "l", "0", "A"), ("LSET", "l", "-1", BIG), ("LSET", "l", "1", ""),
        ("LSET", "l", "3", "x"), ("LSET", "l", "-4", "x"), ("LSET", "l", "x", "y"),
        ("LSET", "nokey", "0", "x"), ("LSET", "nokey", "x", "x"), ("LSET", "l", "1", HUGE),
        ("LRANGE", "l", "0", "-1"), ("LSET", "l"),
    ],
    "linsert": [
        ("LINSERT", "nokey", "BEFORE", "a", "b"), ("LINSERT", "nokey", "MIDDLE", "a", "b"),
        ("RPUSH", "l", "a", "b", "c", "b"),
        ("LINSERT", "l", "BEFORE", "b", "X"), ("LINSERT", "l", "after", "b", "Y"),
        ("LINSERT", "l", "AFTER", "c", BIG), ("LINSERT", "l", "before", "a", "first"),
        ("LINSERT", "l", "AFTER", "zz", "no"), ("LINSERT", "l", "sideways", "a", "b"),
        ("LINSERT", "l", "BEFORE", "", "e"), ("LRANGE", "l", "0", "-1"),
        ("LINSERT", "l", "BEFORE", "a"),
    ],
    "lrem": [
        ("LREM", "nokey", "0", "a"), ("LREM", "nokey", "x", "a"),
        ("RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"),
        ("LREM", "l", "1", "a"), ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", "-2", "a"), ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", "0", "b"), ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", "5", "zz"), ("LREM", "l", "x", "a"), ("LREM", "l", LMIN, "a"),
        ("LREM", "l", "0", "c"), ("EXISTS", "l"), ("LRANGE", "l", "0", "-1"),
    ],
    "ltrim": [
        ("LTRIM", "nokey", "0", "1"), ("LTRIM", "nokey", "a", "1"),
        ("RPUSH", "l", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
        ("LTRIM", "l", "1", "-2"), ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "-3", "100"), ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "x", "1"), ("LTRIM", "l", "0", "0"), ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "5", "1"), ("EXISTS", "l"),
        ("RPUSH", "l", "a", "b"), ("LTRIM", "l", LMIN, LMAX), ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "-1", "-2"), ("EXISTS", "l"),
    ],
    "lpos": [
        ("LPOS", "nokey", "a"), ("LPOS", "nokey", "a", "COUNT", "2"),
        ("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"),
        ("LPOS", "l", "a"), ("LPOS", "l", "c"), ("LPOS", "l", "zz"), ("LPOS", "l", "c", "RANK", "2"),
        ("LPOS", "l", "c", "RANK", "-1"), ("LPOS", "l", "c", "RANK", "-3"), ("LPOS", "l", "c", "RANK", "4"),
        ("LPOS", "l", "c", "COUNT", "0"), ("LPOS", "l", "c", "COUNT", "2"), ("LPOS", "l", "c", "COUNT", "2", "RANK", "-1"),
        ("LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"), ("LPOS", "l", "c", "MAXLEN", "2"),
        ("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"), ("LPOS", "l", "c", "COUNT", "5", "RANK", "2"),
        ("LPOS", "l", "c", "RANK", "0"), ("LPOS", "l", "c", "RANK", "x"), ("LPOS", "l", "c", "COUNT", "-1"),
        ("LPOS", "l", "c", "MAXLEN", "-1"), ("LPOS", "l", "c", "COUNT", "x"), ("LPOS", "l", "c", "MAXLEN", "y"),
        ("LPOS", "l", "c", "RANK"), ("LPOS", "l", "c", "FOO", "1"), ("LPOS", "l", "a", "RANK", LMIN),
        ("LPOS", "l", "c", "RANK", LMIN, "COUNT", "0"), ("LPOS", "l", "c", "RANK", LMIN, "COUNT", "1"), ("LPOS", "l", "c", "rank", "1", "rank", "2"),
        ("LPOS", "nokey", "a", "RANK", "0"), ("LPOS", "l"),
    ],
    "lmove": [
        ("LMOVE", "nokey", "d", "LEFT", "RIGHT"), ("RPOPLPUSH", "nokey", "d"), ("EXISTS", "d"),
        ("RPUSH", "l", "a", "b", "c"),
        ("LMOVE", "l", "d", "LEFT", "RIGHT"), ("LMOVE", "l", "d", "right", "left"),
        ("LRANGE", "l", "0", "-1"), ("LRANGE", "d", "0", "-1"),
        ("RPOPLPUSH", "l", "d"), ("EXISTS", "l"), ("LRANGE", "d", "0", "-1"),
        ("LMOVE", "d", "d", "LEFT", "RIGHT"), ("LRANGE", "d", "0", "-1"),
        ("RPOPLPUSH", "d", "d"), ("LRANGE", "d", "0", "-1"),
        ("LMOVE", "d", "d", "LEFT", "LEFT"), ("LRANGE", "d", "0", "-1"),
        ("LMOVE", "d", "x", "UP", "LEFT"), ("LMOVE", "d", "x", "LEFT", "DOWN"),
        ("LMOVE", "nokey", "x", "UP", "LEFT"),
        ("RPUSH", "one", "z"), ("LMOVE", "one", "one", "RIGHT", "LEFT"), ("LRANGE", "one", "0", "-1"),
        ("LMOVE", "d", "x"), ("RPOPLPUSH", "d"),
    ],
    "lmpop": [
        ("LMPOP", "1", "nokey", "LEFT"), ("LMPOP", "0", "l", "LEFT"), ("LMPOP", "-1", "l", "LEFT"),
        ("LMPOP", "x", "l", "LEFT"), ("LMPOP", "2", "l", "LEFT"), ("LMPOP", "1", "l", "MIDDLE"),
        ("LMPOP", "5", "l", "LEFT"),
        ("RPUSH", "l2", "a", "b", "c", "d"),
        ("LMPOP", "2", "l1", "l2", "LEFT"), ("LMPOP", "2", "l1", "l2", "RIGHT", "COUNT", "2"),
        ("LMPOP", "2", "l1", "l2", "RIGHT", "COUNT", "10"), ("EXISTS", "l2"),
        ("RPUSH", "l1", "x"), ("LMPOP", "1", "l1", "LEFT", "COUNT", "0"),
        ("LMPOP", "1", "l1", "LEFT", "COUNT", "-1"), ("LMPOP", "1", "l1", "LEFT", "COUNT", "x"),
        ("LMPOP", "1", "l1", "LEFT", "COUNT"), ("LMPOP", "1", "l1", "LEFT", "COUNT", "1", "COUNT", "1"),
        ("LMPOP", "1", "l1", "LEFT", "FOO"), ("LMPOP", "1", "l1", "left", "count", "1"),
        ("LMPOP", "1", "l1"), ("LMPOP",), ("LMPOP", "2", "l1", "LEFT"), ("LMPOP", "3", "l1", "LEFT", "x"),
        ("LMPOP", "2", "l1", "l1", "LEFT"), ("LMPOP", LMAX, "l1", "LEFT"), ("BLMPOP", "0", "2", "l1", "LEFT"),
    ],
    "blocking_immediate": [
        ("RPUSH", "l", "a", "b", "c"),
        ("BLPOP", "nokey", "l", "0"), ("BRPOP", "l", "nokey", "1"), ("LRANGE", "l", "0", "-1"),
        ("BLPOP", "l", "x"), ("BLPOP", "l", "-1"), ("BLPOP", "l", "nan"), ("BLPOP", "l", "inf"),
        ("BLPOP", "l", "1e100"), ("BLPOP", "l", "0.5"), ("EXISTS", "l"),
        ("RPUSH", "l", "a", "b", "c"),
        ("BLMOVE", "l", "d", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "l", "d", "0"),
        ("BLMOVE", "l", "d", "UP", "RIGHT", "0"), ("BLMOVE", "l", "d", "LEFT", "RIGHT", "x"),
        ("BRPOPLPUSH", "l", "d", "-1"), ("LRANGE", "d", "0", "-1"),
        ("BLMPOP", "0", "2", "nokey", "d", "RIGHT", "COUNT", "5"), ("BLMPOP", "x", "1", "d", "LEFT"),
        ("BLMPOP", "0", "0", "d", "LEFT"), ("BLMPOP", "0", "1", "d", "MIDDLE"),
        ("BLMPOP", "-1", "1", "d", "LEFT"), ("BLPOP", "l"), ("BLMPOP", "0", "1", "d"),
    ],
    "blocking_timeout_short": [
        ("BLPOP", "nokey", "0.01"), ("BRPOP", "a", "b", "0.02"), ("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.01"),
        ("BRPOPLPUSH", "nokey", "d", "0.01"), ("BLMPOP", "0.01", "2", "a", "b", "LEFT"), ("PING",),
    ],
    "multi_exec_blocking": [
        ("MULTI",), ("BLPOP", "nokey", "0"), ("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0"),
        ("BRPOPLPUSH", "nokey", "d", "0"), ("BLMPOP", "0", "1", "nokey", "LEFT"),
        ("RPUSH", "l", "x"), ("BRPOP", "l", "0"), ("EXEC",),
    ],
    "big_elements": [
        ("RPUSH", "l", HUGE, BIG, "s", HUGE), ("LPUSH", "l", HUGE, BIG),
        ("LRANGE", "l", "0", "-1"), ("LINDEX", "l", "3"), ("LINDEX", "l", "-2"),
        ("LPOP", "l"), ("RPOP", "l", "2"), ("LLEN", "l"), ("LPOS", "l", "s"),
        ("LREM", "l", "0", BIG), ("LRANGE", "l", "0", "-1"),
    ],
    "object_encoding_copy": [
        ("RPUSH", "l", "a", "b"), ("OBJECT", "ENCODING", "l"), ("COPY", "l", "c"),
        ("RPUSH", "c", "z"), ("LRANGE", "l", "0", "-1"), ("LRANGE", "c", "0", "-1"),
        ("RENAME", "c", "r"), ("LRANGE", "r", "0", "-1"), ("TYPE", "r"), ("DEL", "l", "r"),
        ("EXISTS", "l", "r"),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_list_commands(server, reference, name):
    compare(server, reference, CASES[name])


def random_steps(seed, n):
    """A seeded mix of every non-blocking list command over three keys, with elements of
    every length class (short, > 254 bytes, > one chunk), so lists grow across many chunks
    and are cut, edited and emptied in the middle and at both ends."""
    rnd = random.Random(seed)
    keys = ["k1", "k2", "k3"]
    short = ["a", "b", "c", "", "hello", "42"]

    def value():
        r = rnd.random()
        if r < 0.8:
            return rnd.choice(short)
        if r < 0.97:
            return rnd.choice(short) * rnd.randint(50, 400)
        return "H" * rnd.randint(8000, 12000)

    def index():
        return str(rnd.randint(-1200, 1200))

    steps = []
    for _ in range(n):
        k = rnd.choice(keys)
        op = rnd.random()
        if op < 0.25:
            steps.append((rnd.choice(["LPUSH", "RPUSH"]), k) + tuple(value() for _ in range(rnd.randint(1, 40))))
        elif op < 0.32:
            steps.append((rnd.choice(["LPOP", "RPOP"]), k) + ((str(rnd.randint(0, 30)),) if rnd.random() < 0.5 else ()))
        elif op < 0.40:
            steps.append(("LRANGE", k, index(), index()))
        elif op < 0.47:
            steps.append(("LINDEX", k, index()))
        elif op < 0.53:
            steps.append(("LSET", k, index(), value()))
        elif op < 0.59:
            steps.append(("LINSERT", k, rnd.choice(["BEFORE", "AFTER"]), rnd.choice(short), value()))
        elif op < 0.65:
            steps.append(("LREM", k, str(rnd.randint(-5, 5)), rnd.choice(short)))
        elif op < 0.68:
            steps.append(("LTRIM", k, index(), index()))
        elif op < 0.76:
            opts = ()
            if rnd.random() < 0.5:
                opts += ("RANK", str(rnd.choice([1, 2, 3, -1, -2, -5])))
            if rnd.random() < 0.5:
                opts += ("COUNT", str(rnd.randint(0, 6)))
            if rnd.random() < 0.3:
                opts += ("MAXLEN", str(rnd.randint(0, 100)))
            steps.append(("LPOS", k, rnd.choice(short)) + opts)
        elif op < 0.82:
            steps.append(("LMOVE", k, rnd.choice(keys), rnd.choice(["LEFT", "RIGHT"]), rnd.choice(["LEFT", "RIGHT"])))
        elif op < 0.85:
            steps.append(("RPOPLPUSH", k, rnd.choice(keys)))
        elif op < 0.90:
            steps.append(("LMPOP", "2", k, rnd.choice(keys), rnd.choice(["LEFT", "RIGHT"]), "COUNT", str(rnd.randint(1, 20))))
        else:
            steps.append(("LLEN", k))
        if rnd.random() < 0.05:
            steps.append(("LRANGE", k, "0", "-1"))
    for k in keys:
        steps.append(("LRANGE", k, "0", "-1"))
    return steps


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_operations_match_redis(server, reference, seed):
    compare(server, reference, random_steps(seed, 1500))


def test_long_list_walks(server, reference):
    """Indexing, ranges and edits over a list of many chunks, from both ends."""
    steps = [("RPUSH", "l") + tuple("e%d" % i for i in range(i, i + 500)) for i in range(0, 5000, 500)]
    steps += [("LPUSH", "l") + tuple("f%d" % i for i in range(i, i + 500)) for i in range(0, 3000, 500)]
    steps += [("LINDEX", "l", str(i)) for i in range(-8000, 8000, 397)]
    steps += [("LRANGE", "l", str(i), str(i + 120)) for i in range(-8000, 8000, 1111)]
    steps += [("LSET", "l", str(i), "set%d" % i) for i in range(-7000, 7000, 777)]
    steps += [("LINSERT", "l", "AFTER", "e%d" % i, "ins%d" % i) for i in range(0, 5000, 333)]
    steps += [("LREM", "l", "-1", "e4000"), ("LREM", "l", "2", "f10"), ("LTRIM", "l", "100", "-100"),
              ("LLEN", "l"), ("LPOS", "l", "e2000"), ("LPOS", "l", "ins999", "RANK", "-1"),
              ("LRANGE", "l", "0", "-1")]
    compare(server, reference, steps)


def test_benchmark_lpush_count(server):
    n = 10000
    subprocess.run(["redis-benchmark", "-p", str(server.port), "-t", "lpush", "-n", str(n), "-q"],
                   check=True, capture_output=True, timeout=120)
    with server.conn() as c:
        assert c.call("LLEN", "mylist") == b":%d\r\n" % n


def test_benchmark_list_suite_replies(server):
    """redis-benchmark's list tests run to completion against the server (they abort on
    an error reply) and leave the lists they describe."""
    r = subprocess.run(["redis-benchmark", "-p", str(server.port), "-t", "lpush,rpush,lpop,rpop,lrange",
                        "-n", "2000", "-q"], capture_output=True, timeout=300, text=True)
    assert r.returncode == 0, r.stderr
    assert "LRANGE_600" in r.stdout, r.stdout
    with server.conn() as c:
        assert parse(c.call("LLEN", "mylist")) > 0


# --- blocking ----------------------------------------------------------------------------

def wait_blocked(srv, n, timeout=5.0):
    """Waits until INFO clients reports n blocked clients."""
    deadline = time.monotonic() + timeout
    with srv.conn() as c:
        while time.monotonic() < deadline:
            info = parse(c.call("INFO", "clients")).decode()
            for line in info.split("\r\n"):
                if line.startswith("blocked_clients:") and int(line.split(":")[1]) == n:
                    return
            time.sleep(0.01)
    raise AssertionError("never saw %d blocked clients" % n)


def has_reply(conn, wait=0.2):
    """True when a reply arrives within `wait` seconds (it is kept for read_reply)."""
    if conn.buf:
        return True
    conn.sock.settimeout(wait)
    try:
        chunk = conn.sock.recv(1 << 16)
    except socket.timeout:
        return False
    finally:
        conn.sock.settimeout(10.0)
    conn.buf += chunk
    return bool(chunk)


@pytest.fixture(params=["ours", "redis"])
def either(request, server, reference):
    """Blocking tests run against both servers: the same expectations hold for each."""
    return server if request.param == "ours" else reference


def test_blpop_wakes_on_push_fifo(either):
    a, b, p = either.conn(), either.conn(), either.conn()
    with a, b, p:
        a.send(encode("BLPOP", "q", "0"))
        wait_blocked(either, 1)
        b.send(encode("BLPOP", "q", "0"))
        wait_blocked(either, 2)
        assert not has_reply(a) and not has_reply(b)
        assert p.call("RPUSH", "q", "one") == b":1\r\n"
        assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$3\r\none\r\n"
        assert not has_reply(b)
        assert p.call("RPUSH", "q", "two", "three") == b":2\r\n"
        assert b.read_reply() == b"*2\r\n$1\r\nq\r\n$3\r\ntwo\r\n"
        assert p.call("LRANGE", "q", "0", "-1") == b"*1\r\n$5\r\nthree\r\n"


def test_one_push_serves_several_waiters(either):
    conns = [either.conn() for _ in range(3)]
    p = either.conn()
    try:
        for i, c in enumerate(conns):
            c.send(encode("BRPOP", "q", "0"))
            wait_blocked(either, i + 1)
        assert p.call("RPUSH", "q", "a", "b", "c") == b":3\r\n"
        got = [parse(c.read_reply()) for c in conns]
        assert got == [[b"q", b"c"], [b"q", b"b"], [b"q", b"a"]]
        assert p.call("EXISTS", "q") == b":0\r\n"
    finally:
        for c in conns + [p]:
            c.close()


def test_blpop_multiple_keys_served_from_pushed_key(either):
    a, p = either.conn(), either.conn()
    with a, p:
        a.send(encode("BLPOP", "k1", "k2", "k3", "0"))
        wait_blocked(either, 1)
        p.call("RPUSH", "k3", "x")
        assert a.read_reply() == b"*2\r\n$2\r\nk3\r\n$1\r\nx\r\n"


def test_blocking_timeout_precision(either):
    with either.conn() as a:
        for timeout in ("0.05", "0.2", "0.35"):
            t0 = time.monotonic()
            assert a.call("BLPOP", "nokey", timeout) == b"*-1\r\n"
            took = time.monotonic() - t0
            assert float(timeout) <= took + 0.002 < float(timeout) + 0.15, (timeout, took)
        t0 = time.monotonic()
        assert a.call("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.1") == b"*-1\r\n"
        assert 0.098 <= time.monotonic() - t0 < 0.3
        t0 = time.monotonic()
        assert a.call("BLMPOP", "0.1", "1", "nokey", "LEFT") == b"*-1\r\n"
        assert 0.098 <= time.monotonic() - t0 < 0.3


def test_blmove_wakes_and_moves(either):
    a, p = either.conn(), either.conn()
    with a, p:
        a.send(encode("BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"))
        wait_blocked(either, 1)
        p.call("RPUSH", "src", "x", "y")
        assert a.read_reply() == b"$1\r\ny\r\n"
        assert p.call("LRANGE", "dst", "0", "-1") == b"*1\r\n$1\r\ny\r\n"
        assert p.call("LRANGE", "src", "0", "-1") == b"*1\r\n$1\r\nx\r\n"
        a.send(encode("BRPOPLPUSH", "empty", "dst", "0"))
        wait_blocked(either, 1)
        p.call("LPUSH", "empty", "z")
        assert a.read_reply() == b"$1\r\nz\r\n"
        assert p.call("LRANGE", "dst", "0", "-1") == b"*2\r\n$1\r\nz\r\n$1\r\ny\r\n"


def test_blmove_chain_serves_next_waiter(either):
    """A BLMOVE served by a push pushes onto its destination, which serves a client
    blocked there."""
    a, b, p = either.conn(), either.conn(), either.conn()
    with a, b, p:
        b.send(encode("BLPOP", "second", "0"))
        wait_blocked(either, 1)
        a.send(encode("BLMOVE", "first", "second", "LEFT", "LEFT", "0"))
        wait_blocked(either, 2)
        p.call("RPUSH", "first", "v")
        assert a.read_reply() == b"$1\r\nv\r\n"
        assert b.read_reply() == b"*2\r\n$6\r\nsecond\r\n$1\r\nv\r\n"
        assert p.call("EXISTS", "first", "second") == b":0\r\n"


def test_blmpop_wakes_with_count(either):
    a, p = either.conn(), either.conn()
    with a, p:
        a.send(encode("BLMPOP", "0", "2", "x", "y", "RIGHT", "COUNT", "2"))
        wait_blocked(either, 1)
        p.call("RPUSH", "y", "1", "2", "3")
        assert a.read_reply() == b"*2\r\n$1\r\ny\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"


def test_wake_from_multi_exec(either):
    a, p = either.conn(), either.conn()
    with a, p:
        a.send(encode("BLPOP", "q", "0"))
        wait_blocked(either, 1)
        assert p.call("MULTI") == b"+OK\r\n"
        assert p.call("RPUSH", "q", "a") == b"+QUEUED\r\n"
        assert p.call("RPUSH", "q", "b") == b"+QUEUED\r\n"
        assert not has_reply(a)
        assert p.call("EXEC") == b"*2\r\n:1\r\n:2\r\n"
        assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\na\r\n"
        assert p.call("LRANGE", "q", "0", "-1") == b"*1\r\n$1\r\nb\r\n"


def test_pipelined_command_waits_for_blocked_one(either):
    a, p = either.conn(), either.conn()
    with a, p:
        a.send(encode("BLPOP", "q", "0") + encode("LLEN", "q") + encode("PING"))
        wait_blocked(either, 1)
        assert not has_reply(a, 0.3)
        p.call("RPUSH", "q", "a", "b")
        assert a.read_replies(3) == [b"*2\r\n$1\r\nq\r\n$1\r\na\r\n", b":1\r\n", b"+PONG\r\n"]


def test_set_on_waited_key_keeps_client_blocked(either):
    a, p = either.conn(), either.conn()
    with a, p:
        a.send(encode("BLPOP", "q", "0.5"))
        wait_blocked(either, 1)
        p.call("SET", "q", "string")
        assert not has_reply(a, 0.1)
        p.call("DEL", "q")
        p.call("RPUSH", "q", "v")
        assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n"


def test_blocked_client_disconnect_is_forgotten(either):
    a = either.conn()
    a.send(encode("BLPOP", "q", "0"))
    wait_blocked(either, 1)
    a.close()
    wait_blocked(either, 0)
    with either.conn() as p:
        assert p.call("RPUSH", "q", "v") == b":1\r\n"
        assert p.call("LLEN", "q") == b":1\r\n"


def test_blpop_in_other_database(either):
    a, p = either.conn(), either.conn()
    with a, p:
        assert a.call("SELECT", "1") == b"+OK\r\n"
        a.send(encode("BLPOP", "q", "0"))
        wait_blocked(either, 1)
        p.call("RPUSH", "q", "db0")
        assert not has_reply(a, 0.1)
        p.call("SELECT", "1")
        p.call("RPUSH", "q", "db1")
        assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$3\r\ndb1\r\n"


# --- persistence ---------------------------------------------------------------------------

LIST_VALUES = {
    b"small": [b"a", b"b", b"", b"12345", b"-7"],
    b"long": [b"e%d" % i for i in range(5000)],
    b"big-elements": [b"x" * 300, b"y" * 9000, b"z", b"w" * 70000],
}


def _start_in(template, tmp, name):
    from conftest import Server
    return Server(template + " --dir %s --dbfilename dump.rdb" % tmp, name).start()


def _fill_lists(conn):
    for k, items in LIST_VALUES.items():
        for i in range(0, len(items), 500):
            assert conn.call("RPUSH", k, *items[i:i + 500]).startswith(b":")
    assert conn.call("PEXPIRE", b"small", "5000000") == b":1\r\n"


def _check_lists(conn):
    for k, items in LIST_VALUES.items():
        assert parse(conn.call("LRANGE", k, "0", "-1")) == items, k
    assert 4990 <= parse(conn.call("TTL", b"small")) <= 5000


@pytest.mark.parametrize("writer", ["ours", "redis"])
def test_lists_survive_rdb_between_servers(tmp_path, writer):
    """A dump with lists written by one server loads with the same lists in the other."""
    from conftest import _server_cmd, _reference_cmd
    first, second = (_server_cmd(), _reference_cmd()) if writer == "ours" else (_reference_cmd(), _server_cmd())
    a = _start_in(first, tmp_path, "writer")
    try:
        with a.conn() as c:
            _fill_lists(c)
            assert c.call("SAVE") == b"+OK\r\n"
    finally:
        a.stop()
    b = _start_in(second, tmp_path, "reader")
    try:
        with b.conn() as c:
            _check_lists(c)
            assert c.call("OBJECT", "ENCODING", "long") == b"$9\r\nquicklist\r\n"
    finally:
        b.stop()


def _changes(conn):
    info = parse(conn.call("INFO", "persistence")).decode()
    for line in info.split("\r\n"):
        if line.startswith("rdb_changes_since_last_save:"):
            return int(line.split(":")[1])
    raise AssertionError("no rdb_changes_since_last_save")


def test_changes_counted_like_redis(server, reference):
    """Save points count what Redis counts: pushed and removed elements, one per move or
    edit, nothing for creating or deleting the key itself."""
    steps = [("RPUSH", "l", "a", "b", "c"), ("LPUSH", "l", "x"), ("LPOP", "l"), ("RPOP", "l", "2"),
             ("LPUSHX", "l", "q"), ("LMOVE", "l", "d", "LEFT", "RIGHT"), ("RPOPLPUSH", "d", "d"),
             ("LSET", "d", "0", "z"), ("LINSERT", "d", "BEFORE", "z", "y"), ("LREM", "d", "0", "y"),
             ("LTRIM", "d", "0", "0"), ("LTRIM", "d", "5", "1"), ("RPUSH", "m", "1", "2", "3"),
             ("LMPOP", "1", "m", "LEFT", "COUNT", "2"), ("BLPOP", "m", "0"), ("LPOP", "l"),
             ("LPOP", "nokey"), ("LREM", "l", "0", "zz")]
    seen = {}
    for name, srv in (("redis", reference), ("ours", server)):
        with srv.conn() as c:
            c.call("SAVE")
            deltas = []
            for s in steps:
                before = _changes(c)
                c.call(*s)
                deltas.append(_changes(c) - before)
            seen[name] = deltas
    assert seen["ours"] == seen["redis"]


def test_large_lrange_reply(server, reference):
    """A reply of several megabytes goes out whole and in order."""
    steps = [("RPUSH", "l") + tuple(("%05d" % i) * 1000 for i in range(j, j + 100)) for j in range(0, 1500, 100)]
    steps += [("LRANGE", "l", "0", "-1"), ("LPOP", "l", "1000"), ("LLEN", "l")]
    compare(server, reference, steps)


def test_served_from_the_key_that_became_ready(either):
    """Keys made ready by one transaction serve a client blocked on several of them from
    the first key that became ready, not the first it named."""
    a, b, p = either.conn(), either.conn(), either.conn()
    with a, b, p:
        a.send(encode("BLPOP", "k1", "k2", "0"))
        wait_blocked(either, 1)
        b.send(encode("BLMPOP", "0", "2", "k1", "k2", "RIGHT", "COUNT", "5"))
        wait_blocked(either, 2)
        p.call("MULTI")
        p.call("RPUSH", "k2", "a2", "b2")
        p.call("RPUSH", "k1", "a1")
        assert p.call("EXEC") == b"*2\r\n:2\r\n:1\r\n"
        assert a.read_reply() == b"*2\r\n$2\r\nk2\r\n$2\r\na2\r\n"
        assert b.read_reply() == b"*2\r\n$2\r\nk2\r\n*1\r\n$2\r\nb2\r\n"
        assert p.call("LRANGE", "k1", "0", "-1") == b"*1\r\n$2\r\na1\r\n"


# --- propagation -------------------------------------------------------------------------

LIST_PROPAGATION_SCRIPT = [
    ("RPUSH", "l", "a", "b", "c", "d"), ("LPOP", "l"), ("RPOP", "l", "2"), ("LPOP", "l", "0"),
    ("LPUSHX", "nokey", "x"), ("LMOVE", "l", "d", "LEFT", "RIGHT"), ("RPOPLPUSH", "d", "d"),
    ("RPUSH", "m", "1", "2", "3"), ("LMPOP", "2", "nokey", "m", "RIGHT", "COUNT", "5"),
    ("RPUSH", "d", "1", "2", "3"), ("BLPOP", "nokey", "d", "0"), ("BRPOPLPUSH", "d", "e", "0"),
    ("BLMOVE", "e", "d", "RIGHT", "LEFT", "0"), ("BLMPOP", "0", "1", "d", "LEFT", "COUNT", "1"),
    ("BRPOP", "d", "0"), ("LSET", "d", "0", "set"), ("LINSERT", "d", "AFTER", "set", "ins"),
    ("LINSERT", "d", "AFTER", "nothere", "x"), ("LREM", "d", "0", "ins"), ("LREM", "d", "0", "nothere"),
    ("RPUSH", "t", "1", "2", "3"), ("LTRIM", "t", "0", "-1"), ("LTRIM", "t", "1", "1"),
    ("LTRIM", "t", "5", "1"), ("BLOCKED", "BLPOP", "q", "w", "0"), ("RPUSH", "w", "woke"),
    ("BLOCKED", "BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "2"), ("RPUSH", "q", "x", "y", "z"),
    ("BLOCKED", "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"), ("LPUSH", "src", "moved"),
    ("BLOCKED", "BLMOVE", "src", "dst", "right", "Left", "0"), ("LPUSH", "src", "moved"),
    ("BLOCKED", "BRPOPLPUSH", "src", "dst", "0"), ("LPUSH", "src", "moved"),
    ("BLMOVE", "dst", "dst", "Right", "lEFT", "0"),
]


def _list_stream(port):
    """What a replica of the server at `port` receives for LIST_PROPAGATION_SCRIPT."""
    from test_replication_master import RawReplica, normalized
    replica = RawReplica(port)
    blocked = []
    with RawConn(port) as c:
        for cmd in LIST_PROPAGATION_SCRIPT:
            if cmd[0] == "BLOCKED":
                b = RawConn(port)
                b.send(encode(*cmd[1:]))
                blocked.append(b)
                deadline = time.monotonic() + 5
                while b"blocked_clients:1" not in c.call("INFO", "clients") and time.monotonic() < deadline:
                    time.sleep(0.01)
            else:
                c.call(*cmd)
                for b in blocked:
                    b.read_reply()
                    b.close()
                blocked = []
    cmds = normalized(replica.commands())
    replica.close()
    return cmds


def test_replicas_receive_what_redis_sends(server, reference):
    """Pops, moves and blocking pops reach replicas as the commands Redis 7.0 sends:
    LMPOP/BLMPOP as LPOP/RPOP key count, BLPOP as LPOP, BLMOVE as LMOVE, BRPOPLPUSH as
    RPOPLPUSH, served at once or after blocking; writes that change nothing not at all."""
    ours = _list_stream(server.port)
    theirs = _list_stream(reference.port)
    assert ours == theirs
    assert ["RPOP", "m", "3"] in ours and ["LMOVE", "src", "dst", "left", "right"] in ours
