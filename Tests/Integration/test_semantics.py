"""Behaviour whose exact bytes legitimately differ between servers (cursors, ids, addresses,
times, INFO values): checked for meaning with redis-py and raw sockets."""
import re
import time

import pytest

from resp import RawConn, Closed, parse
from test_replication_master import wait_until


def raw_info(srv, section=None):
    with srv.conn() as c:
        v = parse(c.call("INFO", section) if section else c.call("INFO"))
    fields = {}
    for line in v.decode().splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, val = line.split(":", 1)
            fields[k] = val
    return fields


def parse_client_line(line):
    return dict(kv.split("=", 1) for kv in line.strip().split(" "))


# --- SCAN / RANDOMKEY -------------------------------------------------------------------------

def scan_all(r, **kw):
    seen, cursor, rounds = [], 0, 0
    while True:
        cursor, keys = r.scan(cursor=cursor, **kw)
        seen.extend(keys)
        rounds += 1
        assert rounds < 100000, "SCAN does not terminate"
        if int(cursor) == 0:
            return seen, rounds


def test_scan_full_iteration(server):
    r = server.client()
    keys = {("key:%d" % i).encode() for i in range(2000)}
    r.mset({k: b"v" for k in keys})
    seen, rounds = scan_all(r, count=10)
    assert set(seen) == keys
    assert rounds > 1, "COUNT 10 over 2000 keys should take several calls"
    seen, _ = scan_all(r)
    assert set(seen) == keys


def test_scan_match_count_type(server):
    r = server.client()
    r.mset({"user:%d" % i: i for i in range(300)})
    r.mset({"other:%d" % i: i for i in range(300)})
    seen, _ = scan_all(r, match="user:*", count=50)
    assert set(seen) == {("user:%d" % i).encode() for i in range(300)}
    seen, _ = scan_all(r, match="user:1?", count=7)
    assert set(seen) == {("user:%d" % i).encode() for i in range(10, 20)}
    seen, _ = scan_all(r, _type="string", count=100)
    assert len(set(seen)) == 600
    seen, _ = scan_all(r, _type="list", count=100)
    assert seen == []


def test_scan_returns_keys_present_throughout_while_keyspace_changes(server):
    r = server.client()
    stable = {("stable:%d" % i).encode() for i in range(1000)}
    r.mset({k: b"1" for k in stable})
    r.mset({"churn:%d" % i: 1 for i in range(1000)})
    seen, cursor, n, added = set(), 0, 0, 0
    while True:
        cursor, keys = r.scan(cursor=cursor, count=20)
        seen.update(keys)
        # Grow (forcing rehashing) and shrink the keyspace between calls.
        r.mset({"new:%d" % (added + i): 1 for i in range(50)})
        added += 50
        r.delete(*["churn:%d" % (n * 20 + i) for i in range(20)])
        n += 1
        assert n < 10000
        if int(cursor) == 0:
            break
    assert stable <= seen, "missing %d stable keys" % len(stable - seen)


def test_randomkey(server):
    r = server.client()
    assert r.randomkey() is None
    keys = {("k%d" % i).encode() for i in range(100)}
    r.mset({k: 1 for k in keys})
    got = {r.randomkey() for _ in range(300)}
    assert got <= keys
    assert len(got) > 10, "RANDOMKEY is not random: %r" % got


def test_randomkey_skips_expired(server):
    r = server.client()
    for i in range(50):
        r.set("gone%d" % i, 1, px=50)
    r.set("kept", 1)
    time.sleep(0.2)
    for _ in range(20):
        assert r.randomkey() == b"kept"


# --- expiry -----------------------------------------------------------------------------------

def test_ttl_countdown_and_lazy_expiry(server):
    r = server.client()
    r.set("k", "v", ex=2)
    assert r.ttl("k") == 2
    assert 1000 < r.pttl("k") <= 2000
    time.sleep(1.1)
    assert r.ttl("k") == 1
    assert 0 < r.pttl("k") <= 900
    r.set("short", "v", px=100)
    time.sleep(0.25)
    assert r.get("short") is None
    assert r.exists("short") == 0
    assert r.ttl("short") == -2
    expire_at = r.execute_command("EXPIRETIME", "k")
    assert abs(expire_at - time.time()) < 2
    wait_until(lambda: r.get("k") is None, 3)
    assert r.get("k") is None


def test_pexpire_precision(server):
    r = server.client()
    r.set("k", "v")
    assert r.pexpire("k", 1500)
    assert 1400 <= r.pttl("k") <= 1500
    assert r.ttl("k") in (1, 2)
    now_ms = int(time.time() * 1000)
    r.pexpireat("k", now_ms + 5000)
    assert abs(r.execute_command("PEXPIRETIME", "k") - (now_ms + 5000)) == 0
    assert 4000 <= r.pttl("k") <= 5000


def test_active_expiry_reclaims_untouched_keys(server):
    r = server.client()
    before = int(raw_info(server, "stats")["expired_keys"])
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set("vol:%d" % i, "x", px=100)
    pipe.execute()
    r.set("persistent", 1)
    assert r.dbsize() == 1001
    # DBSIZE and INFO do not touch keys: only active expiry can make them drop.
    assert wait_until(lambda: r.dbsize() == 1, 10, step=0.1), "DBSIZE stuck at %d" % r.dbsize()
    ks = raw_info(server, "keyspace")
    assert ks["db0"].startswith("keys=1,expires=0,"), ks
    assert int(raw_info(server, "stats")["expired_keys"]) - before == 1000


# --- CLIENT -----------------------------------------------------------------------------------

CLIENT_FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
                 "multi", "qbuf", "qbuf-free", "obl", "oll", "omem", "events", "cmd"]


def test_client_list_and_info(server):
    with server.conn() as a, server.conn() as b:
        a.call("CLIENT", "SETNAME", "alpha")
        a.call("SELECT", "3")
        a_id = parse(a.call("CLIENT", "ID"))
        b_id = parse(b.call("CLIENT", "ID"))
        assert isinstance(a_id, int) and b_id > a_id > 0
        lines = parse(a.call("CLIENT", "LIST")).decode().strip().split("\n")
        clients = {int(c["id"]): c for c in map(parse_client_line, lines)}
        assert a_id in clients and b_id in clients
        me = clients[a_id]
        for f in CLIENT_FIELDS:
            assert f in me, "CLIENT LIST lacks %s=: %r" % (f, me)
        host, port = a.sock.getsockname()
        assert me["addr"] == "%s:%d" % (host, port)
        assert me["laddr"] == "127.0.0.1:%d" % server.port
        assert me["name"] == "alpha" and me["db"] == "3"
        assert me["cmd"] == "client|list"
        assert clients[b_id]["cmd"] == "client|id" and clients[b_id]["name"] == ""
        assert int(me["fd"]) > 0
        one = parse(a.call("CLIENT", "INFO")).decode()
        assert one.endswith("\n") and one.count("\n") == 1
        mine = parse_client_line(one)
        assert int(mine["id"]) == a_id and mine["cmd"] == "client|info" and mine["name"] == "alpha"
        by_id = parse(a.call("CLIENT", "LIST", "ID", str(b_id))).decode().strip().split("\n")
        assert [int(parse_client_line(l)["id"]) for l in by_id] == [b_id]


def test_client_kill_id(server):
    with server.conn() as a, server.conn() as b:
        b_id = parse(b.call("CLIENT", "ID"))
        assert a.call("CLIENT", "KILL", "ID", str(b_id)) == b":1\r\n"
        assert b.read_until_close() == b""
        assert a.call("CLIENT", "KILL", "ID", str(b_id)) == b":0\r\n"
        assert a.call("PING") == b"+PONG\r\n"


def test_client_kill_addr(server):
    with server.conn() as a, server.conn() as b, server.conn() as c:
        b.call("PING")
        c.call("PING")
        b_addr = "%s:%d" % b.sock.getsockname()
        c_addr = "%s:%d" % c.sock.getsockname()
        assert a.call("CLIENT", "KILL", "ADDR", b_addr) == b":1\r\n"
        assert b.read_until_close() == b""
        assert a.call("CLIENT", "KILL", c_addr) == b"+OK\r\n"  # the old two-argument form
        assert c.read_until_close() == b""
        assert a.call("CLIENT", "KILL", c_addr) == b"-ERR No such client\r\n"


def test_client_kill_self(server):
    with server.conn() as a:
        a_id = parse(a.call("CLIENT", "ID"))
        # With SKIPME no (the default is yes) a client may kill itself; the reply still arrives.
        a.send(b"CLIENT KILL ID %d SKIPME no\r\n" % a_id)
        assert a.read_until_close() == b":1\r\n"


# --- INFO / CONFIG / TIME / COMMAND -----------------------------------------------------------

def test_info_fields(server):
    r = server.client()
    with server.conn() as extra:
        extra.call("PING")
        f = raw_info(server)
        assert re.fullmatch(r"\d+\.\d+\.\d+", f["redis_version"]), f["redis_version"]
        assert f["tcp_port"] == str(server.port)
        assert f["process_id"] == str(server.pid)
        assert int(f["connected_clients"]) >= 2
        assert int(f["used_memory"]) > 0
        assert re.fullmatch(r"[\d.]+[BKMG]", f["used_memory_human"]), f["used_memory_human"]
        for k in ("total_commands_processed", "instantaneous_ops_per_sec", "keyspace_hits",
                  "keyspace_misses", "expired_keys", "total_connections_received", "uptime_in_seconds"):
            assert re.fullmatch(r"\d+", f[k]), (k, f[k])
        assert f["role"] == "master"
    for section, key in (("server", "redis_version"), ("clients", "connected_clients"),
                         ("memory", "used_memory"), ("stats", "keyspace_hits"),
                         ("replication", "role"), ("server", "tcp_port")):
        s = raw_info(server, section)
        assert key in s, (section, key)
    assert "used_memory" not in raw_info(server, "server")


def test_info_counters_move(server):
    r = server.client()
    s0 = raw_info(server, "stats")
    r.set("hit", 1)
    for _ in range(5):
        r.get("hit")
    for _ in range(3):
        r.get("miss")
    s1 = raw_info(server, "stats")
    assert int(s1["keyspace_hits"]) - int(s0["keyspace_hits"]) == 5
    assert int(s1["keyspace_misses"]) - int(s0["keyspace_misses"]) == 3
    # INFO itself counts: SET + 8 GET + the second INFO at least.
    assert int(s1["total_commands_processed"]) - int(s0["total_commands_processed"]) >= 9


def test_info_keyspace(server):
    r = server.client()
    assert "db0" not in raw_info(server, "keyspace")
    r.mset({"a": 1, "b": 2, "c": 3})
    r.expire("a", 100)
    with server.conn() as c:
        c.call("SELECT", "5")
        c.call("SET", "x", "1")
    ks = raw_info(server, "keyspace")
    m = re.fullmatch(r"keys=3,expires=1,avg_ttl=(\d+)", ks["db0"])
    assert m, ks
    assert re.fullmatch(r"keys=1,expires=0,avg_ttl=0", ks["db5"]), ks
    assert "db1" not in ks


def test_config_get(server):
    r = server.client()
    assert r.config_get("port") == {"port": str(server.port)}
    assert r.config_get("save") == {"save": ""}
    assert r.config_get("appendonly") == {"appendonly": "no"}
    assert r.config_get("databases") == {"databases": "16"}


def test_config_set_unknown_parameter(server):
    with server.conn() as c:
        assert c.call("CONFIG", "SET", "no-such-param", "1") == \
            b"-ERR Unknown option or number of arguments for CONFIG SET - 'no-such-param'\r\n"


def test_time(server):
    with server.conn() as c:
        secs, usecs = parse(c.call("TIME"))
    t = int(secs) + int(usecs) / 1e6
    assert 0 <= int(usecs) < 1000000
    assert abs(t - time.time()) < 2


def test_command_count_and_docs(server):
    with server.conn() as c:
        n = parse(c.call("COMMAND", "COUNT"))
        assert isinstance(n, int) and n >= 55
        allc = parse(c.call("COMMAND"))
        assert len(allc) == n
        names = {e[0] for e in allc}
        assert {b"get", b"set", b"client", b"incrbyfloat", b"getex"} <= names
        docs = parse(c.call("COMMAND", "DOCS", "get"))
        assert docs[0] == b"get"
        d = dict(zip(docs[1][0::2], docs[1][1::2]))
        assert b"summary" in d and b"group" in d and d[b"group"] == b"string"


def test_debug_sleep(server):
    with server.conn() as c:
        t = time.monotonic()
        assert c.call("DEBUG", "SLEEP", "0.2") == b"+OK\r\n"
        dt = time.monotonic() - t
    assert 0.19 <= dt < 3, dt


def test_hello_id_matches_client_id(server):
    with server.conn() as c:
        h = parse(c.call("HELLO", "2"))
        d = dict(zip(h[0::2], h[1::2]))
        assert d[b"id"] == parse(c.call("CLIENT", "ID"))
        assert d[b"proto"] == 2 and d[b"server"] == b"redis"


def test_quit_closes(server):
    r = server.client()
    with server.conn() as c:
        assert c.call("QUIT") == b"+OK\r\n"
        assert c.read_until_close() == b""
    assert r.ping()


def test_select_is_per_connection(server):
    with server.conn() as a, server.conn() as b:
        a.call("SELECT", "7")
        a.call("SET", "k", "in7")
        assert b.call("GET", "k") == b"$-1\r\n"
        b.call("SELECT", "7")
        assert b.call("GET", "k") == b"$3\r\nin7\r\n"


def test_flushall_async_empties_all_dbs(server):
    r = server.client()
    r.mset({"k%d" % i: i for i in range(5000)})
    with server.conn() as c:
        c.call("SELECT", "9")
        c.call("SET", "x", "1")
        assert c.call("FLUSHALL", "ASYNC") == b"+OK\r\n"
        assert c.call("DBSIZE") == b":0\r\n"
    assert r.dbsize() == 0


@pytest.mark.parametrize("args", [("SHUTDOWN",), ("SHUTDOWN", "NOSAVE"), ("SHUTDOWN", "SAVE")])
def test_shutdown_exits_process(fresh_server, args):
    srv = fresh_server()
    with srv.conn() as c:
        c.send(b"".join([b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args]))
        try:
            rest = c.read_until_close(timeout=10)
        except Closed:
            rest = b""
        assert rest == b"" or rest.startswith(b"-"), rest
    srv.proc.wait(timeout=10)
    assert srv.proc.returncode == 0, "exit status %s\n%s" % (srv.proc.returncode, srv.log_tail())


def test_shutdown_bad_option_keeps_running(fresh_server):
    srv = fresh_server()
    with srv.conn() as c:
        assert c.call("SHUTDOWN", "BOGUS") == b"-ERR syntax error\r\n"
        assert c.call("PING") == b"+PONG\r\n"
    assert srv.alive()


def test_proto_max_bulk_len_applies_to_open_connections(server):
    # CONFIG SET proto-max-bulk-len takes effect at once, on the connection that set it too.
    with server.conn() as c:
        assert c.call("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
        c.send(b"*2\r\n$4\r\nECHO\r\n$2000000\r\n")
        assert c.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n"
    with server.conn() as c:
        assert c.call("CONFIG", "SET", "proto-max-bulk-len", "512mb") == b"+OK\r\n"
        big = b"x" * 2_000_000
        c.send(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (len(big), big))
        assert c.read_reply() == b"$%d\r\n%s\r\n" % (len(big), big)
