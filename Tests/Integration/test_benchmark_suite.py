"""redis-benchmark's whole default suite against the server under test, and the data it
leaves behind checked for consistency (every write counted, nothing applied twice)."""
import re

import pytest

from test_tools import bench

DEFAULT_SUITE = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP",
                 "RPOP", "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)",
                 "LRANGE_100 (first 100 elements)", "LRANGE_300 (first 300 elements)",
                 "LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)", "MSET (10 keys)"]


XADD = ["XADD", "mystream", "*", "myfield", "myvalue"]


def results(out):
    """{test name: requests per second} from redis-benchmark -q output."""
    found = {}
    for line in re.split(r"[\r\n]", out):
        m = re.match(r"\s*(.+?): ([\d.]+) requests per second", line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found


@pytest.mark.parametrize("pipeline", [1, 16])
def test_default_suite_completes_without_errors(server, pipeline):
    out = bench(server, "-n", "3000", "-c", "20", "-P", str(pipeline), "-q")
    got = results(out)
    for name in DEFAULT_SUITE:
        assert got.get(name, 0) > 0, "no result for %s:\n%s" % (name, out)
    # redis-benchmark 7.0 has no XADD test of its own (7.2 added one): run its command.
    out = bench(server, "-n", "3000", "-c", "20", "-P", str(pipeline), "-q", *XADD)
    assert any(v > 0 for v in results(out).values()), out


def test_suite_leaves_consistent_data(server):
    n = 5120  # a multiple of clients x pipeline: redis-benchmark sends whole pipelines
    r = server.client()
    bench(server, "-t", "lpush", "-n", str(n), "-c", "20", "-P", "16", "-q")
    assert r.llen("mylist") == n
    bench(server, "-t", "rpush", "-n", str(n), "-c", "20", "-q")
    assert r.llen("mylist") == 2 * n
    bench(server, "-t", "lpop", "-n", str(n), "-c", "20", "-P", "16", "-q")
    assert r.llen("mylist") == n
    bench(server, "-t", "incr", "-n", str(n), "-c", "20", "-P", "16", "-q")
    assert int(r.get("counter:__rand_int__")) == n
    bench(server, "-n", str(n), "-c", "20", "-P", "16", "-q", *XADD)
    assert r.xlen("mystream") == n
    bench(server, "-t", "zadd", "-n", str(n), "-c", "20", "-r", "100000", "-q")
    zcard = r.zcard("myzset")
    assert 0 < zcard <= n
    bench(server, "-t", "zpopmin", "-n", str(zcard + 10), "-c", "20", "-q")
    assert r.zcard("myzset") == 0 and not r.exists("myzset")
    bench(server, "-t", "sadd", "-n", str(n), "-c", "20", "-r", "100000", "-q")
    scard = r.scard("myset")
    assert 0 < scard <= n
    bench(server, "-t", "spop", "-n", str(n), "-c", "20", "-q")
    assert r.scard("myset") == 0 and not r.exists("myset")
    bench(server, "-t", "hset", "-n", str(n), "-c", "20", "-r", "100000", "-q")
    assert 0 < r.hlen("myhash") <= n
    assert r.type("mylist") == b"list" or r.type("mylist") == "list"
