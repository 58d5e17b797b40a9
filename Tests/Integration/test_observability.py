"""SLOWLOG, LATENCY, MONITOR, commandstats timing, CLIENT REPLY, COMMAND GETKEYS, the idle
`timeout` and CONFIG REWRITE, compared with a real redis-server where the output does not
depend on timing (times, ids, addresses and durations are masked)."""
import os
import re
import socket
import tempfile
import time

import pytest

from conftest import Server
from resp import RawConn, encode, parse, RespError

REFERENCE_DEBUG = "redis-server --port {port} --save '' --appendonly no --enable-debug-command yes"


@pytest.fixture(scope="module")
def debug_reference():
    """A real redis-server that accepts DEBUG SLEEP (the shared one refuses DEBUG)."""
    s = Server(REFERENCE_DEBUG, "reference-debug").start()
    yield s
    s.stop()


def fresh(srv):
    with RawConn(srv.port) as c:
        for cmd in (("CONFIG", "SET", "slowlog-log-slower-than", "10000"), ("CONFIG", "SET", "slowlog-max-len", "128"),
                    ("CONFIG", "SET", "latency-monitor-threshold", "0"), ("FLUSHALL",), ("SLOWLOG", "RESET"),
                    ("LATENCY", "RESET"), ("CONFIG", "RESETSTAT")):
            c.call(*cmd)


def run(srv, steps):
    fresh(srv)
    out = []
    with RawConn(srv.port) as c:
        for s in steps:
            c.send(encode(*s))
            out.append(parse(c.read_reply()))
    return out


def mask_slowlog(entries):
    """SLOWLOG GET entries with id, time, duration and client address replaced."""
    return [[("id",), ("time",), ("duration",), e[3], ("addr",), e[5]] for e in entries]


# ---------------------------------------------------------------- commandstats timing

def commandstats(c):
    text = parse(c.call("INFO", "commandstats")).decode()
    stats = {}
    for line in text.splitlines():
        m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+),", line)
        if m:
            stats[m.group(1)] = (int(m.group(2)), int(m.group(3)), float(m.group(4)))
    return stats


def test_commandstats_usec_after_debug_sleep(server):
    with RawConn(server.port) as c:
        c.call("CONFIG", "RESETSTAT")
        assert c.call("DEBUG", "SLEEP", "0.1") == b"+OK\r\n"
        c.call("SET", "k", "v")
        s = commandstats(c)
        calls, usec, per_call = s["debug"]
        assert calls == 1
        assert 100_000 <= usec < 2_000_000
        assert per_call == pytest.approx(usec, abs=0.01)
        assert s["set"][0] == 1 and s["set"][1] < 100_000
        c.call("CONFIG", "RESETSTAT")
        s = commandstats(c)
        assert "debug" not in s and "set" not in s


def test_commandstats_format_per_call_two_decimals(server):
    with RawConn(server.port) as c:
        c.call("CONFIG", "RESETSTAT")
        for _ in range(3):
            c.call("PING")
        text = parse(c.call("INFO", "commandstats")).decode()
        line = [l for l in text.splitlines() if l.startswith("cmdstat_ping:")][0]
        assert re.fullmatch(r"cmdstat_ping:calls=3,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0", line)


# ---------------------------------------------------------------- SLOWLOG

SLOWLOG_STEPS = [
    ("CONFIG", "SET", "slowlog-log-slower-than", "0"),
    ("SET", "a", "x" * 200),
    ("CLIENT", "SETNAME", "observer"),
    ("RPUSH", "l", *[str(i) for i in range(40)]),
    ("GET", "a"),
    ("SLOWLOG", "LEN"),
    ("SLOWLOG", "GET", "2"),
    ("SLOWLOG", "GET", "-1"),
    ("SLOWLOG", "GET", "-2"),
    ("SLOWLOG", "GET", "x"),
    ("SLOWLOG", "GET", "0"),
    ("SLOWLOG", "HELP"),
    ("SLOWLOG", "NOSUCH"),
    ("SLOWLOG", "LEN", "x"),
    ("CONFIG", "SET", "slowlog-max-len", "3"),
    ("PING",),
    ("SLOWLOG", "LEN"),
    ("CONFIG", "GET", "slowlog-max-len"),
    ("CONFIG", "GET", "slowlog-log-slower-than"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "-2"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "-1"),
    ("SLOWLOG", "RESET"),
    ("PING",),
    ("SLOWLOG", "LEN"),
]


def masked(replies):
    out = []
    for r in replies:
        if isinstance(r, list) and r and isinstance(r[0], list) and len(r[0]) == 6:
            out.append(mask_slowlog(r))
        else:
            out.append(r)
    return out


def test_slowlog_differential(server, reference):
    want = masked(run(reference, SLOWLOG_STEPS))
    got = masked(run(server, SLOWLOG_STEPS))
    for step, w, g in zip(SLOWLOG_STEPS, want, got):
        assert g == w, "step %r" % (step[:4],)


def test_slowlog_entry_fields(server):
    fresh(server)
    with RawConn(server.port) as c:
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("CLIENT", "SETNAME", "me")
        c.call("SET", "k", "v")
        addr = re.search(rb"addr=(\S+)", parse(c.call("CLIENT", "INFO"))).group(1)
        entries = parse(c.call("SLOWLOG", "GET", "-1"))
        set_entry = [e for e in entries if e[3][0] == b"SET"][0]
        assert set_entry[4] == addr and set_entry[5] == b"me"
        assert abs(set_entry[1] - time.time()) < 5
        ids = [e[0] for e in entries]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


def test_slowlog_default_threshold_logs_slow_command_only(server):
    fresh(server)
    with RawConn(server.port) as c:
        c.call("PING")
        c.call("DEBUG", "SLEEP", "0.02")
        entries = parse(c.call("SLOWLOG", "GET"))
        assert [e[3] for e in entries] == [[b"DEBUG", b"SLEEP", b"0.02"]]
        assert entries[0][2] >= 20000


# ---------------------------------------------------------------- LATENCY

def test_latency_after_debug_sleep(server, debug_reference):
    steps = [
        ("LATENCY", "DOCTOR"),
        ("LATENCY", "LATEST"),
        ("CONFIG", "SET", "latency-monitor-threshold", "50"),
        ("DEBUG", "SLEEP", "0.1"),
        ("LATENCY", "HISTORY", "nosuch"),
        ("LATENCY", "GRAPH", "nosuch"),
        ("LATENCY", "HELP"),
        ("LATENCY", "NOSUCH"),
        ("LATENCY", "RESET", "nosuch"),
    ]
    want = run(debug_reference, steps)
    got = run(server, steps)
    assert got == want
    for srv in (server, debug_reference):
        with RawConn(srv.port) as c:
            latest = parse(c.call("LATENCY", "LATEST"))
            assert [(e[0], e[2] >= 100, e[3] >= 100) for e in latest] == [(b"command", True, True)]
            history = parse(c.call("LATENCY", "HISTORY", "command"))
            assert len(history) == 1 and history[0][1] >= 100
            doctor = parse(c.call("LATENCY", "DOCTOR")).decode()
            doctor = re.sub(r"\d+ms", "Nms", doctor)
            graph = parse(c.call("LATENCY", "GRAPH", "command")).decode()
            graph = re.sub(r"\d+ ms", "N ms", graph)
            graph = re.sub(r"\n\d\n", "\nD\n", graph)   # seconds since the sample
            assert parse(c.call("LATENCY", "RESET", "COMMAND")) == 1
            assert parse(c.call("LATENCY", "LATEST")) == []
        if srv is server:
            ours = (doctor, graph)
        else:
            theirs = (doctor, graph)
    assert ours == theirs


def test_latency_histogram_shape(server):
    fresh(server)
    with RawConn(server.port) as c:
        for _ in range(5):
            c.call("SET", "k", "v")
        c.call("CONFIG", "GET", "port")
        h = parse(c.call("LATENCY", "HISTOGRAM", "set", "config", "nosuch", "SET"))
        names = h[0::2]
        # "config" brings every CONFIG subcommand with data (RESETSTAT's own call too).
        assert names[0] == b"set" and b"config|get" in names and len(set(names)) == len(names)
        body = h[1]
        assert body[0] == b"calls" and body[1] == 5 and body[2] == b"histogram_usec"
        counts = body[3][1::2]
        assert counts == sorted(counts) and counts[-1] == 5
        text = parse(c.call("INFO", "latencystats")).decode()
        assert re.search(r"latency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}", text)
        c.call("CONFIG", "SET", "latency-tracking", "no")
        c.call("SET", "k", "v")
        h = parse(c.call("LATENCY", "HISTOGRAM", "set"))
        assert h[1][1] == 5
        c.call("CONFIG", "SET", "latency-tracking", "yes")


# ---------------------------------------------------------------- MONITOR

MONITOR_STEPS = [
    b"SELECT 3\r\n", b'SET a "x\\ny\\x01\\"z"\r\n', b"MULTI\r\n", b"INCR n\r\n", b"GET a\r\n", b"EXEC\r\n",
    b"AUTH foo\r\n", b"CONFIG GET port\r\n", b"SELECT 0\r\n", b"NOSUCH\r\n", b"DEBUG SLEEP 0\r\n",
    b"PING\r\n", b"CLIENT SETNAME xx\r\n", b"HELLO 2 AUTH default secret\r\n",
    b"*3\r\n$3\r\nSET\r\n$3\r\nbin\r\n$9\r\n\xff\x00\t\r\n\x07\x08\\\x7f\r\n",
]


def monitor_lines(srv):
    fresh(srv)
    m = socket.create_connection(("127.0.0.1", srv.port))
    m.sendall(b"MONITOR\r\n")
    time.sleep(0.1)
    c = socket.create_connection(("127.0.0.1", srv.port))
    for x in MONITOR_STEPS:
        c.sendall(x)
        time.sleep(0.03)
    time.sleep(0.1)
    m.sendall(b"GET fromMonitor\r\n")
    time.sleep(0.2)
    m.settimeout(1)
    data = b""
    while not data.endswith(b"keyspace\r\n"):
        chunk = m.recv(65536)
        if not chunk:
            break
        data += chunk
    port = c.getsockname()[1]
    m.close()
    c.close()
    data = data.replace(b"127.0.0.1:%d" % port, b"ADDR")
    return re.sub(rb"^\+\d+\.\d{6} ", b"+TIME ", data, flags=re.M)


def test_monitor_lines(server, debug_reference):
    assert monitor_lines(server) == monitor_lines(debug_reference)


def test_monitor_from_other_connections_and_stop_on_reset(server):
    fresh(server)
    m = RawConn(server.port)
    assert m.call("MONITOR") == b"+OK\r\n"
    info = parse(m.call("CLIENT", "INFO")) if False else None
    with RawConn(server.port) as c:
        assert b"flags=O" in parse(c.call("CLIENT", "LIST"))
        c.call("SET", "x", "1")
    line = m.read_reply()
    assert re.fullmatch(rb'\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "x" "1"\r\n', line)
    assert m.call("RESET") == b"+RESET\r\n"
    with RawConn(server.port) as c:
        c.call("SET", "x", "2")
        assert b"flags=O" not in parse(c.call("CLIENT", "LIST"))
    assert m.call("PING") == b"+PONG\r\n"
    m.close()


def test_monitor_inside_multi(server, reference):
    for srv in (server, reference):
        with RawConn(srv.port) as c:
            c.call("MULTI")
            c.call("MONITOR")
            got = c.call("EXEC")
            if srv is server:
                ours = got
            else:
                theirs = got
    assert ours == theirs


# ---------------------------------------------------------------- CLIENT REPLY and friends

def client_reply_bytes(srv):
    seq = [("CLIENT", "REPLY", "OFF"), ("SET", "a", "1"), ("GET", "a"), ("CLIENT", "REPLY", "SKIP"), ("PING",),
           ("CLIENT", "REPLY", "ON"), ("PING",), ("CLIENT", "REPLY", "SKIP"), ("GET", "a"), ("GET", "a"),
           ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "SKIP"), ("PING", "x"), ("PING", "y"),
           ("CLIENT", "REPLY", "foo"), ("CLIENT", "NO-EVICT", "on"), ("CLIENT", "NO-EVICT", "OFF"),
           ("CLIENT", "NO-EVICT", "x"), ("CLIENT", "GETREDIR"), ("NOSUCH",), ("CLIENT", "REPLY", "OFF"),
           ("NOSUCH",), ("GET",), ("RESET",), ("PING", "after-reset")]
    fresh(srv)
    with RawConn(srv.port) as c:
        c.send(b"".join(encode(*s) for s in seq))
        time.sleep(0.3)
        c.sock.settimeout(0.5)
        out = b""
        try:
            while True:
                d = c.sock.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            pass
        return out


def test_client_reply_byte_stream(server, reference):
    assert client_reply_bytes(server) == client_reply_bytes(reference)


# ---------------------------------------------------------------- COMMAND GETKEYS

GETKEYS_CORPUS = [
    ("GET", "k"), ("SET", "a", "b"), ("SET", "a", "b", "GET"), ("MSET", "a", "1", "b", "2"),
    ("MGET", "a", "b", "c"), ("DEL", "a", "b"), ("RENAME", "a", "b"), ("COPY", "s", "d", "DB", "1"),
    ("LMOVE", "s", "d", "LEFT", "RIGHT"), ("BLPOP", "a", "b", "0"), ("BRPOPLPUSH", "s", "d", "0"),
    ("LMPOP", "2", "a", "b", "LEFT"), ("LMPOP", "3", "a", "b", "LEFT"), ("BLMPOP", "0", "2", "a", "b", "LEFT"),
    ("ZUNIONSTORE", "d", "2", "a", "b"), ("ZUNIONSTORE", "d", "2", "a"), ("ZINTER", "2", "a", "b"),
    ("ZDIFFSTORE", "d", "1", "a"), ("ZINTERCARD", "2", "a", "b", "LIMIT", "1"), ("SINTERCARD", "1", "a"),
    ("ZMPOP", "1", "a", "MIN"), ("BZMPOP", "0", "1", "a", "MIN"), ("SINTERSTORE", "d", "a", "b"),
    ("SMOVE", "s", "d", "m"), ("SORT", "a"), ("SORT", "a", "BY", "w", "LIMIT", "0", "1", "GET", "g", "STORE", "d"),
    ("SORT", "a", "STORE", "d1", "STORE", "d2"), ("SORT_RO", "a", "BY", "x"), ("XREAD", "STREAMS", "a", "b", "0", "0"),
    ("XREAD", "COUNT", "2", "STREAMS", "a", "0"), ("XREAD", "STREAMS", "a", "b", "0"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "0"), ("XADD", "s", "*", "f", "v"),
    ("GEORADIUS", "a", "1", "2", "3", "km", "STORE", "x", "STOREDIST", "y"), ("GEORADIUS", "a", "1", "2", "3", "km"),
    ("GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "km"), ("BITFIELD", "a", "GET", "u8", "0"),
    ("BITFIELD", "a", "SET", "u8", "0", "1"), ("BITOP", "AND", "d", "a", "b"), ("PFMERGE", "d", "a", "b"),
    ("PFCOUNT", "a", "b"), ("OBJECT", "ENCODING", "k"), ("MEMORY", "USAGE", "k"), ("XGROUP", "CREATE", "s", "g", "$"),
    ("XINFO", "STREAM", "s"), ("EXISTS", "a", "b"), ("TOUCH", "a"), ("WATCH", "a", "b"), ("EXPIRE", "a", "10"),
    ("PING",), ("CONFIG", "GET", "x"), ("CLIENT", "LIST"), ("CONFIG", "NOSUCH"), ("GET",), ("GET", "a", "b"),
    ("MSET", "a"), ("SUNIONSTORE", "d", "a"), ("HSET", "h", "f", "v"), ("ZADD", "z", "1", "m"),
    ("DUMP", "k"), ("RESTORE", "k", "0", "x"), ("SRANDMEMBER", "s"), ("LPOS", "l", "x"), ("GETEX", "k"),
]


@pytest.mark.parametrize("sub", ["GETKEYS", "GETKEYSANDFLAGS"])
def test_command_getkeys_corpus(server, reference, sub):
    steps = [("COMMAND", sub) + args for args in GETKEYS_CORPUS] + [("COMMAND", sub), ("COMMAND", sub, "NOSUCH")]
    for step, (w, g) in zip(steps, zip(run(reference, steps), run(server, steps))):
        assert g == w, "step %r" % (step,)


def test_command_getkeysandflags_resp3(server, reference):
    steps = [("HELLO", "3"), ("COMMAND", "GETKEYSANDFLAGS", "SET", "a", "b"),
             ("COMMAND", "GETKEYSANDFLAGS", "LMOVE", "a", "b", "LEFT", "LEFT")]
    want, got = [], []
    for srv, out in ((reference, want), (server, got)):
        with RawConn(srv.port) as c:
            for s in steps:
                out.append(c.call(*s))
    assert got[1:] == want[1:]


# ---------------------------------------------------------------- timeout

def test_timeout_closes_idle_client_not_subscriber(fresh_server):
    srv = fresh_server()
    with RawConn(srv.port) as c:
        assert c.call("CONFIG", "SET", "timeout", "1") == b"+OK\r\n"
    idle = RawConn(srv.port)
    assert idle.call("PING") == b"+PONG\r\n"
    sub = RawConn(srv.port)
    sub.call("SUBSCRIBE", "ch")
    blocked = RawConn(srv.port)
    blocked.send(encode("BLPOP", "nolist", "0"))
    busy = RawConn(srv.port)
    deadline = time.time() + 3.5
    while time.time() < deadline:
        busy.call("PING")
        time.sleep(0.2)
    assert not idle.is_open()
    assert sub.is_open(), "a subscriber is never closed for idling"
    assert blocked.is_open(), "a blocked client is never closed for idling"
    assert busy.call("PING") == b"+PONG\r\n"
    with RawConn(srv.port) as c:
        assert c.call("CONFIG", "SET", "timeout", "0") == b"+OK\r\n"
        c.call("LPUSH", "nolist", "x")
    assert blocked.read_reply() == b"*2\r\n$6\r\nnolist\r\n$1\r\nx\r\n"
    for x in (idle, sub, blocked, busy):
        x.close()


# ---------------------------------------------------------------- CONFIG REWRITE

CONF = "# keep me\nmaxmemory 10mb\n\nhz 10\nhz 11\nsave 60 1\n"


def rewrite_with(template, tmp_path, name):
    path = tmp_path / ("%s.conf" % name)
    path.write_text(CONF)
    s = Server(template.replace("{conf}", str(path)), name).start()
    try:
        with RawConn(s.port) as c:
            for k, v in (("maxmemory", "20mb"), ("timeout", "5"), ("slowlog-max-len", "10")):
                assert c.call("CONFIG", "SET", k, v) == b"+OK\r\n"
            assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
    finally:
        s.stop()
    return path


def test_config_rewrite_round_trip(tmp_path, reference):
    ours = rewrite_with(".build/release/swift-redis {conf} --port {port} --bind 127.0.0.1", tmp_path, "ours")
    theirs = rewrite_with("redis-server {conf} --port {port}", tmp_path, "theirs")
    ours_lines, theirs_lines = ours.read_text().split("\n"), theirs.read_text().split("\n")
    cut = theirs_lines.index("# Generated by CONFIG REWRITE") + 1
    # Kept comments, replaced first lines, emptied repeats, the signature: as Redis does.
    assert ours_lines[:cut] == theirs_lines[:cut]
    tail = ours_lines[cut:]
    for line in ("timeout 5", "slowlog-max-len 10"):
        assert line in tail and line in theirs_lines[cut:]
    # The rewritten file starts a server with the changed values.
    s = Server(".build/release/swift-redis %s --port {port} --bind 127.0.0.1" % ours, "reread").start()
    try:
        with RawConn(s.port) as c:
            got = parse(c.call("CONFIG", "GET", "maxmemory", "timeout", "slowlog-max-len", "hz", "save"))
            assert dict(zip(got[0::2], got[1::2])) == {b"maxmemory": b"20971520", b"timeout": b"5",
                                                       b"slowlog-max-len": b"10", b"hz": b"11", b"save": b"60 1"}
            # A second rewrite updates the lines in place: nothing is repeated.
            assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
            again = ours.read_text().split("\n")
            assert again[:cut] == theirs_lines[:cut]
            for line in ("timeout 5", "slowlog-max-len 10", "# Generated by CONFIG REWRITE"):
                assert again.count(line) == 1
    finally:
        s.stop()


def test_config_rewrite_without_file(server, reference):
    for srv in (server, reference):
        with RawConn(srv.port) as c:
            got = c.call("CONFIG", "REWRITE")
        if srv is server:
            ours = got
        else:
            theirs = got
    assert ours == theirs == b"-ERR The server is running without a config file\r\n"


def test_slowlog_blocked_command_logged_once_when_served(server):
    fresh(server)
    with RawConn(server.port) as c, RawConn(server.port) as w:
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("SLOWLOG", "RESET")
        c.send(encode("BLPOP", "q", "0"))
        time.sleep(0.2)
        w.call("RPUSH", "q", "x")
        assert c.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
        names = [e[3][0] for e in parse(w.call("SLOWLOG", "GET", "-1"))]
        assert names.count(b"BLPOP") == 1 and names.count(b"RPUSH") == 1
