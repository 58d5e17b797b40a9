"""Our server as a replica: of a real redis-server 7.0 master, and of scripted fake masters
that misbehave (garbage, truncated or corrupt snapshots, a stall mid-transfer).

Every test starts its own servers on free ports; the real master runs with --save '' and
no diskless delay so syncs take milliseconds. Helpers poll with deadlines instead of
sleeping blindly.
"""
import os
import shlex
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import Server, _server_cmd
from resp import RawConn, encode, parse

def real_redis():
    """A redis-server command line in a directory of its own: a disk-based sync writes
    dump.rdb there, which the next server started in the same place would load."""
    return ("redis-server --port {port} --save '' --appendonly no --repl-diskless-sync-delay 0 --dir "
            + tempfile.mkdtemp(prefix="real-redis-"))


def wait_until(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def info(srv, section="replication"):
    with srv.conn() as c:
        text = parse(c.call("INFO", section)).decode()
    out = {}
    for line in text.split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def call(srv, *args):
    with srv.conn() as c:
        return c.call(*args)


def link_up(srv):
    return info(srv).get("master_link_status") == "up"


def start_master(extra=""):
    return Server(real_redis() + extra, "master").start()


def start_replica_of(port, extra=""):
    return Server(_server_cmd() + " --replicaof 127.0.0.1 %d" % port + extra, "replica").start()


@pytest.fixture
def servers():
    started = []

    def keep(s):
        started.append(s)
        return s

    yield keep
    for s in started:
        s.stop()


def log_text(srv):
    with open(srv.logfile.name, "rb") as f:
        return f.read().decode(errors="replace")


def wait_for_log(srv, text, timeout=10.0):
    wait_until(lambda: text in log_text(srv), timeout, "log line %r" % text)


# MARK: a real master


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_full_sync_of_existing_dataset_with_ttls(servers, diskless):
    master = servers(start_master(" --repl-diskless-sync " + diskless))
    m = master.client()
    m.set("plain", "value")
    m.set("number", 12345)
    m.set("negative", -7)
    m.set("big", "y" * 5000)                      # LZF-compressed in the RDB
    m.set("binary", b"\x00\xff\r\n")
    m.set("ttl", "soon", px=100000)
    m.set("db5key", "x")
    m.execute_command("MOVE", "db5key", 5)
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    r = replica.client()
    assert r.get("plain") == b"value"
    assert r.get("number") == b"12345"
    assert r.get("negative") == b"-7"
    assert r.get("big") == b"y" * 5000
    assert r.get("binary") == b"\x00\xff\r\n"
    assert 90000 < r.pttl("ttl") <= 100000
    assert r.pttl("plain") == -1
    assert r.dbsize() == 6
    r.execute_command("SELECT", 5)
    assert replica.client(db=5).get("db5key") == b"x"
    if diskless == "yes":
        wait_for_log(replica, "receiving streamed RDB from master with EOF")
    else:
        wait_for_log(replica, "bytes from master to disk")
    wait_for_log(replica, "MASTER <-> REPLICA sync: Finished with success")


def test_full_sync_and_stream_of_lists_hashes_sets_and_sorted_sets(servers):
    master = servers(start_master())
    m = master.client()
    m.rpush("list", "a", "b", "c")
    m.rpush("biglist", *[str(i) for i in range(300)])
    m.hset("hash", mapping={"f1": "v1", "f2": "v2"})
    m.hset("bighash", mapping={"f%d" % i: "x" * 80 for i in range(200)})
    m.sadd("intset", 1, 2, 3)
    m.sadd("set", "x", "y")
    m.expire("set", 1000)
    m.zadd("zset", {"a": 1.5, "b": -2, "c": 3e10})
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    m.lpush("list", "z")
    m.hdel("hash", "f1")
    m.spop("set")                     # propagated as SREM of the member popped
    m.zincrby("zset", 10, "a")
    m.zpopmin("zset")
    m.set("marker", "1")
    wait_until(lambda: replica.client().get("marker") == b"1", what="stream")
    r = replica.client()
    for key in ["list", "biglist"]:
        assert r.lrange(key, 0, -1) == m.lrange(key, 0, -1), key
    for key in ["hash", "bighash"]:
        assert r.hgetall(key) == m.hgetall(key), key
    for key in ["intset", "set"]:
        assert r.smembers(key) == m.smembers(key), key
    assert r.zrange("zset", 0, -1, withscores=True) == m.zrange("zset", 0, -1, withscores=True)
    assert 990 <= r.ttl("set") <= 1000


def test_live_propagation_and_ack_offsets(servers):
    master = servers(start_master())
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    m = master.client()
    m.set("a", 1)
    m.incr("a")
    m.mset({"b": "2", "c": "3"})
    m.delete("c")
    m.expire("b", 1000)
    m.execute_command("SELECT", 2)
    master.client(db=2).set("in2", "two")
    # WAIT on the real master counts replicas whose ACK reached its offset: ours must
    # acknowledge exactly the bytes it applied.
    assert m.execute_command("WAIT", 1, 5000) == 1
    r = replica.client()
    assert r.get("a") == b"2"
    assert r.get("b") == b"2"
    assert r.exists("c") == 0
    assert 990 <= r.ttl("b") <= 1000
    assert replica.client(db=2).get("in2") == b"two"
    mi, ri = info(master), info(replica)
    wait_until(lambda: info(replica)["slave_repl_offset"] == info(master)["master_repl_offset"],
               what="offsets equal")
    assert ri["role"] == "slave"
    assert ri["master_host"] == "127.0.0.1"
    assert ri["master_port"] == str(master.port)
    assert ri["master_sync_in_progress"] == "0"
    assert mi["slave0"].split(",")[2] == "state=online"


def test_masters_writes_reach_watchers_and_subscribers_on_the_replica(servers):
    master = servers(start_master())
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    m = master.client()
    m.set("marker", "1")
    wait_until(lambda: replica.client().get("marker") == b"1", what="stream flowing")
    with replica.conn() as watcher, replica.conn() as sub:
        assert sub.call("SUBSCRIBE", "news") == b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
        assert watcher.call("WATCH", "k") == b"+OK\r\n"
        assert watcher.call("MULTI") == b"+OK\r\n"
        assert watcher.call("GET", "k") == b"+QUEUED\r\n"
        m.set("k", "changed")
        m.publish("news", "hello")
        wait_until(lambda: replica.client().get("k") == b"changed", what="k replicated")
        assert watcher.call("EXEC") == b"*-1\r\n"        # the master's write touched k
        assert sub.read_reply() == b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"


def test_info_and_role_field_names_match_a_real_replica(servers):
    master = servers(start_master())
    ours = servers(start_replica_of(master.port))
    theirs = servers(Server(real_redis() + " --replicaof 127.0.0.1 %d" % master.port, "real-replica").start())
    wait_until(lambda: link_up(ours) and link_up(theirs), what="both links up")
    master.client().set("k", "v")
    wait_until(lambda: info(ours)["slave_repl_offset"] == info(master)["master_repl_offset"], what="sync")
    ours_keys = list(info(ours).keys())
    theirs_keys = list(info(theirs).keys())
    assert ours_keys == theirs_keys
    role = parse(call(ours, "ROLE"))
    assert role[:4] == [b"slave", b"127.0.0.1", master.port, b"connected"]
    assert role[4] == int(info(master)["master_repl_offset"])


def test_partial_resync_after_the_master_kills_the_link(servers):
    master = servers(start_master())
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    m = master.client()
    m.set("before", "1")
    wait_until(lambda: replica.client().get("before") == b"1", what="before")
    partial_before = int(info(master, "stats")["sync_partial_ok"])
    full_before = int(info(master, "stats")["sync_full"])
    assert m.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
    m.set("during", "2")          # lands in the master's backlog while we are away
    wait_until(lambda: int(info(master, "stats")["sync_partial_ok"]) == partial_before + 1,
               what="partial resync")
    assert int(info(master, "stats")["sync_full"]) == full_before
    wait_until(lambda: replica.client().get("during") == b"2", what="backlog applied")
    m.set("after", "3")
    wait_until(lambda: replica.client().get("after") == b"3", what="stream resumed")
    wait_for_log(replica, "Successful partial resynchronization with master.")
    # Killing it from our side: the same.
    assert replica.client().execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    wait_until(lambda: int(info(master, "stats")["sync_partial_ok"]) == partial_before + 2,
               what="second partial resync")


def test_reconnects_after_the_master_restarts_on_the_same_port(servers):
    master = servers(start_master())
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    master.client().set("k", "old")
    wait_until(lambda: replica.client().get("k") == b"old", what="k")
    port = master.port
    master.kill()
    wait_until(lambda: not link_up(replica), what="link down")
    assert info(replica)["master_link_down_since_seconds"] != "-1"
    assert replica.client().get("k") == b"old"           # stale data still served
    # Server.start picks a free port: start this one by hand on the old port.
    again = Server(real_redis(), "master2")
    again.port = port
    again.argv = shlex.split(again.template.format(port=port)) + ["--bind", "127.0.0.1"]
    again.logfile = tempfile.NamedTemporaryFile(prefix="master2-", suffix=".log", delete=False)
    again.proc = subprocess.Popen(again.argv, stdout=again.logfile, stderr=subprocess.STDOUT)
    servers(again)
    wait_until(again.ping, what="restarted master")
    again.client().set("k", "new")
    wait_until(lambda: link_up(replica), timeout=15, what="link up again")
    wait_until(lambda: replica.client().get("k") == b"new", what="new data")


def test_chained_replication_forwards_the_masters_stream(servers):
    master = servers(start_master())
    master.client().set("before", "1")
    middle = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(middle), what="middle link up")
    leaf = servers(Server(real_redis() + " --replicaof 127.0.0.1 %d" % middle.port, "leaf").start())
    wait_until(lambda: link_up(leaf), what="leaf link up")
    m = master.client()
    m.set("after", "2")
    m.incr("n")
    m.execute_command("SELECT", 4)
    master.client(db=4).set("in4", "x")
    wait_until(lambda: leaf.client(db=4).get("in4") == b"x", what="stream reaches the leaf")
    assert leaf.client().get("before") == b"1"
    assert leaf.client().get("after") == b"2"
    assert leaf.client().get("n") == b"1"
    # The whole chain shares the top master's history: same id, same offsets.
    wait_until(lambda: info(leaf)["slave_repl_offset"] == info(master)["master_repl_offset"], what="offsets")
    assert info(middle)["master_replid"] == info(master)["master_replid"] == info(leaf)["master_replid"]
    assert info(middle)["master_repl_offset"] == info(master)["master_repl_offset"]
    # Promotion: the old id stays valid as the secondary one, so the leaf continues
    # with a partial resync from the promoted middle.
    old_id = info(master)["master_replid"]
    partial = int(info(middle, "stats")["sync_partial_ok"])
    assert call(middle, "REPLICAOF", "NO", "ONE") == b"+OK\r\n"
    promoted = info(middle)
    assert promoted["master_replid2"] == old_id
    assert promoted["master_replid"] != old_id
    assert call(middle, "SET", "fresh", "3") == b"+OK\r\n"
    wait_until(lambda: leaf.client().get("fresh") == b"3", what="leaf follows the promoted middle")
    wait_until(lambda: int(info(middle, "stats")["sync_partial_ok"]) == partial + 1, what="partial resync of the leaf")
    assert info(leaf)["master_replid"] == promoted["master_replid"]


def test_readonly_replica_rejects_client_writes_like_redis(servers):
    master = servers(start_master())
    ours = servers(start_replica_of(master.port))
    theirs = servers(Server(real_redis() + " --replicaof 127.0.0.1 %d" % master.port, "real-replica").start())
    wait_until(lambda: link_up(ours) and link_up(theirs), what="links up")
    for cmd in [("SET", "k", "v"), ("DEL", "k"), ("INCR", "n"), ("EXPIRE", "k", "10"), ("SET", "k"),
                ("GET", "k"), ("FLUSHALL",)]:
        assert call(ours, *cmd) == call(theirs, *cmd), cmd
    assert call(ours, "SET", "k", "v") == b"-READONLY You can't write against a read only replica.\r\n"
    # Inside MULTI the refused write dooms the EXEC, as in Redis.
    replies = []
    for srv in (ours, theirs):
        with srv.conn() as c:
            replies.append([c.call(*cmd) for cmd in [("MULTI",), ("GET", "k"), ("SET", "k", "v"), ("EXEC",)]])
    assert replies[0] == replies[1]
    assert replies[0][3].startswith(b"-EXECABORT")
    assert call(ours, "CONFIG", "SET", "replica-read-only", "no") == b"+OK\r\n"
    assert call(ours, "SET", "local", "v") == b"+OK\r\n"


def test_replicaof_replies_match_redis(servers):
    master = servers(start_master())
    ours = servers(Server(_server_cmd(), "ours").start())
    theirs = servers(Server(real_redis(), "theirs").start())
    cases = [
        ("REPLICAOF", "127.0.0.1", "notaport"),
        ("REPLICAOF", "127.0.0.1", "99999"),
        ("REPLICAOF", "127.0.0.1", "-1"),
        ("REPLICAOF", "no", "two"),
        ("REPLICAOF", "127.0.0.1"),
        ("REPLICAOF", "NO", "ONE"),
        ("ROLE",),
        ("REPLICAOF", "127.0.0.1", str(master.port)),
        ("REPLICAOF", "127.0.0.1", str(master.port)),
        ("SLAVEOF", "127.0.0.1", str(master.port)),
        ("SLAVEOF", "no", "one"),
    ]
    for cmd in cases:
        a, b = call(ours, *cmd), call(theirs, *cmd)
        if cmd == ("ROLE",):
            assert parse(a)[0] == parse(b)[0] == b"master"
        else:
            assert a == b, cmd


def test_replicaof_no_one_promotes_and_keeps_data(servers):
    master = servers(start_master())
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    master.client().set("kept", "yes")
    wait_until(lambda: replica.client().get("kept") == b"yes", what="kept")
    assert call(replica, "REPLICAOF", "NO", "ONE") == b"+OK\r\n"
    assert parse(call(replica, "ROLE"))[0] == b"master"
    assert info(replica)["role"] == "master"
    assert call(replica, "SET", "mine", "1") == b"+OK\r\n"
    assert replica.client().get("kept") == b"yes"
    master.client().set("ignored", "1")
    time.sleep(0.3)
    assert replica.client().get("ignored") is None
    wait_for_log(replica, "MASTER MODE enabled")
    # And back: a replica again, synced to the master's data.
    assert call(replica, "REPLICAOF", "127.0.0.1", str(master.port)) == b"+OK\r\n"
    wait_until(lambda: link_up(replica), what="link up again")
    wait_until(lambda: replica.client().get("ignored") == b"1", what="resynced")


def test_replica_keeps_expired_keys_until_the_masters_del(servers):
    master = servers(start_master())
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    m = master.client()
    m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    # A diskless master streams only after the replica's first ACK it sees: wait for it.
    m.set("marker", "1")
    wait_until(lambda: replica.client().exists("marker") == 1, what="stream flowing")
    set_at = time.monotonic()
    m.set("short", "v", px=1500)
    wait_until(lambda: replica.client().exists("short") == 1, what="short replicated")
    time.sleep(max(0, set_at + 1.7 - time.monotonic()))
    r = replica.client()
    assert r.get("short") is None          # logically expired for clients
    assert r.exists("short") == 0
    assert r.dbsize() == 2                 # but not deleted by the replica itself
    assert r.execute_command("KEYS", "*") == [b"marker"]
    time.sleep(0.3)                        # not even by its cron
    assert r.dbsize() == 2
    assert m.get("short") is None          # the master expires it and propagates DEL
    wait_until(lambda: replica.client().dbsize() == 1, what="DEL from master")


# MARK: fake masters


def read_command(sock, buf):
    """Reads one RESP multibulk command; returns (args, rest of buffer)."""
    while True:
        try:
            args, used = _parse_command(buf)
            return args, buf[used:]
        except IndexError:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk


def _parse_command(buf):
    if not buf:
        raise IndexError
    end = buf.index(b"\r\n")
    n = int(buf[1:end])
    pos = end + 2
    args = []
    for _ in range(n):
        end = buf.index(b"\r\n", pos)
        length = int(buf[pos + 1:end])
        pos = end + 2
        if len(buf) < pos + length + 2:
            raise IndexError
        args.append(buf[pos:pos + length])
        pos += length + 2
    return args, pos


class FakeMaster:
    """A scripted master: answers the handshake, then runs `after_psync(sock)`.

    Records every command the replica sent and counts connections, so tests can see retries.
    """

    def __init__(self, after_psync):
        self.after_psync = after_psync
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.commands = []
        self.socks = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.socks.append(sock)
            threading.Thread(target=self.serve, args=(sock,), daemon=True).start()

    def serve(self, sock):
        buf = b""
        try:
            while True:
                args, buf = read_command(sock, buf)
                self.commands.append(args)
                name = args[0].upper()
                if name == b"PING":
                    sock.sendall(b"+PONG\r\n")
                elif name == b"REPLCONF":
                    sock.sendall(b"+OK\r\n")
                elif name == b"PSYNC":
                    self.after_psync(self, sock, args)
                    return
        except (ConnectionError, OSError):
            pass

    def close(self):
        self.stop = True
        self.listener.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


REPLID = b"a" * 40


def real_rdb(keys):
    """Snapshot bytes written by a real redis-server holding `keys` (via redis-cli --rdb)."""
    srv = Server(real_redis(), "rdb-source").start()
    try:
        c = srv.client()
        for k, v in keys.items():
            c.set(k, v)
        path = tempfile.mktemp(suffix=".rdb")
        subprocess.run(["redis-cli", "-p", str(srv.port), "--rdb", path], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
        return data
    finally:
        srv.stop()


@pytest.fixture
def synced_replica(servers):
    """Our server, replica of a real master, holding key 'old' = 'data'; then detached
    from it so tests can point it at a fake master."""
    master = servers(start_master())
    master.client().set("old", "data")
    replica = servers(start_replica_of(master.port))
    wait_until(lambda: link_up(replica), what="link up")
    wait_until(lambda: replica.client().get("old") == b"data", what="old data")
    return replica


def point_at(replica, fake):
    assert call(replica, "REPLICAOF", "127.0.0.1", str(fake.port)) == b"+OK\r\n"


def assert_old_data_served(replica):
    replica.assert_alive()
    assert replica.client().get("old") == b"data"
    assert info(replica)["master_link_status"] == "down"


def test_garbage_after_fullresync_is_refused_and_retried(synced_replica):
    def script(fake, sock, args):
        sock.sendall(b"+FULLRESYNC " + REPLID + b" 0\r\nthis is not a bulk length\r\n")
    fake = FakeMaster(script)
    try:
        point_at(synced_replica, fake)
        wait_for_log(synced_replica, "Bad protocol from MASTER, the first byte is not '$' (we received 'this is not a bulk length')")
        wait_until(lambda: fake.connections >= 2, what="a retry")
        assert_old_data_served(synced_replica)
    finally:
        fake.close()


def test_truncated_snapshot_keeps_the_old_dataset(synced_replica):
    rdb = real_rdb({"new": "value"})

    def script(fake, sock, args):
        sock.sendall(b"+FULLRESYNC " + REPLID + b" 0\r\n$%d\r\n" % (len(rdb) + 100) + rdb)
        sock.close()               # the payload ends 100 bytes early
    fake = FakeMaster(script)
    try:
        point_at(synced_replica, fake)
        wait_until(lambda: fake.connections >= 2, what="a retry")
        assert_old_data_served(synced_replica)
        assert synced_replica.client().get("new") is None
    finally:
        fake.close()


def test_absurd_snapshot_length_costs_nothing(synced_replica):
    def script(fake, sock, args):
        sock.sendall(b"+FULLRESYNC " + REPLID + b" 0\r\n$999999999999\r\nREDIS0010")
        sock.close()
    fake = FakeMaster(script)
    try:
        point_at(synced_replica, fake)
        wait_until(lambda: fake.connections >= 2, what="a retry")
        assert_old_data_served(synced_replica)
    finally:
        fake.close()


def test_psync_refused_by_the_master_is_retried(synced_replica):
    def script(fake, sock, args):
        sock.sendall(b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n")
        time.sleep(5)
    fake = FakeMaster(script)
    try:
        point_at(synced_replica, fake)
        wait_for_log(synced_replica, "Master is currently unable to PSYNC but should be in the future: "
                                     "-NOMASTERLINK Can't SYNC while not connected with my master")
        wait_until(lambda: fake.connections >= 2, what="a retry")
        assert_old_data_served(synced_replica)
        # The id and offset of the master we synced with are offered for a partial resync.
        psync = [c for c in fake.commands if c[0] == b"PSYNC"][0]
        assert psync[1] != b"?" and int(psync[2]) > 0
    finally:
        fake.close()


def test_snapshot_whose_content_is_cut_is_refused(synced_replica):
    rdb = real_rdb({"new": "value"})
    cut = rdb[:len(rdb) - 12]          # announced length matches, the RDB itself is short

    def script(fake, sock, args):
        sock.sendall(b"+FULLRESYNC " + REPLID + b" 0\r\n$%d\r\n" % len(cut) + cut)
        time.sleep(5)
    fake = FakeMaster(script)
    try:
        point_at(synced_replica, fake)
        wait_for_log(synced_replica, "Failed trying to load the MASTER synchronization DB from socket")
        wait_until(lambda: fake.connections >= 2, what="a retry")
        assert_old_data_served(synced_replica)
        assert synced_replica.client().get("new") is None
    finally:
        fake.close()


def test_snapshot_with_a_wrong_checksum_is_refused(synced_replica):
    rdb = bytearray(real_rdb({"new": "value"}))
    rdb[-1] ^= 0xFF

    def script(fake, sock, args):
        sock.sendall(b"+FULLRESYNC " + REPLID + b" 0\r\n$%d\r\n" % len(rdb) + bytes(rdb))
        time.sleep(5)
    fake = FakeMaster(script)
    try:
        point_at(synced_replica, fake)
        wait_for_log(synced_replica, "Wrong RDB checksum")
        wait_until(lambda: fake.connections >= 2, what="a retry")
        assert_old_data_served(synced_replica)
        assert synced_replica.client().get("new") is None
    finally:
        fake.close()


def test_stalled_master_mid_transfer_is_dropped_after_repl_timeout(synced_replica):
    rdb = real_rdb({"new": "value"})

    def script(fake, sock, args):
        sock.sendall(b"+FULLRESYNC " + REPLID + b" 0\r\n$%d\r\n" % len(rdb) + rdb[:10])
        time.sleep(30)             # never sends the rest
    fake = FakeMaster(script)
    try:
        assert call(synced_replica, "CONFIG", "SET", "repl-timeout", "2") == b"+OK\r\n"
        point_at(synced_replica, fake)
        wait_until(lambda: info(synced_replica).get("master_sync_in_progress") == "1", what="transfer")
        assert info(synced_replica)["master_sync_read_bytes"] == "10"
        assert synced_replica.client().get("old") == b"data"     # served during the transfer
        wait_for_log(synced_replica, "Timeout receiving bulk data from MASTER", timeout=8)
        wait_until(lambda: fake.connections >= 2, what="a retry")
        assert_old_data_served(synced_replica)
    finally:
        fake.close()


def test_eof_marked_snapshot_then_stream_and_getack(servers):
    rdb = real_rdb({"new": "value"})
    mark = b"m" * 40
    acks = []

    def script(fake, sock, args):
        stream = encode("SET", "streamed", "1") + encode("NOSUCHCOMMAND", "x") + encode("REPLCONF", "GETACK", "*")
        # Snapshot, mark and stream in one write: the replica must split them.
        sock.sendall(b"+FULLRESYNC " + REPLID + b" 1000\r\n\n\n$EOF:" + mark + b"\r\n" + rdb + mark + stream)
        buf = b""
        try:
            while True:
                args, buf = read_command(sock, buf)
                if args[:2] == [b"REPLCONF", b"ACK"]:
                    acks.append(int(args[2]))
        except (ConnectionError, OSError):
            pass
    fake = FakeMaster(script)
    replica = servers(Server(_server_cmd() + " --replicaof '127.0.0.1 %d'" % fake.port, "replica").start())
    try:
        wait_until(lambda: replica.client().get("streamed") == b"1", what="stream applied")
        assert replica.client().get("new") == b"value"
        set_len = len(encode("SET", "streamed", "1")) + len(encode("NOSUCHCOMMAND", "x"))
        getack_len = len(encode("REPLCONF", "GETACK", "*"))
        # The first ACK follows the load; GETACK is answered with the offset before it.
        wait_until(lambda: 1000 + set_len in acks, what="GETACK answer")
        assert acks[0] == 1000
        wait_until(lambda: 1000 + set_len + getack_len in acks, timeout=3, what="periodic ACK")
        assert info(replica)["slave_repl_offset"] == str(1000 + set_len + getack_len)
        wait_for_log(replica, "== CRITICAL == This replica is sending an error to its master: "
                              "'ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ' "
                              "after processing the command 'nosuchcommand'")
        psync = [c for c in fake.commands if c[0].upper() == b"PSYNC"][0]
        assert psync == [b"PSYNC", b"?", b"-1"]
        port_cmd = [c for c in fake.commands if c[:2] == [b"REPLCONF", b"listening-port"]][0]
        assert port_cmd[2] == str(replica.port).encode()
        assert [b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"] in fake.commands
    finally:
        fake.close()


def test_unreachable_master_is_retried_without_harm(servers):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]       # nothing listens there once closed
    replica = servers(start_replica_of(port))
    wait_for_log(replica, "Error condition on socket for SYNC: Connection refused")
    time.sleep(0.5)
    replica.assert_alive()
    assert parse(call(replica, "ROLE"))[3] in (b"connect", b"connecting")
    assert call(replica, "GET", "x") == b"$-1\r\n"
