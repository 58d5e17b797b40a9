"""The real Redis tools against the server under test: redis-cli and redis-benchmark."""
import re
import subprocess

import pytest

from resp import encode


def cli(srv, *args, stdin=None, timeout=120):
    p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(srv.port)] + list(args),
                       input=stdin, capture_output=True, timeout=timeout)
    return p


def test_redis_cli_basic(server):
    assert cli(server, "PING").stdout == b"PONG\n"
    assert cli(server, "SET", "greeting", "hello world").stdout == b"OK\n"
    assert cli(server, "GET", "greeting").stdout == b"hello world\n"
    assert cli(server, "INCRBY", "n", "41").stdout == b"41\n"
    assert cli(server, "GET", "missing").stdout == b"\n"
    assert cli(server, "--no-raw", "GET", "missing").stdout == b"(nil)\n"
    assert cli(server, "--no-raw", "MGET", "greeting", "n").stdout == b'1) "hello world"\n2) "41"\n'
    out = cli(server, "NOSUCHCMD").stdout
    assert out.startswith(b"ERR unknown command 'NOSUCHCMD'"), out
    assert cli(server, "-n", "3", "SET", "in3", "x").stdout == b"OK\n"
    assert cli(server, "-n", "3", "DBSIZE").stdout == b"1\n"
    assert cli(server, "DBSIZE").stdout == b"2\n"
    # Commands from standard input, one per line.
    out = cli(server, stdin=b"SET a 1\nINCR a\nGET a\n").stdout
    assert out == b"OK\n2\n2\n", out


def test_redis_cli_pipe_mass_insertion(server):
    n = 100000
    payload = b"".join(encode("SET", "key:%d" % i, "value:%d" % i) for i in range(n))
    p = cli(server, "--pipe", stdin=payload, timeout=120)
    assert p.returncode == 0, p.stderr + p.stdout
    assert b"errors: 0, replies: %d" % n in p.stdout, p.stdout
    assert cli(server, "DBSIZE").stdout == b"%d\n" % n
    for i in (0, 1, 4242, n - 1):
        assert cli(server, "GET", "key:%d" % i).stdout == b"value:%d\n" % i


def bench(srv, *args, timeout=300):
    p = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(srv.port)] + list(args),
                       capture_output=True, timeout=timeout)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    assert p.returncode == 0, out
    assert "error" not in out.lower(), out
    return out


@pytest.mark.parametrize("pipeline", [1, 16])
def test_redis_benchmark_mixed(server, pipeline):
    n = 20000
    out = bench(server, "-t", "ping_inline,ping_mbulk,set,get,incr,mset", "-n", str(n), "-c", "50",
                "-P", str(pipeline), "-q")
    for name in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"):
        # -q prints progress lines ending in \r before each final line.
        lines = re.split(r"[\r\n]", out)
        m = next((re.match(r"\s*%s[^:]*: ([\d.]+) requests per second" % name, l) for l in lines
                  if re.match(r"\s*%s[^:]*: [\d.]+ requests per second" % name, l)), None)
        assert m and float(m.group(1)) > 0, "no result for %s:\n%s" % (name, out)
    r = server.client()
    # Without -r every SET/GET uses the one key "key:__rand_int__" and MSET "key:__rand_int__".
    assert r.get("key:__rand_int__") is not None
    assert int(r.get("counter:__rand_int__")) == n


@pytest.mark.parametrize("pipeline", [1, 16])
def test_redis_benchmark_incr_count_exact(server, pipeline):
    n = 20000
    bench(server, "-t", "incr", "-n", str(n), "-c", "50", "-P", str(pipeline), "-q")
    assert int(server.client().get("counter:__rand_int__")) == n


def test_redis_benchmark_random_keys(server):
    n = 20000
    bench(server, "-t", "set", "-n", str(n), "-c", "50", "-P", "16", "-r", "1000", "-q")
    r = server.client()
    size = r.dbsize()
    assert 900 < size <= 1000, size
    key = r.randomkey()
    assert re.fullmatch(rb"key:\d{12}", key), key
    assert len(r.get(key)) == 3  # -d defaults to 3 bytes
