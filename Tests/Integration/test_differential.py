"""Differential tests: the same request bytes go to the server under test and to a real
redis-server, on fresh connections to emptied servers; the reply bytes must be identical.

Each case is a list of steps run in order on one connection:
  ("CMD", "arg", ...)   one command as a multibulk request, one reply
  Raw(bytes, n)         bytes sent as they are in one write, n replies read
  Sorted("KEYS", "*")   array reply compared as a sorted multiset (hash order differs)
  Close(bytes)          bytes sent, then everything until the server closes the connection
Replies that legitimately differ between servers (ids, addresses, times, INFO values) are
checked in test_semantics.py instead.
"""
import pytest

from resp import RawConn, encode, parse, RespError


class Raw:
    def __init__(self, data, n):
        self.data, self.n = data, n

    def __repr__(self):
        return "Raw(%r, %d)" % (self.data[:80], self.n)


class Sorted:
    def __init__(self, *args):
        self.args = args

    def __repr__(self):
        return "Sorted%r" % (self.args,)


class Close:
    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return "Close(%r)" % (self.data[:80],)


def run(srv, steps):
    out = []
    with RawConn(srv.port) as c:
        for s in steps:
            if isinstance(s, Raw):
                c.send(s.data)
                out.append((s, c.read_replies(s.n)))
            elif isinstance(s, Sorted):
                c.send(encode(*s.args))
                out.append((s, sorted(parse(c.read_reply()))))
            elif isinstance(s, Close):
                c.send(s.data)
                out.append((s, c.read_until_close()))
            else:
                c.send(encode(*s))
                out.append((s, c.read_reply()))
    return out


def compare(server, reference, steps):
    want = run(reference, steps)
    got = run(server, steps)
    for (step, w), (_, g) in zip(want, got):
        assert g == w, "step %r\n  redis-server: %r\n  ours:         %r" % (step, w, g)
    return want


ONE_MIB = 1 << 20
LONG = "x" * 300
FAR = 4102444800          # 2100-01-01, a fixed absolute time for EXPIREAT/EXPIRETIME
FAR_MS = FAR * 1000

CASES = {
    "ping_echo": [
        ("PING",), ("PING", "hello"), ("PING", "a", "b"), ("ping",), ("PiNg", ""),
        ("ECHO", "hi"), ("ECHO", ""), ("ECHO",), ("ECHO", "a", "b"), ("echo", "\x00\r\n\xff"),
    ],
    "unknown_command": [
        ("NOSUCH",), ("NOSUCH", "a", "b"), ("nosuch", LONG), ("x" * 200, "a"),
        ("NOSUCH", "a" * 50, "b" * 50, "c" * 50), ("NOSUCH", "with\nnewline"), ("",),
    ],
    "arity": [
        ("GET",), ("GET", "a", "b"), ("SET", "a"), ("MSET", "a"), ("MSET", "a", "b", "c"),
        ("MGET",), ("DEL",), ("EXISTS",), ("INCR",), ("INCRBY", "a"), ("APPEND", "a"),
        ("GETRANGE", "a", "0"), ("SETRANGE", "a", "0"), ("EXPIRE", "a"), ("TTL",),
        ("RENAME", "a"), ("SELECT",), ("DBSIZE", "x"), ("TYPE",), ("KEYS",), ("SCAN",),
        ("STRLEN",), ("GETEX",), ("GETDEL",), ("OBJECT",), ("OBJECT", "ENCODING"),
        ("CLIENT",), ("CLIENT", "SETNAME"), ("CONFIG",), ("CONFIG", "GET"), ("TIME", "x"),
        ("COPY", "a"), ("MOVE", "a"), ("SETEX", "a", "1"), ("PSETEX", "a", "1"),
        ("SUBSTR", "a", "0"), ("TOUCH",), ("UNLINK",), ("PERSIST",), ("RANDOMKEY", "x"),
        ("EXPIRETIME",), ("PEXPIRETIME", "a", "b"), ("FLUSHDB", "ASYNC", "x"),
    ],
    "case_insensitive": [
        ("set", "k", "v"), ("GeT", "k"), ("SET", "k2", "v", "ex", "100", "nx"),
        ("ttl", "k2"), ("Object", "encoding", "k"), ("CLIENT", "getname"), ("client", "SETNAME", "n1"),
        ("CLIENT", "GETNAME"), ("config", "get", "DATABASES"),
    ],
    "select_dbsize": [
        ("SELECT", "0"), ("SELECT", "15"), ("SELECT", "16"), ("SELECT", "-1"), ("SELECT", "abc"),
        ("SELECT", "99999999999999999999"), ("SET", "in15", "1"), ("DBSIZE",), ("SELECT", "0"),
        ("DBSIZE",), ("EXISTS", "in15"), ("SET", "a", "1"), ("SET", "b", "2"), ("DBSIZE",),
    ],
    "flush": [
        ("SET", "a", "1"), ("SELECT", "3"), ("SET", "b", "1"), ("FLUSHDB",), ("DBSIZE",),
        ("SELECT", "0"), ("DBSIZE",), ("FLUSHDB", "ASYNC"), ("DBSIZE",), ("SET", "a", "1"),
        ("FLUSHDB", "SYNC"), ("DBSIZE",), ("FLUSHDB", "NOW"), ("SET", "a", "1"), ("SELECT", "5"),
        ("SET", "b", "1"), ("FLUSHALL", "ASYNC"), ("DBSIZE",), ("SELECT", "0"), ("DBSIZE",),
        ("FLUSHALL", "SYNC"), ("FLUSHALL", "bogus"), ("flushall", "async"),
    ],
    "quit": [("SET", "a", "1"), Close(encode("QUIT"))],
    "quit_pipelined_rest_ignored": [Close(encode("PING") + encode("QUIT") + encode("PING"))],
    "client_name": [
        ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "worker-1"), ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME", "has space"), ("CLIENT", "SETNAME", "new\nline"),
        ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "a", "b"),
        ("CLIENT", "NOSUCH"), ("CLIENT", "KILL", "ID", "999999"), ("CLIENT", "KILL", "ID", "abc"),
        ("CLIENT", "KILL", "ADDR", "127.0.0.1:1"), ("CLIENT", "KILL", "BOGUS", "x"),
        ("CLIENT", "KILL", "1.2.3.4:5"),
    ],
    "hello_errors": [
        ("HELLO", "4"), ("HELLO", "abc"), ("HELLO", "1"), ("HELLO", "2", "BOGUS"),
        ("HELLO", "2", "SETNAME"),
    ],
    "config": [
        ("CONFIG", "GET", "save"), ("CONFIG", "GET", "appendonly"), ("CONFIG", "GET", "databases"),
        ("CONFIG", "GET", "no-such-parameter"), ("CONFIG", "SET", "no-such-parameter", "1"),
        ("CONFIG", "SET", "save"), ("CONFIG", "BOGUS"), ("CONFIG", "GET", "DATABASES"),
    ],
    "debug_sleep": [("DEBUG", "SLEEP", "0"), ("DEBUG", "SLEEP", "0.01")],
    "del_exists_type": [
        ("MSET", "a", "1", "b", "2", "c", "3"), ("EXISTS", "a"), ("EXISTS", "a", "a", "b", "zz"),
        ("TYPE", "a"), ("TYPE", "zz"), ("DEL", "a", "zz", "a"), ("UNLINK", "b", "c", "zz"),
        ("EXISTS", "a", "b", "c"), ("DEL", "zz"), ("TOUCH", "a"), ("SET", "t", "1"),
        ("TOUCH", "t", "t", "zz"),
    ],
    "keys_patterns": [
        ("MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5",
         "h[llo", "6", "a*b", "7", "a\\b", "8", "one", "9"),
        Sorted("KEYS", "*"), Sorted("KEYS", "h?llo"), Sorted("KEYS", "h*llo"),
        Sorted("KEYS", "h[ae]llo"), Sorted("KEYS", "h[^e]llo"), Sorted("KEYS", "h[a-b]llo"),
        Sorted("KEYS", "h\\[llo"), Sorted("KEYS", "a\\*b"), Sorted("KEYS", "a\\\\b"),
        Sorted("KEYS", "nomatch*"), ("KEYS", "one"), ("KEYS", "ONE"), Sorted("KEYS", "[a-z]*"),
        Sorted("KEYS", "*[!]"), Sorted("KEYS", "h[llo"),
    ],
    "scan_deterministic": [
        ("SCAN", "0"), ("SCAN", "abc"), ("SCAN", "-1"), ("SCAN", "0", "COUNT", "0"),
        ("SCAN", "0", "COUNT", "abc"), ("SCAN", "0", "BOGUS"), ("SCAN", "0", "MATCH"),
        ("SET", "only", "1"), ("SCAN", "0"), ("SCAN", "0", "MATCH", "o*"), ("SCAN", "0", "MATCH", "x*"),
        ("SCAN", "0", "TYPE", "string"), ("SCAN", "0", "TYPE", "list"), ("SCAN", "0", "COUNT", "1000"),
    ],
    "randomkey_deterministic": [("RANDOMKEY",), ("SET", "only", "1"), ("RANDOMKEY",)],
    "rename": [
        ("RENAME", "nokey", "x"), ("RENAMENX", "nokey", "x"), ("SET", "a", "1"),
        ("RENAME", "a", "b"), ("GET", "a"), ("GET", "b"), ("RENAME", "b", "b"),
        ("RENAMENX", "b", "b"), ("SET", "c", "3"), ("RENAMENX", "b", "c"), ("RENAMENX", "b", "d"),
        ("SET", "e", "5", "EX", "100"), ("RENAME", "e", "f"), ("TTL", "f"), ("RENAME", "f", "d"),
        ("TTL", "d"), ("GET", "d"),
    ],
    "copy_move_across_dbs": [
        ("SET", "a", "1"), ("COPY", "a", "b"), ("COPY", "a", "b"), ("COPY", "a", "b", "REPLACE"),
        ("COPY", "a", "a"), ("COPY", "nokey", "z"), ("COPY", "a", "x", "DB", "2"),
        ("COPY", "a", "x", "DB", "16"), ("COPY", "a", "x", "DB", "abc"), ("COPY", "a", "x", "BOGUS"),
        ("SELECT", "2"), ("GET", "x"), ("SET", "a", "two"), ("SELECT", "0"),
        ("COPY", "a", "a", "DB", "2"), ("COPY", "a", "a", "DB", "2", "REPLACE"),
        ("MOVE", "a", "0"), ("MOVE", "a", "16"), ("MOVE", "a", "-1"), ("MOVE", "a", "x"),
        ("MOVE", "b", "2"), ("MOVE", "nokey", "2"), ("SET", "p", "1", "EX", "100"),
        ("MOVE", "p", "4"), ("EXISTS", "p"), ("SELECT", "4"), ("TTL", "p"), ("GET", "p"),
        ("SELECT", "2"), ("GET", "a"), ("GET", "b"), ("DBSIZE",),
    ],
    "expire_family": [
        ("SET", "a", "1"), ("TTL", "a"), ("PTTL", "a"), ("EXPIRETIME", "a"), ("PEXPIRETIME", "a"),
        ("TTL", "nokey"), ("PTTL", "nokey"), ("EXPIRETIME", "nokey"), ("PEXPIRETIME", "nokey"),
        ("EXPIRE", "nokey", "10"), ("EXPIRE", "a", "abc"), ("EXPIRE", "a", "1.5"),
        ("EXPIRE", "a", "100"), ("TTL", "a"), ("EXPIRE", "a", "50", "NX"), ("EXPIRE", "a", "50", "XX"),
        ("TTL", "a"), ("EXPIRE", "a", "100", "LT"), ("EXPIRE", "a", "10", "LT"), ("TTL", "a"),
        ("EXPIRE", "a", "5", "GT"), ("EXPIRE", "a", "200", "GT"), ("TTL", "a"),
        ("EXPIRE", "a", "10", "NX", "XX"), ("EXPIRE", "a", "10", "GT", "LT"),
        ("EXPIRE", "a", "10", "NX", "GT"), ("EXPIRE", "a", "10", "BOGUS"),
        ("PERSIST", "a"), ("PERSIST", "a"), ("PERSIST", "nokey"), ("TTL", "a"),
        ("EXPIRE", "a", "10", "XX"), ("EXPIRE", "a", "10", "GT"), ("EXPIRE", "a", "10", "LT"),
        ("TTL", "a"), ("PERSIST", "a"), ("EXPIRE", "a", "100", "NX"), ("TTL", "a"),
        ("EXPIREAT", "a", str(FAR)), ("EXPIRETIME", "a"), ("PEXPIRETIME", "a"),
        ("PEXPIREAT", "a", str(FAR_MS + 123)), ("PEXPIRETIME", "a"), ("EXPIRETIME", "a"),
        ("PEXPIRE", "a", "100000"), ("TTL", "a"), ("EXPIRE", "a", "9223372036854775807"),
        ("PEXPIRE", "a", "9223372036854775807"), ("EXPIREAT", "a", "9223372036854775807"),
        ("EXPIRE", "a", "-9223372036854775808"), ("TTL", "a"), ("GET", "a"),
        ("SET", "b", "1"), ("EXPIRE", "b", "-1"), ("EXISTS", "b"), ("SET", "c", "1"),
        ("PEXPIRE", "c", "0"), ("EXISTS", "c"), ("SET", "d", "1"), ("EXPIREAT", "d", "1"),
        ("EXISTS", "d"), ("SET", "e", "1"), ("PEXPIREAT", "e", "1000"), ("EXISTS", "e"),
    ],
    "set_options": [
        ("SET", "k", "v"), ("SET", "k", "v2", "NX"), ("SET", "k", "v3", "XX"), ("GET", "k"),
        ("SET", "nk", "v", "XX"), ("EXISTS", "nk"), ("SET", "k", "v4", "GET"), ("SET", "nk", "v", "GET"),
        ("SET", "k", "v5", "NX", "GET"), ("SET", "k", "v5", "XX", "GET"), ("SET", "k", "v", "NX", "XX"),
        ("SET", "k", "v", "EX", "10", "PX", "100"), ("SET", "k", "v", "EX", "10", "KEEPTTL"),
        ("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "EX", "-5"), ("SET", "k", "v", "PX", "0"),
        ("SET", "k", "v", "EX", "abc"), ("SET", "k", "v", "EX"), ("SET", "k", "v", "BOGUS"),
        ("SET", "k", "v", "EX", "9223372036854775807"), ("SET", "k", "v", "PX", "9223372036854775807"),
        ("SET", "k", "v", "EXAT", "0"), ("SET", "k", "v", "PXAT", "-1"),
        ("SET", "k", "v", "EX", "100"), ("TTL", "k"), ("SET", "k", "w", "KEEPTTL"), ("TTL", "k"),
        ("SET", "k", "w"), ("TTL", "k"), ("SET", "k", "v", "PX", "100000"), ("TTL", "k"),
        ("SET", "k", "v", "EXAT", str(FAR)), ("EXPIRETIME", "k"),
        ("SET", "k", "v", "PXAT", str(FAR_MS + 7)), ("PEXPIRETIME", "k"),
        ("SET", "k", "v", "ex", "100", "xx", "get"), ("SET", "k", "v", "EX", "1", "EX", "2"),
        ("SET", "k", "v", "NX", "NX"), ("SET", "k", "v", "GET", "GET"),
        ("SET", "k", "v", "EXAT", "1"), ("EXISTS", "k"), ("SET", "", ""), ("GET", ""),
    ],
    "setnx_setex_psetex": [
        ("SETNX", "a", "1"), ("SETNX", "a", "2"), ("GET", "a"), ("SETEX", "b", "100", "v"),
        ("TTL", "b"), ("SETEX", "b", "0", "v"), ("SETEX", "b", "-1", "v"), ("SETEX", "b", "abc", "v"),
        ("PSETEX", "c", "100000", "v"), ("TTL", "c"), ("PSETEX", "c", "0", "v"),
        ("SETEX", "b", "9223372036854775807", "v"), ("PSETEX", "c", "9223372036854775807", "v"),
        ("SETEX", "b", "1.5", "v"), ("GET", "b"), ("GET", "c"),
    ],
    "getset_getdel": [
        ("GETSET", "a", "1"), ("GETSET", "a", "2"), ("GET", "a"), ("SET", "e", "1", "EX", "100"),
        ("GETSET", "e", "2"), ("TTL", "e"), ("GETDEL", "a"), ("GETDEL", "a"), ("EXISTS", "a"),
        ("GETDEL", "nokey"),
    ],
    "getex": [
        ("GETEX", "nokey"), ("GETEX", "nokey", "EX", "10"), ("SET", "a", "v"), ("GETEX", "a"),
        ("TTL", "a"), ("GETEX", "a", "EX", "100"), ("TTL", "a"), ("GETEX", "a", "PX", "200000"),
        ("TTL", "a"), ("GETEX", "a", "PERSIST"), ("TTL", "a"), ("GETEX", "a", "EXAT", str(FAR)),
        ("EXPIRETIME", "a"), ("GETEX", "a", "PXAT", str(FAR_MS + 5)), ("PEXPIRETIME", "a"),
        ("GETEX", "a", "EX", "0"), ("GETEX", "a", "EX", "-1"), ("GETEX", "a", "PX", "abc"),
        ("GETEX", "a", "EX", "10", "PX", "10"), ("GETEX", "a", "PERSIST", "EX", "10"),
        ("GETEX", "a", "EX"), ("GETEX", "a", "BOGUS"), ("GETEX", "a", "EX", "9223372036854775807"),
        ("GETEX", "a", "EXAT", "1"), ("EXISTS", "a"),
    ],
    "mget_mset_msetnx": [
        ("MSET", "a", "1", "b", "2"), ("MGET", "a", "b", "nokey", "a"), ("MSETNX", "c", "3", "d", "4"),
        ("MSETNX", "d", "x", "e", "5"), ("MGET", "c", "d", "e"), ("MSETNX", "f", "1", "f", "2"),
        ("GET", "f"), ("MSET", "a", "x", "a", "y"), ("GET", "a"), ("MSETNX", "a"),
        ("MSETNX", "a", "1", "b"),
    ],
    "append_strlen": [
        ("APPEND", "a", "hello"), ("APPEND", "a", " world"), ("GET", "a"), ("STRLEN", "a"),
        ("STRLEN", "nokey"), ("APPEND", "b", ""), ("EXISTS", "b"), ("STRLEN", "b"),
        ("SET", "n", "12"), ("APPEND", "n", "34"), ("GET", "n"), ("INCR", "n"),
        ("SET", "e", "1", "EX", "100"), ("APPEND", "e", "2"), ("TTL", "e"),
    ],
    "incr_decr": [
        ("INCR", "n"), ("INCR", "n"), ("DECR", "n"), ("INCRBY", "n", "10"), ("DECRBY", "n", "5"),
        ("INCRBY", "n", "-20"), ("DECRBY", "n", "-3"), ("GET", "n"), ("INCRBY", "n", "abc"),
        ("INCRBY", "n", "1.5"), ("INCRBY", "n", ""), ("INCRBY", "n", " 1"), ("INCRBY", "n", "01"),
        ("INCRBY", "n", "+1"), ("INCRBY", "n", "-0"), ("SET", "s", "abc"), ("INCR", "s"),
        ("SET", "s", "1.0"), ("INCR", "s"), ("SET", "s", " 1"), ("INCR", "s"), ("SET", "s", "1 "),
        ("INCR", "s"), ("SET", "s", "007"), ("INCR", "s"), ("SET", "s", ""), ("INCR", "s"),
        ("SET", "m", "9223372036854775807"), ("INCR", "m"), ("INCRBY", "m", "0"), ("DECR", "m"),
        ("SET", "m", "-9223372036854775808"), ("DECR", "m"), ("INCR", "m"),
        ("SET", "m", "0"), ("DECRBY", "m", "-9223372036854775808"), ("INCRBY", "m", "9223372036854775808"),
        ("INCRBY", "m", "-9223372036854775808"), ("INCRBY", "m", "-1"),
        ("SET", "big", "12345678901234567890"), ("INCR", "big"), ("SET", "e", "5", "EX", "100"),
        ("INCR", "e"), ("TTL", "e"), ("SET", "neg", "-5"), ("DECRBY", "neg", "5"),
    ],
    "incrbyfloat": [
        ("INCRBYFLOAT", "f", "10.5"), ("INCRBYFLOAT", "f", "0.1"), ("INCRBYFLOAT", "f", "-5"),
        ("INCRBYFLOAT", "f", "5.0e3"), ("INCRBYFLOAT", "f", "2.0e-2"), ("INCRBYFLOAT", "f", "1E2"),
        ("INCRBYFLOAT", "g", "3"), ("GET", "g"), ("INCRBYFLOAT", "g", "-3"), ("GET", "g"),
        ("INCRBYFLOAT", "h", "1e20"), ("INCRBYFLOAT", "h2", "1.23456789012345678"),
        ("INCRBYFLOAT", "h3", "0.1"), ("INCRBYFLOAT", "h3", "0.2"), ("INCRBYFLOAT", "h4", "1e-10"),
        ("INCRBYFLOAT", "h5", "123456789.123456789"), ("INCRBYFLOAT", "h6", "-0.0"),
        ("INCRBYFLOAT", "f", "abc"), ("INCRBYFLOAT", "f", ""), ("INCRBYFLOAT", "f", "inf"),
        ("INCRBYFLOAT", "f", "nan"), ("INCRBYFLOAT", "f", "1e400"), ("INCRBYFLOAT", "f", " 1"),
        ("INCRBYFLOAT", "f", "0x10"), ("SET", "s", "abc"), ("INCRBYFLOAT", "s", "1"),
        ("SET", "i", "7"), ("INCRBYFLOAT", "i", "0.5"), ("OBJECT", "ENCODING", "i"),
        ("SET", "big", "1.7e308"), ("INCRBYFLOAT", "big", "1.7e308"), ("INCRBYFLOAT", "big", "1"),
        ("SET", "e", "1", "EX", "100"), ("INCRBYFLOAT", "e", "1.5"), ("TTL", "e"),
        ("INCRBYFLOAT", "f", "1", "2"),
    ],
    "getrange_substr": [
        ("SET", "s", "Hello, World"), ("GETRANGE", "s", "0", "4"), ("GETRANGE", "s", "-5", "-1"),
        ("GETRANGE", "s", "-100", "3"), ("GETRANGE", "s", "5", "2"), ("GETRANGE", "s", "0", "-1"),
        ("GETRANGE", "s", "0", "1000"), ("GETRANGE", "s", "100", "200"), ("GETRANGE", "s", "-1", "-5"),
        ("GETRANGE", "s", "-3", "100"), ("GETRANGE", "s", "a", "1"), ("GETRANGE", "s", "0", "b"),
        ("GETRANGE", "nokey", "0", "-1"), ("GETRANGE", "s", "11", "11"), ("GETRANGE", "s", "12", "12"),
        ("GETRANGE", "s", "-9223372036854775808", "9223372036854775807"),
        ("SUBSTR", "s", "0", "4"), ("SUBSTR", "s", "-3", "-1"), ("SUBSTR", "nokey", "0", "1"),
        ("SET", "n", "12345"), ("GETRANGE", "n", "1", "2"), ("SET", "e", ""), ("GETRANGE", "e", "0", "-1"),
        ("GETRANGE", "e", "0", "0"), ("GETRANGE", "e", "-1", "-1"),
    ],
    "setrange": [
        ("SETRANGE", "s", "0", "Hello"), ("SETRANGE", "s", "6", "World"), ("GET", "s"),
        ("SETRANGE", "s", "1", "EE"), ("GET", "s"), ("SETRANGE", "n", "5", "x"), ("GET", "n"),
        ("SETRANGE", "m", "3", ""), ("EXISTS", "m"), ("SETRANGE", "s", "100", ""), ("STRLEN", "s"),
        ("SETRANGE", "s", "-1", "x"), ("SETRANGE", "s", "abc", "x"),
        ("SETRANGE", "s", "536870911", ""), ("SETRANGE", "s", "536870912", "x"),
        ("SETRANGE", "s", "536870911", "xy"), ("SETRANGE", "nokey", "536870912", "x"),
        ("SETRANGE", "nokey", "-1", ""), ("SET", "i", "123"), ("SETRANGE", "i", "1", "9"),
        ("GET", "i"), ("OBJECT", "ENCODING", "i"), ("SET", "e", "ab", "EX", "100"),
        ("SETRANGE", "e", "1", "zz"), ("TTL", "e"),
    ],
    "object_encoding": [
        ("SET", "i", "12345"), ("OBJECT", "ENCODING", "i"), ("SET", "neg", "-12345"),
        ("OBJECT", "ENCODING", "neg"), ("SET", "lm", "9223372036854775807"), ("OBJECT", "ENCODING", "lm"),
        ("SET", "n20", "12345678901234567890"), ("OBJECT", "ENCODING", "n20"),
        ("SET", "n21", "123456789012345678901"), ("OBJECT", "ENCODING", "n21"),
        ("SET", "lead0", "0123"), ("OBJECT", "ENCODING", "lead0"), ("SET", "plus", "+5"),
        ("OBJECT", "ENCODING", "plus"), ("SET", "zero", "0"), ("OBJECT", "ENCODING", "zero"),
        ("SET", "e44", "x" * 44), ("OBJECT", "ENCODING", "e44"), ("SET", "e45", "x" * 45),
        ("OBJECT", "ENCODING", "e45"), ("SET", "s", "abc"), ("OBJECT", "ENCODING", "s"),
        ("APPEND", "s", "d"), ("OBJECT", "ENCODING", "s"), ("APPEND", "ap", "x"),
        ("OBJECT", "ENCODING", "ap"), ("INCR", "c"), ("OBJECT", "ENCODING", "c"),
        ("INCRBYFLOAT", "fl", "1.5"), ("OBJECT", "ENCODING", "fl"), ("SETRANGE", "sr", "0", "ab"),
        ("OBJECT", "ENCODING", "sr"), ("SET", "sp", " 1"), ("OBJECT", "ENCODING", "sp"),
        ("OBJECT", "ENCODING", "nokey"), ("OBJECT", "BOGUS", "i"), ("OBJECT", "ENCODING", "i", "x"),
        ("SET", "n", "1"), ("APPEND", "n", "2"), ("OBJECT", "ENCODING", "n"), ("GETSET", "g", "5"),
        ("OBJECT", "ENCODING", "g"), ("SET", "ep", "1", "EX", "100"), ("OBJECT", "ENCODING", "ep"),
    ],
    "command_errors": [
        ("COMMAND", "INFO", "nosuchcommand"), ("COMMAND", "BOGUS"), ("COMMAND", "COUNT", "x"),
    ],
    "inline_commands": [
        Raw(b"PING\r\n", 1), Raw(b"ping hello\r\n", 1), Raw(b"SET ik iv\r\n", 1), Raw(b"GET ik\n", 1),
        Raw(b'SET q "hello world"\r\n', 1), Raw(b"GET q\r\n", 1), Raw(b"SET q 'single quoted'\r\n", 1),
        Raw(b"GET q\r\n", 1), Raw(b'SET q "esc\\x41\\n\\t\\"q\\""\r\n', 1), Raw(b"GET q\r\n", 1),
        Raw(b"   ECHO    spaced    \r\n", 1), Raw(b"\r\n\r\nPING\r\n", 1), Raw(b"ECHO \"\"\r\n", 1),
        Raw(b"NOSUCH a b\r\n", 1), Raw(b"SET k v1 NX\r\nSET k v2 NX\r\nGET k\r\n", 3),
        Raw(b"MSET a 1 b 2\r\nMGET a b\r\n", 2), Raw(b"ECHO 'it''s'\r\n", 1),
    ],
    "pipeline_one_write": [
        Raw(b"".join(encode("INCR", "p") for _ in range(100)) + encode("GET", "p"), 101),
        Raw(encode("SET", "a", "1") + b"PING\r\n" + encode("GET", "a") + b"ECHO x\r\n" +
            encode("NOSUCH") + encode("GET", "a", "b") + encode("INCR", "a"), 7),
        Raw(b"".join(encode("SET", "k%d" % i, "v" * i) for i in range(200)) +
            b"".join(encode("GET", "k%d" % i) for i in range(200)), 400),
        ("DBSIZE",),
    ],
    "empty_requests_ignored": [
        Raw(b"*0\r\nPING\r\n", 1), Raw(b"*-1\r\nPING\r\n", 1), Raw(b"\r\n\n\nPING\r\n", 1),
        Raw(b"*1\r\n$4\r\nPING\r\n*0\r\n*0\r\n*1\r\n$4\r\nPING\r\n", 2),
        Raw(b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", 1),
    ],
    "split_request_bytes": [
        # A request whose bytes arrive in several writes (the test sends them back to back).
        Raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel", 0), Raw(b"lo\r\n", 1), Raw(b"GE", 0),
        Raw(b"T k\r\n", 1),
    ],
    # Protocol errors: the reply bytes, then the server closes the connection.
    "proto_bad_multibulk_len": [Close(b"*abc\r\n")],
    "proto_multibulk_too_big": [Close(b"*2147483648\r\n")],
    "proto_multibulk_max_ok": [Raw(b"*1048576\r\n$4\r\nPING\r\n", 0), Close(b"$-1\r\n")],
    "proto_bad_bulk_len": [Close(b"*1\r\n$-5\r\n")],
    "proto_bulk_len_not_number": [Close(b"*1\r\n$abc\r\n")],
    "proto_bulk_too_big": [Close(b"*1\r\n$536870913\r\n")],
    "proto_expected_dollar": [Close(b"*1\r\n:5\r\n")],
    "proto_after_good_commands": [Close(encode("SET", "a", "1") + encode("GET", "a") + b"*1\r\nx\r\n")],
    "proto_inline_dollar": [Raw(b"$-5\r\n", 1), ("PING",)],
    "proto_garbage_inline": [Raw(b"\x01\x02garbage\xff\r\n", 1), ("PING",)],
    "proto_unbalanced_quotes": [Close(b'SET k "unbalanced\r\n')],
    "proto_unbalanced_single_quotes": [Close(b"ECHO 'abc\r\n")],
    "proto_quote_not_followed_by_space": [Close(b'ECHO "abc"def\r\n')],
    "proto_inline_too_big": [Close(b"A" * (64 * 1024 + 10))],
    "proto_mbulk_count_too_big": [Close(b"*" + b"1" * (64 * 1024 + 10))],
    "proto_bulk_count_too_big": [Close(b"*1\r\n$" + b"1" * (64 * 1024 + 10))],
    "proto_negative_multibulk": [Raw(b"*-5\r\n", 0), ("PING",)],
    "proto_http_post_closes": [Close(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")],
    "proto_http_host_closes": [Close(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_differential(server, reference, name):
    want = compare(server, reference, CASES[name])
    assert want, "case %s produced no replies" % name


# HELLO's reply carries the server's own version and connection id: compare the structure
# and every other field.
@pytest.mark.parametrize("args", [("HELLO",), ("HELLO", "2"), ("HELLO", "2", "SETNAME", "hn")])
def test_hello_structure(server, reference, args):
    replies = []
    for srv in (reference, server):
        with srv.conn() as c:
            v = parse(c.call(*args))
            name = parse(c.call("CLIENT", "GETNAME"))
            replies.append((v, name))
    (want, want_name), (got, got_name) = replies
    assert isinstance(got, list) and len(got) == len(want) == 14, got
    wd = dict(zip(want[0::2], want[1::2]))
    gd = dict(zip(got[0::2], got[1::2]))
    assert list(gd) == list(wd)
    for k in wd:
        if k in (b"version", b"id"):
            assert type(gd[k]) is type(wd[k]), k
        else:
            assert gd[k] == wd[k], k
    assert got_name == want_name


# COMMAND INFO flags, ACL categories and key specs are metadata we do not mirror byte for byte;
# name, arity and the legacy first/last/step key positions are what clients rely on.
COMMANDS = """PING ECHO QUIT SELECT HELLO CLIENT COMMAND CONFIG INFO DBSIZE FLUSHDB FLUSHALL TIME DEBUG
SHUTDOWN DEL UNLINK EXISTS TYPE KEYS SCAN RANDOMKEY RENAME RENAMENX COPY MOVE EXPIRE PEXPIRE EXPIREAT
PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST TOUCH OBJECT GET SET SETNX SETEX PSETEX GETSET
GETDEL GETEX MGET MSET MSETNX APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SUBSTR
SETRANGE""".split()


def test_command_info_key_positions(server, reference):
    infos = []
    for srv in (reference, server):
        with srv.conn() as c:
            infos.append(parse(c.call("COMMAND", "INFO", *COMMANDS)))
    want, got = infos
    assert len(got) == len(want) == len(COMMANDS)
    for name, w, g in zip(COMMANDS, want, got):
        assert g is not None, "COMMAND INFO %s: nil" % name
        assert g[0] == w[0] and g[1] == w[1] and g[3:6] == w[3:6], (name, w[:6], g[:6])
