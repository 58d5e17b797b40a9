import Glibc

/// MONITOR (Redis's replicationFeedMonitors): every command a client runs is shown to the
/// monitors as `+<unix.micro> [<db> <addr>] "arg" ...`, arguments escaped as sdscatrepr
/// does. Monitors may sit on any reactor; the line is built once and staged for each.
let monitorCommands: [(String, CommandHandler)] = [
    ("monitor", { e, _ in
        let c = e.client!
        // Inside MULTI a client expects one reply per command (Redis's CLIENT_DENY_BLOCKING).
        if e.transactions.executingTransaction {
            e.replyError("ERR MONITOR isn't allowed for DENY BLOCKING client")
            return
        }
        if c.isMonitor || e.isReplica(c) { return }
        c.isMonitor = true
        e.monitors.append(c)
        e.refreshObserveThreshold()
        e.replyOK()
    }),
]

extension Engine {
    /// Stages the monitor line of `args`, run by `c`, for every monitor.
    func feedMonitors(_ c: Client, _ cmd: Command, _ args: Arguments) {
        let us = wallClockMicroseconds()
        var line = Array("+\(us / 1_000_000).".utf8)
        let micros = String(us % 1_000_000)
        line += Array(String(repeating: "0", count: 6 - micros.count).utf8) + Array(micros.utf8)
        line += Array(" [\(c.db) \(c.peerAddress)] ".utf8)
        let redacted = redactedArguments(cmd, args)
        for j in 0..<args.count {
            if redacted.contains(j) {
                line += Array("\"(redacted)\"".utf8)
            } else {
                appendRepr(&line, args[j])
            }
            if j != args.count - 1 { line.append(32) }
        }
        line += [13, 10]
        for m in monitors where !m.closing {
            withReplies(to: m) { replyRaw(line) }
        }
    }

    /// Arguments Redis 7.0 hides from monitors: AUTH's, and HELLO's AUTH user password.
    private func redactedArguments(_ cmd: Command, _ args: Arguments) -> Set<Int> {
        if cmd.name == "auth" { return Set(1..<args.count) }
        if cmd.name == "hello" {
            var i = 2
            while i < args.count {
                if args[i].equalsIgnoringCase("auth") && i + 2 < args.count { return [i + 1, i + 2] }
                if args[i].equalsIgnoringCase("setname") { i += 2 } else { i += 1 }
            }
        }
        return []
    }

    /// A monitor went away (closed or RESET).
    func monitorClosed(_ c: Client) {
        c.isMonitor = false
        monitors.removeAll { $0 === c }
        refreshObserveThreshold()
    }
}

/// Redis's sdscatrepr: the bytes in double quotes, `\\` `"` \n \r \t \a \b escaped,
/// other unprintable bytes as \xHH.
func appendRepr(_ out: inout [UInt8], _ bytes: UnsafeRawBufferPointer) {
    let hex = Array("0123456789abcdef".utf8)
    out.append(UInt8(ascii: "\""))
    for b in bytes {
        switch b {
        case UInt8(ascii: "\\"), UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), b]
        case 10: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
        case 13: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
        case 9: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
        case 7: out += [UInt8(ascii: "\\"), UInt8(ascii: "a")]
        case 8: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
        case 32...126: out.append(b)
        default: out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
        }
    }
    out.append(UInt8(ascii: "\""))
}
