"""Every value type through RDB both ways with redis-server 7.0.15: a dump it writes loads
in ours with the same contents and TTLs, and a dump ours writes loads in it."""
from test_rdb import servers, wait_until  # noqa: F401  (fixture)


def fill(r):
    r.rpush("list:small", "a", "b", "c", "12", "-7")
    r.rpush("list:big", *["element-%d" % i for i in range(3000)])
    r.hset("hash:small", mapping={"f1": "v1", "f2": "22", "f3": ""})
    r.hset("hash:big", mapping={"field-%d" % i: "value-%d" % i for i in range(1000)})
    r.hset("hash:longvalue", mapping={"f": "x" * 100})
    r.sadd("set:ints", 1, 2, 3, -40, 1 << 40)
    r.sadd("set:strings", "a", "b", "c")
    r.sadd("set:big", *range(2000))
    r.zadd("zset:small", {"a": 1.5, "b": -2, "c": 1e100})
    r.zadd("zset:big", {"m%d" % i: i / 3 for i in range(500)})
    r.rpush("list:ttl", "x")
    r.pexpire("list:ttl", 500000)


def snapshot(r):
    """Every key's type, contents and rough TTL, in a comparable form."""
    out = {}
    for k in r.scan_iter(count=1000):
        t = r.type(k)
        t = t.decode() if isinstance(t, bytes) else t
        if t == "list":
            v = r.lrange(k, 0, -1)
        elif t == "hash":
            v = sorted(r.hgetall(k).items())
        elif t == "set":
            v = sorted(r.smembers(k))
        elif t == "zset":
            v = r.zrange(k, 0, -1, withscores=True)
        else:
            v = r.get(k)
        ttl = r.pttl(k)
        out[k] = (t, v, ttl > 0 and round(ttl / 10000))
    return out


def test_real_dump_of_every_type_loads_in_ours(servers, tmp_path):
    ours, real = servers
    ref = real(str(tmp_path))
    r = ref.client()
    fill(r)
    expected = snapshot(r)
    r.save()
    ref.stop()
    srv = ours(str(tmp_path))
    mine = srv.client()
    assert snapshot(mine) == expected
    enc = mine.object("encoding", "set:ints")
    assert enc in (b"intset", "intset")
    assert mine.object("encoding", "hash:small") in (b"listpack", "listpack")
    assert mine.object("encoding", "hash:big") in (b"hashtable", "hashtable")


def test_our_dump_of_every_type_loads_in_real_redis(servers, tmp_path):
    ours, real = servers
    srv = ours(str(tmp_path))
    mine = srv.client()
    fill(mine)
    expected = snapshot(mine)
    mine.save()
    srv.stop()
    ref = real(str(tmp_path))
    assert snapshot(ref.client()) == expected
