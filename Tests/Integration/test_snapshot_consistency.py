"""Snapshots taken while clients write: BGSAVE and full syncs are made a little at a time
between batches, so every key must be captured as it was when the snapshot began, whatever
writes, deletes, expiries and flushes reach it before the walk does.

- BGSAVE followed, in the same pipeline, by writes to keys of every type, deletes, renames,
  TTL changes, new keys and a FLUSHDB: the file (loaded by a real redis-server) holds the
  dataset exactly as it was at BGSAVE, and INFO reported the save as in progress meanwhile;
- a real redis-server replica full-syncing from us while redis-benchmark rewrites the same
  keys ends with exactly the master's data;
- two replicas asking at once both converge, and a replica that disconnects mid-snapshot
  leaves the master serving;
- a replica asking during BGSAVE, FLUSHALL during a sync, SHUTDOWN during a sync (the
  final save is complete and a real redis-server loads it).
"""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import Server
from test_replication_master import servers, info, wait_until, in_sync, start_real_replica  # noqa: F401

OUR_CMD = os.environ.get(
    "SERVER_CMD", ".build/release/swift-redis --port {port} --bind 127.0.0.1 --save '' --appendonly no")


def dataset_of(port, dbs=16):
    """{db: {key: (type, value, has_ttl)}} of every non-empty database, read with pipelines."""
    out = {}
    for db in range(dbs):
        r = redis.Redis(host="127.0.0.1", port=port, db=db, socket_timeout=30)
        if r.dbsize() == 0:
            continue
        keys = list(r.scan_iter(count=5000))
        p = r.pipeline(transaction=False)
        for k in keys:
            p.type(k)
            p.pttl(k)
        meta = p.execute()
        p = r.pipeline(transaction=False)
        for i, k in enumerate(keys):
            t = meta[2 * i]
            if t == b"list":
                p.lrange(k, 0, -1)
            elif t == b"hash":
                p.hgetall(k)
            elif t == b"set":
                p.smembers(k)
            elif t == b"zset":
                p.zrange(k, 0, -1, withscores=True)
            elif t == b"stream":
                p.xrange(k)
            else:
                p.get(k)
        values = p.execute()
        data = {}
        for i, k in enumerate(keys):
            v = values[i]
            if isinstance(v, dict):
                v = sorted(v.items())
            elif isinstance(v, set):
                v = sorted(v)
            data[k] = (meta[2 * i], v, meta[2 * i + 1] > 0)
        out[db] = data
    return out


def assert_same(expected, got, what):
    assert sorted(expected) == sorted(got), "%s: non-empty databases %s vs %s" % (what, sorted(expected), sorted(got))
    for db in expected:
        e, g = expected[db], got[db]
        missing = [k for k in e if k not in g]
        extra = [k for k in g if k not in e]
        assert not missing and not extra, "%s db %d: missing %r, extra %r" % (what, db, missing[:5], extra[:5])
        wrong = [(k, e[k], g[k]) for k in e if e[k] != g[k]]
        assert not wrong, "%s db %d: %d keys differ, e.g. %r" % (what, db, len(wrong), wrong[:3])


def populate(port, strings=60000):
    """Strings (some with a TTL), lists, hashes, sets, sorted sets and a stream in db 0,
    plus keys in db 1 and db 2."""
    r = redis.Redis(host="127.0.0.1", port=port)
    p = r.pipeline(transaction=False)
    for start in range(0, strings, 1000):
        p.mset({"k:%d" % i: str(i) for i in range(start, start + 1000)})
    for i in range(0, strings, 50):
        p.expire("k:%d" % i, 3600)
    for i in range(300):
        p.rpush("l:%d" % i, *["item-%d-%d" % (i, j) for j in range(40)])
        p.hset("h:%d" % i, mapping={"f%d" % j: "v%d" % j for j in range(20)})
        p.sadd("s:%d" % i, *range(i, i + 30))
        p.zadd("z:%d" % i, {"m%d" % j: j * 1.5 for j in range(25)})
    for j in range(100):
        p.xadd("stream", {"n": j}, id="%d-1" % (j + 1))
    p.execute()
    for db, n in ((1, 5000), (2, 3000)):
        rd = redis.Redis(host="127.0.0.1", port=port, db=db)
        rd.mset({"d%d:%d" % (db, i): "x" * (i % 50) for i in range(n)})


def writes_during_snapshot(p):
    """Changes to keys captured at the start: in place, by replacement, by deletion."""
    for i in range(0, 60000, 97):
        p.set("k:%d" % i, "changed")
    for i in range(1, 60000, 89):
        p.incr("k:%d" % i)
    for i in range(2, 60000, 83):
        p.delete("k:%d" % i)
    for i in range(3, 60000, 79):
        p.append("k:%d" % i, "-appended")
    for i in range(4, 60000, 73):
        p.expire("k:%d" % i, 100)
    for i in range(0, 60000, 1000):
        p.persist("k:%d" % i)
    for i in range(0, 300, 7):
        p.lpush("l:%d" % i, "new")
        p.hset("h:%d" % i, "f0", "changed")
        p.srem("s:%d" % i, i)
        p.zincrby("z:%d" % i, 10, "m0")
    for i in range(1, 300, 11):
        p.delete("l:%d" % i)
        p.rename("h:%d" % i, "renamed:%d" % i)
    p.xadd("stream", {"n": "late"}, id="999-1")
    for i in range(2000):
        p.set("new:%d" % i, i)
    # Enough new keys to grow db 0's table: the walk goes on across the rehash.
    for start in range(0, 70000, 1000):
        p.mset({"grow:%d" % i: i for i in range(start, start + 1000)})
    # Replacing a key in another database (not named by the command's own database).
    p.execute_command("COPY", "k:5", "d2:7", "DB", 2, "REPLACE")
    p.execute_command("MOVE", "k:6", 2)
    p.execute_command("SELECT", 1)
    p.execute_command("FLUSHDB")
    p.execute_command("SET", "after-flush", "1")
    p.execute_command("SELECT", 2)
    p.execute_command("FLUSHALL")
    p.execute_command("SELECT", 0)


@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
def test_bgsave_holds_the_dataset_as_it_was_when_it_started(servers, large):
    """`large` adds 16 MB of incompressible values: the file then reaches the disk in
    several pieces while the walk goes on, instead of in one piece at the end."""
    master = servers(OUR_CMD, "server")
    populate(master.port)
    if large:
        big = redis.Redis(host="127.0.0.1", port=master.port)
        for start in range(0, 4000, 500):
            big.mset({"big:%d" % i: os.urandom(4096) for i in range(start, start + 500)})
    before = dataset_of(master.port)
    r = redis.Redis(host="127.0.0.1", port=master.port)
    p = r.pipeline(transaction=False)
    p.bgsave()
    p.info("persistence")
    writes_during_snapshot(p)
    p.info("persistence")
    results = p.execute(raise_on_error=False)
    during = results[1]
    assert during["rdb_bgsave_in_progress"] == 1
    assert during["current_save_keys_total"] == sum(len(v) for v in before.values())
    # Still in progress after the writes: they were made while the walk had not reached
    # every key, which is what this test is about.
    assert results[-1]["rdb_bgsave_in_progress"] == 1 or results[-1]["rdb_last_bgsave_status"] == "ok"
    assert wait_until(lambda: r.info("persistence")["rdb_bgsave_in_progress"] == 0, 60)
    assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
    after = dataset_of(master.port)
    assert after != before

    # A real redis-server loads the file and holds the dataset of the BGSAVE moment.
    d = tempfile.mkdtemp(prefix="snapshot-load-")
    try:
        dumped = os.path.join(master.argv[master.argv.index("--dir") + 1], "dump.rdb")
        shutil.copy(dumped, os.path.join(d, "dump.rdb"))
        real = servers("redis-server --port {port} --save '' --appendonly no --dir %s" % d, "redis")
        assert_same(before, dataset_of(real.port), "file written by BGSAVE")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    master.assert_alive()


def test_full_sync_under_writes_ends_with_the_masters_data(servers):
    master = servers(OUR_CMD, "server")
    populate(master.port, strings=200000)
    bench = subprocess.Popen(
        ["redis-benchmark", "-p", str(master.port), "-n", "400000", "-P", "16", "-c", "8", "-r", "200000",
         "-t", "set,incr,lpush,hset,sadd", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    replica = servers.real("--replicaof 127.0.0.1 %d" % master.port)
    # The snapshot is taken while the benchmark rewrites the keys it walks.
    linked = wait_until(lambda: info(replica.port, "replication").get("master_link_status") == "up", 30)
    assert bench.poll() is None, "the load ended before the sync did"
    try:
        assert linked, replica.log_tail()
        wait_until(lambda: bench.poll() is not None, 120)
    finally:
        if bench.poll() is None:
            bench.kill()
        bench.wait()
    assert wait_until(lambda: in_sync(master, replica), 20), "replica never caught up"
    assert_same(dataset_of(master.port), dataset_of(replica.port), "replica")
    assert int(info(master.port, "stats")["sync_full"]) == 1
    master.assert_alive()


def test_replicas_asking_together_all_converge(servers):
    master = servers(OUR_CMD, "server")
    populate(master.port)
    r = redis.Redis(host="127.0.0.1", port=master.port)
    replicas = [servers.real("--replicaof 127.0.0.1 %d" % master.port) for _ in range(2)]
    for i in range(500):
        r.set("k:%d" % (i * 7), "during-%d" % i)
    for rep in replicas:
        assert wait_until(lambda: info(rep.port, "replication").get("master_link_status") == "up", 30), rep.log_tail()
    for i in range(500):
        r.incr("counter:%d" % (i % 50))
    for rep in replicas:
        assert wait_until(lambda: in_sync(master, rep), 20)
    expected = dataset_of(master.port)
    for rep in replicas:
        assert_same(expected, dataset_of(rep.port), "replica on port %d" % rep.port)
    assert int(info(master.port, "stats")["sync_full"]) == 2


def test_replica_gone_mid_snapshot_leaves_the_master_serving(servers):
    master = servers(OUR_CMD, "server")
    populate(master.port, strings=200000)
    from test_replication_master import RawReplica
    import socket
    s = socket.create_connection(("127.0.0.1", master.port))
    s.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
    s.recv(100)   # +FULLRESYNC
    s.close()     # gone before the file is ready
    r = redis.Redis(host="127.0.0.1", port=master.port)
    r.set("after", "1")
    assert wait_until(lambda: r.info("persistence")["rdb_bgsave_in_progress"] == 0, 30)
    # The next replica gets a complete, consistent snapshot.
    rep = RawReplica(master.port)
    assert rep.reply.startswith(b"+FULLRESYNC")
    assert rep.rdb.startswith(b"REDIS0010") and len(rep.rdb) > 1_000_000
    rep.close()
    assert r.get("after") == b"1"
    master.assert_alive()


def test_replica_asking_during_bgsave_and_flushall_during_sync(servers):
    """A replica asking right after a BGSAVE began (with a write since: it cannot join
    that snapshot, so it gets the next one unless the first is already done), then a
    FLUSHALL while its sync is under way: the replica ends with exactly the master's data,
    and the BGSAVE succeeds. (Which of the paths is taken depends on timing; every one
    must end the same.)"""
    master = servers(OUR_CMD, "server")
    populate(master.port, strings=200000)
    r = redis.Redis(host="127.0.0.1", port=master.port)
    p = r.pipeline(transaction=False)
    p.bgsave()
    p.set("written-after-bgsave", "1")
    p.info("persistence")
    results = p.execute()
    assert results[2]["rdb_bgsave_in_progress"] == 1
    replica = servers.real("--replicaof 127.0.0.1 %d" % master.port)
    assert wait_until(lambda: info(master.port, "replication").get("connected_slaves") == "1", 10)
    r.flushall()
    r.set("after-flushall", "1")
    assert wait_until(lambda: info(replica.port, "replication").get("master_link_status") == "up", 30), \
        replica.log_tail()
    assert wait_until(lambda: in_sync(master, replica), 20)
    assert_same(dataset_of(master.port), dataset_of(replica.port), "replica")
    assert wait_until(lambda: r.info("persistence")["rdb_bgsave_in_progress"] == 0, 30)
    assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
    master.assert_alive()


def test_flushall_during_bgsave_leaves_the_empty_dataset_on_disk(servers):
    """With save points, FLUSHALL writes the empty dataset at once (as Redis does); a
    BGSAVE still walking must not later put the old data back under the file's name."""
    d = tempfile.mkdtemp(prefix="snapshot-flushall-")
    try:
        master = servers(OUR_CMD.replace("--save ''", "--save '3600 1'") + " --dir %s" % d, "server")
        populate(master.port, strings=200000)
        r = redis.Redis(host="127.0.0.1", port=master.port)
        p = r.pipeline(transaction=False)
        p.bgsave()
        p.info("persistence")
        p.flushall()
        p.info("persistence")
        results = p.execute()
        assert results[1]["rdb_bgsave_in_progress"] == 1
        assert results[3]["rdb_bgsave_in_progress"] == 0
        r.set("after-flushall", "1")   # unsaved: the save point needs an hour
        # Long enough for the abandoned walk of 200k keys to have ended many times over.
        assert wait_until(lambda: "current_save_keys_total" in r.info("persistence")
                          and r.info("persistence")["current_save_keys_total"] == 0, 10)
        time.sleep(0.5)
        assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        real = servers("redis-server --port {port} --save '' --appendonly no --dir %s" % d, "redis")
        assert redis.Redis(host="127.0.0.1", port=real.port).dbsize() == 0
        master.assert_alive()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_shutdown_during_a_full_sync_saves_and_exits(servers):
    d = tempfile.mkdtemp(prefix="snapshot-shutdown-")
    try:
        master = servers(OUR_CMD.replace("--save ''", "--save '3600 1'") + " --dir %s" % d, "server")
        populate(master.port, strings=200000)
        before = dataset_of(master.port)
        s = __import__("socket").create_connection(("127.0.0.1", master.port))
        s.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
        s.recv(100)   # +FULLRESYNC: the snapshot job is running
        r = redis.Redis(host="127.0.0.1", port=master.port)
        try:
            r.shutdown()
        except redis.exceptions.ConnectionError:
            pass
        master.proc.wait(timeout=30)
        assert master.proc.returncode == 0, master.log_tail()
        s.close()
        real = servers("redis-server --port {port} --save '' --appendonly no --dir %s" % d, "redis")
        assert_same(before, dataset_of(real.port), "file saved at shutdown")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_eof_form_streams_the_file_and_holds_the_stream_until_the_first_ack(servers):
    """A replica announcing `capa eof` gets "$EOF:<mark>", the file, the mark, and nothing
    more until its first REPLCONF ACK (a Redis replica only looks for the mark at the end
    of what it reads); then the writes made meanwhile, in order."""
    import socket
    from resp import encode
    master = servers(OUR_CMD, "server")
    populate(master.port, strings=100000)
    s = socket.create_connection(("127.0.0.1", master.port), timeout=10)
    s.sendall(encode("REPLCONF", "capa", "eof", "capa", "psync2") + encode("PSYNC", "?", "-1"))
    buf = b""
    while buf.count(b"\r\n") < 3:
        buf += s.recv(65536)
    ok, fullresync, rest = buf.split(b"\r\n", 2)
    assert ok == b"+OK" and fullresync.startswith(b"+FULLRESYNC")
    r = redis.Redis(host="127.0.0.1", port=master.port)
    r.set("written-during-sync", "1")     # after the snapshot's offset: comes in the stream
    while rest.startswith(b"\n"):
        rest = rest[1:]
    while b"\r\n" not in rest:
        rest += s.recv(65536)
    head, body = rest.split(b"\r\n", 1)
    assert head.startswith(b"$EOF:") and len(head) == 5 + 40
    mark = head[5:]
    while not body.endswith(mark):
        chunk = s.recv(1 << 20)
        assert chunk, "connection closed before the mark"
        body += chunk
    rdb = body[:-40]
    assert rdb.startswith(b"REDIS0010") and len(rdb) > 1_000_000
    s.settimeout(0.5)
    try:
        early = s.recv(65536)
    except socket.timeout:
        early = b""
    assert early == b"", "stream sent before the first ACK: %r" % early[:80]
    s.settimeout(10)
    s.sendall(encode("REPLCONF", "ACK", "0"))
    stream = b""
    while b"written-during-sync" not in stream:
        stream += s.recv(65536)
    assert stream.startswith(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
    s.close()
    # The file loads in a real redis-server with the dataset as it was.
    d = tempfile.mkdtemp(prefix="snapshot-eof-")
    try:
        with open(os.path.join(d, "dump.rdb"), "wb") as f:
            f.write(rdb)
        real = servers("redis-server --port {port} --save '' --appendonly no --dir %s" % d, "redis")
        rr = redis.Redis(host="127.0.0.1", port=real.port)
        assert rr.dbsize() == r.dbsize() - 1 and rr.get("written-during-sync") is None
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _rss_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def test_streamed_full_sync_does_not_hold_the_whole_file(servers):
    """A full sync to replicas that take the EOF form drops what every replica has been
    sent: the master's peak RSS grows by far less than the 96 MB file (incompressible
    values; a file held whole grew it by more than that), and the replicas (a real redis-server and ours) still end with exactly the
    master's data, writes made during the sync included."""
    master = servers(OUR_CMD, "server")
    r = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=30)
    p = r.pipeline(transaction=False)
    for i in range(24000):
        p.set("big:%d" % i, os.urandom(4096))
    p.execute()
    # Peak RSS from here on (writing 5 to clear_refs resets VmHWM to the current RSS).
    with open("/proc/%d/clear_refs" % master.pid, "w") as f:
        f.write("5")
    before = _rss_kb(master.pid, "VmRSS")
    real = servers("redis-server --port {port} --save '' --appendonly no --replicaof 127.0.0.1 %d" % master.port, "redis")
    ours = servers(OUR_CMD + " --replicaof 127.0.0.1 %d" % master.port, "replica")
    # Writes while the snapshot is taken: in place, new keys, deletions.
    for i in range(0, 24000, 37):
        r.set("big:%d" % i, b"changed")
        r.set("new:%d" % i, i)
        r.delete("big:%d" % (i + 1))
    for rep in (real, ours):
        assert wait_until(lambda: info(rep.port, "replication").get("master_link_status") == "up", 60), rep.log_tail()
    grew_mb = (_rss_kb(master.pid, "VmHWM") - before) / 1024
    print("master peak RSS growth during the sync: %.1f MB" % grew_mb)
    assert wait_until(lambda: in_sync(master, real) and in_sync(master, ours), 30)
    expected = dataset_of(master.port)
    for rep in (real, ours):
        assert_same(expected, dataset_of(rep.port), "replica on port %d" % rep.port)
    assert grew_mb < 48, "master peak RSS grew by %.1f MB during a 96 MB full sync:\n%s" % (grew_mb, master.log_tail())


def test_replica_that_stops_reading_its_file_is_dropped_after_repl_timeout(servers):
    """A replica that takes the EOF form and then reads nothing holds the snapshot job;
    after repl-timeout it is disconnected with Redis's log line, the master serves
    meanwhile, and the next replica gets a complete file."""
    import socket
    master = servers(OUR_CMD, "server")
    r = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
    r.config_set("repl-timeout", 2)
    p = r.pipeline(transaction=False)
    for i in range(8000):
        p.set("big:%d" % i, os.urandom(4096))
    p.execute()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)   # fills fast
    s.connect(("127.0.0.1", master.port))
    s.sendall(b"*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n")
    s.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
    try:
        assert wait_until(lambda: "Disconnecting timedout replica (full sync)" in master.log_tail(200), 20), master.log_tail()
        assert r.set("during", "1") and r.get("during") == b"1"
        real = start_real_replica(servers, master.port)
        assert wait_until(lambda: in_sync(master, real), 30)
        assert r.dbsize() == redis.Redis(host="127.0.0.1", port=real.port).dbsize() == 8001
    finally:
        s.close()
    master.assert_alive()
