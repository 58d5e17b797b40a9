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


# ---------------------------------------------------------------- FAILOVER

def role(srv):
    with srv.conn() as c:
        return parse(c.call("ROLE"))[0].decode()


def pair(servers, master_kind, replica_kind):
    """A master and a replica of it, synced, each ours or a real redis-server."""
    master = start_ours(servers) if master_kind == "ours" else start_real(servers)
    extra = " --replicaof 127.0.0.1 %d" % master.port
    replica = start_ours(servers, extra) if replica_kind == "ours" else start_real(servers, extra)
    wait_until(lambda: link_up(replica), what="replica link up")
    wait_until(lambda: info(master).get("slave0", "").find("state=online") >= 0, what="replica online")
    return master, replica


def caught_up(master, replica):
    return info(master)["master_repl_offset"] == info(replica)["master_repl_offset"]


COMBINATIONS = [("ours", "ours"), ("ours", "real"), ("real", "ours")]


@pytest.mark.parametrize("master_kind,replica_kind", COMBINATIONS, ids=lambda k: k)
def test_failover_swaps_roles_with_partial_resync(servers, master_kind, replica_kind):
    master, replica = pair(servers, master_kind, replica_kind)
    for i in range(50):
        call(master, "RPUSH", "list", str(i))
    call(master, "SET", "s", "v")
    call(master, "HSET", "h", "f", "1")
    wait_until(lambda: caught_up(master, replica), what="replica caught up")
    before_ok = int(info(replica, "stats")["sync_partial_ok"])
    assert call(master, "FAILOVER") == b"+OK\r\n"
    wait_until(lambda: role(replica) == "master" and role(master) == "slave" and link_up(master),
               timeout=15, what="roles swapped")
    wait_until(lambda: info(master)["master_failover_state"] == "no-failover", what="failover done")
    assert info(master)["master_port"] == str(replica.port)
    # The old master continued from the new master's backlog: no full resync.
    assert int(info(replica, "stats")["sync_partial_ok"]) == before_ok + 1
    assert info(replica)["master_failover_state"] == "no-failover"
    # Data identical, and the new master's writes reach the old one.
    assert call(replica, "SET", "after", "x") == b"+OK\r\n"
    wait_until(lambda: call(master, "GET", "after") == b"$1\r\nx\r\n", what="write propagated to old master")
    for srv in (master, replica):
        assert call(srv, "LRANGE", "list", "0", "-1") == call(replica, "LRANGE", "list", "0", "-1")
        assert call(srv, "LLEN", "list") == b":50\r\n"
        assert call(srv, "GET", "s") == b"$1\r\nv\r\n"
        assert call(srv, "HGET", "h", "f") == b"$1\r\n1\r\n"
    # Writes on the old master are refused now: it is a read-only replica.
    assert call(master, "SET", "x", "1").startswith(b"-READONLY")


@pytest.mark.parametrize("master_kind", ["ours", "real"])
def test_failover_to_named_replica(servers, master_kind):
    master, replica = pair(servers, master_kind, "ours")
    assert call(master, "FAILOVER", "TO", "127.0.0.1", str(replica.port)) == b"+OK\r\n"
    wait_until(lambda: role(replica) == "master" and role(master) == "slave" and link_up(master),
               timeout=15, what="roles swapped")


def failover_errors(master, replica):
    """Replies to FAILOVER misuse on a master with one online replica and on the replica."""
    out = []
    for args in [("FAILOVER", "ABORT"), ("FAILOVER", "BOGUS"), ("FAILOVER", "TIMEOUT", "0"),
                 ("FAILOVER", "TIMEOUT", "-5"), ("FAILOVER", "TIMEOUT", "abc"), ("FAILOVER", "TO", "127.0.0.1", "x"),
                 ("FAILOVER", "TO", "127.0.0.1"), ("FAILOVER", "FORCE"), ("FAILOVER", "FORCE", "TIMEOUT", "10"),
                 ("FAILOVER", "TO", "127.0.0.1", "1", "FORCE"), ("FAILOVER", "TO", "127.0.0.1", "1"),
                 ("FAILOVER", "TIMEOUT", "5", "TIMEOUT", "6"), ("FAILOVER", "FORCE", "FORCE"),
                 ("FAILOVER", "ABORT", "TIMEOUT", "5")]:
        out.append((args, call(master, *args)))
    out.append((("replica", "FAILOVER"), call(replica, "FAILOVER")))
    out.append((("replica", "FAILOVER ABORT"), call(replica, "FAILOVER", "ABORT")))
    return out


def test_failover_errors_match_redis(servers):
    ours = failover_errors(*pair(servers, "ours", "ours"))
    theirs = failover_errors(*pair(servers, "real", "real"))
    assert ours == theirs
    lone_ours, lone_real = start_ours(servers), start_real(servers)
    assert call(lone_ours, "FAILOVER") == call(lone_real, "FAILOVER") == b"-ERR FAILOVER requires connected replicas.\r\n"


def start_lagging_failover(servers, master_kind, *failover_args):
    """A failover that cannot finish soon: the (real) replica sleeps, so it does not
    acknowledge the write made just before FAILOVER."""
    master, replica = pair(servers, master_kind, "real")
    call(replica, "CONFIG", "SET", "repl-timeout", "60")
    sleeper = replica.conn(timeout=30)
    sleeper.send(encode("DEBUG", "SLEEP", "3"))
    time.sleep(0.2)
    call(master, "SET", "k", "1")
    assert call(master, "FAILOVER", *failover_args) == b"+OK\r\n"
    assert info(master)["master_failover_state"] == "waiting-for-sync"
    return master, replica, sleeper


@pytest.mark.parametrize("master_kind", ["ours", "real"])
def test_failover_abort_releases_writes(servers, master_kind):
    master, replica, sleeper = start_lagging_failover(servers, master_kind)
    with master.conn() as w:
        w.send(encode("SET", "k", "2"))
        time.sleep(0.3)
        assert call(master, "GET", "k") == b"$1\r\n1\r\n", "write ran during the failover's pause"
        assert call(master, "FAILOVER") == b"-ERR FAILOVER already in progress.\r\n"
        assert call(master, "REPLICAOF", "NO", "ONE") == b"-ERR REPLICAOF not allowed while failing over.\r\n"
        assert call(master, "FAILOVER", "ABORT") == b"+OK\r\n"
        assert w.read_reply() == b"+OK\r\n"
    assert info(master)["master_failover_state"] == "no-failover"
    assert role(master) == "master"
    sleeper.close()


@pytest.mark.parametrize("master_kind", ["ours", "real"])
def test_failover_timeout_gives_up(servers, master_kind):
    master, replica, sleeper = start_lagging_failover(servers, master_kind, "TIMEOUT", "500")
    wait_until(lambda: info(master)["master_failover_state"] == "no-failover", timeout=2.5,
               what="failover timed out")
    assert role(master) == "master"
    assert call(master, "SET", "k", "3") == b"+OK\r\n"
    sleeper.close()


@pytest.mark.parametrize("master_kind", ["ours", "real"])
def test_failover_force_after_timeout(servers, master_kind):
    """FORCE fails over at the deadline even though the target never acknowledged the last
    write; the old master then follows the target's data, whatever it lost."""
    master, replica = pair(servers, master_kind, "real")
    sleeper = replica.conn(timeout=30)
    sleeper.send(encode("DEBUG", "SLEEP", "2"))
    time.sleep(0.2)
    call(master, "SET", "k", "1")
    assert call(master, "FAILOVER", "TO", "127.0.0.1", str(replica.port), "TIMEOUT", "300", "FORCE") == b"+OK\r\n"
    assert info(master)["master_failover_state"] == "waiting-for-sync"
    wait_until(lambda: role(replica) == "master" and role(master) == "slave" and link_up(master),
               timeout=15, what="forced failover")
    assert info(master)["master_failover_state"] == "no-failover"
    call(replica, "SET", "after", "1")
    wait_until(lambda: call(master, "GET", "after") == b"$1\r\n1\r\n", what="old master follows")
    assert call(master, "GET", "k") == call(replica, "GET", "k")
    sleeper.close()


@pytest.mark.parametrize("replica_kind", ["ours", "real"])
def test_pause_write_on_replica_holds_master_stream(servers, replica_kind):
    """Redis 7.0 pauses the master's client too: a replica under CLIENT PAUSE WRITE
    applies its master's writes only once the pause ends, in order."""
    master = start_real(servers)
    extra = " --replicaof 127.0.0.1 %d" % master.port
    replica = start_ours(servers, extra) if replica_kind == "ours" else start_real(servers, extra)
    wait_until(lambda: link_up(replica), what="link up")
    call(master, "SET", "before", "1")
    wait_until(lambda: call(replica, "GET", "before") == b"$1\r\n1\r\n", what="first write applied")
    assert call(replica, "CLIENT", "PAUSE", "20000", "WRITE") == b"+OK\r\n"
    call(master, "SET", "during", "pause")
    call(master, "RPUSH", "l", "a", "b")
    time.sleep(0.5)
    assert call(replica, "GET", "during") == b"$-1\r\n"
    assert link_up(replica)
    assert call(replica, "CLIENT", "UNPAUSE") == b"+OK\r\n"
    wait_until(lambda: call(replica, "LRANGE", "l", "0", "-1") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
               what="held stream applied after UNPAUSE")
    assert call(replica, "GET", "during") == b"$5\r\npause\r\n"
    wait_until(lambda: caught_up(master, replica), what="offsets equal")


def test_paused_client_shows_as_blocked(servers):
    """Redis blocks a paused client: INFO counts it in blocked_clients, CLIENT LIST shows
    flags=b and the command it waits with."""
    srv = start_ours(servers)
    call(srv, "CLIENT", "PAUSE", "20000", "WRITE")
    with srv.conn() as w:
        w.send(encode("SET", "x", "1"))
        time.sleep(0.2)
        assert info(srv, "clients")["blocked_clients"] == "1"
        lines = parse(call(srv, "CLIENT", "LIST")).decode().splitlines()
        assert any(" flags=b " in l and " cmd=set " in l for l in lines), lines
        call(srv, "CLIENT", "UNPAUSE")
        assert w.read_reply() == b"+OK\r\n"
    assert info(srv, "clients")["blocked_clients"] == "0"


@pytest.mark.parametrize("args,held", [
    (("PFCOUNT", "h"), True), (("PUBLISH", "c", "m"), True), (("SPUBLISH", "c", "m"), True),
    (("PFADD", "h", "a"), True), (("FLUSHALL",), True), (("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"), True),
    (("PING",), False), (("SAVE",), False), (("GET", "k"), False), (("INFO", "server"), False),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v))
def test_which_commands_write_pause_holds(servers, args, held):
    """Redis 7.0 holds writes and may-replicate commands (PUBLISH, SPUBLISH, PFCOUNT)."""
    srv = start_ours(servers)
    call(srv, "CLIENT", "PAUSE", "400", "WRITE")
    _, took = timed_call(srv, *args)
    assert (took >= 0.25) == held, "%s took %.3fs" % (args, took)


def test_psync_failover_with_foreign_replid_is_refused(servers):
    """A replica promotes itself only for PSYNC FAILOVER naming its own replication id."""
    replies = []
    for kind in ("ours", "real"):
        master, replica = pair(servers, "real", kind)
        with replica.conn() as c:
            replies.append(c.call("PSYNC", "0123456789012345678901234567890123456789", "1", "FAILOVER"))
        assert role(replica) == "slave" and link_up(replica)
    assert replies[0] == replies[1] == b"-ERR PSYNC FAILOVER replid must match my replid.\r\n"


def test_unpause_propagates_only_the_held_write(servers):
    """The held SET reaches the stream once, as itself; CLIENT UNPAUSE, which released it,
    changes no data and is not propagated."""
    master, replica = pair(servers, "ours", "ours")
    call(master, "SET", "warm", "up")
    before = int(info(master)["master_repl_offset"])
    call(master, "CLIENT", "PAUSE", "100000", "WRITE")
    with master.conn() as w:
        w.send(encode("SET", "k", "v"))
        time.sleep(0.2)
        assert call(master, "CLIENT", "UNPAUSE") == b"+OK\r\n"
        assert w.read_reply() == b"+OK\r\n"
    delta = int(info(master)["master_repl_offset"]) - before
    set_bytes = len(encode("SET", "k", "v"))
    assert delta in (set_bytes, set_bytes + len(encode("ping"))), delta
    wait_until(lambda: call(replica, "GET", "k") == b"$1\r\nv\r\n", what="held write replicated")
