"""CLIENT PAUSE / UNPAUSE, FAILOVER between our server and real redis-server 7.0, and
replicas of IPv6 masters.

Every test starts its own servers on free ports and polls with deadlines.
"""
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import Server, _server_cmd
from resp import RawConn, encode, parse

from test_replication_replica import wait_until, info, call, link_up, real_redis, servers  # noqa: F401


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def start_ours(srvs, extra=""):
    return srvs(Server(_server_cmd() + extra, "ours").start())


def start_real(srvs, extra=""):
    return srvs(Server(real_redis() + extra, "real").start())


# ---------------------------------------------------------------- IPv6 masters

@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
@pytest.mark.parametrize("how", ["config", "command"])
def test_replica_of_ipv6_master(servers, how):
    # "env" keeps conftest from replacing the bind with 127.0.0.1 only: the master listens
    # on ::1 too, and the replica must reach it there.
    master = servers(Server("env " + real_redis() + " --bind ::1 127.0.0.1", "v6master").start())
    call(master, "SET", "k", "v6")
    if how == "config":
        replica = start_ours(servers, " --replicaof ::1 %d" % master.port)
    else:
        replica = start_ours(servers)
        assert call(replica, "REPLICAOF", "::1", str(master.port)) == b"+OK\r\n"
    wait_until(lambda: link_up(replica), what="link up over IPv6")
    assert info(replica)["master_host"] == "::1"
    assert call(replica, "GET", "k") == b"$2\r\nv6\r\n"
    assert info(master)["slave0"].startswith("ip=::1,")


# ---------------------------------------------------------------- CLIENT PAUSE

PAUSE_ERRORS = [
    ("CLIENT", "PAUSE", "10", "WRITE", "x"),
    ("CLIENT", "PAUSE", "abc", "WRITE"),
    ("CLIENT", "PAUSE", "-1"),
    ("CLIENT", "PAUSE", "abc", "foo"),
    ("CLIENT", "PAUSE", "1", "foo"),
    ("CLIENT", "PAUSE", "1.5"),
    ("CLIENT", "PAUSE", "99999999999999999999"),
    ("CLIENT", "UNPAUSE", "x"),
    ("CLIENT", "PAUSE"),
    ("CLIENT", "PAUSE", "0"),
    ("CLIENT", "UNPAUSE"),
]


@pytest.mark.parametrize("args", PAUSE_ERRORS, ids=lambda a: " ".join(a))
def test_pause_replies_match_redis(server, reference, args):
    with server.conn() as ours, reference.conn() as theirs:
        assert ours.call(*args) == theirs.call(*args)
        ours.call("CLIENT", "UNPAUSE")
        theirs.call("CLIENT", "UNPAUSE")


def timed_call(srv, *args):
    """Sends one command on a new connection; returns (reply, seconds it took)."""
    with srv.conn() as c:
        start = time.monotonic()
        reply = c.call(*args)
        return reply, time.monotonic() - start


def test_pause_write_holds_set_until_deadline_and_serves_get(servers):
    srv = start_ours(servers)
    call(srv, "SET", "k", "old")
    assert call(srv, "CLIENT", "PAUSE", "600", "WRITE") == b"+OK\r\n"
    reply, took = timed_call(srv, "GET", "k")
    assert reply == b"$3\r\nold\r\n" and took < 0.3
    reply, took = timed_call(srv, "SET", "k", "new")
    assert reply == b"+OK\r\n"
    assert took >= 0.35, "SET ran %.3fs after the pause began; it should wait for the deadline" % took
    assert call(srv, "GET", "k") == b"$3\r\nnew\r\n"


def test_pause_write_holds_publish_and_queued_exec(servers):
    srv = start_ours(servers)
    with srv.conn() as c:
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("SET", "t", "1") == b"+QUEUED\r\n"
        call(srv, "CLIENT", "PAUSE", "10000", "WRITE")
        c.send(encode("EXEC"))
        with srv.conn() as p:
            p.send(encode("PUBLISH", "ch", "m"))
            time.sleep(0.3)
            assert call(srv, "EXISTS", "t") == b":0\r\n"
            assert call(srv, "CLIENT", "UNPAUSE") == b"+OK\r\n"
            assert p.read_reply() == b":0\r\n"
        assert c.read_reply() == b"*1\r\n+OK\r\n"
    assert call(srv, "GET", "t") == b"$1\r\n1\r\n"


def test_pause_all_holds_reads_in_order_until_deadline(servers):
    srv = start_ours(servers)
    with srv.conn() as c:
        assert c.call("CLIENT", "PAUSE", "700", "ALL") == b"+OK\r\n"
        start = time.monotonic()
        c.send(encode("GET", "x") + encode("SET", "x", "1") + encode("GET", "x"))
        assert c.read_replies(3) == [b"$-1\r\n", b"+OK\r\n", b"$1\r\n1\r\n"]
        took = time.monotonic() - start
        assert took >= 0.4, "paused commands answered after %.3fs" % took


def test_unpause_releases_held_writes(servers):
    srv = start_ours(servers)
    call(srv, "CLIENT", "PAUSE", "100000", "WRITE")
    with srv.conn() as c:
        c.send(encode("INCR", "n"))
        time.sleep(0.3)
        assert call(srv, "GET", "n") == b"$-1\r\n"
        assert call(srv, "CLIENT", "UNPAUSE") == b"+OK\r\n"
        assert c.read_reply() == b":1\r\n"


def test_pause_stops_expiry(servers):
    srv = start_ours(servers)
    call(srv, "SET", "e", "v", "PX", "100")
    call(srv, "CLIENT", "PAUSE", "100000", "WRITE")
    time.sleep(0.4)
    # Expired keys read as missing but are not deleted while paused.
    assert call(srv, "GET", "e") == b"$-1\r\n"
    assert call(srv, "DBSIZE") == b":1\r\n"
    call(srv, "CLIENT", "UNPAUSE")
    assert call(srv, "GET", "e") == b"$-1\r\n"
    wait_until(lambda: call(srv, "DBSIZE") == b":0\r\n", what="expired key deleted after unpause")
