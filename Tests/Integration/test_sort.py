"""SORT and SORT_RO: the same request bytes go to the server under test and to a real
redis-server 7.0 on emptied servers; replies must be byte-identical. Sets are only
compared where Redis's output does not depend on its hash order (sorted output, STORE),
and ALPHA sorts BY a pattern with ties only on lists (a set's ties stay in its hash
order)."""
import random

import pytest

from test_differential import compare

SETUP = [
    ("FLUSHALL",), ("RPUSH", "l", "3", "1", "2", "10", "-5", "2.5", "1e2", "0x10"),
    ("RPUSH", "words", "pear", "apple", "fig", "banana", "apple", "", "Zed"),
    ("SADD", "s", "5", "3", "9", "1", "7"), ("SADD", "sw", "b", "a", "d", "c"),
    ("ZADD", "z", "1", "c", "2", "a", "3", "b", "4", "d"),
    ("MSET", "w_3", "30", "w_1", "10", "w_2", "20", "w_10", "5", "w_-5", "7", "w_2.5", "7",
     "o_3", "three", "o_1", "one", "o_2", "two", "w_a", "4", "w_b", "1", "w_c", "3", "w_d", "2"),
    ("HSET", "h_a", "f", "9", "g", "x"), ("HSET", "h_b", "f", "8", "g", "y"), ("HSET", "h_c", "f", "7"),
    ("HSET", "h_d", "f", "10"),
]

CASES = {
    "numeric_and_alpha": SETUP + [
        ("SORT", "l"), ("SORT", "l", "DESC"), ("SORT", "l", "ALPHA"), ("SORT", "l", "ALPHA", "DESC"),
        ("SORT", "words"), ("SORT", "words", "ALPHA"), ("SORT", "words", "alpha", "desc"),
        ("SORT", "s"), ("SORT", "s", "DESC"), ("SORT", "sw", "ALPHA"), ("SORT", "z"), ("SORT", "z", "ALPHA"),
        ("OBJECT", "ENCODING", "z"), ("SORT", "z", "ALPHA", "DESC"), ("SORT", "missing"), ("SORT_RO", "l"),
        ("SORT_RO", "words", "ALPHA", "DESC"),
    ],
    "limit": SETUP + [
        ("SORT", "l", "LIMIT", "0", "3"), ("SORT", "l", "LIMIT", "2", "3"), ("SORT", "l", "LIMIT", "-1", "2"),
        ("SORT", "l", "LIMIT", "6", "10"), ("SORT", "l", "LIMIT", "8", "1"), ("SORT", "l", "LIMIT", "100", "1"),
        ("SORT", "l", "LIMIT", "1", "0"), ("SORT", "l", "LIMIT", "1", "-1"), ("SORT", "l", "LIMIT", "x", "1"),
        ("SORT", "l", "LIMIT", "1"), ("SORT", "l", "DESC", "LIMIT", "1", "3"),
        ("SORT", "l", "BY", "nosort", "LIMIT", "1", "3"), ("SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "3"),
        ("SORT", "z", "BY", "nosort", "LIMIT", "1", "2"), ("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"),
        ("SORT", "z", "BY", "nosort", "DESC"), ("SORT", "z", "BY", "nosort", "LIMIT", "9", "2"),
        ("SORT", "l", "BY", "nosort", "LIMIT", "0", "0"), ("SORT", "missing", "LIMIT", "0", "5"),
    ],
    "by_and_get": SETUP + [
        ("SORT", "l", "BY", "w_*"), ("SORT", "l", "BY", "w_*", "DESC"), ("SORT", "l", "BY", "w_*", "GET", "#"),
        ("SORT", "l", "BY", "w_*", "GET", "o_*", "GET", "#", "GET", "w_*"), ("SORT", "l", "BY", "nosort"),
        ("SORT", "l", "BY", "nosort", "GET", "o_*"), ("SORT", "l", "BY", "nosort", "DESC"),
        ("SORT", "sw", "BY", "w_*"), ("SORT", "sw", "BY", "w_*", "DESC", "GET", "#"),
        ("SORT", "sw", "BY", "h_*->f"), ("SORT", "sw", "BY", "h_*->f", "GET", "h_*->g", "GET", "h_*->"),
        ("SORT", "sw", "BY", "h_*->f", "ALPHA"), ("SORT", "sw", "BY", "h_*->f", "ALPHA", "DESC", "LIMIT", "1", "2"),
        ("SORT", "sw", "ALPHA", "GET", "nostar"), ("SORT", "sw", "ALPHA", "GET", "h_*"),
        ("SORT", "sw", "BY", "w_*", "LIMIT", "1", "2", "GET", "#"),
        ("SORT", "z", "BY", "w_*"), ("SORT", "sw", "BY", "h_*->f", "LIMIT", "1", "2"),
        # Ties of a list: glibc's stable sort without LIMIT, Redis's pqsort order with one.
        ("SORT", "l", "BY", "o_*", "ALPHA"), ("SORT", "l", "BY", "o_*", "ALPHA", "DESC"),
        ("SORT", "l", "BY", "o_*", "ALPHA", "LIMIT", "0", "3"), ("SORT", "l", "BY", "o_*", "ALPHA", "LIMIT", "2", "4"),
        ("SORT", "l", "BY", "o_*", "ALPHA", "DESC", "LIMIT", "1", "5"),
    ],
    "errors": SETUP + [
        ("SORT", "words"), ("SORT", "l", "BY", "o_*"), ("SORT", "l", "BOGUS"), ("SORT", "l", "BY"),
        ("SORT", "l", "GET"), ("SORT", "l", "STORE"), ("SORT_RO", "l", "STORE", "d"),
        ("SET", "str", "x"), ("SORT", "str"), ("SORT", "str", "BOGUS"), ("HSET", "hh", "a", "b"), ("SORT", "hh"),
        ("RPUSH", "ws", " 1", "", "-2"), ("SORT", "ws"), ("DEL", "ws"), ("RPUSH", "ws", " 1", "", "2 "), ("SORT", "ws"),
        # redis-server reads errno after strtod without clearing it, so once a SORT hit ERANGE
        # a later one can fail as well: these come last.
        ("RPUSH", "bad", "1", "nan"), ("SORT", "bad"), ("RPUSH", "big", "1e400"), ("SORT", "big"),
        ("RPUSH", "tiny", "1e-400"), ("SORT", "tiny"),
        ("SORT", "words", "STORE", "d"), ("EXISTS", "d"),
    ],
    "store": SETUP + [
        ("SORT", "l", "STORE", "d"), ("LRANGE", "d", "0", "-1"), ("OBJECT", "ENCODING", "d"),
        ("SORT", "words", "ALPHA", "DESC", "STORE", "d"), ("LRANGE", "d", "0", "-1"),
        ("SORT", "sw", "BY", "nosort", "STORE", "d"), ("LRANGE", "d", "0", "-1"),
        ("SORT", "s", "BY", "nosort", "STORE", "d", "DESC"), ("LRANGE", "d", "0", "-1"),
        ("SORT", "l", "BY", "w_*", "GET", "o_*", "GET", "#", "STORE", "d"), ("LRANGE", "d", "0", "-1"),
        ("SORT", "l", "LIMIT", "0", "0", "STORE", "d"), ("EXISTS", "d"),
        ("SET", "d", "x"), ("SORT", "missing", "STORE", "d"), ("EXISTS", "d"),
        ("SORT", "z", "STORE", "z"), ("TYPE", "z"), ("LRANGE", "z", "0", "-1"),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sort(server, reference, name):
    assert compare(server, reference, CASES[name])


@pytest.mark.parametrize("seed", range(5))
def test_sort_random(server, reference, seed):
    rnd = random.Random(seed)
    vals = [str(rnd.choice([rnd.randint(-50, 50), round(rnd.uniform(-10, 10), 3)])) for _ in range(150)]
    steps = [("FLUSHALL",), ("RPUSH", "l", *vals), ("ZADD", "z", *[x for i, v in enumerate(vals) for x in (v, "m%d" % i)])]
    steps.append(("MSET", *[x for i in range(150) for x in ("w_m%d" % i, str(rnd.randint(0, 20)))]))
    for _ in range(15):
        opts = []
        if rnd.random() < 0.5:
            opts += ["LIMIT", str(rnd.randint(-2, 160)), str(rnd.randint(-1, 40))]
        if rnd.random() < 0.5:
            opts.append("DESC")
        key = rnd.choice(["l", "z"])
        if key == "z" and rnd.random() < 0.5:
            opts += ["BY", rnd.choice(["w_*", "nosort"])]
        elif rnd.random() < 0.3:
            opts.append("ALPHA")
        steps.append(("SORT", key, *opts))
    assert compare(server, reference, steps)
