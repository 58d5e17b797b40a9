import Glibc

/// The slow log (Redis's slowlog.c): the latest `slowlog-max-len` commands that ran for at
/// least `slowlog-log-slower-than` microseconds, newest first.
struct SlowLog {
    struct Entry {
        let id: Int
        let time: Int          // unix seconds
        let duration: Int      // microseconds
        let args: [[UInt8]]
        let peer: String
        let name: [UInt8]
    }

    /// Newest last (appended); replies walk it backwards.
    var entries: [Entry] = []
    var nextID = 0

    /// Redis keeps at most 32 arguments (the last one says how many more there were) and
    /// 128 bytes of each ("... (N more bytes)").
    static let maxArguments = 32
    static let maxArgumentBytes = 128

    /// Copies what Redis keeps of a command's arguments.
    static func loggedArguments(_ args: Arguments) -> [[UInt8]] {
        let kept = min(args.count, maxArguments)
        var out: [[UInt8]] = []
        out.reserveCapacity(kept)
        for j in 0..<kept {
            if kept != args.count && j == kept - 1 {
                out.append(Array("... (\(args.count - kept + 1) more arguments)".utf8))
            } else if args[j].count > maxArgumentBytes {
                var s = Array(UnsafeRawBufferPointer(rebasing: args[j][0..<maxArgumentBytes]))
                s += Array("... (\(args[j].count - maxArgumentBytes) more bytes)".utf8)
                out.append(s)
            } else {
                out.append(Array(args[j]))
            }
        }
        return out
    }

    /// Adds an entry and trims the log to `maxLength`.
    mutating func push(_ args: Arguments, duration: Int, client c: Client, maxLength: Int) {
        entries.append(Entry(id: nextID, time: Int(time(nil)), duration: duration,
                             args: SlowLog.loggedArguments(args), peer: c.peerAddress, name: c.name))
        nextID += 1
        trim(to: maxLength)
    }

    mutating func trim(to maxLength: Int) {
        if entries.count > maxLength { entries.removeFirst(entries.count - maxLength) }
    }
}

let slowlogCommands: [(String, CommandHandler)] = [
    ("slowlog|get", { e, a in
        var count = 10
        if a.count == 3 {
            guard let n = parseInteger(a[2]), n >= -1 else {
                e.replyError("ERR count should be greater than or equal to -1")
                return
            }
            count = n == -1 ? e.slowlog.entries.count : n
        }
        let sent = min(count, e.slowlog.entries.count)
        e.replyArrayHeader(sent)
        var i = e.slowlog.entries.count - 1
        for _ in 0..<sent {
            let s = e.slowlog.entries[i]
            i -= 1
            e.replyArrayHeader(6)
            e.replyInteger(s.id)
            e.replyInteger(s.time)
            e.replyInteger(s.duration)
            e.replyArrayHeader(s.args.count)
            for arg in s.args { e.replyBulk(arg) }
            e.replyBulk(s.peer)
            e.replyBulk(s.name)
        }
    }),
    ("slowlog|len", { e, _ in e.replyInteger(e.slowlog.entries.count) }),
    ("slowlog|reset", { e, _ in
        e.slowlog.entries.removeAll()
        e.replyOK()
    }),
    ("slowlog|help", { e, _ in
        e.replyHelp("SLOWLOG", [
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ])
    }),
]
