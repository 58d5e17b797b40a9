"""MULTI / EXEC / DISCARD / WATCH / UNWATCH against a real redis-server, byte for byte.

Scripts may use several connections: each step is (connection index, command...), run in
order, one reply read per step, so races between a watcher and a writer are replayed in
the same interleaving on both servers.
"""
import time

import pytest

from resp import RawConn, encode, parse
from test_replication_master import servers  # noqa: F401  (fixture)


def run_script(srv, steps, connections=2):
    conns = [RawConn(srv.port) for _ in range(connections)]
    out = []
    try:
        for step in steps:
            if step == "sleep":
                time.sleep(0.15)
                continue
            if step[0] == "nocompare":   # replies that differ by nature (ids)
                conns[step[1]].call(*step[2:])
                continue
            i, args = step[0], step[1:]
            out.append((step, conns[i].call(*args)))
    finally:
        for c in conns:
            c.close()
    return out


def compare_script(server, reference, steps, connections=2):
    want = run_script(reference, steps, connections)
    got = run_script(server, steps, connections)
    assert len(want) == len(got)
    for (step, w), (_, g) in zip(want, got):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)
    return want


SCRIPTS = {
    "basic": [
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "INCR", "a"), (0, "GET", "a"), (0, "EXEC"),
        (0, "GET", "a"),
    ],
    "empty_exec": [(0, "MULTI"), (0, "EXEC")],
    "errors_without_multi": [
        (0, "EXEC"), (0, "DISCARD"), (0, "EXEC", "x"), (0, "DISCARD", "x"), (0, "MULTI", "x"),
        (0, "UNWATCH"), (0, "WATCH"),
    ],
    "nested_multi_and_watch_inside": [
        (0, "MULTI"), (0, "MULTI"), (0, "WATCH", "a"), (0, "SET", "a", "b"), (0, "EXEC"),
    ],
    "discard": [
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "DISCARD"), (0, "GET", "a"), (0, "EXEC"),
    ],
    "execabort_unknown_command": [
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "NOSUCH", "x"), (0, "EXEC"), (0, "GET", "a"),
    ],
    "execabort_arity": [(0, "MULTI"), (0, "SET", "a"), (0, "GET", "a"), (0, "EXEC"), (0, "EXEC")],
    "execabort_unknown_subcommand": [(0, "MULTI"), (0, "CLIENT", "NOSUCH"), (0, "EXEC")],
    "execabort_exec_arity_inside": [(0, "MULTI"), (0, "SET", "a", "1"), (0, "EXEC", "x"), (0, "EXEC"),
                                    (0, "GET", "a")],
    "no_multi_flag": [(0, "MULTI"), (0, "SHUTDOWN"), (0, "PING"), (0, "EXEC")],
    "runtime_error_inside_exec": [
        (0, "SET", "s", "notanumber"), (0, "MULTI"), (0, "INCR", "s"), (0, "SET", "t", "1"),
        (0, "INCRBYFLOAT", "t", "abc"), (0, "GET", "t"), (0, "EXEC"),
    ],
    "select_inside": [
        (0, "MULTI"), (0, "SELECT", "2"), (0, "SET", "x", "in2"), (0, "EXEC"), (0, "GET", "x"),
        (0, "SELECT", "0"), (0, "GET", "x"),
    ],
    "watch_untouched": [
        (0, "SET", "w", "1"), (0, "WATCH", "w"), (0, "MULTI"), (0, "INCR", "w"), (0, "EXEC"),
    ],
    "watch_touched_by_other": [
        (0, "SET", "w", "1"), (0, "WATCH", "w"), (1, "SET", "w", "2"), (0, "MULTI"),
        (0, "INCR", "w"), (0, "EXEC"), (0, "GET", "w"),
    ],
    "watch_touched_between_multi_and_exec": [
        (0, "WATCH", "w"), (0, "MULTI"), (0, "SET", "w", "mine"), (1, "SET", "w", "theirs"),
        (0, "EXEC"), (0, "GET", "w"),
    ],
    "watch_touched_by_self": [
        (0, "WATCH", "w"), (0, "SET", "w", "1"), (0, "MULTI"), (0, "GET", "w"), (0, "EXEC"),
    ],
    "watch_missing_key_created": [
        (0, "WATCH", "nokey"), (1, "SET", "nokey", "x"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "watch_delete_of_missing_key_is_no_touch": [
        (0, "WATCH", "nokey"), (1, "DEL", "nokey"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "watch_other_database": [
        (0, "WATCH", "k"), (1, "SELECT", "1"), (1, "SET", "k", "x"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "unwatch": [
        (0, "WATCH", "w"), (1, "SET", "w", "2"), (0, "UNWATCH"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "exec_unwatches": [
        (0, "WATCH", "w"), (0, "MULTI"), (0, "PING"), (0, "EXEC"), (1, "SET", "w", "2"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "discard_unwatches": [
        (0, "WATCH", "w"), (0, "MULTI"), (0, "DISCARD"), (1, "SET", "w", "2"), (0, "MULTI"),
        (0, "PING"), (0, "EXEC"),
    ],
    "watch_multiple_keys_and_twice": [
        (0, "WATCH", "a", "b", "a"), (0, "WATCH", "b"), (1, "SET", "b", "1"), (0, "MULTI"),
        (0, "PING"), (0, "EXEC"),
    ],
    "two_watchers": [
        (0, "WATCH", "w"), (1, "WATCH", "w"), (0, "MULTI"), (0, "SET", "w", "0"), (0, "EXEC"),
        (1, "MULTI"), (1, "SET", "w", "1"), (1, "EXEC"), (1, "GET", "w"),
    ],
    "flushdb_touches_existing_watched_keys": [
        (0, "SET", "w", "1"), (0, "WATCH", "w"), (1, "FLUSHDB"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "flushall_leaves_missing_watched_keys": [
        (0, "WATCH", "nokey"), (1, "FLUSHALL"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "watch_expire_and_del": [
        (0, "SET", "w", "1"), (0, "WATCH", "w"), (1, "EXPIRE", "w", "100"), (0, "MULTI"),
        (0, "PING"), (0, "EXEC"), (0, "WATCH", "w"), (1, "DEL", "w"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "watch_key_expiring_before_exec": [
        (0, "DEBUG", "SET-ACTIVE-EXPIRE", "0"), (0, "SET", "w", "1", "PX", "50"), (0, "WATCH", "w"),
        "sleep", (0, "MULTI"), (0, "PING"), (0, "EXEC"), (0, "DEBUG", "SET-ACTIVE-EXPIRE", "1"),
    ],
    "watch_key_already_expired": [
        (0, "DEBUG", "SET-ACTIVE-EXPIRE", "0"), (0, "SET", "w", "1", "PX", "20"), "sleep",
        (0, "WATCH", "w"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
        (0, "DEBUG", "SET-ACTIVE-EXPIRE", "1"),
    ],
    "watch_already_expired_then_lazily_deleted": [
        (0, "DEBUG", "SET-ACTIVE-EXPIRE", "0"), (0, "SET", "w", "1", "PX", "20"), "sleep",
        (0, "WATCH", "w"), (1, "GET", "w"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
        (0, "SET", "w", "1", "PX", "20"), "sleep", (0, "WATCH", "w"), (1, "DEL", "w"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"),
        (0, "SET", "w", "1", "PX", "20"), "sleep", (0, "WATCH", "w"), (1, "FLUSHDB"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"),
        (0, "DEBUG", "SET-ACTIVE-EXPIRE", "1"),
    ],
    "watch_already_expired_then_overwritten": [
        (0, "DEBUG", "SET-ACTIVE-EXPIRE", "0"), (0, "SET", "w", "1", "PX", "20"), "sleep",
        (0, "WATCH", "w"), (1, "SET", "w", "2"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
        (0, "SET", "w", "1", "PX", "20"), "sleep", (0, "WATCH", "w"), (1, "GET", "w"),
        (1, "SET", "w", "3"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
        (0, "DEBUG", "SET-ACTIVE-EXPIRE", "1"),
    ],
    "quit_inside_multi": [(0, "MULTI"), (0, "SET", "a", "1"), (0, "QUIT"), (1, "GET", "a")],
    "resp3_exec_shapes": [
        ("nocompare", 0, "HELLO", "3"), (0, "WATCH", "w"), (1, "SET", "w", "x"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"), (0, "MULTI"), (0, "SET", "a", "1"), (0, "GET", "a"), (0, "GET", "missing"),
        (0, "EXEC"),
    ],
    "pipelined_transaction": [],   # filled in by test_pipelined_transaction
}


@pytest.mark.parametrize("name", sorted(k for k, v in SCRIPTS.items() if v))
def test_transaction_script(server, reference, name):
    compare_script(server, reference, SCRIPTS[name])


def test_pipelined_transaction(server, reference):
    data = (encode("MULTI") + encode("SET", "p", "1") + encode("INCRBY", "p", "41") + encode("NOSUCH")
            + encode("EXEC") + encode("MULTI") + encode("INCR", "p") + encode("EXEC") + encode("GET", "p"))

    def go(srv):
        with RawConn(srv.port) as c:
            c.send(data)
            return c.read_replies(9)

    assert go(server) == go(reference)


def test_queued_state_in_client_list(server):
    with server.conn() as c:
        my_id = parse(c.call("CLIENT", "ID"))
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("SET", "a", "1") == b"+QUEUED\r\n"
        assert c.call("GET", "a") == b"+QUEUED\r\n"
        c.call("CLIENT", "INFO")   # queued too
        with server.conn() as d:
            listing = parse(d.call("CLIENT", "LIST")).decode()
        line = [l for l in listing.splitlines() if l.startswith("id=%d " % my_id)]
        assert len(line) == 1 and " flags=x " in line[0] and " multi=3 " in line[0]
        assert c.call("DISCARD") == b"+OK\r\n"
        assert c.call("WATCH", "w") == b"+OK\r\n"
        with server.conn() as d:
            d.call("SET", "w", "1")
            info = parse(c.call("CLIENT", "INFO")).decode()
        assert " flags=d " in info and " multi=-1 " in info


def test_exec_command_stats(server):
    with server.conn() as c:
        c.call("CONFIG", "RESETSTAT")
        c.call("MULTI"); c.call("SET", "a"); c.call("EXEC")                    # rejected SET, EXECABORT
        c.call("MULTI"); c.call("SET", "a", "x"); c.call("INCR", "a"); c.call("EXEC")
        stats = parse(c.call("INFO", "commandstats")).decode()
    lines = {l.split(":")[0]: l for l in stats.splitlines() if l.startswith("cmdstat_")}
    assert "calls=1," in lines["cmdstat_set"] and "rejected_calls=1," in lines["cmdstat_set"]
    assert "failed_calls=1" in lines["cmdstat_incr"]
    # The aborted EXEC failed; the one that ran did not, though a command inside it did.
    assert "calls=2," in lines["cmdstat_exec"] and lines["cmdstat_exec"].endswith("failed_calls=1")


def test_blocking_pop_inside_exec_does_not_block(server):
    with server.conn(timeout=5) as c:
        c.call("MULTI")
        assert c.call("BLPOP", "nolist", "0") == b"+QUEUED\r\n"
        assert c.call("EXEC") == b"*1\r\n*-1\r\n"


# What replicas receive for transactions: a single write as it is, several inside
# MULTI ... EXEC, nothing for a transaction without writes, PUBLISH forwarded.
PROPAGATION_SCRIPT = [
    ("MULTI",), ("SET", "a", "1"), ("EXEC",),
    ("MULTI",), ("SET", "b", "1"), ("INCR", "b"), ("GET", "b"), ("EXEC",),
    ("MULTI",), ("GET", "a"), ("PING",), ("EXEC",),
    ("MULTI",), ("SET", "c", "1"), ("SELECT", "3"), ("SET", "d", "1"), ("SELECT", "0"), ("EXEC",),
    ("MULTI",), ("SET", "e", "x"), ("INCR", "e"), ("EXEC",),
    ("MULTI",), ("PUBLISH", "ch", "m"), ("EXEC",),
    ("PUBLISH", "ch", "n"),
    ("WATCH", "a"), ("MULTI",), ("SET", "a", "2"), ("DISCARD",),
    ("SET", "z", "last"),
]


def test_transaction_propagation_matches_redis(servers):
    from test_replication_master import run_stream_script
    ours = run_stream_script(servers.ours().port, PROPAGATION_SCRIPT)
    theirs = run_stream_script(servers.real().port, PROPAGATION_SCRIPT)
    assert ours == theirs
    assert ["MULTI"] in ours and ["EXEC"] in ours
