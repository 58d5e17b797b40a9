"""Authentication: requirepass, AUTH, HELLO AUTH, NOAUTH, and masterauth / masteruser.

Differential tests send the same requests to our server and to a real redis-server 7.0.15
both started with `--requirepass secret`, on fresh connections, and compare the reply bytes
(HELLO's map carries the connection id, which is masked on both sides). Replication tests
link our server with a real redis-server in both directions with a password set on the
master.
"""
import os
import re
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import Server, _server_cmd, _reference_cmd
from resp import RawConn, Closed, encode, parse
from test_replication_master import wait_until

PASSWORD = "secret"
NOAUTH_HELLO = (b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
                b"AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
                b"protocol version at the same time\r\n")


class PasswordServer(Server):
    """A server started with a password: it is up once it answers PING, with NOAUTH."""

    def ping(self):
        try:
            with RawConn(self.port, timeout=1.0) as c:
                return c.call("PING") in (b"+PONG\r\n", b"-NOAUTH Authentication required.\r\n")
        except (OSError, Closed, ValueError):
            return False


def with_password(template, password=PASSWORD):
    return template + " --requirepass " + password


def admin_call(srv, *args, password=PASSWORD):
    """One command on a connection that authenticated first."""
    with RawConn(srv.port) as c:
        assert c.call("AUTH", password) == b"+OK\r\n"
        return c.call(*args)


def mask_ids(reply):
    """HELLO's map has the connection id, which differs between servers."""
    return re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:ID\r\n", reply)


@pytest.fixture(scope="module")
def pair():
    """Our server and a real redis-server, both with requirepass, shared by the module."""
    ours = PasswordServer(with_password(_server_cmd()), "server").start()
    ref = PasswordServer(with_password(_reference_cmd()), "reference").start()
    yield ours, ref
    ours.stop()
    ref.stop()


@pytest.fixture
def servers(pair):
    """The pair, emptied and with the password of the start restored."""
    for s in pair:
        s.assert_alive()
        with RawConn(s.port) as c:
            # The previous test may have changed the password to one of these.
            for p in (PASSWORD, "other", "changed"):
                if c.call("AUTH", "default", p) == b"+OK\r\n":
                    break
            assert c.call("CONFIG", "SET", "requirepass", PASSWORD) == b"+OK\r\n"
            assert c.call("FLUSHALL") == b"+OK\r\n"
    yield pair
    for s in pair:
        s.assert_alive()


class Raw:
    """Bytes sent as they are, then `n` replies read."""

    def __init__(self, data, n):
        self.data, self.n = data, n

    def __repr__(self):
        return "Raw(%r, %d)" % (self.data[:60], self.n)


def run_steps(srv, steps):
    out = []
    with RawConn(srv.port) as c:
        for s in steps:
            if isinstance(s, Raw):
                c.send(s.data)
                out.append(mask_ids(b"".join(c.read_replies(s.n))))
            elif isinstance(s, bytes):
                c.send(s)
                out.append(c.read_until_close())
            else:
                c.send(encode(*s))
                out.append(mask_ids(c.read_reply()))
    return out


def compare(servers, steps):
    ours, ref = servers
    want = run_steps(ref, steps)
    got = run_steps(ours, steps)
    for step, w, g in zip(steps, want, got):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)
    return want


CASES = {
    "noauth_before_auth": [("PING",), ("GET", "a"), ("SET", "a", "1"), ("CONFIG", "GET", "requirepass"),
                           ("CLIENT", "ID"), ("SELECT", "1"), ("INFO",), ("ACL", "WHOAMI"), ("ECHO", "x")],
    # Unknown commands, unknown subcommands and wrong arity are reported before NOAUTH.
    "existence_and_arity_first": [("NOSUCH", "a"), ("GET",), ("SET", "a"), ("CONFIG", "SET", "x"),
                                  ("CONFIG", "NOSUCH"), ("ACL",), ("AUTH",), ("PING", "a", "b")],
    "auth_forms": [("AUTH", "x", "y", "z"), ("AUTH", "wrong"), ("AUTH", "default", "wrong"),
                   ("AUTH", "nouser", PASSWORD), ("AUTH", "DEFAULT", PASSWORD), ("AUTH", PASSWORD + "x"),
                   ("AUTH", PASSWORD[:-1]), ("AUTH", ""), ("GET", "a"), ("AUTH", PASSWORD), ("GET", "a"),
                   ("SET", "a", "1"), ("GET", "a")],
    "auth_with_user": [("AUTH", "default", PASSWORD), ("PING",), ("ACL", "WHOAMI")],
    "failed_auth_keeps_authentication": [("AUTH", PASSWORD), ("AUTH", "wrong"), ("PING",),
                                         ("AUTH", "someone", PASSWORD), ("PING",)],
    "hello_requires_auth": [("HELLO",), ("HELLO", "3"), ("HELLO", "2", "SETNAME", "n"), ("PING",)],
    "hello_errors_order": [("HELLO", "4", "AUTH", "default", "wrong"), ("HELLO", "x"),
                           ("HELLO", "2", "AUTH", "default"), ("HELLO", "2", "AUTH", "default", PASSWORD, "FOO"),
                           ("HELLO", "3", "AUTH", "default", "wrong"), ("HELLO", "3", "AUTH", "nobody", PASSWORD),
                           ("PING",)],
    # HELLO authenticates as it reads its AUTH option, before it meets a bad option later on.
    "hello_auth_then_bad_option": [("HELLO", "2", "AUTH", "default", PASSWORD, "FOO"), ("PING",)],
    "hello_bad_option_then_auth": [("HELLO", "2", "FOO", "AUTH", "default", PASSWORD), ("PING",)],
    "hello_wrong_then_bad_option": [("HELLO", "2", "AUTH", "default", "wrong", "FOO"), ("PING",)],
    "hello_two_auth_options": [("HELLO", "2", "AUTH", "default", "wrong", "AUTH", "default", PASSWORD), ("PING",),
                               ("RESET",), ("HELLO", "2", "AUTH", "default", PASSWORD, "AUTH", "default", "wrong"),
                               ("PING",)],
    "hello_auth_missing_name": [("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME"), ("PING",)],
    "hello_auth_resp3": [("HELLO", "3", "AUTH", "default", PASSWORD), ("PING",), ("CONFIG", "GET", "requirepass"),
                         ("HSET", "h", "f", "v"), ("HGETALL", "h"), ("HELLO",)],
    "hello_auth_setname": [("HELLO", "2", "AUTH", "default", PASSWORD, "SETNAME", "named"), ("CLIENT", "GETNAME"),
                           ("HELLO", "3", "SETNAME", "second", "AUTH", "default", PASSWORD), ("CLIENT", "GETNAME")],
    # A bad name is refused after the credentials were accepted: the AUTH part stays done.
    "hello_auth_bad_name": [("HELLO", "2", "AUTH", "default", PASSWORD, "SETNAME", "bad name"), ("PING",),
                            ("CLIENT", "GETNAME")],
    "multi_rejected_then_execabort": [("MULTI",), ("GET", "a"), ("EXEC",), ("DISCARD",)],
    "auth_inside_multi": [("AUTH", PASSWORD), ("MULTI",), ("AUTH", "wrong"), ("AUTH", PASSWORD), ("EXEC",)],
    "reset_drops_authentication": [("AUTH", PASSWORD), ("RESET",), ("PING",), ("AUTH", PASSWORD), ("PING",)],
    "quit_without_auth": [encode("QUIT")],
    # Before authentication Redis refuses more than 10 arguments and bulks over 16 KB as
    # protocol errors and closes; inline commands have no such limit.
    "unauthenticated_argument_count": [("PING",) + ("x",) * 9, b"*11\r\n"],
    "unauthenticated_argument_count_whole": [encode("PING", *(["x"] * 10))],
    "unauthenticated_bulk_length": [("ECHO", "y" * 16384), b"*2\r\n$4\r\nECHO\r\n$16385\r\n"],
    "unauthenticated_inline_is_not_limited": [Raw(b"PING " + b"a " * 20 + b"\r\n", 1)],
    "authenticated_in_the_same_pipeline": [Raw(encode("AUTH", PASSWORD) + encode("ECHO", "z" * 20000)
                                               + encode("MSET", *(["k", "v"] * 10)), 3)],
    "inline_auth_lifts_the_limits": [Raw(b"AUTH " + PASSWORD.encode() + b"\r\n" + encode("ECHO", "z" * 20000), 2)],
    "hello_auth_lifts_the_limits": [Raw(encode("HELLO", "2", "AUTH", "default", PASSWORD)
                                        + encode("ECHO", "z" * 20000), 2)],
    "reset_brings_the_limits_back": [("AUTH", PASSWORD), ("ECHO", "z" * 20000), ("RESET",), b"*11\r\n"],
    "command_info_and_docs": [("AUTH", PASSWORD), ("COMMAND", "INFO", "auth"), ("COMMAND", "DOCS", "auth"),
                              ("COMMAND", "INFO", "acl|whoami"), ("COMMAND", "INFO", "hello")],
    # (A pattern's matches come in Redis's dict order, random per process: names only.)
    "config_get": [("AUTH", PASSWORD), ("CONFIG", "GET", "requirepass"), ("CONFIG", "GET", "masterauth"),
                   ("CONFIG", "GET", "masteruser"), ("CONFIG", "SET", "masterauth", "mpass"),
                   ("CONFIG", "SET", "masteruser", "muser"), ("CONFIG", "GET", "masterauth"),
                   ("CONFIG", "GET", "MASTERUSER"), ("CONFIG", "SET", "masterauth", ""),
                   ("CONFIG", "SET", "masteruser", ""), ("CONFIG", "GET", "masterauth"),
                   ("CONFIG", "SET", "requirepass", "changed"), ("CONFIG", "GET", "requirepass")],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_differential(servers, name):
    compare(servers, CASES[name])


def test_auth_pipelined_with_commands(servers):
    """AUTH in the middle of a pipeline: what precedes it is refused, what follows runs."""
    data = encode("SET", "k", "v") + encode("AUTH", PASSWORD) + encode("SET", "k", "v") + encode("GET", "k")
    out = []
    for srv in servers:
        with RawConn(srv.port) as c:
            c.send(data)
            out.append(b"".join(c.read_replies(4)))
    assert out[0] == out[1]
    assert out[0] == b"-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n$1\r\nv\r\n"


def scenario(srv):
    """Two connections while the password changes at run time: an authenticated client stays
    authenticated, a client that connected under a password stays unauthenticated when it is
    cleared (commands run, HELLO still refuses), and a transaction it opened meanwhile is
    doomed by NOAUTH once a password is set again."""
    a, b = RawConn(srv.port), RawConn(srv.port)
    replies = []

    def call(c, *args):
        c.send(encode(*args))
        replies.append((args, mask_ids(c.read_reply())))

    try:
        call(a, "AUTH", PASSWORD)
        call(b, "PING")
        call(a, "CONFIG", "SET", "requirepass", "")
        call(a, "CONFIG", "GET", "requirepass")
        call(b, "PING")
        call(b, "ECHO", "w" * 20000)   # no password: no limits before authentication either
        call(b, "MSET", *(["k", "v"] * 10))
        call(b, "HELLO")
        call(b, "HELLO", "3")
        call(b, "AUTH", "anything")
        call(b, "MULTI")
        call(b, "SET", "k", "1")
        call(a, "CONFIG", "SET", "requirepass", "other")
        call(a, "PING")   # still authenticated
        call(b, "GET", "k")
        call(b, "EXEC")
        call(b, "EXISTS", "k")
        call(b, "AUTH", PASSWORD)
        call(b, "AUTH", "default", "other")
        call(b, "HELLO")
        call(b, "EXISTS", "k")
        c = RawConn(srv.port)
        call(c, "PING")
        call(c, "AUTH", PASSWORD)
        call(c, "AUTH", "other")
        call(c, "CONFIG", "SET", "requirepass", "")
        call(c, "AUTH", "default", "any")
        call(c, "AUTH", "someone", "any")
        call(c, "HELLO", "2", "AUTH", "default", "any")
        call(c, "HELLO", "2", "AUTH", "bob", "any")
        call(c, "ACL", "WHOAMI")
        c.close()
        d = RawConn(srv.port)   # connected with no password: authenticated at once
        call(d, "PING")
        call(d, "HELLO")
        call(a, "CONFIG", "SET", "requirepass", PASSWORD)
        call(d, "PING")
        d.close()
    finally:
        a.close()
        b.close()
    return replies


def test_requirepass_changed_at_run_time(servers):
    ours, ref = servers
    want = scenario(ref)
    got = scenario(ours)
    for (args, w), (_, g) in zip(want, got):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (args, w, g)


def test_errorstats_and_commandstats_count_like_redis(tmp_path):
    """Fresh servers: NOAUTH and WRONGPASS replies are counted as errors, NOAUTH as a rejected
    call of the command, WRONGPASS as a failed call of AUTH."""
    results = []
    for template in (_server_cmd(), _reference_cmd()):
        srv = PasswordServer(with_password(template), "stats").start()
        try:
            with RawConn(srv.port) as c:
                for args in [("GET", "a"), ("GET", "a"), ("AUTH", "bad"), ("HELLO", "3"), ("MULTI",), ("EXEC",),
                             ("AUTH", "x", "y", "z"), ("AUTH", PASSWORD), ("AUTH", "bad")]:
                    c.call(*args)
                text = parse(c.call("INFO", "errorstats")).decode()
                stats = parse(c.call("INFO", "commandstats")).decode()
            lines = [l for l in text.splitlines() if l.startswith("errorstat_")]
            for cmd in ("auth", "get", "exec", "multi", "hello"):
                m = re.search(r"cmdstat_%s:calls=(\d+),.*rejected_calls=(\d+),failed_calls=(\d+)" % cmd, stats)
                lines.append((cmd, m.groups() if m else None))
            results.append(lines)
        finally:
            srv.stop()
    assert results[0] == results[1]


def test_redis_py_with_password(servers):
    ours, _ = servers
    r = ours.client(password=PASSWORD)
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    r = ours.client(username="default", password=PASSWORD)
    assert r.get("k") == b"v"
    if int(redis.__version__.split(".")[0]) >= 5:   # RESP3 in redis-py: HELLO 3 AUTH default secret
        r3 = ours.client(password=PASSWORD, protocol=3)
        assert r3.hset("h", "f", "v") == 1
        assert r3.hgetall("h") == {b"f": b"v"}
    with pytest.raises(redis.AuthenticationError):
        ours.client(password="wrong").get("k")
    with pytest.raises(redis.AuthenticationError):
        ours.client().get("k")


def test_requirepass_from_config_file(tmp_path):
    conf = tmp_path / "auth.conf"
    conf.write_text('requirepass "from file"\nmasterauth mpass\nmasteruser muser\n')
    # The file comes first on the command line, as redis-server requires.
    binary, _, options = _server_cmd().partition(" ")
    ours = PasswordServer("%s %s %s" % (binary, conf, options), "conf").start()
    try:
        with RawConn(ours.port) as c:
            assert c.call("GET", "a") == b"-NOAUTH Authentication required.\r\n"
            assert c.call("AUTH", "from file") == b"+OK\r\n"
            assert parse(c.call("CONFIG", "GET", "requirepass")) == [b"requirepass", b"from file"]
            pairs = parse(c.call("CONFIG", "GET", "master*"))
            assert dict(zip(pairs[::2], pairs[1::2])) == {b"masterauth": b"mpass", b"masteruser": b"muser"}
    finally:
        ours.stop()


# MARK: replication with a password on the master


def info(port, section="replication", password=PASSWORD):
    with RawConn(port) as c:
        c.call("AUTH", password)
        text = parse(c.call("INFO", section)).decode()
    return dict(l.split(":", 1) for l in text.splitlines() if l and not l.startswith("#") and ":" in l)


def log_text(srv):
    with open(srv.logfile.name, "rb") as f:
        return f.read().decode(errors="replace")


@pytest.fixture
def started():
    servers = []
    dirs = []

    def make(template, name, password=True):
        if "redis-server" in template:
            d = tempfile.mkdtemp(prefix="auth-real-")   # a disk-based sync writes its RDB here
            dirs.append(d)
            template += " --dir " + d
        s = (PasswordServer if password else Server)(template, name).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()
    for d in dirs:
        subprocess.run(["rm", "-rf", d])


REAL = "redis-server --port {port} --save '' --appendonly no --repl-diskless-sync-delay 0"


def fill(port, n=50):
    with RawConn(port) as c:
        assert c.call("AUTH", PASSWORD) == b"+OK\r\n"
        for i in range(n):
            c.call("SET", "key:%d" % i, "value:%d" % i)
        c.call("RPUSH", "list", "a", "b", "c")


def assert_replicated(master, replica, replica_password=None, n=50):
    with RawConn(replica.port) as c:
        if replica_password:
            c.call("AUTH", replica_password)
        assert wait_until(lambda: c.call("GET", "key:%d" % (n - 1)) == b"$%d\r\nvalue:%d\r\n" % (
            len("value:%d" % (n - 1)), n - 1)), "data never reached the replica"
        assert parse(c.call("DBSIZE")) == n + 1
        assert parse(c.call("LRANGE", "list", "0", "-1")) == [b"a", b"b", b"c"]
    # A write after the sync reaches it through the stream.
    with RawConn(master.port) as c:
        c.call("AUTH", PASSWORD)
        assert c.call("SET", "after", "sync") == b"+OK\r\n"
    with RawConn(replica.port) as c:
        if replica_password:
            c.call("AUTH", replica_password)
        assert wait_until(lambda: c.call("GET", "after") == b"$4\r\nsync\r\n"), "stream never reached the replica"


def test_real_replica_with_masterauth_syncs_from_our_master(started):
    master = started(with_password(_server_cmd()), "master")
    fill(master.port)
    replica = started(REAL + " --replicaof 127.0.0.1 %d --masterauth %s" % (master.port, PASSWORD), "replica",
                      password=False)
    assert wait_until(lambda: info(replica.port).get("master_link_status") == "up"), log_text(replica)
    assert_replicated(master, replica)
    assert info(master.port)["connected_slaves"] == "1"


def test_real_replica_without_masterauth_is_refused_by_our_master(started):
    master = started(with_password(_server_cmd()), "master")
    replica = started(REAL + " --replicaof 127.0.0.1 %d" % master.port, "replica", password=False)
    assert wait_until(lambda: "NOAUTH" in log_text(replica)), log_text(replica)
    assert info(replica.port).get("master_link_status") == "down"
    assert info(master.port)["connected_slaves"] == "0"


def test_our_replica_with_masterauth_syncs_from_a_real_master(started):
    master = started(with_password(REAL), "master")
    fill(master.port)
    replica = started(_server_cmd() + " --replicaof 127.0.0.1 %d --masterauth %s" % (master.port, PASSWORD),
                      "replica", password=False)
    assert wait_until(lambda: info(replica.port).get("master_link_status") == "up"), log_text(replica)
    assert_replicated(master, replica)


def test_our_replica_with_masteruser_and_its_own_password(started):
    """AUTH default <pass> form, and a replica that has a password of its own: the master's
    stream is applied whatever the replica's requirepass."""
    master = started(with_password(REAL), "master")
    fill(master.port)
    replica = started(_server_cmd() + " --replicaof 127.0.0.1 %d --masteruser default --masterauth %s"
                      " --requirepass mine" % (master.port, PASSWORD), "replica")
    assert wait_until(lambda: info(replica.port, password="mine").get("master_link_status") == "up"), \
        log_text(replica)
    assert_replicated(master, replica, replica_password="mine")
    # The master's stream is not held to the limits of a client that has not authenticated.
    big = "b" * 100000
    with RawConn(master.port) as c:
        c.call("AUTH", PASSWORD)
        assert c.call("MSET", *sum((["big:%d" % i, big] for i in range(8)), [])) == b"+OK\r\n"
    with RawConn(replica.port) as c:
        c.call("AUTH", "mine")
        assert wait_until(lambda: c.call("STRLEN", "big:7") == b":100000\r\n"), log_text(replica)
    with RawConn(replica.port) as c:
        assert c.call("GET", "key:1") == b"-NOAUTH Authentication required.\r\n"


def test_our_replica_retries_after_a_wrong_masterauth(started):
    """A refused AUTH is logged in Redis's words and the handshake starts over; once
    CONFIG SET masterauth has the right password the next attempt links."""
    master = started(with_password(REAL), "master")
    fill(master.port)
    replica = started(_server_cmd() + " --replicaof 127.0.0.1 %d --masterauth wrong" % master.port, "replica",
                      password=False)
    line = "Unable to AUTH to MASTER: -WRONGPASS invalid username-password pair or user is disabled."
    assert wait_until(lambda: log_text(replica).count(line) >= 2), log_text(replica)
    assert info(replica.port).get("master_link_status") == "down"
    with RawConn(replica.port) as c:
        assert c.call("CONFIG", "SET", "masterauth", PASSWORD) == b"+OK\r\n"
    assert wait_until(lambda: info(replica.port).get("master_link_status") == "up", timeout=15), log_text(replica)
    assert_replicated(master, replica)


def test_our_replica_without_masterauth_gets_noauth_and_stays_down(started):
    """PING's -NOAUTH is accepted as in Redis (the handshake goes on); the master refuses
    PSYNC, so the link does not come up."""
    master = started(with_password(REAL), "master")
    replica = started(_server_cmd() + " --replicaof 127.0.0.1 %d" % master.port, "replica", password=False)
    assert wait_until(lambda: "Master replied to PING, replication can continue..." in log_text(replica)
                      and "NOAUTH" in log_text(replica)), log_text(replica)
    assert info(replica.port).get("master_link_status") == "down"
