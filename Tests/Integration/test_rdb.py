"""RDB persistence against redis-server 7.0.15: files it writes load in ours, files ours
writes load in it, corrupt files are refused, and SAVE / BGSAVE / LASTSAVE / save points /
SHUTDOWN behave like Redis's. Every server here runs in a temporary --dir of its own."""
import os
import struct
import time

import pytest

from conftest import Server, _server_cmd, _reference_cmd
from resp import parse


def start(template, tmp, name, *extra):
    cmd = template + " --dir %s --dbfilename dump.rdb" % tmp + "".join(" " + e for e in extra)
    return Server(cmd, name).start()


@pytest.fixture
def servers():
    started = []

    def ours(tmp, *extra):
        s = start(_server_cmd(), tmp, "server", *extra)
        started.append(s)
        return s

    def real(tmp, *extra):
        s = start(_reference_cmd(), tmp, "reference", *extra)
        started.append(s)
        return s

    yield ours, real
    for s in started:
        s.stop()


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def info(r, section="persistence"):
    return r.info(section)


def crc64(data):
    """Redis's crc64 (Jones polynomial, reflected), bit by bit."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


def with_crc(body):
    body += b"\xff"
    return body + struct.pack("<Q", crc64(body))


def rdb_string(s):
    assert len(s) < 64
    return bytes([len(s)]) + s


STRINGS = {
    b"plain": b"hello world",
    b"int": b"12345",
    b"negative": b"-98765",
    b"big-int": b"123456789012345",
    b"compressible": b"abcdefgh" * 40,
    b"binary": bytes(range(256)),
    b"empty": b"",
    b"long-incompressible": os.urandom(3000),
}


def fill_strings(r):
    for k, v in STRINGS.items():
        r.set(k, v)
    r.set(b"with-ttl", b"v1", ex=1000)
    r.set(b"with-pttl", b"v2", px=5_000_000)
    r.execute_command("SELECT", 5)  # redis-py keeps one connection per pool use: set directly
    r.set(b"db5-key", b"in five")
    r.execute_command("SELECT", 0)


def snapshot(r):
    """Every key of databases 0 and 5 with its value and TTL in seconds."""
    out = {}
    for db in (0, 5):
        r.execute_command("SELECT", db)
        for k in r.keys("*"):
            out[(db, k)] = (r.get(k), r.ttl(k))
    r.execute_command("SELECT", 0)
    return out


def single(srv):
    """A client on one connection, so SELECT sticks."""
    import redis
    return redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=10,
                       connection_pool=None, single_connection_client=True)


def test_file_written_by_redis_loads_in_ours(servers, tmp_path):
    ours, real = servers
    ref = real(tmp_path)
    r = single(ref)
    fill_strings(r)
    assert r.save()
    expected = snapshot(r)
    ref.stop()
    srv = ours(tmp_path)
    got = snapshot(single(srv))
    assert set(got) == set(expected)
    for k, (value, ttl) in expected.items():
        assert got[k][0] == value, k
        assert abs(got[k][1] - ttl) <= 2, k
    assert info(single(srv))["rdb_last_load_keys_loaded"] == len(expected)
    log = open(srv.logfile.name).read()
    assert "Loading RDB produced by version 7.0.15" in log
    assert "DB loaded from disk:" in log


def test_file_written_by_ours_loads_in_redis(servers, tmp_path):
    ours, real = servers
    srv = ours(tmp_path)
    r = single(srv)
    fill_strings(r)
    assert r.execute_command("SAVE") in (b"OK", True, "OK")
    expected = snapshot(r)
    srv.stop()
    ref = real(tmp_path)
    got = snapshot(single(ref))
    assert set(got) == set(expected)
    for k, (value, ttl) in expected.items():
        assert got[k][0] == value, k
        assert abs(got[k][1] - ttl) <= 2, k


def test_round_trip_through_our_own_restart(servers, tmp_path):
    ours, _ = servers
    srv = ours(tmp_path)
    r = single(srv)
    fill_strings(r)
    r.execute_command("SAVE")
    expected = snapshot(r)
    srv.stop()
    again = snapshot(single(ours(tmp_path)))
    assert set(again) == set(expected)
    for k, (value, ttl) in expected.items():
        assert again[k][0] == value and abs(again[k][1] - ttl) <= 2


def test_uncompressed_and_unchecksummed_files_load_in_redis(servers, tmp_path):
    ours, real = servers
    srv = ours(tmp_path, "--rdbcompression no", "--rdbchecksum no")
    r = single(srv)
    r.set("k", "abcdefgh" * 40)
    r.execute_command("SAVE")
    data = open(tmp_path / "dump.rdb", "rb").read()
    assert b"abcdefgh" * 40 in data          # stored raw
    assert data.endswith(b"\x00" * 8)         # no checksum
    srv.stop()
    assert single(real(tmp_path)).get("k") == b"abcdefgh" * 40


@pytest.mark.parametrize("damage", ["truncate", "flip", "signature", "version"])
def test_corrupt_file_is_refused(servers, tmp_path, damage):
    ours, _ = servers
    srv = ours(tmp_path)
    r = single(srv)
    fill_strings(r)
    r.execute_command("SAVE")
    srv.stop()
    path = tmp_path / "dump.rdb"
    data = bytearray(open(path, "rb").read())
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "flip":
        i = data.index(b"hello world")
        data[i] ^= 0x20
    elif damage == "signature":
        data[0:5] = b"RADIS"
    else:
        data[5:9] = b"0099"
    open(path, "wb").write(bytes(data))
    with pytest.raises(RuntimeError, match="exited with 1"):
        ours(tmp_path)


def test_corrupt_file_log_says_why(tmp_path):
    (tmp_path / "dump.rdb").write_bytes(with_crc(b"REDIS0010" + b"\xfa" + rdb_string(b"x"))[:-3])
    s = Server(_server_cmd() + " --dir %s" % tmp_path, "server")
    with pytest.raises(RuntimeError) as e:
        s.start()
    assert "Short read" in str(e.value) or "Fatal error loading the DB" in str(e.value)


def test_redis_72_empty_rdb_loads(servers, tmp_path):
    body = b"REDIS0011" + b"\xfa" + rdb_string(b"redis-ver") + rdb_string(b"7.2.4")
    (tmp_path / "dump.rdb").write_bytes(with_crc(body))
    srv = servers[0](tmp_path)
    assert single(srv).dbsize() == 0


def test_expired_keys_in_file_are_not_loaded(servers, tmp_path):
    body = b"REDIS0010" + b"\xfe\x00"
    body += b"\xfc" + struct.pack("<q", 1000) + b"\x00" + rdb_string(b"old") + rdb_string(b"gone")
    body += b"\xfc" + struct.pack("<q", int(time.time() * 1000) + 100_000) + b"\x00" + rdb_string(b"new") + rdb_string(b"here")
    (tmp_path / "dump.rdb").write_bytes(with_crc(body))
    r = single(servers[0](tmp_path))
    assert r.keys("*") == [b"new"]
    assert 90 <= r.ttl("new") <= 100
    p = info(r)
    assert p["rdb_last_load_keys_expired"] == 1 and p["rdb_last_load_keys_loaded"] == 1


def test_save_lastsave_and_info(servers, tmp_path):
    srv = servers[0](tmp_path)
    with srv.conn() as c:
        before = int(parse(c.call("LASTSAVE")))
        assert c.call("SET", "a", "1") == b"+OK\r\n"
        assert c.call("SET", "b", "2") == b"+OK\r\n"
        r = single(srv)
        assert info(r)["rdb_changes_since_last_save"] == 2
        time.sleep(1.1)
        assert c.call("SAVE") == b"+OK\r\n"
        assert int(parse(c.call("LASTSAVE"))) > before
        p = info(r)
        assert p["rdb_changes_since_last_save"] == 0
        assert p["rdb_saves"] == 1
        assert p["rdb_last_bgsave_status"] == "ok"
    assert (tmp_path / "dump.rdb").exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]


def test_bgsave(servers, tmp_path):
    srv = servers[0](tmp_path)
    r = single(srv)
    for i in range(1000):
        r.set("key:%d" % i, "value:%d" % i)
    with srv.conn() as c:
        assert c.call("BGSAVE", "NOW") == b"-ERR syntax error\r\n"
        assert c.call("BGSAVE") == b"+Background saving started\r\n"
    assert wait_until(lambda: info(r)["rdb_bgsave_in_progress"] == 0 and info(r)["rdb_saves"] == 1, 10)
    p = info(r)
    assert p["rdb_last_bgsave_status"] == "ok"
    assert p["rdb_changes_since_last_save"] == 0
    assert p["rdb_last_bgsave_time_sec"] >= 0
    with srv.conn() as c:
        assert c.call("BGSAVE", "SCHEDULE") == b"+Background saving started\r\n"
    assert wait_until(lambda: info(r)["rdb_saves"] == 2, 10)
    srv.stop()
    assert single(servers[0](tmp_path)).dbsize() == 1000


def test_failed_save_reports_error(servers, tmp_path):
    # A directory where the temporary file must go makes the save fail, even for root.
    srv = servers[0](tmp_path)
    r = single(srv)
    r.set("a", "1")
    (tmp_path / ("temp-%d.rdb" % srv.pid)).mkdir()
    (tmp_path / ("temp-%d-bg1.rdb" % srv.pid)).mkdir()   # the first background save's name
    with srv.conn() as c:
        assert c.call("SAVE") == b"-ERR\r\n"
        assert c.call("BGSAVE") == b"+Background saving started\r\n"
    assert wait_until(lambda: info(r)["rdb_last_bgsave_status"] == "err", 10)
    assert info(r)["rdb_changes_since_last_save"] == 1
    assert "Failed opening the temp RDB file" in open(srv.logfile.name).read()
    # SHUTDOWN SAVE that cannot save keeps the server up, unless FORCE.
    with srv.conn() as c:
        assert c.call("SHUTDOWN", "SAVE") == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        assert c.call("PING") == b"+PONG\r\n"
    assert shutdown(srv, "SAVE", "FORCE") == 0


def test_save_point_triggers_background_save(servers, tmp_path):
    srv = servers[0](tmp_path, "--save '1 2'")
    r = single(srv)
    assert r.config_get("save") == {"save": "1 2"}
    r.set("a", "1")
    time.sleep(1.5)
    assert not (tmp_path / "dump.rdb").exists()   # one change is below the save point
    r.set("b", "2")
    assert wait_until(lambda: (tmp_path / "dump.rdb").exists(), 5)
    assert wait_until(lambda: "2 changes in 1 seconds. Saving..." in open(srv.logfile.name).read(), 5)
    assert wait_until(lambda: info(r)["rdb_changes_since_last_save"] == 0, 5)


def test_config_save(servers, tmp_path):
    srv = servers[0](tmp_path)
    with srv.conn() as c:
        assert c.call("CONFIG", "SET", "save", "100") == \
            b"-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"
        assert c.call("CONFIG", "SET", "save", "100 5 60 bad") == \
            b"-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"
        assert c.call("CONFIG", "SET", "save", "100 5 60 1000") == b"+OK\r\n"
        assert c.call("CONFIG", "GET", "save") == b"*2\r\n$4\r\nsave\r\n$13\r\n100 5 60 1000\r\n"


def shutdown(srv, *args):
    with srv.conn() as c:
        c.send(b"".join([b"*%d\r\n" % (len(args) + 1), b"$8\r\nSHUTDOWN\r\n"]
                        + [b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args]))
        try:
            c.read_until_close(timeout=10)
        except Exception:
            pass
    srv.proc.wait(timeout=10)
    return srv.proc.returncode


def test_shutdown_saves_with_save_points(servers, tmp_path):
    srv = servers[0](tmp_path, "--save '3600 1'")
    single(srv).set("kept", "yes")
    assert shutdown(srv) == 0
    assert "Saving the final RDB snapshot before exiting." in open(srv.logfile.name).read()
    assert single(servers[0](tmp_path)).get("kept") == b"yes"


def test_shutdown_nosave_and_save(servers, tmp_path):
    srv = servers[0](tmp_path, "--save '3600 1'")
    single(srv).set("k", "v")
    assert shutdown(srv, "NOSAVE") == 0
    assert not (tmp_path / "dump.rdb").exists()
    srv = servers[0](tmp_path)   # save ""
    single(srv).set("k", "v")
    assert shutdown(srv) == 0
    assert not (tmp_path / "dump.rdb").exists()
    srv = servers[0](tmp_path)
    single(srv).set("k", "v")
    assert shutdown(srv, "SAVE") == 0
    assert single(servers[0](tmp_path)).get("k") == b"v"


def test_sigterm_saves_with_save_points(servers, tmp_path):
    srv = servers[0](tmp_path, "--save '3600 1'")
    single(srv).set("k", "v")
    srv.proc.terminate()
    srv.proc.wait(timeout=10)
    assert srv.proc.returncode == 0
    assert single(servers[0](tmp_path)).get("k") == b"v"


def test_flushall_with_save_points_writes_empty_dataset(servers, tmp_path):
    srv = servers[0](tmp_path, "--save '3600 1'")
    r = single(srv)
    r.set("k", "v")
    r.execute_command("SAVE")
    r.flushall()
    srv.kill()
    assert single(servers[0](tmp_path)).dbsize() == 0


def test_replies_match_redis(servers, tmp_path):
    ours, real = servers
    a = tmp_path / "ours"
    b = tmp_path / "real"
    a.mkdir()
    b.mkdir()
    srv, ref = ours(a), real(b)
    cases = [("SAVE",), ("SAVE", "x"), ("BGSAVE", "x"), ("BGSAVE", "SCHEDULE", "x"), ("LASTSAVE", "x"),
             ("CONFIG", "SET", "dbfilename", "sub/dump.rdb"), ("CONFIG", "SET", "save", "1"),
             ("CONFIG", "GET", "rdbcompression"), ("CONFIG", "SET", "rdbcompression", "no"),
             ("CONFIG", "GET", "rdbcompression"), ("CONFIG", "SET", "rdbchecksum", "no")]
    with srv.conn() as c1, ref.conn() as c2:
        for cmd in cases:
            assert c1.call(*cmd) == c2.call(*cmd), cmd
        assert c1.call("LASTSAVE")[:1] == b":"


def test_debug_reload_keeps_values_and_ttls(servers, tmp_path):
    srv = servers[0](tmp_path)
    r = single(srv)
    fill_strings(r)
    before = snapshot(r)
    assert r.execute_command("DEBUG", "RELOAD") in (b"OK", True, "OK")
    after = snapshot(r)
    assert set(after) == set(before)
    for k, (value, ttl) in before.items():
        assert after[k][0] == value and abs(after[k][1] - ttl) <= 1
    assert r.object("encoding", "int") == b"int"


def test_failed_background_save_refuses_writes_like_redis(servers, tmp_path):
    # The data directory disappears, so the background save fails: with save points
    # configured both servers refuse writes and PING with MISCONF until `save ""`.
    import shutil
    transcripts = []
    for make in servers:
        d = tmp_path / make.__name__
        d.mkdir()
        srv = make(d)
        shutil.rmtree(d)
        r = single(srv)
        out = []
        with srv.conn() as c:
            for cmd in [("CONFIG", "SET", "save", "3600 1"), ("SET", "a", "1"), ("BGSAVE",)]:
                out.append(c.call(*cmd))
            assert wait_until(lambda: info(r)["rdb_last_bgsave_status"] == "err", 10)
            for cmd in [("SET", "b", "2"), ("PING",), ("GET", "a"), ("MULTI",), ("SET", "b", "1"), ("GET", "a"), ("EXEC",),
                        ("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"),
                        ("SET", "b", "3"), ("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"), ("DEL", "a"),
                        ("CONFIG", "SET", "save", ""), ("SET", "b", "4"), ("GET", "b")]:
                out.append(c.call(*cmd))
        transcripts.append(out)
    assert transcripts[0] == transcripts[1]
    assert transcripts[0][3].startswith(b"-MISCONF ")


def fill_streams(r):
    r.xadd("s", {"name": "alice", "age": 30}, id="1-1")
    r.xadd("s", {"name": "bob", "age": 31}, id="1-2")
    r.xadd("s", {"other": "field"}, id="2-0")
    r.xadd("s", {"name": "carol", "age": -4000, "extra": 1234567890123}, id="3-5")
    r.xadd("s", {"name": "0123", "age": "x"}, id="5-0")
    r.xdel("s", "1-2")
    r.xgroup_create("s", "g1", id="0")
    r.xgroup_create("s", "g2", id="$")
    r.xreadgroup("g1", "c1", {"s": ">"}, count=2)
    r.xreadgroup("g1", "c2", {"s": ">"}, count=1)
    r.xack("s", "g1", "1-1")
    r.xgroup_createconsumer("s", "g2", "idle")
    r.xadd("emptied", {"f": "v"}, id="7-7")
    r.xdel("emptied", "7-7")
    for i in range(450):
        r.xadd("long", {"i": i, "payload": "p" * (i % 50)} if i % 9 else {"odd": i})
    r.xgroup_create("long", "readers", id="0")
    r.xreadgroup("readers", "r1", {"long": ">"}, count=120)
    r.pexpire("long", 900000)


def stream_view(srv):
    """What clients see of every stream: entries, metadata, groups, pending lists."""
    out = {}
    with srv.conn() as c:
        def call(*a):
            return parse(c.call(*a))

        def pairs(flat):
            return dict(zip(flat[::2], flat[1::2]))

        for k in sorted(call("KEYS", "*")):
            info = pairs(call("XINFO", "STREAM", k))
            for volatile in (b"radix-tree-keys", b"radix-tree-nodes"):
                info.pop(volatile, None)
            groups = []
            for g in call("XINFO", "GROUPS", k):
                g = pairs(g)
                consumers = [pairs(x) for x in call("XINFO", "CONSUMERS", k, g[b"name"])]
                for x in consumers:
                    x[b"idle"] = x[b"idle"] // 5000   # coarse: time passes between the servers
                pending = call("XPENDING", k, g[b"name"], "-", "+", 1000)
                groups.append((sorted(g.items()), [sorted(x.items()) for x in consumers],
                               [(p[0], p[1], p[3]) for p in pending]))
            out[k] = (call("XRANGE", k, "-", "+"), sorted(info.items()), groups, call("PTTL", k) // 10000)
    return out


def test_streams_round_trip_between_servers(servers, tmp_path):
    ours, real = servers
    ref = real(tmp_path)
    r = single(ref)
    fill_streams(r)
    expected = stream_view(ref)
    assert sorted(expected) == [b"emptied", b"long", b"s"]
    assert len(expected[b"long"][0]) == 450 and len(expected[b"long"][2][0][2]) == 120
    assert len(expected[b"s"][2]) == 2 and expected[b"long"][3] > 0
    r.save()
    ref.stop()
    srv = ours(tmp_path)
    assert stream_view(srv) == expected
    # And back: what ours writes, Redis reads the same.
    single(srv).execute_command("SAVE")
    srv.stop()
    assert stream_view(real(tmp_path)) == expected


def test_save_while_background_save_runs_like_redis(servers, tmp_path):
    # Pipelined behind a BGSAVE, a second BGSAVE and a SAVE find it still running.
    ours, real = servers
    replies = []
    for make in servers:
        d = tmp_path / make.__name__
        d.mkdir()
        srv = make(d)
        r = single(srv)
        for i in range(2000):
            r.set("k%d" % i, "v" * 100)
        with srv.conn() as c:
            c.send(b"*1\r\n$6\r\nBGSAVE\r\n*1\r\n$6\r\nBGSAVE\r\n*1\r\n$4\r\nSAVE\r\n")
            replies.append(c.read_replies(3))
        assert wait_until(lambda: info(r)["rdb_bgsave_in_progress"] == 0, 10)
    assert replies[0] == replies[1]
    assert replies[0][1] == b"-ERR Background save already in progress\r\n"
