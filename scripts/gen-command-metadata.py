#!/usr/bin/env python3
"""Generate Sources/Redis/CommandSpecs.generated.swift from a real redis-server.

Why: COMMAND / COMMAND INFO / COMMAND DOCS replies must be byte-identical to
redis-server 7.0.15, and the dispatcher's arity, flags and key positions must
come from the same source. So we ask the real server for the raw RESP2 bytes of
`COMMAND INFO <name>` and `COMMAND DOCS <name>` for every command listed in
scripts/commands.txt, and embed those bytes (plus the parsed dispatch fields).

Container commands (CLIENT, CONFIG, ...) are trimmed to the subcommands listed
in commands.txt as `parent|sub`: the subcommand array (COMMAND INFO element 9)
and the "subcommands" map in COMMAND DOCS are re-serialised with only those
entries, i.e. what Redis would print if it only had those subcommands.

Redis orders commands and subcommands by its dict, whose hash seed is random
per process, so there is no stable "Redis order"; we sort by name so the output
is deterministic.

Usage: python3 scripts/gen-command-metadata.py [--redis-server PATH]
Stdlib only. Fails loudly if a listed command is unknown to redis.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIST_PATH = os.path.join(ROOT, "scripts", "commands.txt")
OUT_PATH = os.path.join(ROOT, "Sources", "Redis", "CommandSpecs.generated.swift")
EXPECTED_VERSION = "7.0.15"

# Every command flag redis 7.0 can print in COMMAND INFO (server.c addCommandFlags),
# mapped to the CommandFlags member in Sources/Redis/CommandFlags.swift.
# (may_replicate, sentinel, only_sentinel, protected are hidden by redis and never reported.)
FLAG_NAMES = {
    "write": "write",
    "readonly": "readonly",
    "denyoom": "denyoom",
    "module": "module",
    "admin": "admin",
    "pubsub": "pubsub",
    "noscript": "noscript",
    "blocking": "blocking",
    "loading": "loading",
    "stale": "stale",
    "skip_monitor": "skipMonitor",
    "skip_slowlog": "skipSlowlog",
    "asking": "asking",
    "fast": "fast",
    "no_auth": "noAuth",
    "no_mandatory_keys": "noMandatoryKeys",
    "no_async_loading": "noAsyncLoading",
    "no_multi": "noMulti",
    "movablekeys": "movableKeys",
    "allow_busy": "allowBusy",
}


def die(msg):
    sys.stderr.write("gen-command-metadata: error: %s\n" % msg)
    sys.exit(1)


# ---------------------------------------------------------------- RESP2 reader

class Node:
    """One RESP2 value; `raw` is its exact bytes on the wire."""
    __slots__ = ("kind", "raw", "value", "items")

    def __init__(self, kind, raw, value=None, items=None):
        self.kind = kind      # one of + - : $ *
        self.raw = raw
        self.value = value    # bytes for + - $, int for :, None for null
        self.items = items    # list of Node for *, None for null array

    def text(self):
        if self.kind not in "+$" or self.value is None:
            raise ValueError("not a string: %r" % self.raw[:40])
        return self.value.decode("ascii")

    def int(self):
        if self.kind != ":":
            raise ValueError("not an integer: %r" % self.raw[:40])
        return self.value


class Incomplete(Exception):
    pass


def parse(buf, pos=0):
    """Parse one value at buf[pos:]; return (Node, end). Raises Incomplete."""
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        raise Incomplete
    kind = chr(buf[pos])
    line = buf[pos + 1:eol]
    end = eol + 2
    if kind in "+-":
        return Node(kind, buf[pos:end], value=line), end
    if kind == ":":
        return Node(kind, buf[pos:end], value=int(line)), end
    if kind == "$":
        n = int(line)
        if n < 0:
            return Node(kind, buf[pos:end]), end
        if len(buf) < end + n + 2:
            raise Incomplete
        if buf[end + n:end + n + 2] != b"\r\n":
            raise ValueError("bad bulk terminator")
        return Node(kind, buf[pos:end + n + 2], value=buf[end:end + n]), end + n + 2
    if kind == "*":
        n = int(line)
        if n < 0:
            return Node(kind, buf[pos:end]), end
        items = []
        for _ in range(n):
            item, end = parse(buf, end)
            items.append(item)
        return Node(kind, buf[pos:end], items=items), end
    raise ValueError("unexpected RESP type byte %r" % kind)


def bulk(s):
    b = s.encode("ascii")
    return b"$%d\r\n%s\r\n" % (len(b), b)


def array(raws):
    return b"*%d\r\n" % len(raws) + b"".join(raws)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def call(self, *args):
        enc = [a.encode("ascii") for a in args]
        self.sock.sendall(b"*%d\r\n" % len(enc) +
                          b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in enc))
        while True:
            try:
                node, end = parse(self.buf)
                self.buf = self.buf[end:]
                if node.kind == "-":
                    die("redis replied %r to %r" % (node.value, args))
                return node
            except Incomplete:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    die("redis closed the connection")
                self.buf += chunk


# ---------------------------------------------------------------- server

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    if "v=%s " % EXPECTED_VERSION not in out:
        die("need redis-server %s, %s says: %s" % (EXPECTED_VERSION, binary, out.strip()))
    workdir = tempfile.mkdtemp(prefix="gen-cmd-meta-")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--daemonize", "no", "--logfile", os.path.join(workdir, "log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            conn = Conn(port)
            if conn.call("PING").raw == b"+PONG\r\n":
                return proc, conn, workdir
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            die("redis-server did not start on port %d (see %s/log)" % (port, workdir))
        time.sleep(0.05)


# ---------------------------------------------------------------- metadata

def read_list():
    names = []
    with open(LIST_PATH) as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line != line.lower() or line.count("|") > 1 or " " in line:
                die("%s:%d: bad entry %r (lowercase, `cmd` or `parent|sub`)" % (LIST_PATH, lineno, line))
            if line in names:
                die("%s:%d: duplicate entry %r" % (LIST_PATH, lineno, line))
            names.append(line)
    tops = sorted(n for n in names if "|" not in n)
    subs = {}
    for n in names:
        if "|" in n:
            parent = n.split("|")[0]
            if parent not in tops:
                die("%r listed but its container %r is not" % (n, parent))
            subs.setdefault(parent, []).append(n)
    return tops, {p: sorted(s) for p, s in subs.items()}


def check_ascii(raw, what):
    for b in raw:
        if b >= 0x80:
            die("%s contains non-ASCII byte 0x%02x; StaticString escaping assumes ASCII" % (what, b))


def info_fields(node, name):
    """Dispatch fields of one COMMAND INFO element (already filtered)."""
    it = node.items
    if node.kind != "*" or len(it) != 10 or it[0].text() != name:
        die("unexpected COMMAND INFO shape for %r: %r" % (name, node.raw[:80]))
    flags = []
    for f in it[2].items:
        t = f.text()
        if t not in FLAG_NAMES:
            die("unknown command flag %r on %r: add it to FLAG_NAMES and CommandFlags.swift" % (t, name))
        flags.append(FLAG_NAMES[t])
    return dict(name=name, arity=it[1].int(), flags=flags,
                first=it[3].int(), last=it[4].int(), step=it[5].int())


def filter_info(node, name, keep):
    """Rebuild a container's COMMAND INFO element keeping only `keep` subcommands."""
    it = node.items
    by_name = {s.items[0].text(): s for s in it[9].items}
    for k in keep:
        if k not in by_name:
            die("%r is unknown to redis (%r has: %s)" % (k, name, ", ".join(sorted(by_name))))
    subs_raw = array([by_name[k].raw for k in keep])
    raw = array([x.raw for x in it[:9]] + [subs_raw])
    return raw, [by_name[k] for k in keep]


def filter_docs(node, name, keep):
    """Rebuild a COMMAND DOCS value keeping only `keep` in its "subcommands" map.
    Returns (raw, {subname: docs Node})."""
    it = node.items
    if node.kind != "*" or len(it) % 2:
        die("unexpected COMMAND DOCS shape for %r" % name)
    out, found = [], {}
    for i in range(0, len(it), 2):
        key, val = it[i], it[i + 1]
        if key.text() != "subcommands":
            out += [key.raw, val.raw]
            continue
        m = val.items
        sub = {m[j].text(): m[j + 1] for j in range(0, len(m), 2)}
        for k in keep:
            if k not in sub:
                die("%r missing from COMMAND DOCS %s subcommands" % (k, name))
            found[k] = sub[k]
        if keep:  # a command with no subcommands has no "subcommands" key at all
            out += [key.raw, array([r for k in keep for r in (bulk(k), sub[k].raw)])]
    if keep and len(found) != len(keep):
        die("COMMAND DOCS %s has no subcommands map" % name)
    return array(out), found


def collect(conn, tops, subs):
    specs = []
    for name in tops:
        info = conn.call("COMMAND", "INFO", name)
        if len(info.items) != 1 or info.items[0].kind != "*":
            die("command %r is unknown to redis %s" % (name, EXPECTED_VERSION))
        info = info.items[0]
        docs = conn.call("COMMAND", "DOCS", name)
        if len(docs.items) != 2 or docs.items[0].text() != name:
            die("COMMAND DOCS %s: unexpected reply %r" % (name, docs.raw[:80]))
        docs = docs.items[1]

        keep = subs.get(name, [])
        has_subs = len(info.items[9].items) > 0
        if keep and not has_subs:
            die("%r has no subcommands in redis but commands.txt lists %s" % (name, keep))
        if has_subs and not keep:
            sys.stderr.write("gen-command-metadata: warning: container %r listed without any "
                             "subcommands\n" % name)
        info_raw, sub_infos = filter_info(info, name, keep)
        docs_raw, sub_docs = filter_docs(docs, name, keep)

        sub_specs = []
        for s in sub_infos:
            sname = s.items[0].text()
            # Sanity: the nested entries equal what Redis answers for the subcommand alone.
            direct = conn.call("COMMAND", "INFO", sname)
            if direct.raw != array([s.raw]):
                die("COMMAND INFO %s differs from its entry inside %s" % (sname, name))
            direct = conn.call("COMMAND", "DOCS", sname)
            if direct.raw != array([bulk(sname), sub_docs[sname].raw]):
                die("COMMAND DOCS %s differs from its entry inside %s" % (sname, name))
            spec = info_fields(s, sname)
            spec.update(info=s.raw, docs=sub_docs[sname].raw, subs=[])
            sub_specs.append(spec)

        spec = info_fields(parse(info_raw)[0], name)
        spec.update(info=info_raw, docs=docs_raw, subs=sub_specs)
        specs.append(spec)
    for spec in specs:
        for s in [spec] + spec["subs"]:
            check_ascii(s["info"], "COMMAND INFO %s" % s["name"])
            check_ascii(s["docs"], "COMMAND DOCS %s" % s["name"])
    return specs


# ---------------------------------------------------------------- Swift output

def swift_literal(raw):
    out = ['"']
    for b in raw:
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:  # ASCII control byte: \u{..} below 0x80 is a single UTF-8 byte
            out.append("\\u{%X}" % b)
    out.append('"')
    return "".join(out)


def emit_spec(s, indent):
    p = " " * indent
    flags = "[" + ", ".join("." + f for f in s["flags"]) + "]"
    lines = [
        p + "GeneratedCommandSpec(",
        p + "    name: %s, arity: %d, flags: %s," % (swift_literal(s["name"].encode()), s["arity"], flags),
        p + "    firstKey: %d, lastKey: %d, keyStep: %d," % (s["first"], s["last"], s["step"]),
        p + "    info: %s," % swift_literal(s["info"]),
        p + "    docs: %s," % swift_literal(s["docs"]),
    ]
    if s["subs"]:
        lines.append(p + "    subcommands: [")
        for sub in s["subs"]:
            lines += emit_spec(sub, indent + 8)
        lines.append(p + "    ]),")
    else:
        lines.append(p + "    subcommands: []),")
    return lines


def render(specs):
    out = [
        "// GENERATED FILE - DO NOT EDIT.",
        "// Produced by scripts/gen-command-metadata.py from redis-server %s's own" % EXPECTED_VERSION,
        "// COMMAND INFO / COMMAND DOCS replies for the commands in scripts/commands.txt.",
        "// Regenerate: edit scripts/commands.txt, then run `python3 scripts/gen-command-metadata.py`.",
        "",
        "/// Metadata of one command, straight from redis-server %s." % EXPECTED_VERSION,
        "struct GeneratedCommandSpec: Sendable {",
        "    /// Lowercase; subcommands are \"parent|sub\".",
        "    let name: String",
        "    let arity: Int",
        "    let flags: CommandFlags",
        "    let firstKey: Int, lastKey: Int, keyStep: Int",
        "    /// Exact RESP2 bytes of this command's element in COMMAND INFO's reply",
        "    /// (containers: subcommand array trimmed to the ones we implement, sorted by name).",
        "    let info: StaticString",
        "    /// Exact RESP2 bytes of this command's value in COMMAND DOCS's reply (name not included).",
        "    let docs: StaticString",
        "    /// Implemented subcommands, sorted by name.",
        "    let subcommands: [GeneratedCommandSpec]",
        "}",
        "",
        "/// Top-level commands only, sorted by name.",
        "let generatedCommandSpecs: [GeneratedCommandSpec] = [",
    ]
    for s in specs:
        out += emit_spec(s, 4)
    out.append("]")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--output", default=OUT_PATH)
    args = ap.parse_args()

    tops, subs = read_list()
    proc, conn, workdir = start_server(args.redis_server)
    try:
        specs = collect(conn, tops, subs)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    text = render(specs)
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.output)
    nsubs = sum(len(s["subs"]) for s in specs)
    print("wrote %s: %d commands, %d subcommands" % (os.path.relpath(args.output, ROOT), len(specs), nsubs))


if __name__ == "__main__":
    main()
