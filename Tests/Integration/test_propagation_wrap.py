"""Redis 7.0 wraps in MULTI ... EXEC every command execution that propagates more than
one command (a lazy-expiry DEL found by a write plus the write itself, a command with
several rewrites), but not the active expire cycle's DELs, and not again inside EXEC.

A raw replica (PSYNC ? -1 over a socket, the RDB skipped) reads the stream of our server
and of a real redis-server 7.0 for the same script; the streams are compared byte for
byte, with only absolute times (13-digit ms) and SPOP's random members masked.
"""
import re
import time

import pytest

from resp import RawConn, parse
from test_replication_master import RawReplica, servers   # noqa: F401 (fixture)


TIME = re.compile(rb"\$13\r\n\d{13}\r\n")
PING = b"*1\r\n$4\r\nping\r\n"


def masked(stream):
    """The stream without keepalives, with absolute times and SPOP's members (one digit
    each, so lengths stay) replaced."""
    stream = stream.replace(PING, b"")
    stream = TIME.sub(b"$13\r\n<ms-time-xxx>\r\n", stream)
    return re.sub(rb"(\*3\r\n\$4\r\nSREM\r\n\$2\r\nsp\r\n\$1\r\n)[0-9]", rb"\1M", stream)


def stream_of(port, script, settle=0.3):
    """Runs `script` on a connection while a raw replica reads; returns the stream bytes."""
    replica = RawReplica(port)
    assert replica.rdb.startswith(b"REDIS")
    with RawConn(port) as c:
        for step in script:
            if step[0] == "SLEEP":
                time.sleep(step[1])
            elif step[0] == "EXPIRE_SOON":
                # An absolute expiry 30 ms ahead: lazily expired by the SLEEP after it.
                assert c.call("PEXPIREAT", step[1], str(int(time.time() * 1000) + 30)) == b":1\r\n"
            else:
                c.call(*step)
    time.sleep(settle)
    return drain(replica)


def drain(replica):
    """Everything the replica connection received until it stays quiet for 0.5 s; closes it."""
    replica.c.sock.settimeout(0.5)
    try:
        while True:
            replica.c._fill()
    except Exception:
        pass
    data = replica.c.buf
    replica.close()
    return data


LAZY = [("DEBUG", "SET-ACTIVE-EXPIRE", "0")]


SCRIPTS = {
    # The brief's case: SET k v PX 1; sleep; SET k v2 -> MULTI, DEL k, SET k v2, EXEC.
    # The very first command of the stream: SELECT goes before MULTI.
    "lazy_expiry_inside_a_write": LAZY + [
        ("SET", "k", "v", "PX", "1"), ("SLEEP", 0.05), ("SET", "k", "v2"), ("GET", "k"),
    ],
    "lazy_expiry_in_another_database_selects_before_multi": LAZY + [
        ("SELECT", "3"), ("SET", "e", "v"), ("EXPIRE_SOON", "e"), ("SELECT", "0"), ("SET", "zz", "1"),
        ("SLEEP", 0.06), ("SELECT", "3"), ("LPUSH", "e", "x"), ("SET", "after", "1"),
    ],
    # Only a DEL: one command, no wrapping.
    "lazy_expiry_alone": LAZY + [
        ("SET", "r", "1"), ("EXPIRE_SOON", "r"), ("SET", "r2", "1"), ("EXPIRE_SOON", "r2"),
        ("SLEEP", 0.06), ("GET", "r"), ("LPUSHX", "r2", "a"), ("SET", "after", "1"),
    ],
    # MOVE and RENAME meet an expired destination: its DEL, then the command, wrapped,
    # with the SELECTs between as the databases change.
    "lazy_expiry_of_a_destination": LAZY + [
        ("SET", "src", "1"), ("SELECT", "5"), ("SET", "src", "old"), ("EXPIRE_SOON", "src"),
        ("SELECT", "0"), ("SET", "a", "1"), ("SET", "b", "2"), ("EXPIRE_SOON", "b"), ("SLEEP", 0.06),
        ("MOVE", "src", "5"), ("RENAME", "a", "b"), ("SET", "after", "1"),
    ],
    # SPOP with a count propagates one SREM per member: several, so wrapped.
    "spop_with_count_rewrites": [
        ("SADD", "sp", "1", "2", "3", "4", "5", "6", "7", "8", "9"), ("SPOP", "sp", "3"), ("SPOP", "sp"),
        ("SPOP", "sp", "1"), ("SET", "after", "1"),
    ],
    # XREADGROUP delivering two entries propagates two XCLAIMs.
    "xreadgroup_rewrites": [
        ("XADD", "x", "1-1", "f", "v"), ("XADD", "x", "2-1", "f", "v"), ("XGROUP", "CREATE", "x", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "x", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "x", ">"), ("SET", "after", "1"),
    ],
    # Inside EXEC everything is one transaction already: one MULTI ... EXEC around all,
    # none nested; a transaction that propagates one command sends it bare.
    "inside_multi_exec": LAZY + [
        ("SET", "m", "1"), ("EXPIRE_SOON", "m"), ("SADD", "sp", "1", "2", "3", "4", "5"), ("SLEEP", 0.06),
        ("MULTI",), ("SET", "m", "2"), ("SPOP", "sp", "2"), ("EXEC",),
        ("SET", "n", "1"), ("EXPIRE_SOON", "n"), ("SLEEP", 0.06),
        ("MULTI",), ("GET", "n"), ("EXEC",),
        ("MULTI",), ("SET", "one", "1"), ("EXEC",), ("SET", "after", "1"),
    ],
    "publish_after_a_lazy_expiry_is_not_wrapped": LAZY + [
        ("SET", "p", "1"), ("EXPIRE_SOON", "p"), ("SLEEP", 0.06), ("PUBLISH", "p", "m"), ("GET", "p"),
        ("SET", "after", "1"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_stream_is_byte_identical(servers, name):   # noqa: F811
    theirs = masked(stream_of(servers.real().port, SCRIPTS[name]))
    ours = masked(stream_of(servers.ours().port, SCRIPTS[name]))
    assert ours == theirs
    if name != "lazy_expiry_alone" and name != "publish_after_a_lazy_expiry_is_not_wrapped":
        assert b"*1\r\n$5\r\nMULTI\r\n" in theirs   # the case does exercise the wrapping
    else:
        assert b"MULTI" not in theirs


def test_the_brief_case_spelled_out(servers):   # noqa: F811
    got = masked(stream_of(servers.ours().port, SCRIPTS["lazy_expiry_inside_a_write"]))
    assert got == (b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
                   b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n<ms-time-xxx>\r\n"
                   b"*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv2\r\n"
                   b"*1\r\n$4\r\nEXEC\r\n")


def commands_of(stream):
    cmds = []
    conn_like = RawConn.__new__(RawConn)
    conn_like.buf, conn_like.eof = stream, True
    while conn_like.buf:
        cmds.append([w.decode() for w in parse(conn_like.read_reply())])
    return cmds


def test_active_expire_dels_are_not_wrapped(servers):   # noqa: F811
    """The active cycle's DELs are not inside a command: each goes out alone (7.0's
    propagate_no_multi); their order is the cycle's random sampling, so compared sorted."""
    script = [("SET", "a%d" % i, "1", "PX", "20") for i in range(5)] + [("SLEEP", 0.5), ("SET", "after", "1")]

    def dels(port):
        cmds = commands_of(masked(stream_of(port, script)))
        assert ["MULTI"] not in cmds and ["EXEC"] not in cmds
        return sorted(c for c in cmds if c[0] == "DEL"), cmds[-1]

    want = dels(servers.real().port)
    assert want == (sorted(["DEL", "a%d" % i] for i in range(5)), ["SET", "after", "1"])
    assert dels(servers.ours().port) == want


def test_one_write_needs_no_buffering(servers):   # noqa: F811
    """Plain writes and single rewrites go out bare, as before (no MULTI anywhere)."""
    script = [("SET", "x", "1"), ("INCRBYFLOAT", "f", "1.5"), ("SPOP", "nosuch"), ("SADD", "s", "1"),
              ("SPOP", "s"), ("LPUSH", "l", "a"), ("SET", "y", "2", "EX", "100"), ("PUBLISH", "c", "m"),
              ("SPUBLISH", "c", "m")]
    theirs = masked(stream_of(servers.real().port, script))
    ours = masked(stream_of(servers.ours().port, script))
    assert ours == theirs
    assert b"MULTI" not in ours


@pytest.mark.parametrize("command", [("SCAN", "0", "COUNT", "100"), ("RANDOMKEY",)])
def test_scan_and_randomkey_expiry_dels_are_not_wrapped(servers, command):   # noqa: F811
    """SCAN and RANDOMKEY delete every expired key they meet; Redis 7.0.15 sends those
    DELs unwrapped (CMD_TOUCHES_ARBITRARY_KEYS). Their order is the table's: compared
    sorted, the rest of the stream byte for byte."""
    script = LAZY + [("SET", "kx1", "1"), ("SET", "kx2", "1"), ("SET", "kx3", "1"),
                     ("EXPIRE_SOON", "kx1"), ("EXPIRE_SOON", "kx2"), ("EXPIRE_SOON", "kx3"), ("SLEEP", 0.06),
                     command, ("SET", "after", "1")]

    def shape(port):
        cmds = commands_of(masked(stream_of(port, script)))
        dels = [c for c in cmds if c[0] == "DEL"]
        return [c for c in cmds if c[0] != "DEL"], sorted(dels)

    want = shape(servers.real().port)
    assert ["MULTI"] not in want[0]
    assert want[1] == [["DEL", "kx1"], ["DEL", "kx2"], ["DEL", "kx3"]]
    assert shape(servers.ours().port) == want


def test_exec_still_wraps_scan_expiry_dels(servers):   # noqa: F811
    """Inside EXEC the transaction is the unit: SCAN's DELs go out inside its MULTI."""
    script = LAZY + [("SET", "kx1", "1"), ("SET", "kx2", "1"), ("EXPIRE_SOON", "kx1"), ("EXPIRE_SOON", "kx2"),
                     ("SLEEP", 0.06), ("MULTI",), ("SCAN", "0", "COUNT", "100"), ("EXEC",), ("SET", "after", "1")]

    def shape(port):
        cmds = commands_of(masked(stream_of(port, script)))
        i = cmds.index(["MULTI"])
        return cmds[:i], sorted(cmds[i + 1:i + 3]), cmds[i + 3:]

    want = shape(servers.real().port)
    assert want[1] == [["DEL", "kx1"], ["DEL", "kx2"]] and want[2] == [["EXEC"], ["SET", "after", "1"]]
    assert shape(servers.ours().port) == want


def test_served_blocked_client_is_its_own_unit(servers):   # noqa: F811
    """A push that wakes a blocked BLPOP: the push and the pop it causes are two command
    executions, so two bare commands; with a lazily expired key met by the push, only the
    push's execution is wrapped."""
    from resp import encode

    def run(port):
        replica = RawReplica(port)
        with RawConn(port) as c, RawConn(port) as b:
            c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
            b.send(encode("BLPOP", "q", "0"))
            time.sleep(0.1)
            c.call("RPUSH", "q", "x", "y")
            assert b.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
            c.call("SET", "q2", "old")
            c.call("PEXPIREAT", "q2", str(int(time.time() * 1000) + 30))
            time.sleep(0.06)
            b.send(encode("BLPOP", "q3", "0"))
            time.sleep(0.1)
            c.call("MULTI")
            c.call("RPUSH", "q2", "z")
            c.call("RPUSH", "q3", "w")
            c.call("EXEC")
            assert b.read_reply() == b"*2\r\n$2\r\nq3\r\n$1\r\nw\r\n"
            c.call("SET", "after", "1")
        time.sleep(0.3)
        return masked(drain(replica))

    theirs = run(servers.real().port)
    assert b"*1\r\n$5\r\nMULTI\r\n" in theirs
    assert run(servers.ours().port) == theirs
