#!/usr/bin/env python3
"""Replication cost, side by side with redis-server (each server replicating to its own kind):

- master throughput of `redis-benchmark -t set,incr -P 16` with 0, 1 and 2 replicas, and
  the master's own CPU per request (all threads);
- replication lag under that load: the largest byte gap between the master's offset and a
  replica's acknowledged one (sampled every 50 ms), and how long after the load the
  replicas reach the master's offset;
- full sync time of a 1M-key dataset;
- client p99 latency on the master (GET, 20 clients) while that full sync runs, next to
  the idle p99.

Usage: Bench/replication.py [--server 'CMD --port {port}'] [--reference 'CMD --port {port}']
Servers run on free loopback ports in scratch directories and are stopped at the end.
"""
import argparse
import os
import re
import shlex
import socket
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SERVER = os.path.join(HERE, "..", ".build", "release", "swift-redis") + " --port {port} --save '' --appendonly no"
DEFAULT_REFERENCE = "redis-server --port {port} --save '' --appendonly no --repl-diskless-sync no"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, template, extra=""):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="repl-bench-")
        argv = shlex.split(template.format(port=self.port) + " --bind 127.0.0.1 --dir " + self.dir + extra)
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("server did not start: %s" % argv)

    def cli(self, *args):
        p = subprocess.run(["redis-cli", "-p", str(self.port)] + [str(a) for a in args],
                           capture_output=True, text=True)
        return p.stdout.strip()

    def info(self, section="replication"):
        out = {}
        for line in self.cli("INFO", section).splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k.strip()] = v.strip()
        return out

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def wait(pred, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def bench(port, *args):
    p = subprocess.run(["redis-benchmark", "-p", str(port)] + list(args), capture_output=True, text=True)
    return p.stdout


def rps(out, name):
    m = re.findall(r"%s: ([\d.]+) requests per second" % name, out)
    return float(m[-1]) if m else 0.0


def replica_offsets(master):
    info = master.info()
    return [int(re.search(r"offset=(\d+)", v).group(1)) for k, v in info.items() if re.match(r"slave\d+$", k)]


def cpu_seconds(pid):
    """User+system CPU of a process, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput_with_replicas(template, n):
    master = Proc(template)
    replicas = [Proc(template, " --replicaof 127.0.0.1 %d" % master.port) for _ in range(n)]
    try:
        for r in replicas:
            wait(lambda r=r: r.info().get("master_link_status") == "up")
        max_gap = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                offs = replica_offsets(master)
                if offs:
                    top = int(master.info()["master_repl_offset"])
                    max_gap[0] = max(max_gap[0], top - min(offs))
                time.sleep(0.05)
        t = threading.Thread(target=sample)
        t.start()
        cpu0 = cpu_seconds(master.proc.pid)
        requests = 1000000   # per test: SET, then INCR
        out = bench(master.port, "-t", "set,incr", "-P", "16", "-c", "50", "-n", str(requests), "-q", "-r", "100000")
        cpu_us = (cpu_seconds(master.proc.pid) - cpu0) * 1e6 / (2 * requests)
        end = time.time()
        done.set()
        t.join()
        catch_up = 0.0
        if replicas:
            top = master.info()["master_repl_offset"]
            wait(lambda: all(r.info().get("slave_repl_offset") == top for r in replicas), 30)
            catch_up = (time.time() - end) * 1000
        return rps(out, "SET"), rps(out, "INCR"), max_gap[0], catch_up, cpu_us
    finally:
        for p in replicas + [master]:
            p.stop()


def fill(master, keys):
    payload = bytearray()
    for i in range(keys):
        k, v = b"key:%d" % i, b"value:%d" % i
        payload += b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
    subprocess.run(["redis-cli", "-p", str(master.port), "--pipe"], input=bytes(payload), capture_output=True)


def p99(port):
    out = bench(port, "-t", "get", "-c", "20", "-n", "300000", "-r", "1000000")
    m = re.search(r"latency summary \(msec\):\s*\n\s*avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d. ]+)", out)
    if not m:
        return float("nan"), float("nan")
    values = m.group(1).split()
    return float(values[4]), float(values[5])


def probe(port, stop, out):
    """One client sending GETs back to back until `stop` is set; records every round trip
    (ms), so a pause of the master while the replica syncs shows as its longest wait."""
    s = socket.create_connection(("127.0.0.1", port))
    req = b"*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n"
    while not stop.is_set():
        t = time.perf_counter()
        s.sendall(req)
        buf = b""
        while not buf.endswith(b"\r\n") or buf.count(b"\r\n") < 2:
            buf += s.recv(4096)
        out.append((time.perf_counter() - t) * 1000)
    s.close()


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")


def full_sync(template, keys):
    master = Proc(template)
    try:
        fill(master, keys)
        assert int(master.cli("DBSIZE")) == keys
        idle = p99(master.port)
        stop, quiet = threading.Event(), []
        t = threading.Thread(target=probe, args=(master.port, stop, quiet))
        t.start()
        time.sleep(1.0)
        stop.set()
        t.join()
        start = time.time()
        replica = Proc(template, " --replicaof 127.0.0.1 %d" % master.port)
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("latency", p99(master.port)))
        t.start()
        stop, during = threading.Event(), []
        pt = threading.Thread(target=probe, args=(master.port, stop, during))
        pt.start()
        wait(lambda: replica.info().get("master_link_status") == "up", 300)
        sync_s = time.time() - start
        stop.set()
        pt.join()
        t.join()
        ok = int(replica.cli("DBSIZE")) == keys
        replica.stop()
        return sync_s, idle, result["latency"], ok, (percentile(quiet, 0.99), max(quiet)), \
            (percentile(during, 0.99), max(during))
    finally:
        master.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=DEFAULT_SERVER)
    ap.add_argument("--reference", default=DEFAULT_REFERENCE)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--sync-only", action="store_true", help="only the full-sync measurement")
    ap.add_argument("--server-only", action="store_true", help="only --server (comparing two builds)")
    a = ap.parse_args()
    kinds = [("redis-server", a.reference), ("swift-redis", a.server)]
    print("## master throughput, redis-benchmark -t set,incr -P 16 -c 50 -n 1000000 -r 100000")
    print("(master us/req: the master's own CPU, all threads, per SET or INCR: what replication costs it,")
    print(" apart from the CPU the replicas take from cores they share with it here)")
    print("%-13s %8s %10s %10s %14s %12s %14s" % ("server", "replicas", "SET rps", "INCR rps", "max lag bytes", "catch-up ms", "master us/req"))
    for n in (0, 1, 2) if not a.sync_only else ():
        for name, template in kinds if not a.server_only else [kinds[1]]:
            s, i, gap, catch, cpu = throughput_with_replicas(template, n)
            print("%-13s %8d %10.0f %10.0f %14d %12.0f %14.2f" % (name, n, s, i, gap, catch, cpu), flush=True)
    print("## full sync of %d keys; GET latency on the master (ms, 20 clients) idle and during the sync" % a.keys)
    print("(redis-benchmark GET -c 20 over the sync and beyond; then one probe client's round trips")
    print(" idle for 1 s, and exactly from the replica's start until its link is up)")
    print("%-13s %8s %9s %9s %11s %11s %8s %10s %10s %12s %12s" % (
        "server", "sync s", "idle p99", "idle max", "during p99", "during max", "complete",
        "probe p99", "probe max", "sync p99", "sync max"))
    for name, template in kinds if not a.server_only else [kinds[1]]:
        s, idle, during, ok, quiet, probed = full_sync(template, a.keys)
        print("%-13s %8.2f %9.3f %9.3f %11.3f %11.3f %8s %10.3f %10.3f %12.3f %12.3f" % (
            name, s, idle[0], idle[1], during[0], during[1], ok, quiet[0], quiet[1], probed[0], probed[1]), flush=True)


if __name__ == "__main__":
    main()
