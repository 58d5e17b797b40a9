"""Geo commands: the same request bytes go to the server under test and to a real
redis-server 7.0 on emptied servers; replies must be byte-identical (positions, distances,
geohashes, search order, errors), in RESP2 and RESP3. Random point clouds and searches
check the search areas (the nine geohash cells) and the result order, not just samples.
"""
import random

import pytest

from test_differential import compare
from test_zsets import run_resp3

PLACES = ["13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania",
          "2.349014", "48.864716", "Paris", "-73.935242", "40.730610", "NewYork",
          "139.691706", "35.689487", "Tokyo", "-0.127758", "51.507351", "London",
          "179.9999", "-85.05", "edge1", "-180", "85.05112878", "edge2", "0", "0", "origin"]

CASES = {
    "geoadd_and_positions": [
        ("FLUSHALL",), ("GEOADD", "g", *PLACES), ("GEOADD", "g", *PLACES[:3]),
        ("ZRANGE", "g", "0", "-1", "WITHSCORES"), ("GEOPOS", "g", "Palermo", "nope", "edge1", "edge2", "origin"),
        ("GEOPOS", "missing", "a", "b"), ("GEOHASH", "g", "Palermo", "Catania", "nope", "edge1", "edge2", "origin"),
        ("GEOHASH", "missing", "a"), ("GEODIST", "g", "Palermo", "Catania"), ("GEODIST", "g", "Palermo", "Catania", "km"),
        ("GEODIST", "g", "Palermo", "Catania", "KM"), ("GEODIST", "g", "Palermo", "Catania", "mi"),
        ("GEODIST", "g", "Palermo", "Catania", "ft"), ("GEODIST", "g", "Palermo", "Catania", "M"),
        ("GEODIST", "g", "Palermo", "Palermo"), ("GEODIST", "g", "Palermo", "nope"), ("GEODIST", "missing", "a", "b"),
        ("GEODIST", "g", "edge1", "edge2"), ("GEODIST", "g", "Paris", "Tokyo", "km"),
        ("GEODIST", "g", "Palermo", "Catania", "yd"), ("GEODIST", "g", "Palermo", "Catania", "km", "x"),
        ("OBJECT", "ENCODING", "g"), ("TYPE", "g"),
    ],
    "geoadd_flags": [
        ("FLUSHALL",), ("GEOADD", "g", "NX", "1", "2", "a"), ("GEOADD", "g", "NX", "3", "4", "a", "5", "6", "b"),
        ("GEOADD", "g", "XX", "7", "8", "a", "9", "10", "c"), ("GEOADD", "g", "XX", "CH", "11", "12", "a"),
        ("GEOADD", "g", "CH", "11", "12", "a", "1", "1", "d"), ("GEOADD", "g", "CH", "NX", "0", "0", "e"),
        ("GEOADD", "g", "NX", "XX", "1", "1", "f"), ("GEOADD", "g", "GT", "1", "1", "f"),
        ("GEOADD", "g", "1", "1"), ("GEOADD", "g", "1", "1", "a", "2"), ("GEOADD", "g", "NX", "CH"),
        ("ZRANGE", "g", "0", "-1", "WITHSCORES"), ("GEOPOS", "g", "a", "b", "c", "d", "e"),
    ],
    "geoadd_errors": [
        ("FLUSHALL",), ("GEOADD", "g", "181", "0", "a"), ("GEOADD", "g", "0", "85.06", "a"),
        ("GEOADD", "g", "-180.000001", "-85.1", "a"), ("GEOADD", "g", "x", "0", "a"), ("GEOADD", "g", "0", "y", "a"),
        ("GEOADD", "g", "1", "1", "ok", "200", "1", "bad"), ("EXISTS", "g"), ("GEOADD", "g", "inf", "0", "a"),
        ("GEOADD", "g", "nan", "0", "a"), ("GEOADD", "g"), ("GEOADD", "g", "1", "2"),
        ("SET", "s", "x"), ("GEOADD", "s", "1", "1", "a"), ("GEOPOS", "s", "a"), ("GEOHASH", "s", "a"),
        ("GEODIST", "s", "a", "b"), ("GEOSEARCH", "s", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
        ("GEORADIUS", "s", "0", "0", "1", "km"), ("GEORADIUSBYMEMBER", "s", "a", "1", "km"),
        ("GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"), ("GEOPOS", "g"),
    ],
    "georadius": [
        ("FLUSHALL",), ("GEOADD", "Sicily", *PLACES[:6]),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "DESC"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "DESC"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "ANY"),
        ("GEORADIUS", "Sicily", "15", "37", "100", "km"), ("GEORADIUS", "Sicily", "15", "37", "1", "m"),
        ("GEORADIUS", "Sicily", "15", "37", "0", "m"), ("GEORADIUS", "Sicily", "15", "37", "99999", "mi"),
        ("GEORADIUS", "Sicily", "15", "37", "-1", "km"), ("GEORADIUS", "Sicily", "15", "37", "x", "km"),
        ("GEORADIUS", "Sicily", "15", "37", "1", "parsec"), ("GEORADIUS", "Sicily", "15", "95", "1", "km"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "-3"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "x"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT"), ("GEORADIUS", "Sicily", "15", "37", "200", "km", "ANY"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "BOGUS"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d", "WITHDIST"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "FROMMEMBER", "Palermo"),
        ("GEORADIUS", "nokey", "15", "37", "200", "km"), ("GEORADIUS", "nokey", "15", "37", "x", "km"),
        ("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "ASC"),
        ("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "WITHDIST"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "10", "km", "WITHCOORD", "WITHHASH"),
        ("GEORADIUSBYMEMBER", "Sicily", "nope", "200", "km"), ("GEORADIUSBYMEMBER", "nokey", "x", "bad", "km"),
        ("GEORADIUSBYMEMBER_RO", "Sicily", "Catania", "200", "km", "DESC", "WITHDIST"),
        ("GEORADIUSBYMEMBER", "nokey", "x", "1", "km", "STORE", "d"),
    ],
    "georadius_store": [
        ("FLUSHALL",), ("GEOADD", "Sicily", *PLACES[:6]), ("SET", "d", "old"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "d"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "d", "COUNT", "1", "DESC"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("OBJECT", "ENCODING", "d"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "1", "km", "STORE", "d"), ("EXISTS", "d"),
        ("SET", "d", "x"), ("GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "d"), ("EXISTS", "d"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d", "STOREDIST", "e"), ("EXISTS", "d", "e"),
        ("ZRANGE", "e", "0", "-1", "WITHSCORES"),
    ],
    "geosearch": [
        ("FLUSHALL",), ("GEOADD", "g", *PLACES),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"),
        ("GEOSEARCH", "g", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "WITHDIST"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYBOX", "100", "400", "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", "0", "45", "BYBOX", "3000", "3000", "km", "DESC", "WITHDIST"),
        ("GEOSEARCH", "g", "FROMLONLAT", "0", "45", "BYRADIUS", "20000", "km", "WITHDIST"),
        ("GEOSEARCH", "g", "FROMLONLAT", "0", "45", "BYRADIUS", "20000", "km", "COUNT", "3", "ANY"),
        ("GEOSEARCH", "g", "FROMLONLAT", "0", "45", "BYRADIUS", "20000", "km", "COUNT", "3"),
        ("GEOSEARCH", "g", "FROMLONLAT", "179", "-85", "BYRADIUS", "500", "km", "WITHCOORD"),
        ("GEOSEARCH", "g", "FROMMEMBER", "nope", "BYRADIUS", "200", "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37"), ("GEOSEARCH", "g", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "g", "FROMMEMBER", "Palermo", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYBOX", "-1", "1", "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYBOX", "x", "1", "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYBOX", "1", "y", "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "au"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYBOX", "1", "1"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STORE", "x"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STOREDIST"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "ANY"),
        ("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "nokey", "FROMLONLAT", "15", "37"), ("GEOSEARCH", "nokey", "FROMLONLAT", "200", "0", "BYRADIUS", "1", "km"),
        ("geosearch", "g", "fromlonlat", "15", "37", "byradius", "200", "KM", "desc", "withdist"),
    ],
    "geosearchstore": [
        ("FLUSHALL",), ("GEOADD", "g", *PLACES),
        ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("GEOSEARCHSTORE", "d", "g", "FROMMEMBER", "Paris", "BYBOX", "2000", "2000", "km", "STOREDIST", "COUNT", "2"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "WITHDIST"),
        ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "100", "0", "BYRADIUS", "1", "km"), ("EXISTS", "d"),
        ("SET", "d", "x"), ("GEOSEARCHSTORE", "d", "nokey", "FROMLONLAT", "100", "0", "BYRADIUS", "1", "km"), ("EXISTS", "d"),
        ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STORE", "e"),
    ],
}

CASES["extremes"] = [
    ("FLUSHALL",), ("GEOADD", "g", *PLACES),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "inf", "km", "ASC"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1e300", "km", "DESC"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYBOX", "1e300", "inf", "m", "ASC"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYBOX", "0", "0", "m"),
    ("GEOSEARCH", "g", "FROMMEMBER", "origin", "BYRADIUS", "0", "m", "WITHCOORD"),
    ("GEOSEARCH", "g", "FROMMEMBER", "edge2", "BYRADIUS", "30000", "km", "ASC", "WITHDIST"),
    ("GEOSEARCH", "g", "FROMLONLAT", "180", "85.05112878", "BYBOX", "40000", "100", "km", "ASC"),
    ("GEOSEARCH", "g", "FROMLONLAT", "-180", "-85.05112878", "BYRADIUS", "5000", "km", "ASC"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "COUNT", "9223372036854775807"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "COUNT", "9223372036854775808"),
    ("GEORADIUS", "g", "0", "0", "20000", "km", "COUNT", "3", "DESC", "WITHDIST", "WITHHASH"),
]

RESP3_CASES = ["geoadd_and_positions", "georadius", "geosearch"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_geo(server, reference, name):
    assert compare(server, reference, CASES[name])


@pytest.mark.parametrize("name", RESP3_CASES)
def test_geo_resp3(server, reference, name):
    want = run_resp3(reference, CASES[name])
    got = run_resp3(server, CASES[name])
    assert want
    for (step, w), (_, g) in zip(want, got):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)


def random_case(seed):
    """A cloud of points around a random centre (some duplicated positions, a set big
    enough to be a skiplist or not) and searches of every kind around it."""
    rnd = random.Random(seed)
    clon, clat = rnd.uniform(-179, 179), rnd.uniform(-84, 84)
    spread = rnd.choice([0.01, 0.5, 5, 40])
    n = rnd.choice([20, 200])
    steps = [("FLUSHALL",)]
    args = ["GEOADD", "g"]
    for i in range(n):
        lon = min(180, max(-180, clon + rnd.uniform(-spread, spread)))
        lat = min(85.05, max(-85.05, clat + rnd.uniform(-spread, spread)))
        args += ["%.6f" % lon, "%.6f" % lat, "p%d" % i]
    steps.append(tuple(args))
    for _ in range(12):
        r = "%.3f" % (rnd.uniform(0.1, 3) * spread * 111)
        kind = rnd.choice(["BYRADIUS", "BYBOX"])
        shape = (kind, r, "km") if kind == "BYRADIUS" else (kind, r, "%.3f" % (rnd.uniform(0.1, 3) * spread * 111), "km")
        src = ("FROMMEMBER", "p%d" % rnd.randrange(n)) if rnd.random() < 0.5 else \
            ("FROMLONLAT", "%.5f" % clon, "%.5f" % clat)
        extra = rnd.choice([(), ("ASC",), ("DESC",), ("COUNT", "5"), ("COUNT", "3", "ANY"), ("COUNT", "4", "DESC")])
        steps.append(("GEOSEARCH", "g", *src, *shape, "WITHDIST", "WITHHASH", "WITHCOORD", *extra))
        steps.append(("GEOSEARCHSTORE", "d", "g", *src, *shape, "STOREDIST", *extra))
        steps.append(("ZRANGE", "d", "0", "-1", "WITHSCORES"))
        steps.append(("GEORADIUS", "g", "%.5f" % clon, "%.5f" % clat, r, "km", *extra))
    steps.append(("GEOPOS", "g", "p0", "p1", "p2"))
    steps.append(("GEOHASH", "g", "p0", "p1", "p2"))
    steps.append(("GEODIST", "g", "p0", "p1", "km"))
    return steps


@pytest.mark.parametrize("seed", range(10))
def test_geo_random(server, reference, seed):
    assert compare(server, reference, random_case(seed))


def test_watch_sees_only_the_written_key(server, reference):
    """GEOSEARCHSTORE, GEORADIUS STORE and SORT STORE change only their destination: a
    WATCH on the source holds, one on the destination fails, as with redis-server."""
    from test_zsets import watch_outcomes
    search = ("GEOSEARCHSTORE", "dst", "src", "FROMLONLAT", "0", "0", "BYRADIUS", "1000", "km")
    radius = ("GEORADIUS", "src", "0", "0", "1000", "km", "STORE", "dst")
    cases = [("src", search), ("dst", search), ("src", radius), ("dst", radius),
             ("src", ("SORT", "src", "BY", "nosort", "STORE", "dst")), ("dst", ("SORT", "src", "STORE", "dst")),
             ("dst", ("GEOSEARCHSTORE", "dst", "src", "FROMLONLAT", "90", "0", "BYRADIUS", "1", "km")),
             ("src", ("GEOADD", "src", "1", "1", "x"))]
    assert watch_outcomes(server, cases) == watch_outcomes(reference, cases)


def test_ties_under_count(server, reference):
    """Members at one position are at equal distances: their order under COUNT is the order
    Redis's partial quicksort leaves them in."""
    steps = [("FLUSHALL",), ("GEOADD", "g", *[x for i in range(30) for x in ("10", "10", "m%02d" % i)]),
             ("GEOADD", "g", *[x for i in range(30) for x in ("10.001", "10", "n%02d" % i)])]
    for n in ("1", "2", "5", "7", "10", "29", "40", "59", "60"):
        steps.append(("GEOSEARCH", "g", "FROMLONLAT", "10", "10", "BYRADIUS", "10", "km", "COUNT", n))
        steps.append(("GEOSEARCH", "g", "FROMLONLAT", "10", "10", "BYRADIUS", "10", "km", "COUNT", n, "DESC"))
    steps.append(("GEOSEARCH", "g", "FROMLONLAT", "10", "10", "BYRADIUS", "10", "km", "ASC"))
    assert compare(server, reference, steps)
