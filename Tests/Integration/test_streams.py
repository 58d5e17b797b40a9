"""Streams: differential cases compared byte for byte with redis-server 7.0.15 wherever the
reply is deterministic (explicit IDs, no idle times), shape checks for generated IDs and
times, XREAD/XREADGROUP BLOCK wake-ups from another client, and consumer group flows."""
import re
import socket
import threading
import time

import pytest

from resp import RawConn, encode, parse, RespError
from test_differential import compare, run


def fill(n, key="s", start_ms=1):
    return [("XADD", key, "%d-1" % (start_ms + i), "f", str(i)) for i in range(n)]


CASES = {
    "xadd_explicit_ids": [
        ("XADD", "s", "1-1", "a", "1"), ("XADD", "s", "1-1", "a", "1"), ("XADD", "s", "1-0", "a", "1"),
        ("XADD", "s", "1-2", "a", "1", "b", "2"), ("XADD", "s", "2", "x", "y"), ("XADD", "s", "2-*", "x", "y"),
        ("XADD", "s", "2-*", "x", "y"), ("XADD", "s", "5-*", "x", "y"), ("XADD", "s", "1-*", "x", "y"),
        ("XADD", "s", "0-0", "a", "1"), ("XADD", "n", "0-0", "a", "1"), ("EXISTS", "n"), ("XADD", "n", "0-*", "a", "1"),
        ("XADD", "s", "abc", "a", "1"), ("XADD", "s", "1-2-3", "a", "1"), ("XADD", "s", "-1", "a", "1"),
        ("XADD", "s", "+", "a", "1"), ("XADD", "s", "-", "a", "1"), ("XADD", "s", "1-x", "a", "1"),
        ("XADD", "s", "18446744073709551615-18446744073709551614", "a", "1"),
        ("XADD", "s", "18446744073709551615-*", "a", "1"), ("XADD", "s", "18446744073709551615-*", "a", "1"),
        ("XADD", "s", "*", "a", "1"), ("XLEN", "s"), ("XRANGE", "s", "-", "+"),
    ],
    "xadd_arity_and_options": [
        ("XADD", "s", "1-1", "a"), ("XADD", "s", "1-1", "a", "1", "b"), ("XADD", "s", "1-1"),
        ("XADD", "s", "NOMKSTREAM", "1-1", "a", "1"), ("EXISTS", "s"), ("XADD", "s", "nomkstream", "1-1"),
        ("XADD", "s", "MAXLEN", "1-1", "a", "1"), ("XADD", "s", "MAXLEN", "-1", "1-1", "a", "1"),
        ("XADD", "s", "MAXLEN", "abc", "1-1", "a", "1"), ("XADD", "s", "MAXLEN", "1", "MINID", "0", "1-1", "a", "1"),
        ("XADD", "s", "LIMIT", "10", "1-1", "a", "1"), ("XADD", "s", "MAXLEN", "1", "LIMIT", "10", "1-1", "a", "1"),
        ("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "1-1", "a", "1"),
        ("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "x", "1-1", "a", "1"),
        ("XADD", "s", "MINID", "abc", "1-1", "a", "1"), ("XADD", "s", "MINID", "+", "1-1", "a", "1"),
        ("XADD", "s", "MAXLEN", "=", "5", "1-1", "a", "1"), ("XADD", "s", "maxlen", "~", "5", "limit", "0", "2-1", "a", "1"),
        ("XADD", "s", "LIMIT", "0", "3-1", "a", "1"), ("XLEN", "s"),
        ("SET", "str", "x"), ("XADD", "str", "1-1", "a", "1"), ("XADD", "str", "NOMKSTREAM", "1-1", "a", "1"),
        ("XLEN", "str"), ("XLEN", "nokey"), ("TYPE", "s"), ("OBJECT", "ENCODING", "s"),
    ],
    "xadd_maxlen_trim": fill(10) + [
        ("XADD", "s", "MAXLEN", "5", "20-1", "f", "x"), ("XLEN", "s"), ("XRANGE", "s", "-", "+"),
        ("XADD", "s", "MAXLEN", "=", "2", "21-1", "f", "x"), ("XRANGE", "s", "-", "+"),
        ("XADD", "s", "MAXLEN", "0", "22-1", "f", "x"), ("XLEN", "s"), ("EXISTS", "s"), ("XRANGE", "s", "-", "+"),
        ("XINFO", "STREAM", "s"),
    ],
    "xadd_minid_trim": fill(10) + [
        ("XADD", "s", "MINID", "5", "20-1", "f", "x"), ("XRANGE", "s", "-", "+"),
        ("XADD", "s", "MINID", "=", "9-1", "21-1", "f", "x"), ("XRANGE", "s", "-", "+"),
        ("XTRIM", "s", "MINID", "100"), ("XLEN", "s"), ("XINFO", "STREAM", "s"),
    ],
    "approx_trim_whole_nodes": fill(250) + [
        ("XTRIM", "s", "MAXLEN", "~", "120"), ("XLEN", "s"), ("XTRIM", "s", "MAXLEN", "~", "120"),
        ("XTRIM", "s", "MAXLEN", "~", "10"), ("XLEN", "s"), ("XRANGE", "s", "-", "+", "COUNT", "2"),
        ("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "10", "300-1", "f", "v"), ("XLEN", "s"),
        ("XTRIM", "s", "MINID", "~", "240"), ("XLEN", "s"), ("XINFO", "STREAM", "s"),
    ],
    "xtrim_errors": fill(5) + [
        ("XTRIM", "s"), ("XTRIM", "s", "BOGUS", "1"), ("XTRIM", "s", "MAXLEN"), ("XTRIM", "s", "MAXLEN", "-5"),
        ("XTRIM", "s", "MAXLEN", "1", "LIMIT", "5"), ("XTRIM", "s", "MAXLEN", "~", "1", "LIMIT", "5", "x"),
        ("XTRIM", "s", "LIMIT", "5"), ("XTRIM", "s", "MAXLEN", "2", "MINID", "1"),
        ("XTRIM", "nokey", "MAXLEN", "1"), ("XTRIM", "s", "MAXLEN", "=", "3"), ("XTRIM", "s", "MAXLEN", "3"),
        ("XTRIM", "s", "MINID", "4-1"), ("XRANGE", "s", "-", "+"), ("SET", "str", "1"),
        ("XTRIM", "str", "MAXLEN", "1"),
    ],
    "xrange_xrevrange": fill(8) + [
        ("XRANGE", "s", "-", "+"), ("XRANGE", "s", "3", "5"), ("XRANGE", "s", "3-1", "5-1"),
        ("XRANGE", "s", "(3-1", "(5-1"), ("XRANGE", "s", "(3-1", "5"), ("XRANGE", "s", "-", "+", "COUNT", "3"),
        ("XRANGE", "s", "-", "+", "COUNT", "0"), ("XRANGE", "s", "-", "+", "COUNT", "-1"),
        ("XRANGE", "s", "-", "+", "COUNT"), ("XRANGE", "s", "-", "+", "COUNT", "x"),
        ("XRANGE", "s", "-", "+", "BOGUS", "1"), ("XRANGE", "s", "5", "3"), ("XRANGE", "s", "(-", "+"),
        ("XRANGE", "s", "(", "+"), ("XRANGE", "s", "abc", "+"), ("XRANGE", "s", "-", "(+"),
        ("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"), ("XRANGE", "s", "-", "(0-0"),
        ("XRANGE", "s", "(0", "+", "COUNT", "1"),
        ("XREVRANGE", "s", "+", "-"), ("XREVRANGE", "s", "5", "3"), ("XREVRANGE", "s", "(5-1", "(3-1"),
        ("XREVRANGE", "s", "+", "-", "COUNT", "2"), ("XREVRANGE", "s", "3", "5"), ("XREVRANGE", "s", "+", "-", "COUNT", "0"),
        ("XRANGE", "nokey", "-", "+"), ("XREVRANGE", "nokey", "+", "-"), ("SET", "str", "1"),
        ("XRANGE", "str", "-", "+"), ("XRANGE", "s", "18446744073709551616", "+"),
        ("XRANGE", "s", "3-18446744073709551615", "+", "COUNT", "1"),
    ],
    "xrange_across_chunks": fill(350) + [
        ("XRANGE", "s", "95", "105"), ("XREVRANGE", "s", "205", "195"), ("XRANGE", "s", "(99-1", "+", "COUNT", "3"),
        ("XREVRANGE", "s", "(101-1", "-", "COUNT", "3"), ("XRANGE", "s", "349", "+"), ("XREVRANGE", "s", "2", "-"),
    ],
    "xdel": fill(6) + [
        ("XDEL", "s", "2-1", "4-1", "9-1", "2-1"), ("XLEN", "s"), ("XRANGE", "s", "-", "+"),
        ("XDEL", "s", "abc"), ("XDEL", "s", "1-1", "abc"), ("XLEN", "s"), ("XDEL", "nokey", "abc"),
        ("XDEL", "s", "1"), ("XREVRANGE", "s", "+", "-"), ("XINFO", "STREAM", "s"),
        ("XDEL", "s", "3-1", "5-1", "6-1"), ("XLEN", "s"), ("XINFO", "STREAM", "s"), ("EXISTS", "s"),
        ("XADD", "s", "7-1", "a", "b"), ("XINFO", "STREAM", "s"), ("XDEL", "s", "+"), ("XDEL", "s", "-"),
    ],
    "xdel_whole_chunk": fill(250) + [
        ("XDEL", "s", *["%d-1" % i for i in range(1, 101)]), ("XLEN", "s"), ("XINFO", "STREAM", "s"),
        ("XRANGE", "s", "-", "+", "COUNT", "2"), ("XREVRANGE", "s", "150", "-", "COUNT", "2"),
    ],
    "xsetid": fill(3) + [
        ("XSETID", "s", "2-1"), ("XSETID", "s", "3-1"), ("XSETID", "s", "10-0"), ("XADD", "s", "10-0", "a", "b"),
        ("XADD", "s", "10-*", "a", "b"), ("XSETID", "nokey", "1-1"), ("XSETID", "s", "abc"),
        ("XSETID", "s", "20-0", "ENTRIESADDED", "2"), ("XSETID", "s", "20-0", "ENTRIESADDED", "-1"),
        ("XSETID", "s", "20-0", "ENTRIESADDED", "100"), ("XSETID", "s", "20-0", "MAXDELETEDID", "30-0"),
        ("XSETID", "s", "30-0", "MAXDELETEDID", "25-0"), ("XSETID", "s", "24-0"), ("XSETID", "s", "40-0", "BOGUS"),
        ("XSETID", "s", "40-0", "ENTRIESADDED"), ("XINFO", "STREAM", "s"), ("SET", "str", "1"),
        ("XSETID", "str", "1-1"),
    ],
    "xread_basic": fill(5) + [
        ("XREAD", "STREAMS", "s", "0"), ("XREAD", "COUNT", "2", "STREAMS", "s", "0"),
        ("XREAD", "STREAMS", "s", "3-1"), ("XREAD", "STREAMS", "s", "$"), ("XREAD", "STREAMS", "s", "5-1"),
        ("XREAD", "STREAMS", "s", "nokey", "0", "0"), ("XREAD", "STREAMS", "nokey", "s", "0", "4"),
        ("XREAD", "STREAMS", "s"), ("XREAD", "STREAMS", "s", "t", "0"), ("XREAD", "COUNT", "x", "STREAMS", "s", "0"),
        ("XREAD", "COUNT", "-1", "STREAMS", "s", "4"), ("XREAD", "BOGUS", "STREAMS", "s", "0"), ("XREAD", "s", "0"),
        ("XREAD", "STREAMS", "s", ">"), ("XREAD", "STREAMS", "s", "abc"), ("XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"),
        ("XREAD", "NOACK", "STREAMS", "s", "0"), ("XREAD", "BLOCK", "x", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "-1", "STREAMS", "s", "0"), ("XREAD", "BLOCK", "10", "STREAMS", "s", "0"),
        ("SET", "str", "1"), ("XREAD", "STREAMS", "str", "0"), ("XREAD", "STREAMS", "nokey", "0"),
        ("XREAD", "STREAMS", "s", "+"), ("XREAD", "STREAMS", "s", "-"),
    ],
    "group_create_and_errors": fill(3) + [
        ("XGROUP", "CREATE", "s", "g", "0"), ("XGROUP", "CREATE", "s", "g", "0"), ("XGROUP", "CREATE", "s", "g2", "$"),
        ("XGROUP", "CREATE", "nokey", "g", "0"), ("XGROUP", "CREATE", "nokey", "g", "$", "MKSTREAM"),
        ("XLEN", "nokey"), ("XINFO", "GROUPS", "nokey"), ("XGROUP", "CREATE", "s", "g3", "abc"),
        ("XGROUP", "CREATE", "s", "g3", "0", "BOGUS"), ("XGROUP", "CREATE", "s", "g3", "0", "ENTRIESREAD", "-2"),
        ("XGROUP", "CREATE", "s", "g3", "0", "ENTRIESREAD", "x"), ("XGROUP", "CREATE", "s", "g3", "1-1", "ENTRIESREAD", "1"),
        ("XGROUP", "CREATE", "s", "g4", "+"), ("XGROUP", "CREATE", "s", "g4", "-"),
        ("XGROUP", "SETID", "s", "nog", "0"), ("XGROUP", "SETID", "s", "g", "2-1"), ("XGROUP", "SETID", "s", "g", "$"),
        ("XGROUP", "SETID", "s", "g", "-"), ("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "5"),
        ("XGROUP", "SETID", "s", "g", "0", "BOGUS", "5"), ("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD"),
        ("XGROUP", "SETID", "s", "g", "abc"), ("XGROUP", "CREATECONSUMER", "s", "g", "c1"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "c1"), ("XGROUP", "CREATECONSUMER", "s", "nog", "c1"),
        ("XGROUP", "DELCONSUMER", "s", "g", "c1"), ("XGROUP", "DELCONSUMER", "s", "g", "c1"),
        ("XGROUP", "DELCONSUMER", "s", "nog", "c1"), ("XGROUP", "DESTROY", "s", "g2"), ("XGROUP", "DESTROY", "s", "g2"),
        ("XGROUP", "DESTROY", "nokey2", "g"), ("XGROUP", "BOGUS"), ("XGROUP",), ("XGROUP", "HELP"), ("XGROUP", "help", "x"),
        ("XGROUP", "CREATE", "s"), ("SET", "str", "1"), ("XGROUP", "CREATE", "str", "g", "0"),
        ("XINFO", "GROUPS", "s"),
    ],
    "readgroup_flow": fill(5) + [
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "1-1"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", "0"),
        ("XINFO", "GROUPS", "s"), ("XPENDING", "s", "g"), ("XACK", "s", "g", "1-1", "1-1", "9-9"),
        ("XACK", "s", "g", "abc"), ("XACK", "s", "nog", "1-1"), ("XACK", "nokey", "g", "1-1"),
        ("XPENDING", "s", "g"), ("XDEL", "s", "2-1"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "carol", "NOACK", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", "0"),
        ("XINFO", "GROUPS", "s"), ("XPENDING", "s", "g"),
        ("XREADGROUP", "GROUP", "nog", "x", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "x", "STREAMS", "nokey", ">"),
        ("XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", "$"),
        ("XREADGROUP", "STREAMS", "s", ">"), ("XREADGROUP", "GROUP", "g", "x", "STREAMS", "s"),
        ("XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", "t", ">"),
        ("XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", "abc"),
        ("XGROUP", "SETID", "s", "g", "0"), ("XREADGROUP", "GROUP", "g", "dave", "COUNT", "2", "STREAMS", "s", ">"),
        ("XPENDING", "s", "g"), ("XINFO", "GROUPS", "s"),
    ],
    "lag_and_entries_read": fill(5) + [
        ("XGROUP", "CREATE", "s", "g", "0"), ("XGROUP", "CREATE", "s", "g2", "$"), ("XGROUP", "CREATE", "s", "g3", "3-1"),
        ("XINFO", "GROUPS", "s"), ("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"), ("XDEL", "s", "4-1"), ("XINFO", "GROUPS", "s"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"), ("XINFO", "GROUPS", "s"),
        ("XADD", "s", "9-1", "a", "b"), ("XINFO", "GROUPS", "s"), ("XDEL", "s", "1-1"), ("XINFO", "GROUPS", "s"),
        ("XGROUP", "SETID", "s", "g3", "2-1", "ENTRIESREAD", "2"), ("XINFO", "GROUPS", "s"),
        ("XGROUP", "CREATE", "e", "g", "$", "MKSTREAM"), ("XINFO", "GROUPS", "e"), ("XINFO", "STREAM", "e"),
    ],
    "xpending_extended": fill(6) + [
        ("XGROUP", "CREATE", "s", "g", "0"), ("XREADGROUP", "GROUP", "g", "a", "COUNT", "3", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">"),
        ("XPENDING", "s", "g", "-", "+", "0"), ("XPENDING", "s", "g", "-", "+", "-5"),
        ("XPENDING", "s", "g", "-", "+", "x"), ("XPENDING", "s", "g", "-", "+"), ("XPENDING", "s", "g", "-"),
        ("XPENDING", "s", "g", "abc", "+", "10"), ("XPENDING", "s", "g", "(-", "+", "10"),
        ("XPENDING", "s", "g", "IDLE", "x", "-", "+", "10"), ("XPENDING", "s", "g", "IDLE", "0", "-", "+"),
        ("XPENDING", "s", "nog"), ("XPENDING", "nokey", "g"), ("XPENDING", "nokey", "g", "-", "+", "10"),
        ("XPENDING", "s", "g", "-", "+", "10", "nobody"), ("XPENDING", "s", "g", "-", "+", "10", "nobody", "extra"),
        ("XPENDING", "s", "g", "-", "+", "10", "a", "extra", "more", "args"),
        ("XPENDING", "s", "g", "(18446744073709551615-18446744073709551615", "+", "10"),
        ("XPENDING", "s", "g", "-", "(0-0", "10"), ("SET", "str", "1"), ("XPENDING", "str", "g"),
    ],
    "xclaim_errors_and_justid": fill(4) + [
        ("XGROUP", "CREATE", "s", "g", "0"), ("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"),
        ("XCLAIM", "s", "g", "b", "x", "1-1"), ("XCLAIM", "s", "nog", "b", "0", "1-1"), ("XCLAIM", "nokey", "g", "b", "0", "1-1"),
        ("XCLAIM", "s", "g", "b", "0", "1-1", "BOGUS"), ("XCLAIM", "s", "g", "b", "0", "1-1", "IDLE", "x"),
        ("XCLAIM", "s", "g", "b", "0", "1-1", "TIME", "x"), ("XCLAIM", "s", "g", "b", "0", "1-1", "RETRYCOUNT", "x"),
        ("XCLAIM", "s", "g", "b", "0", "1-1", "LASTID", "x"), ("XCLAIM", "s", "g", "b", "0", "1-1", "IDLE"),
        ("XCLAIM", "s", "g", "b", "0", "1-1", "2-1", "JUSTID"), ("XCLAIM", "s", "g", "b", "0", "3-1", "9-9"),
        ("XCLAIM", "s", "g", "b", "3600000", "4-1"), ("XCLAIM", "s", "g", "c", "0", "1-1", "RETRYCOUNT", "7", "JUSTID"),
        ("XDEL", "s", "2-1"), ("XCLAIM", "s", "g", "c", "0", "2-1", "JUSTID"), ("XPENDING", "s", "g"),
        ("XCLAIM", "s", "g", "d", "0", "2-1", "FORCE"), ("XADD", "s", "5-1", "f", "5"),
        ("XCLAIM", "s", "g", "d", "0", "5-1", "FORCE", "JUSTID"), ("XCLAIM", "s", "g", "d", "0", "5-1", "abc"),
        ("XCLAIM", "s", "g", "e", "0", "5-1", "LASTID", "100-0", "JUSTID"), ("XINFO", "GROUPS", "s"),
        ("XPENDING", "s", "g"), ("XINFO", "CONSUMERS", "nokey", "g"), ("XINFO", "CONSUMERS", "s", "nog"),
    ],
    "xautoclaim": fill(6) + [
        ("XGROUP", "CREATE", "s", "g", "0"), ("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"),
        ("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "2"), ("XAUTOCLAIM", "s", "g", "b", "0", "3-1", "COUNT", "2", "JUSTID"),
        ("XDEL", "s", "5-1"), ("XAUTOCLAIM", "s", "g", "c", "0", "0"), ("XPENDING", "s", "g"),
        ("XAUTOCLAIM", "s", "g", "c", "3600000", "0"), ("XAUTOCLAIM", "s", "g", "c", "0", "(6-1"),
        ("XAUTOCLAIM", "s", "g", "c", "x", "0"), ("XAUTOCLAIM", "s", "g", "c", "0", "x"),
        ("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0"), ("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "x"),
        ("XAUTOCLAIM", "s", "g", "c", "0", "0", "BOGUS"), ("XAUTOCLAIM", "s", "nog", "c", "0", "0"),
        ("XAUTOCLAIM", "nokey", "g", "c", "0", "0"), ("XAUTOCLAIM", "s", "g", "c", "0", "(18446744073709551615-18446744073709551615"),
    ],
    "xinfo": fill(3) + [
        ("XINFO", "STREAM", "s"), ("XINFO", "STREAM", "nokey"), ("XINFO", "STREAM", "s", "FULL", "COUNT", "x"),
        ("XINFO", "STREAM", "s", "BOGUS"), ("XINFO", "STREAM", "s", "FULL", "BOGUS", "1"),
        ("XINFO", "STREAM", "s", "FULL", "COUNT"), ("XINFO", "HELP"), ("XINFO", "BOGUS", "s"), ("XINFO",),
        ("XINFO", "GROUPS", "s"), ("XINFO", "CONSUMERS", "s"), ("XGROUP", "CREATE", "s", "b", "0"),
        ("XGROUP", "CREATE", "s", "a", "$"), ("XGROUP", "CREATE", "s", "ab", "0"), ("XINFO", "GROUPS", "s"),
        ("XINFO", "STREAM", "e"), ("XGROUP", "CREATE", "e", "g", "$", "MKSTREAM"), ("XINFO", "STREAM", "e"),
        ("SET", "str", "1"), ("XINFO", "STREAM", "str"), ("XINFO", "GROUPS", "str"),
    ],
    "copy_and_type": fill(3) + [
        ("XGROUP", "CREATE", "s", "g", "0"), ("XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "STREAMS", "s", ">"),
        ("COPY", "s", "t"), ("XADD", "t", "9-1", "x", "y"), ("XLEN", "s"), ("XLEN", "t"), ("XPENDING", "t", "g"),
        ("XINFO", "GROUPS", "t"), ("TYPE", "t"), ("OBJECT", "ENCODING", "t"), ("RENAME", "t", "u"), ("XRANGE", "u", "-", "+"),
        ("DEL", "u"), ("EXISTS", "u"),
    ],
    "node_boundaries_by_bytes": [
        ("XADD", "s", "%d-1" % i, "field", "v" * (37 * i % 300), "n", str(i * 1000)) for i in range(1, 90)
    ] + [
        ("XADD", "s", "%d-1" % i, "other%d" % (i % 3), "x" * (i % 70)) for i in range(90, 200)
    ] + [
        ("XINFO", "STREAM", "s"), ("XTRIM", "s", "MAXLEN", "~", "150"), ("XINFO", "STREAM", "s"),
        ("XTRIM", "s", "MINID", "~", "120"), ("XINFO", "STREAM", "s"), ("XTRIM", "s", "MAXLEN", "~", "0"),
        ("XINFO", "STREAM", "s"), ("XTRIM", "s", "MAXLEN", "0"), ("XINFO", "STREAM", "s"),
    ],
    "node_boundaries_integers_and_big_ids": [
        ("XADD", "s", "%d-%d" % (1 << 40 | i * 977, i * 131), "f", str(-i * 70000), "g", str(i)) for i in range(1, 260)
    ] + [
        ("XINFO", "STREAM", "s"), ("XDEL", "s", "%d-%d" % (1 << 40 | 5 * 977, 5 * 131)),
        ("XTRIM", "s", "MAXLEN", "~", "200", "LIMIT", "150"), ("XINFO", "STREAM", "s"),
        ("XTRIM", "s", "MAXLEN", "~", "20", "LIMIT", "150"), ("XLEN", "s"),
    ],
    "binary_fields": [
        ("XADD", "s", "1-1", "\x00\r\n", "\xff" * 3, "", ""), ("XADD", "s", "1-2", "k" * 200, "v" * 5000),
        ("XRANGE", "s", "-", "+"), ("XREAD", "STREAMS", "s", "0-0"),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_streams_differential(server, reference, name):
    if name in TIMED_CASES:
        compare_without_idle_times(server, reference, CASES[name])
    else:
        compare(server, reference, CASES[name])


# Cases whose replies carry idle times in milliseconds, which a slow machine can tick
# between the two servers' runs.
TIMED_CASES = {"xpending_extended"}
# An extended XPENDING entry: [id, consumer, idle ms, deliveries].
PENDING_ENTRY = re.compile(rb"(\*4\r\n\$\d+\r\n\d+-\d+\r\n\$\d+\r\n[^\r]*\r\n):\d+\r\n")


def compare_without_idle_times(server, reference, steps):
    want = run(reference, steps)
    got = run(server, steps)
    for (step, w), (_, g) in zip(want, got):
        w, g = PENDING_ENTRY.sub(rb"\1:IDLE\r\n", w), PENDING_ENTRY.sub(rb"\1:IDLE\r\n", g)
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)


# RESP3: XREAD and XREADGROUP answer a map of streams; XINFO answers maps; nulls are "_".
RESP3_STEPS = [("HELLO", "3")] + fill(3) + [
    ("XREAD", "STREAMS", "s", "t", "0", "0"), ("XREAD", "STREAMS", "s", "$"), ("XRANGE", "s", "-", "+"),
    ("XGROUP", "CREATE", "s", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"),
    ("XINFO", "GROUPS", "s"), ("XPENDING", "s", "g", "-", "+", "10", "nobody"), ("XPENDING", "nokey2", "g"),
    ("XGROUP", "CREATE", "e", "g", "$", "MKSTREAM"), ("XPENDING", "e", "g"), ("XINFO", "STREAM", "e"),
    ("XINFO", "STREAM", "s"), ("XADD", "n", "NOMKSTREAM", "*", "a", "b"), ("XRANGE", "s", "-", "+", "COUNT", "0"),
]


def compare_resp3(server, reference, steps):
    """Like `compare`, on connections switched to RESP3 first (HELLO's own reply carries
    the connection id, so it is not compared)."""
    replies = []
    for srv in (reference, server):
        with srv.conn() as c:
            c.call("HELLO", "3")
            replies.append([c.call(*step) for step in steps])
    for step, want, got in zip(steps, replies[0], replies[1]):
        assert got == want, "step %r\n  redis-server: %r\n  ours:         %r" % (step, want, got)


def test_streams_resp3(server, reference):
    compare_resp3(server, reference, RESP3_STEPS[1:])


def call(conn, *args):
    return parse(conn.call(*args))


def as_map(flat):
    return dict(zip(flat[::2], flat[1::2]))


ID_RE = re.compile(rb"^\d+-\d+$")


def test_xadd_generated_ids_are_increasing_and_current(server):
    r = server.client()
    before = int(time.time() * 1000)
    ids = [r.xadd("s", {"f": "v"}) for _ in range(50)]
    after = int(time.time() * 1000)
    for i in ids:
        assert ID_RE.match(i)
    parsed = [tuple(map(int, i.split(b"-"))) for i in ids]
    assert parsed == sorted(parsed) and len(set(parsed)) == 50
    assert before - 1000 <= parsed[0][0] <= after + 1000
    # An explicit ms with an automatic sequence continues from the last ID.
    last_ms = parsed[-1][0]
    nxt = r.execute_command("XADD", "s", "%d-*" % last_ms, "f", "v")
    assert nxt == b"%d-%d" % (last_ms, parsed[-1][1] + 1)
    assert r.xlen("s") == 51


def test_xread_block_wakes_on_xadd(server):
    r = server.client()
    r.xadd("s", {"a": "1"}, id="1-1")
    with server.conn() as blocked:
        blocked.send(encode("XREAD", "BLOCK", "5000", "STREAMS", "s", "$"))
        time.sleep(0.2)
        r.xadd("s", {"b": "2"}, id="2-1")
        reply = parse(blocked.read_reply())
        assert reply == [[b"s", [[b"2-1", [b"b", b"2"]]]]]
        # The connection keeps working afterwards.
        assert parse(blocked.call("PING")) == "PONG"


def test_xread_block_dollar_ignores_older_entries_and_times_out(server):
    r = server.client()
    r.xadd("s", {"a": "1"}, id="5-1")
    with server.conn() as blocked:
        start = time.monotonic()
        blocked.send(encode("XREAD", "BLOCK", "300", "STREAMS", "s", "$"))
        reply = blocked.read_reply()
        elapsed = time.monotonic() - start
        assert reply == b"*-1\r\n"
        assert 0.25 <= elapsed < 3


def test_xread_block_multiple_keys_served_by_the_one_written(server):
    r = server.client()
    with server.conn() as blocked:
        blocked.send(encode("XREAD", "BLOCK", "0", "COUNT", "10", "STREAMS", "a", "b", "$", "$"))
        time.sleep(0.2)
        r.xadd("b", {"x": "y"}, id="3-3")
        assert parse(blocked.read_reply()) == [[b"b", [[b"3-3", [b"x", b"y"]]]]]


def test_xreadgroup_block_wakes_and_records_pending(server):
    r = server.client()
    r.xgroup_create("s", "g", id="$", mkstream=True)
    with server.conn() as blocked:
        blocked.send(encode("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "5000", "STREAMS", "s", ">"))
        time.sleep(0.2)
        r.xadd("s", {"k": "v"}, id="7-1")
        assert parse(blocked.read_reply()) == [[b"s", [[b"7-1", [b"k", b"v"]]]]]
    pending = r.xpending("s", "g")
    assert pending["pending"] == 1
    assert pending["consumers"] == [{"name": b"c1", "pending": 1}]
    groups = r.xinfo_groups("s")
    assert groups[0]["last-delivered-id"] == b"7-1" and groups[0]["lag"] == 0


@pytest.mark.parametrize("deletion", [("DEL", "s"), ("FLUSHALL",), ("FLUSHDB",)])
def test_blocked_xreadgroup_released_when_its_stream_is_deleted(server, reference, deletion):
    """Redis answers a group reader whose stream disappears at once; a plain XREAD keeps
    waiting (until its timeout here)."""
    def outcome(srv):
        r = srv.client()
        r.flushall()
        r.xgroup_create("s", "g", id="$", mkstream=True)
        with srv.conn() as group, srv.conn() as plain, srv.conn() as other:
            group.send(encode("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">"))
            plain.send(encode("XREAD", "BLOCK", "700", "STREAMS", "s", "$"))
            time.sleep(0.2)
            other.call(*deletion)
            return group.read_reply(), plain.read_reply()
    assert outcome(server) == outcome(reference)


def test_two_blocked_readers_both_served_by_one_xadd(server):
    r = server.client()
    r.xadd("s", {"a": "1"}, id="1-1")
    with server.conn() as c1, server.conn() as c2:
        c1.send(encode("XREAD", "BLOCK", "5000", "STREAMS", "s", "$"))
        c2.send(encode("XREAD", "BLOCK", "5000", "STREAMS", "s", "1-1"))
        time.sleep(0.2)
        r.xadd("s", {"b": "2"}, id="2-1")
        want = [[b"s", [[b"2-1", [b"b", b"2"]]]]]
        assert parse(c1.read_reply()) == want
        assert parse(c2.read_reply()) == want


def test_consumer_group_claim_flow(server):
    r = server.client()
    for i in range(1, 6):
        r.xadd("jobs", {"n": str(i)}, id="%d-0" % i)
    r.xgroup_create("jobs", "workers", id="0")
    got = r.xreadgroup("workers", "w1", {"jobs": ">"}, count=3)
    assert [e[0] for e in got[0][1]] == [b"1-0", b"2-0", b"3-0"]
    time.sleep(0.05)
    # XPENDING with IDLE: all three have been idle at least 20 ms.
    c = server.conn()
    rows = call(c, "XPENDING", "jobs", "workers", "IDLE", "20", "-", "+", "10")
    assert [row[0] for row in rows] == [b"1-0", b"2-0", b"3-0"]
    assert all(row[1] == b"w1" and row[2] >= 20 and row[3] == 1 for row in rows)
    assert call(c, "XPENDING", "jobs", "workers", "IDLE", "100000", "-", "+", "10") == []
    # w2 claims one entry idle for 20 ms; its delivery count goes up.
    claimed = r.xclaim("jobs", "workers", "w2", 20, ["2-0"])
    assert claimed == [(b"2-0", {b"n": b"2"})]
    rows = call(c, "XPENDING", "jobs", "workers", "-", "+", "10")
    assert [(row[0], row[1], row[3]) for row in rows] == [(b"1-0", b"w1", 1), (b"2-0", b"w2", 2), (b"3-0", b"w1", 1)]
    # TIME and RETRYCOUNT set the entry's metadata exactly.
    assert call(c, "XCLAIM", "jobs", "workers", "w3", "0", "3-0", "TIME", "1000", "RETRYCOUNT", "9", "JUSTID") == [b"3-0"]
    rows = call(c, "XPENDING", "jobs", "workers", "3-0", "3-0", "1")
    assert rows[0][1] == b"w3" and rows[0][3] == 9 and rows[0][2] > 1000000
    # XAUTOCLAIM moves what is left to w4 and returns the cursor 0-0 at the end.
    cursor, entries, deleted = call(c, "XAUTOCLAIM", "jobs", "workers", "w4", "0", "0")
    assert cursor == b"0-0" and [e[0] for e in entries] == [b"1-0", b"2-0", b"3-0"] and deleted == []
    consumers = {c["name"]: c for c in r.xinfo_consumers("jobs", "workers")}
    assert consumers[b"w4"]["pending"] == 3 and consumers[b"w1"]["pending"] == 0
    assert all(c["idle"] >= 0 for c in consumers.values())
    assert r.xack("jobs", "workers", "1-0", "2-0", "3-0") == 3
    assert r.xpending("jobs", "workers")["pending"] == 0
    info = as_map(call(c, "XINFO", "STREAM", "jobs", "FULL"))
    c.close()
    assert info[b"length"] == 5 and len(info[b"entries"]) == 5
    group = as_map(info[b"groups"][0])
    assert group[b"name"] == b"workers" and group[b"pel-count"] == 0 and group[b"entries-read"] == 3
    assert group[b"lag"] == 2
    names = [as_map(m)[b"name"] for m in group[b"consumers"]]
    assert names == [b"w1", b"w2", b"w3", b"w4"]


def test_xinfo_full_pending_shape(server):
    r = server.client()
    r.xadd("s", {"a": "1"}, id="1-1")
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "c", {"s": ">"})
    with server.conn() as conn:
        info = as_map(call(conn, "XINFO", "STREAM", "s", "FULL", "COUNT", "0"))
    group = as_map(info[b"groups"][0])
    (pid, consumer, delivered_at, count), = group[b"pending"]
    assert pid == b"1-1" and consumer == b"c" and count == 1
    assert abs(delivered_at - time.time() * 1000) < 10000
    c = as_map(group[b"consumers"][0])
    assert c[b"pel-count"] == 1 and c[b"pending"][0][0] == b"1-1" and c[b"pending"][0][2] == 1


def blocked_scenario(srv, setup, blocking, trigger, extra_reads=0):
    """Runs `setup` on one connection, sends `blocking` on a second, runs `trigger` on the
    first once the second is parked, and returns the second's reply bytes."""
    with srv.conn() as c, srv.conn() as b:
        for step in setup:
            c.call(*step)
        b.send(encode(*blocking))
        time.sleep(0.2)
        for step in trigger:
            c.call(*step)
        replies = [b.read_reply()]
        for _ in range(extra_reads):
            replies.append(b.read_reply())
        return replies


BLOCKED_CASES = {
    "xread_dollar_served_by_xadd": (
        [("XADD", "s", "1-1", "a", "1")],
        ("XREAD", "BLOCK", "5000", "STREAMS", "s", "$"),
        [("XADD", "s", "2-1", "b", "2")]),
    "xread_count_limits_wakeup": (
        [("XADD", "s", "1-1", "a", "1")],
        ("XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "s", "1-1"),
        [("MULTI",), ("XADD", "s", "2-1", "b", "2"), ("XADD", "s", "3-1", "c", "3"), ("EXEC",)]),
    "xread_blocked_default_count_is_1000": (
        [("XADD", "s", "1-1", "a", "1")],
        ("XREAD", "BLOCK", "5000", "STREAMS", "s", "$"),
        [("MULTI",)] + [("XADD", "s", "%d-1" % i, "f", "v") for i in range(2, 1205)] + [("EXEC",)]),
    "xread_two_keys_woken_by_one": (
        [("XADD", "a", "1-1", "x", "1"), ("XADD", "b", "1-1", "y", "1")],
        ("XREAD", "BLOCK", "5000", "STREAMS", "a", "b", "$", "$"),
        [("XADD", "b", "2-1", "y", "2"), ("XADD", "a", "2-1", "x", "2")]),
    "xread_missing_key_then_created": (
        [],
        ("XREAD", "BLOCK", "5000", "STREAMS", "nokey", "$"),
        [("XADD", "nokey", "5-5", "k", "v")]),
    "xread_xdel_does_not_wake": (
        [("XADD", "s", "1-1", "a", "1"), ("XADD", "s", "2-1", "a", "1")],
        ("XREAD", "BLOCK", "5000", "STREAMS", "s", "$"),
        [("XDEL", "s", "1-1"), ("XADD", "s", "3-1", "z", "z")]),
    "xread_key_replaced_by_string_keeps_waiting": (
        [("XADD", "s", "1-1", "a", "1")],
        ("XREAD", "BLOCK", "400", "STREAMS", "s", "$"),
        [("DEL", "s"), ("SET", "s", "x")]),
    "xreadgroup_key_replaced_by_string": (
        [("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")],
        ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", "s", ">"),
        [("SET", "s", "x")]),
    "xread_key_deleted_keeps_waiting": (
        [("XADD", "s", "1-1", "a", "1")],
        ("XREAD", "BLOCK", "400", "STREAMS", "s", "$"),
        [("DEL", "s")]),
    "xreadgroup_served_by_xadd": (
        [("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")],
        ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", "s", ">"),
        [("XADD", "s", "4-1", "f", "v"), ("XPENDING", "s", "g")]),
    "xreadgroup_group_destroyed": (
        [("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")],
        ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", "s", ">"),
        [("XGROUP", "DESTROY", "s", "g")]),
    "xreadgroup_noack_served_by_xadd": (
        [("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")],
        ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "NOACK", "STREAMS", "s", ">"),
        [("XADD", "s", "4-1", "f", "v")]),
}


@pytest.mark.parametrize("name", sorted(BLOCKED_CASES))
def test_streams_blocked_differential(server, reference, name):
    setup, blocking, trigger = BLOCKED_CASES[name]
    want = blocked_scenario(reference, setup, blocking, trigger)
    got = blocked_scenario(server, setup, blocking, trigger)
    assert got == want


# --- RDB: streams saved by redis-server load here, and the other way round ----------------

STREAM_SETUP = [
    ("XADD", "s", "1-1", "a", "1", "b", "2"), ("XADD", "s", "1-2", "a", "3"), ("XADD", "s", "2-1", "c", "\x00\xff"),
    ("XADD", "s", "3-1", "a", "5"), ("XDEL", "s", "1-2"), ("XGROUP", "CREATE", "s", "g", "0"),
    ("XGROUP", "CREATE", "s", "h", "$"), ("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "c2", "COUNT", "1", "STREAMS", "s", ">"), ("XGROUP", "CREATECONSUMER", "s", "g", "c3"),
    ("XCLAIM", "s", "g", "c2", "0", "1-1", "TIME", "1700000000000", "RETRYCOUNT", "4", "JUSTID"),
    ("XSETID", "s", "9-9", "ENTRIESADDED", "50", "MAXDELETEDID", "1-5"),
    ("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"),
] + [("XADD", "big", "%d-0" % i, "f", "v" * (i % 50), "n", str(i)) for i in range(1, 400)] + [
    ("XTRIM", "big", "MAXLEN", "~", "250"), ("XDEL", "big", "300-0"),
]

STREAM_CHECKS = [
    ("XINFO", "STREAM", "s", "FULL"), ("XINFO", "STREAM", "empty", "FULL"), ("XINFO", "GROUPS", "s"),
    ("XRANGE", "big", "-", "+", "COUNT", "5"), ("XREVRANGE", "big", "+", "-", "COUNT", "5"), ("XLEN", "big"),
    ("XPENDING", "s", "g"), ("TYPE", "empty"),
]


def stream_replies(srv):
    """The checks' replies with idle times (XINFO CONSUMERS) left out: everything else in
    them (delivery and seen times included) comes from the file."""
    with srv.conn() as c:
        return [c.call(*step) for step in STREAM_CHECKS]


def load_setup(srv):
    with srv.conn() as c:
        for step in STREAM_SETUP:
            reply = c.call(*step)
            assert not reply.startswith(b"-"), (step, reply)
        assert c.call("SAVE") == b"+OK\r\n"


def test_streams_saved_by_redis_load_here(tmp_path):
    from test_rdb import start
    from conftest import _server_cmd, _reference_cmd
    ref = start(_reference_cmd(), tmp_path, "reference")
    try:
        load_setup(ref)
        want = stream_replies(ref)
    finally:
        ref.stop()
    ours = start(_server_cmd(), tmp_path, "server")
    try:
        got = stream_replies(ours)
    finally:
        ours.stop()
    for step, w, g in zip(STREAM_CHECKS, want, got):
        if step[:2] == ("XINFO", "STREAM"):
            # radix-tree-nodes/keys reflect how each server lays out its nodes after loading.
            w = re.sub(rb"radix-tree-(keys|nodes)\r\n:\d+", b"", w)
            g = re.sub(rb"radix-tree-(keys|nodes)\r\n:\d+", b"", g)
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)


def test_streams_saved_here_load_in_redis(tmp_path):
    from test_rdb import start
    from conftest import _server_cmd, _reference_cmd
    ours = start(_server_cmd(), tmp_path, "server")
    try:
        load_setup(ours)
        want = stream_replies(ours)
    finally:
        ours.stop()
    ref = start(_reference_cmd(), tmp_path, "reference")
    try:
        got = stream_replies(ref)
    finally:
        ref.stop()
    for step, w, g in zip(STREAM_CHECKS, want, got):
        if step[:2] == ("XINFO", "STREAM"):
            w = re.sub(rb"radix-tree-(keys|nodes)\r\n:\d+", b"", w)
            g = re.sub(rb"radix-tree-(keys|nodes)\r\n:\d+", b"", g)
        assert g == w, "step %r\n  ours (saved):  %r\n  redis-server: %r" % (step, w, g)


def test_debug_reload_keeps_streams(tmp_path):
    from test_rdb import start
    from conftest import _server_cmd
    ours = start(_server_cmd(), tmp_path, "server")
    try:
        load_setup(ours)
        before = stream_replies(ours)
        with ours.conn() as c:
            assert c.call("DEBUG", "RELOAD") == b"+OK\r\n"
        assert stream_replies(ours) == before
    finally:
        ours.stop()


# --- seeded random sequences compared with redis-server -----------------------------------

def random_steps(seed, n=400):
    import random
    rnd = random.Random(seed)
    steps = []
    next_ms = [1]

    def some_id():
        return "%d-%d" % (rnd.randint(0, next_ms[0] + 2), rnd.randint(0, 3))

    def bound():
        r = rnd.random()
        if r < 0.15:
            return rnd.choice(["-", "+"])
        if r < 0.35:
            return "(" + some_id()
        if r < 0.5:
            return str(rnd.randint(0, next_ms[0] + 2))
        return some_id()

    for _ in range(n):
        key = rnd.choice(["s", "s", "s", "t"])
        op = rnd.random()
        if op < 0.35:
            if rnd.random() < 0.7:
                next_ms[0] += rnd.randint(0, 2)
            idv = rnd.choice(["%d-%d" % (next_ms[0], rnd.randint(0, 5)), "%d-*" % next_ms[0], "%d" % next_ms[0]])
            fields = []
            for i in range(rnd.randint(1, 3)):
                fields += [rnd.choice(["f", "g", "field%d" % i]), rnd.choice(["1", "-7", "x" * rnd.randint(0, 90), "12345678901"])]
            trim = []
            if rnd.random() < 0.15:
                trim = [rnd.choice(["MAXLEN", "MINID"]), rnd.choice(["~", "=", None])]
                trim = [t for t in trim if t] + [str(rnd.randint(0, 150)) if trim[0] == "MAXLEN" else some_id()]
            steps.append(("XADD", key, *trim, idv, *fields))
        elif op < 0.45:
            steps.append(("XDEL", key, *[some_id() for _ in range(rnd.randint(1, 6))]))
        elif op < 0.5:
            if rnd.random() < 0.5:
                steps.append(("XTRIM", key, "MAXLEN", rnd.choice(["~", "="]), str(rnd.randint(0, 200))))
            else:
                steps.append(("XTRIM", key, "MINID", rnd.choice(["~", "="]), some_id()))
        elif op < 0.62:
            cmd = rnd.choice(["XRANGE", "XREVRANGE"])
            extra = ("COUNT", str(rnd.randint(0, 8))) if rnd.random() < 0.5 else ()
            steps.append((cmd, key, bound(), bound(), *extra))
        elif op < 0.66:
            steps.append(("XINFO", "STREAM", key))
        elif op < 0.68:
            steps.append(("XLEN", key))
        elif op < 0.72:
            steps.append(("XREAD", "COUNT", str(rnd.randint(1, 5)), "STREAMS", "s", "t", some_id(), some_id()))
        elif op < 0.75:
            steps.append(("XGROUP", "CREATE", key, rnd.choice(["g1", "g2"]), rnd.choice(["0", "$", some_id()]), "MKSTREAM"))
        elif op < 0.85:
            steps.append(("XREADGROUP", "GROUP", rnd.choice(["g1", "g2"]), rnd.choice(["a", "b", "c"]),
                          "COUNT", str(rnd.randint(1, 4)), *(("NOACK",) if rnd.random() < 0.1 else ()),
                          "STREAMS", key, rnd.choice([">", ">", "0", some_id()])))
        elif op < 0.89:
            steps.append(("XACK", key, rnd.choice(["g1", "g2"]), *[some_id() for _ in range(rnd.randint(1, 4))]))
        elif op < 0.93:
            steps.append(("XCLAIM", key, rnd.choice(["g1", "g2"]), rnd.choice(["a", "b", "d"]), "0",
                          *[some_id() for _ in range(rnd.randint(1, 3))], "TIME", "1700000000000", "JUSTID"))
        elif op < 0.96:
            steps.append(("XPENDING", key, rnd.choice(["g1", "g2"])))
        elif op < 0.98:
            steps.append(("XINFO", "GROUPS", key))
        else:
            steps.append(("XGROUP", "SETID", key, rnd.choice(["g1", "g2"]), rnd.choice(["0", "$", some_id()])))
    return steps


@pytest.mark.parametrize("seed", range(40))
def test_streams_random_sequences(server, reference, seed):
    compare(server, reference, random_steps(seed))


@pytest.mark.parametrize("seed", range(100, 108))
def test_streams_random_sequences_resp3(server, reference, seed):
    compare_resp3(server, reference, random_steps(seed))


# --- what replicas receive ----------------------------------------------------------------

STREAM_REPLICATION_SCRIPT = [
    ("XADD", "s", "5-*", "f", "v"), ("XADD", "s", "5-*", "f", "v"), ("XADD", "s", "9-1", "f", "v"),
    ("XADD", "s", "*", "f", "v"), ("XADD", "s", "*", "f", "v"), ("XADD", "s", "*", "f", "v"),
] + [("XADD", "big", "%d-1" % i, "f", "v") for i in range(1, 260)] + [
    ("XADD", "big", "MAXLEN", "~", "120", "300-1", "f", "v"),
    ("XADD", "big", "MINID", "~", "250", "LIMIT", "100", "301-1", "f", "v"),
    ("XTRIM", "big", "MAXLEN", "~", "10"), ("XTRIM", "big", "MAXLEN", "~", "100000"), ("XTRIM", "big", "MAXLEN", "5"),
    ("XGROUP", "CREATE", "s", "g", "0"), ("XGROUP", "CREATECONSUMER", "s", "g", "idle"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
    ("XCLAIM", "s", "g", "carol", "0", "5-0", "TIME", "1700000000000", "RETRYCOUNT", "3"),
    ("XCLAIM", "s", "g", "carol", "0", "9-9", "LASTID", "20-0", "JUSTID"),
    ("XDEL", "s", "5-0"), ("XAUTOCLAIM", "s", "g", "dave", "0", "0", "JUSTID"),
    ("XACK", "s", "g", "9-1", "1-1"), ("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"),
    ("XGROUP", "DELCONSUMER", "s", "g", "idle"), ("XGROUP", "DESTROY", "s", "g"),
    ("XSETID", "s", "99999999999999-0"), ("XREAD", "STREAMS", "s", "0"), ("XADD", "s", "NOMKSTREAM", "*", "a", "b"),
    ("XADD", "nokey", "NOMKSTREAM", "*", "a", "b"),
]


def test_replicas_receive_what_redis_sends_for_streams():
    from test_replication_master import RawReplica, normalized
    from conftest import Server, _server_cmd, _reference_cmd

    def stream_of(template, name):
        srv = Server(template, name).start()
        try:
            replica = RawReplica(srv.port)
            with RawConn(srv.port) as c:
                for cmd in STREAM_REPLICATION_SCRIPT:
                    c.call(*cmd)
            cmds = normalized(replica.commands())
            replica.close()
        finally:
            srv.stop()
        now_ms = time.time() * 1000
        out = []
        for cmd in cmds:
            words = []
            for i, w in enumerate(cmd):
                if re.match(r"^\d{13}-\d+$", w):
                    w = "<id>"
                elif i > 0 and cmd[i - 1] == "TIME" and w != "1700000000000":
                    assert abs(int(w) - now_ms) < 60000, cmd
                    w = "<time>"
                words.append(w)
            out.append(words)
        return out

    theirs = stream_of(_reference_cmd(), "reference")
    ours = stream_of(_server_cmd(), "server")
    assert ours == theirs
    assert ["XADD", "s", "<id>", "f", "v"] in ours and ["XADD", "s", "5-1", "f", "v"] in ours
    assert ["XADD", "big", "MAXLEN", "=", "160", "300-1", "f", "v"] in ours


def test_replicas_receive_what_redis_sends_for_a_woken_xreadgroup():
    from test_replication_master import RawReplica, normalized
    from conftest import Server, _server_cmd, _reference_cmd

    def stream_of(template, name):
        srv = Server(template, name).start()
        try:
            replica = RawReplica(srv.port)
            with RawConn(srv.port) as c, RawConn(srv.port) as b:
                c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
                b.send(encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", "s", ">"))
                time.sleep(0.2)
                c.call("XADD", "s", "1-1", "f", "v")
                assert parse(b.read_reply()) == [[b"s", [[b"1-1", [b"f", b"v"]]]]]
            cmds = normalized(replica.commands())
            replica.close()
        finally:
            srv.stop()
        return [[re.sub(r"^\d{13}$", "<time>", w) for w in cmd] for cmd in cmds]

    assert stream_of(_server_cmd(), "server") == stream_of(_reference_cmd(), "reference")


def test_our_replica_of_a_real_master_holds_the_same_streams():
    """Our replica and a real one of the same real master end up with the same streams
    (a real replica is the reference: Redis 7.0's XCLAIM stream leaves a replica's
    entries-read behind the master's, and ours must follow the same commands the same way)."""
    from test_replication_replica import start_master, start_replica_of, link_up, real_redis, wait_until as wait
    from conftest import Server
    master = start_master()
    replica = real_replica = None
    try:
        with master.conn() as c:
            for cmd in STREAM_SETUP[:-2]:
                c.call(*cmd)
        replica = start_replica_of(master.port)
        real_replica = Server(real_redis() + " --replicaof 127.0.0.1 %d" % master.port, "real-replica").start()
        wait(lambda: link_up(replica) and link_up(real_replica), what="links up")
        with master.conn() as c:
            # Live writes: generated IDs, approximate trims with LIMIT, deliveries, claims.
            c.call("XADD", "s", "*", "live", "1")
            c.call("XADD", "big", "MAXLEN", "~", "150", "LIMIT", "100", "*", "f", "v")
            c.call("XTRIM", "big", "MINID", "~", "200")
            c.call("XADD", "s", "*", "live", "2")
            c.call("XREADGROUP", "GROUP", "g", "c9", "STREAMS", "s", ">")
            c.call("XREADGROUP", "GROUP", "h", "n1", "NOACK", "STREAMS", "s", ">")
            c.call("XAUTOCLAIM", "s", "g", "c8", "0", "0")
            c.call("XACK", "s", "g", "1-1")
            c.call("SET", "marker", "1")
        for r in (replica, real_replica):
            with r.conn() as rc:
                wait(lambda: rc.call("GET", "marker") == b"$1\r\n1\r\n", what="stream caught up")
        checks = [("XRANGE", "s", "-", "+"), ("XLEN", "big"), ("XRANGE", "big", "-", "+", "COUNT", "3"),
                  ("XINFO", "GROUPS", "s"), ("XPENDING", "s", "g"), ("XPENDING", "s", "h"),
                  ("XINFO", "STREAM", "empty")]
        with real_replica.conn() as mc, replica.conn() as rc:
            for step in checks:
                assert rc.call(*step) == mc.call(*step), step
    finally:
        for srv in (replica, real_replica, master):
            if srv:
                srv.stop()


def test_blocked_read_served_from_the_stream_that_became_ready(server, reference):
    """XREAD BLOCK on s1 s2 woken by an EXEC that adds to s2 then s1: Redis answers s2."""
    def outcome(srv):
        r = srv.client()
        r.flushall()
        with srv.conn() as blocked, srv.conn() as writer:
            blocked.send(encode("XREAD", "BLOCK", "0", "STREAMS", "s1", "s2", "0-0", "0-0"))
            time.sleep(0.2)
            for cmd in (("MULTI",), ("XADD", "s2", "2-1", "f", "b"), ("XADD", "s1", "1-1", "f", "a"), ("EXEC",)):
                writer.call(*cmd)
            return blocked.read_reply()
    assert outcome(server) == outcome(reference)
