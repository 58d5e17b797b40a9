"""Our server in every role at once: a master with two replicas and a chained sub-replica
under redis-benchmark load, and a replica restarted during a write load (partial resync
inside the backlog, full resync outside it, no write lost or applied twice)."""
import subprocess
import tempfile
import threading
import time

from conftest import REPO, Server, _server_cmd
from test_replication_replica import info, link_up, servers, wait_until  # noqa: F401 (fixture)


def ours(extra="", name="server"):
    return Server(_server_cmd() + extra, name).start()


def replica_of(master, extra="", name="replica"):
    return ours(" --replicaof 127.0.0.1 %d" % master.port + extra, name)


def dataset(srv):
    """Every key of db 0 with its value (strings) or contents (lists), for comparison."""
    r = srv.client()
    out = {}
    for k in r.scan_iter(count=1000):
        t = r.type(k)
        out[k] = r.lrange(k, 0, -1) if t in (b"list", "list") else r.get(k)
    return out


def offsets_converged(master, *replicas):
    target = info(master)["master_repl_offset"]
    return all(info(r).get("slave_repl_offset") == target for r in replicas)


def bench(srv, *args):
    p = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(srv.port), "-q"] + list(args),
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert b"error" not in (p.stdout + p.stderr).lower(), p.stdout + p.stderr


def test_two_replicas_and_a_chained_one_converge_under_load(servers):
    master = servers(ours(name="master"))
    a = servers(replica_of(master, name="replica-a"))
    b = servers(replica_of(master, name="replica-b"))
    leaf = servers(replica_of(a, name="sub-replica"))
    for r in (a, b, leaf):
        wait_until(lambda r=r: link_up(r), what="link up")
    bench(master, "-t", "set,incr,mset,lpush", "-n", "100000", "-c", "20", "-P", "16", "-r", "10000")
    # Once the load stops, everybody has the master's data within a second.
    for group, what in (((a, b), "replicas"), ((leaf,), "sub-replica")):
        try:
            wait_until(lambda: offsets_converged(master, *group), timeout=1.0, what=what + " at the master's offset")
        except AssertionError:
            raise AssertionError("%s behind:\n%s" % (what, "\n".join(
                "%s %s\n%s" % (s.name, info(s), s.log_tail(15)) for s in (master, a, b, leaf))))
    expected = dataset(master)
    assert len(expected) > 1000
    for r in (a, b, leaf):
        assert dataset(r) == expected
    m = master.client()
    m.set("last", "write")
    assert m.execute_command("WAIT", 2, 1000) == 2
    assert info(master)["connected_slaves"] == "2"


def incr_load(master, stop, counts):
    """INCRs a few counters until told to stop, counting what was acknowledged."""
    r = master.client()
    i = 0
    while not stop.is_set():
        key = "counter:%d" % (i % 5)
        r.incr(key)
        counts[key] = counts.get(key, 0) + 1
        i += 1


def run_restart_case(servers, backlog, pause):
    work = tempfile.mkdtemp(prefix="replica-restart-")
    master = servers(ours(" --repl-backlog-size %s" % backlog, name="master"))
    replica = servers(replica_of(master, " --dir %s --save 3600 1" % work))
    wait_until(lambda: link_up(replica), what="link up")
    stop, counts = threading.Event(), {}
    t = threading.Thread(target=incr_load, args=(master, stop, counts))
    t.start()
    try:
        time.sleep(0.3)
        stats = info(master, "stats")
        full, partial = int(stats["sync_full"]), int(stats["sync_partial_ok"])
        replica.proc.terminate()
        replica.proc.wait(timeout=10)
        time.sleep(pause)   # writes pile up in the master's backlog (or overflow it)
        replica.proc = subprocess.Popen(replica.argv, cwd=REPO, stdin=subprocess.DEVNULL,
                                        stdout=replica.logfile, stderr=subprocess.STDOUT)
        wait_until(replica.ping, what="restarted replica answers")
        wait_until(lambda: link_up(replica), timeout=15, what="link up again")
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    wait_until(lambda: offsets_converged(master, replica), timeout=5, what="replica caught up")
    r = replica.client()
    for key, n in counts.items():
        assert int(r.get(key)) == n == int(master.client().get(key)), key
    stats = info(master, "stats")
    return int(stats["sync_full"]) - full, int(stats["sync_partial_ok"]) - partial


def test_replica_restarted_within_the_backlog_resyncs_partially(servers):
    full, partial = run_restart_case(servers, "10mb", 0.2)
    assert (full, partial) == (0, 1)


def test_replica_restarted_beyond_the_backlog_resyncs_fully(servers):
    full, partial = run_restart_case(servers, "16kb", 1.0)
    assert (full, partial) == (1, 0)
