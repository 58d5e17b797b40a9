"""maxmemory eviction, the per-key access clock and OOM errors.

- CONFIG SET / GET of the eviction directives, their validation errors, OBJECT IDLETIME /
  FREQ / REFCOUNT replies and errors, and the -OOM rejections (plain, inside MULTI, EXEC)
  are compared byte for byte with a real redis-server;
- each policy, filled past maxmemory: allkeys-lru keeps recently read keys and evicts cold
  ones, allkeys-lfu keeps frequently read ones, volatile-ttl evicts the shortest TTLs first,
  the volatile-* policies never evict persistent keys and answer -OOM once only persistent
  keys remain, allkeys-random evicts, evicted_keys counts every eviction;
- a real redis-server replica of our master receives the evictions as DELs and ends with
  the master's data;
- OBJECT IDLETIME grows across DEBUG SLEEP, is left alone by EXISTS / TYPE / TTL and reset
  by reads and TOUCH.

Our used_memory counts more fixed memory than Redis's (the request and reply rings), so the
fills set maxmemory relative to the used_memory the server reports, never to absolute sizes.
Cold and hot keys are told apart with RESTORE's IDLETIME / FREQ, not with wall-clock time.
"""
import time

import pytest

from conftest import Server
from resp import RawConn, encode, parse
from test_replication_master import servers, start_real_replica, in_sync, snapshot_of, wait_until  # noqa: F401

OOM = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
VALUE = "v" * 100


def info(c, section):
    text = parse(c.call("INFO", section)).decode()
    return dict(l.split(":", 1) for l in text.splitlines() if l and not l.startswith("#") and ":" in l)


def used_memory(c):
    return int(info(c, "memory")["used_memory"])


def pipeline(c, commands, batch=100):
    """Sends commands in batches and returns every raw reply."""
    out = []
    for i in range(0, len(commands), batch):
        part = commands[i:i + batch]
        c.send(b"".join(encode(*cmd) for cmd in part))
        out.extend(c.read_replies(len(part)))
    return out


def reset_eviction(c):
    """Back to the defaults, so tests sharing a server do not see each other's limits."""
    assert c.call("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"
    assert c.call("CONFIG", "SET", "maxmemory-policy", "noeviction") == b"+OK\r\n"
    assert c.call("CONFIG", "SET", "maxmemory-samples", "5") == b"+OK\r\n"


@pytest.fixture
def ours(server):
    with server.conn() as c:
        reset_eviction(c)
    yield server
    with server.conn() as c:
        reset_eviction(c)


@pytest.fixture
def ref(reference):
    with reference.conn() as c:
        reset_eviction(c)
    yield reference
    with reference.conn() as c:
        reset_eviction(c)


def both(ours, ref, commands):
    """Runs the same commands on both servers (fresh connections) and asserts equal bytes."""
    with ours.conn() as a, ref.conn() as b:
        for cmd in commands:
            ra, rb = a.call(*cmd), b.call(*cmd)
            assert ra == rb, "%r: ours %r, redis %r" % (cmd, ra, rb)


# ---- configuration and errors, byte for byte ----

def test_config_directives_match_redis(ours, ref):
    both(ours, ref, [
        ("CONFIG", "GET", "maxmemory-policy"),
        ("CONFIG", "GET", "maxmemory-samples"),
        ("CONFIG", "GET", "maxmemory-eviction-tenacity"),
        ("CONFIG", "GET", "lfu-log-factor"),
        ("CONFIG", "GET", "lfu-decay-time"),
        ("CONFIG", "GET", "replica-ignore-maxmemory"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory-policy", "lru"),
        ("CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"),
        ("CONFIG", "GET", "maxmemory-policy"),
        ("CONFIG", "SET", "maxmemory-samples", "0"),
        ("CONFIG", "SET", "maxmemory-samples", "x"),
        ("CONFIG", "SET", "maxmemory-samples", "10"),
        ("CONFIG", "GET", "maxmemory-samples"),
        ("CONFIG", "SET", "maxmemory-eviction-tenacity", "101"),
        ("CONFIG", "SET", "maxmemory-eviction-tenacity", "-1"),
        ("CONFIG", "SET", "maxmemory-eviction-tenacity", "20"),
        ("CONFIG", "GET", "maxmemory-eviction-tenacity"),
        ("CONFIG", "SET", "lfu-log-factor", "-1"),
        ("CONFIG", "SET", "lfu-decay-time", "abc"),
        ("CONFIG", "SET", "lfu-log-factor", "12"),
        ("CONFIG", "SET", "lfu-decay-time", "3"),
        ("CONFIG", "GET", "lfu-log-factor"),
        ("CONFIG", "GET", "lfu-decay-time"),
        ("CONFIG", "SET", "replica-ignore-maxmemory", "maybe"),
        ("CONFIG", "SET", "maxmemory", "-1"),
        ("CONFIG", "SET", "maxmemory", "1x"),
        ("CONFIG", "SET", "maxmemory", "1gb"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory", "0"),
        ("CONFIG", "SET", "maxmemory-eviction-tenacity", "10"),
        ("CONFIG", "SET", "lfu-log-factor", "10"),
        ("CONFIG", "SET", "lfu-decay-time", "1"),
    ])


def test_object_subcommands_match_redis(ours, ref):
    both(ours, ref, [
        ("SET", "s", "hello"),
        ("SET", "n", "42"),
        ("SET", "big", "123456"),
        ("RPUSH", "l", "a"),
        ("OBJECT", "HELP"),
        ("OBJECT", "FREQ", "s"),           # not an LFU policy: error
        ("OBJECT", "IDLETIME", "s"),
        ("OBJECT", "IDLETIME", "missing"),
        ("OBJECT", "FREQ", "missing"),
        ("OBJECT", "REFCOUNT", "missing"),
        ("OBJECT", "REFCOUNT", "s"),
        ("OBJECT", "REFCOUNT", "n"),        # a shared integer
        ("OBJECT", "REFCOUNT", "big"),
        ("OBJECT", "REFCOUNT", "l"),
        ("OBJECT", "IDLETIME"),
        ("OBJECT", "FREQ", "a", "b"),
        ("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"),
        ("OBJECT", "IDLETIME", "s"),        # an LFU policy: error
        ("OBJECT", "IDLETIME", "missing"),
        ("SET", "fresh", "x"),
        ("OBJECT", "FREQ", "fresh"),        # LFU_INIT_VAL
        ("CONFIG", "SET", "maxmemory-policy", "volatile-lfu"),
        ("OBJECT", "FREQ", "fresh"),
        ("CONFIG", "SET", "maxmemory-policy", "noeviction"),
    ])


def test_restore_idletime_and_freq_take_effect(ours, ref):
    with ref.conn() as r:
        r.call("SET", "src", "payload")
        payload = parse(r.call("DUMP", "src"))
    both(ours, ref, [
        ("RESTORE", "k1", "0", payload, "IDLETIME", "1000"),
        ("RESTORE", "k2", "0", payload, "IDLETIME", "-1"),
        ("RESTORE", "k2", "0", payload, "FREQ", "256"),
        ("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"),
        ("RESTORE", "k3", "0", payload, "FREQ", "77"),
        ("OBJECT", "FREQ", "k3"),
        ("RESTORE", "k4", "0", payload, "IDLETIME", "50"),   # ignored under LFU
        ("OBJECT", "FREQ", "k4"),
        ("CONFIG", "SET", "maxmemory-policy", "noeviction"),
    ])
    # The clock may tick between the two servers: idle times within a second's margin.
    for srv in (ours, ref):
        with srv.conn() as c:
            assert 1000 <= int(parse(c.call("OBJECT", "IDLETIME", "k1"))) <= 1002


def test_noeviction_oom_errors_match_redis(ours, ref):
    both(ours, ref, [
        ("SET", "keep", "1"),
        ("MULTI",),
        ("SET", "queued", "1"),
        ("CONFIG", "SET", "maxmemory", "1"),  # from inside MULTI it is queued too
        ("EXEC",),
    ])
    # The limit applies from here on; every reply must match.
    both(ours, ref, [
        ("SET", "x", "1"),                    # denyoom
        ("GET", "keep"),                      # reads go on
        ("DEL", "keep"),                      # frees memory: allowed
        ("INCR", "counter"),
        ("RPUSH", "list", "a"),
        ("MULTI",),
        ("GET", "keep"),                      # anything queued inside MULTI is refused
        ("PING",),
        ("EXEC",),                            # EXECABORT
        ("MULTI",),
        ("DISCARD",),
        ("CONFIG", "SET", "maxmemory", "0"),
        ("SET", "x", "1"),
    ])


def test_exec_of_queued_write_refused_when_memory_runs_out(ours, ref):
    for srv in (ours, ref):
        with srv.conn() as a, srv.conn() as b:
            assert a.call("MULTI") == b"+OK\r\n"
            assert a.call("SET", "q", "1") == b"+QUEUED\r\n"
            assert a.call("GET", "q") == b"+QUEUED\r\n"
            assert b.call("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
            assert a.call("EXEC") == b"-EXECABORT Transaction discarded because of: " + OOM[1:]
            # A queue of reads only runs.
            assert a.call("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"
            assert a.call("MULTI") == b"+OK\r\n"
            assert a.call("GET", "q") == b"+QUEUED\r\n"
            assert b.call("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
            assert a.call("EXEC") == b"*1\r\n$-1\r\n"
            assert b.call("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"


def test_info_fields(ours):
    with ours.conn() as c:
        c.call("CONFIG", "SET", "maxmemory", "100mb")
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        m = info(c, "memory")
        assert m["maxmemory"] == str(100 << 20)
        assert m["maxmemory_human"] == "100.00M"
        assert m["maxmemory_policy"] == "allkeys-lru"
        assert m["mem_not_counted_for_evict"] == "0"
        s = info(c, "stats")
        for f in ("evicted_keys", "evicted_clients", "total_eviction_exceeded_time",
                  "current_eviction_exceeded_time"):
            assert f in s, f
        assert s["evicted_clients"] == "0"
        assert s["current_eviction_exceeded_time"] == "0"


# ---- the access clock ----

def test_idletime_grows_and_resets_on_access(ours):
    with ours.conn() as c:
        c.call("SET", "k", "v")
        assert c.call("OBJECT", "IDLETIME", "k") == b":0\r\n"
        assert c.call("DEBUG", "SLEEP", "2.1") == b"+OK\r\n"
        # Lookups Redis makes with LOOKUP_NOTOUCH leave the clock alone.
        c.call("EXISTS", "k")
        c.call("TYPE", "k")
        c.call("TTL", "k")
        c.call("OBJECT", "ENCODING", "k")
        idle = int(parse(c.call("OBJECT", "IDLETIME", "k")))
        assert 2 <= idle <= 4
        assert c.call("GET", "k") == b"$1\r\nv\r\n"
        assert c.call("OBJECT", "IDLETIME", "k") == b":0\r\n"
        c.call("SET", "t", "v")
        c.call("DEBUG", "SLEEP", "1.1")
        assert int(parse(c.call("OBJECT", "IDLETIME", "t"))) >= 1
        assert c.call("TOUCH", "t", "nope") == b":1\r\n"
        assert c.call("OBJECT", "IDLETIME", "t") == b":0\r\n"


def test_lfu_counter_grows_with_reads(ours):
    with ours.conn() as c:
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        c.call("SET", "hot", "v")
        c.call("SET", "cold", "v")
        assert c.call("OBJECT", "FREQ", "cold") == b":5\r\n"
        pipeline(c, [("GET", "hot")] * 300)
        hot = int(parse(c.call("OBJECT", "FREQ", "hot")))
        assert 6 <= hot <= 30, hot   # logarithmic: 300 hits with lfu-log-factor 10
        assert c.call("OBJECT", "FREQ", "cold") == b":5\r\n"


# ---- eviction by policy ----

def evicted_keys(c):
    return int(info(c, "stats")["evicted_keys"])


def fill_limit(c, headroom):
    """Sets maxmemory to the memory in use now plus `headroom` bytes."""
    limit = used_memory(c) + headroom
    assert c.call("CONFIG", "SET", "maxmemory", str(limit)) == b"+OK\r\n"
    return limit


def freeze(c):
    """Lifts the limit so that the checks that follow evict nothing more (every command,
    even a read, first evicts while memory is over the limit). Returns used_memory as it
    was under the limit."""
    used = used_memory(c)
    assert c.call("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"
    return used


def existing(c, keys):
    replies = pipeline(c, [("EXISTS", k) for k in keys])
    return {k for k, r in zip(keys, replies) if r == b":1\r\n"}


def test_allkeys_lru_keeps_recently_read_keys(ours):
    with ours.conn() as c:
        base = evicted_keys(c)
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        c.call("SET", "src", VALUE)
        payload = parse(c.call("DUMP", "src"))
        c.call("DEL", "src")
        keys = ["old:%d" % i for i in range(1200)]
        # Every key starts idle for a long time; reading 200 of them makes those recent.
        assert set(pipeline(c, [("RESTORE", k, "0", payload, "IDLETIME", "100000") for k in keys])) == {b"+OK\r\n"}
        hot, cold = keys[:200], keys[200:]
        pipeline(c, [("GET", k) for k in hot])
        assert int(parse(c.call("OBJECT", "IDLETIME", cold[0]))) >= 99999
        limit = fill_limit(c, 20_000)
        new = ["new:%d" % i for i in range(800)]
        replies = pipeline(c, [("SET", k, VALUE) for k in new])
        assert set(replies) == {b"+OK\r\n"}
        used_at_end = freeze(c)
        evicted = evicted_keys(c) - base
        assert evicted > 200
        assert evicted == 1200 + 800 - int(parse(c.call("DBSIZE")))
        assert used_at_end <= limit + 4096
        # The cold keys go first; the recently read ones stay (a margin for sampling).
        assert len(existing(c, hot)) >= 196
        gone_cold = len(cold) - len(existing(c, cold))
        assert gone_cold >= evicted * 0.95


def test_allkeys_lfu_keeps_frequently_read_keys(ours):
    with ours.conn() as c:
        base = evicted_keys(c)
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        c.call("SET", "src", VALUE)
        payload = parse(c.call("DUMP", "src"))
        c.call("DEL", "src")
        keys = ["k:%d" % i for i in range(1200)]
        pipeline(c, [("RESTORE", k, "0", payload, "FREQ", "0") for k in keys])
        hot, cold = keys[:200], keys[200:]
        pipeline(c, [("GET", k) for k in hot for _ in range(8)])
        assert int(parse(c.call("OBJECT", "FREQ", hot[0]))) >= 6
        assert c.call("OBJECT", "FREQ", cold[0]) == b":0\r\n"
        fill_limit(c, 20_000)
        replies = pipeline(c, [("SET", "new:%d" % i, VALUE) for i in range(800)])
        assert set(replies) == {b"+OK\r\n"}
        freeze(c)
        evicted = evicted_keys(c) - base
        assert evicted > 200
        assert len(existing(c, hot)) >= 196
        assert len(cold) - len(existing(c, cold)) >= evicted * 0.95


def test_volatile_ttl_evicts_shortest_ttl_first(ours):
    with ours.conn() as c:
        base = evicted_keys(c)
        c.call("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
        c.call("CONFIG", "SET", "maxmemory-samples", "10")
        ttl_keys = ["t:%04d" % i for i in range(1000)]   # TTL grows with the number
        pipeline(c, [("SET", k, VALUE, "EX", str(10_000 + i * 10)) for i, k in enumerate(ttl_keys)])
        persistent = ["p:%d" % i for i in range(300)]
        pipeline(c, [("SET", k, VALUE) for k in persistent])
        fill_limit(c, 10_000)
        assert set(pipeline(c, [("SET", "p2:%d" % i, VALUE) for i in range(300)])) == {b"+OK\r\n"}
        freeze(c)
        evicted = evicted_keys(c) - base
        assert evicted > 100
        alive = existing(c, ttl_keys)
        gone = [i for i, k in enumerate(ttl_keys) if k not in alive]
        kept = [i for i, k in enumerate(ttl_keys) if k in alive]
        assert len(gone) == evicted
        # Sampling picks the shortest of each sample: the evicted are the short TTLs.
        assert sum(gone) / len(gone) < sum(kept) / len(kept) / 2
        assert sorted(gone)[int(len(gone) * 0.9)] < len(ttl_keys) * 0.6
        assert existing(c, persistent) == set(persistent)


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_spare_persistent_keys_then_oom(ours, policy):
    with ours.conn() as c:
        base = evicted_keys(c)
        c.call("CONFIG", "SET", "maxmemory-policy", policy)
        persistent = ["p:%d" % i for i in range(300)]
        pipeline(c, [("SET", k, VALUE) for k in persistent])
        pipeline(c, [("SET", "v:%d" % i, VALUE, "EX", "10000") for i in range(300)])
        fill_limit(c, 5_000)
        replies = pipeline(c, [("SET", "n:%d" % i, VALUE) for i in range(1000)])
        # Volatile keys make room until none is left; then writes are refused.
        assert replies[0] == b"+OK\r\n"
        assert replies[-1] == OOM
        first_oom = replies.index(OOM)
        assert set(replies[:first_oom]) == {b"+OK\r\n"}
        assert int(info(c, "keyspace").get("db0", "expires=0").split("expires=")[1].split(",")[0]) == 0
        freeze(c)
        assert evicted_keys(c) - base == 300
        assert existing(c, persistent) == set(persistent)
        assert c.call("GET", "p:0") == b"$100\r\n" + VALUE.encode() + b"\r\n"
        assert c.call("DEL", "p:0") == b":1\r\n"      # not denyoom


def test_allkeys_random_evicts_and_counts(ours):
    with ours.conn() as c:
        base = evicted_keys(c)
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        pipeline(c, [("SET", "a:%d" % i, VALUE) for i in range(500)])
        c.call("SELECT", "3")
        pipeline(c, [("SET", "b:%d" % i, VALUE) for i in range(500)])
        limit = fill_limit(c, 10_000)
        assert set(pipeline(c, [("SET", "c:%d" % i, VALUE) for i in range(600)])) == {b"+OK\r\n"}
        used_at_end = freeze(c)
        evicted = evicted_keys(c) - base
        total = int(parse(c.call("DBSIZE")))
        c.call("SELECT", "0")
        total += int(parse(c.call("DBSIZE")))
        assert evicted > 300
        assert evicted == 1600 - total
        assert used_at_end <= limit + 4096
        c.call("FLUSHALL")


def test_config_set_maxmemory_evicts_at_once(ours):
    with ours.conn() as c:
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        pipeline(c, [("SET", "k:%d" % i, VALUE) for i in range(2000)])
        before = evicted_keys(c)
        used = used_memory(c)
        assert c.call("CONFIG", "SET", "maxmemory", str(used - 100_000)) == b"+OK\r\n"
        assert evicted_keys(c) - before > 300
        assert used_memory(c) <= used - 100_000


def test_noeviction_keeps_everything(ours):
    with ours.conn() as c:
        base = evicted_keys(c)
        pipeline(c, [("SET", "k:%d" % i, VALUE) for i in range(300)])
        fill_limit(c, 2_000)
        replies = pipeline(c, [("SET", "n:%d" % i, VALUE) for i in range(100)])
        assert replies[-1] == OOM
        assert int(parse(c.call("DBSIZE"))) >= 300
        assert evicted_keys(c) - base == 0


# ---- replication ----

def test_real_replica_follows_evictions(servers):
    master = servers.ours()
    replica = start_real_replica(servers, master.port)
    with master.conn() as c:
        base = evicted_keys(c)
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        pipeline(c, [("SET", "k:%d" % i, VALUE) for i in range(1000)])
        c.call("SELECT", "2")
        pipeline(c, [("SET", "j:%d" % i, VALUE, "EX", "1000") for i in range(500)])
        fill_limit(c, 20_000)
        assert set(pipeline(c, [("SET", "n:%d" % i, VALUE) for i in range(1000)])) == {b"+OK\r\n"}
        freeze(c)
        evicted = evicted_keys(c) - base
        assert evicted > 500
    assert wait_until(lambda: in_sync(master, replica), 10)
    ours_data, theirs = snapshot_of(master.port), snapshot_of(replica.port)
    assert {db: set(keys) for db, keys in ours_data.items()} == {db: set(keys) for db, keys in theirs.items()}
    assert sum(len(k) for k in ours_data.values()) == 2500 - evicted


def test_replica_ignores_maxmemory(servers):
    """Our server as a replica with a tiny maxmemory evicts nothing: it mirrors its master."""
    master = servers.real()
    replica = servers.ours()
    with replica.conn() as c:
        base = evicted_keys(c)
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        c.call("CONFIG", "SET", "maxmemory", "1")
        assert c.call("REPLICAOF", "127.0.0.1", str(master.port)) == b"+OK\r\n"
    assert wait_until(lambda: info_port(replica.port, "replication").get("master_link_status") == "up", 10)
    with master.conn() as m:
        pipeline(m, [("SET", "k:%d" % i, VALUE) for i in range(500)])
    assert wait_until(lambda: in_sync(master, replica), 10)
    with replica.conn() as c:
        assert int(parse(c.call("DBSIZE"))) == 500
        assert evicted_keys(c) - base == 0


def info_port(port, section):
    with RawConn(port) as c:
        return info(c, section)


def test_eviction_fires_watch_like_redis(ours, ref):
    for srv in (ours, ref):
        with srv.conn() as a, srv.conn() as b:
            assert a.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random") == b"+OK\r\n"
            a.call("SET", "w", "1")
            assert a.call("WATCH", "w") == b"+OK\r\n"
            # A limit below what an empty server uses evicts every key at once.
            assert b.call("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
            assert b.call("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"
            assert a.call("EXISTS", "w") == b":0\r\n"
            assert a.call("MULTI") == b"+OK\r\n"
            assert a.call("SET", "x", "1") == b"+QUEUED\r\n"
            assert a.call("EXEC") == b"*-1\r\n", srv


def test_rdb_idle_times_load(servers):
    """An RDB written by redis-server under allkeys-lru carries each key's idle time
    (RDB_OPCODE_IDLE); loading it keeps them."""
    real = servers.real("--maxmemory-policy allkeys-lru")
    with real.conn() as r:
        r.call("SET", "src", "v")
        payload = parse(r.call("DUMP", "src"))
        r.call("DEL", "src")
        assert r.call("RESTORE", "idle", "0", payload, "IDLETIME", "5000") == b"+OK\r\n"
        d = parse(r.call("CONFIG", "GET", "dir"))[1].decode()
        assert r.call("SAVE") == b"+OK\r\n"
    with open(d + "/dump.rdb", "rb") as fh:
        assert b"\xf8" in fh.read()
    srv = servers(".build/release/swift-redis --port {port} --bind 127.0.0.1 --save '' --dir %s "
                  "--maxmemory-policy allkeys-lru" % d, "server")
    with srv.conn() as c:
        assert c.call("DBSIZE") == b":1\r\n"
        idle = int(parse(c.call("OBJECT", "IDLETIME", "idle")))
        assert 5000 <= idle <= 5003


def test_evicted_event_like_redis(ours, ref):
    got = []
    for srv in (ours, ref):
        with srv.conn() as sub, srv.conn() as c:
            assert c.call("CONFIG", "SET", "notify-keyspace-events", "KEe") == b"+OK\r\n"
            sub.send(encode("SUBSCRIBE", "__keyevent@5__:evicted", "__keyspace@5__:gone"))
            sub.read_replies(2)
            c.call("SELECT", "5")
            c.call("SET", "gone", "1")
            c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
            c.call("CONFIG", "SET", "maxmemory", "1")
            c.call("CONFIG", "SET", "maxmemory", "0")
            got.append(sorted(sub.read_replies(2)))
            assert c.call("CONFIG", "SET", "notify-keyspace-events", "") == b"+OK\r\n"
            c.call("FLUSHALL")
    assert got[0] == got[1]
    assert b"evicted" in got[0][0] + got[0][1]


def test_snapshots_keep_access_clocks_like_redis(ours, ref):
    """Under an LRU / LFU policy an RDB carries idle times / counters (DEBUG RELOAD saves
    and loads one). Idle times are compared with a second's margin: the clock may tick
    between the two servers."""
    with ref.conn() as r:
        r.call("SET", "src", "payload")
        payload = parse(r.call("DUMP", "src"))
        r.call("DEL", "src")
    for srv in (ours, ref):
        with srv.conn() as c:
            assert c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") == b"+OK\r\n"
            assert c.call("RESTORE", "a", "0", payload, "IDLETIME", "1000") == b"+OK\r\n"
            assert c.call("DEBUG", "RELOAD") == b"+OK\r\n"
            assert 1000 <= int(parse(c.call("OBJECT", "IDLETIME", "a"))) <= 1002
            assert c.call("CONFIG", "SET", "maxmemory-policy", "volatile-lfu") == b"+OK\r\n"
            assert c.call("RESTORE", "b", "0", payload, "FREQ", "50") == b"+OK\r\n"
            assert c.call("DEBUG", "RELOAD") == b"+OK\r\n"
            assert c.call("OBJECT", "FREQ", "b") == b":50\r\n"
            assert c.call("CONFIG", "SET", "maxmemory-policy", "noeviction") == b"+OK\r\n"


def test_scripts_out_of_memory_like_redis(ours, ref):
    """EVAL itself is not refused; its denyoom calls are, by the memory state at its start,
    until it has written; allow-oom scripts run anyway."""
    both(ours, ref, [
        ("SET", "a", "1"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "a"),
        ("EVAL", "return redis.call('set', KEYS[1], '2')", "1", "a"),
        ("EVAL", "return redis.pcall('incr', KEYS[1])", "1", "a"),
        ("EVAL", "return redis.call('del', KEYS[1])", "1", "a"),
        ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], '3')", "1", "a"),
        ("GET", "a"),
        ("CONFIG", "SET", "maxmemory", "0"),
        ("EVAL", "return redis.call('set', KEYS[1], '4')", "1", "a"),
    ])
