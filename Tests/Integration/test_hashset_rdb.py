"""Hashes and sets through RDB files, both ways with redis-server 7.0.15: contents, listpack
order, intset order and OBJECT ENCODING survive SAVE and a restart on the other server."""
from resp import RawConn, parse
from test_rdb import servers, single  # noqa: F401  (servers is a fixture)

ENCODED_KEYS = {
    "hsmall": "listpack", "hbig": "hashtable", "hlong": "hashtable", "sint": "intset",
    "sbigint": "hashtable", "swords": "hashtable", "smixed": "hashtable", "httl": "listpack",
}


def fill(port):
    with RawConn(port) as c:
        c.call("HSET", "hsmall", "z", "1", "a", "2", "m", "\x00\xff")
        c.call("HDEL", "hsmall", "a")
        c.call("HSET", "hsmall", "a", "3")
        c.call("HSET", "hbig", *[x for i in range(700) for x in ("f%d" % i, "v%d" % i)])
        c.call("HSET", "hlong", "f", "x" * 100)
        c.call("SADD", "sint", "5", "-3", "100", "7")
        c.call("SADD", "sbigint", *[str(i) for i in range(600)])
        c.call("SADD", "swords", *["w%d" % i for i in range(50)])
        c.call("SADD", "smixed", "1", "a")
        c.call("HSET", "httl", "f", "v")
        c.call("EXPIRE", "httl", "1000")
        assert parse(c.call("SAVE")) == "OK"


def view(port):
    """Each key's encoding and contents: exact order where Redis defines it, sorted otherwise."""
    out = {}
    with RawConn(port) as c:
        for key, enc in ENCODED_KEYS.items():
            got_enc = parse(c.call("OBJECT", "ENCODING", key)).decode()
            if key.startswith("h"):
                flat = parse(c.call("HGETALL", key))
                pairs = list(zip(flat[0::2], flat[1::2]))
                contents = pairs if got_enc == "listpack" else sorted(pairs)
            else:
                members = parse(c.call("SMEMBERS", key))
                contents = members if got_enc == "intset" else sorted(members)
            out[key] = (got_enc, contents)
        ttl = parse(c.call("TTL", "httl"))
        assert 990 <= ttl <= 1000
    return out


def test_redis_file_loads_in_ours(servers, tmp_path):  # noqa: F811
    ours, real = servers
    ref = real(tmp_path)
    fill(ref.port)
    expected = view(ref.port)
    assert {k: e for k, (e, _) in expected.items()} == ENCODED_KEYS
    ref.stop()
    srv = ours(tmp_path)
    assert view(srv.port) == expected


def test_our_file_loads_in_redis(servers, tmp_path):  # noqa: F811
    ours, real = servers
    srv = ours(tmp_path)
    fill(srv.port)
    expected = view(srv.port)
    assert {k: e for k, (e, _) in expected.items()} == ENCODED_KEYS
    srv.stop()
    ref = real(tmp_path)
    assert view(ref.port) == expected
