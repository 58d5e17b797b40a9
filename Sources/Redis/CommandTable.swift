import Glibc

/// Runs one command. Handlers are non-capturing closures, so calling one allocates nothing.
/// A thin function (no context): handlers capture nothing, and calling one through the
/// table costs no reference counting and no reabstraction thunk, as a closure stored in the
/// family arrays (generic storage) would.
typealias CommandHandler = @convention(thin) (Engine, Arguments) -> Void

/// A command the server implements: its metadata (from redis-server 7.0's own command
/// table, see CommandSpecs.generated.swift), its handler and its call counters.
final class Command {
    let name: String
    let spec: GeneratedCommandSpec
    let handler: CommandHandler?
    let subcommands: [Command]
    let subcommandLookup: NameLookup<Command>?
    var calls = 0
    /// Microseconds spent running it (INFO commandstats' usec).
    var microseconds = 0
    /// Calls by duration, bucket k counting those up to about 2^k µs (LATENCY HISTOGRAM,
    /// INFO latencystats); 32 buckets, allocated once.
    let histogram = UnsafeMutablePointer<Int>.allocate(capacity: 32)
    /// `histogram`, or a discard area while latency-tracking is off.
    var histogramSink: UnsafeMutablePointer<Int>
    var failedCalls = 0
    var rejectedCalls = 0
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, QUIT).
    var runsInsideMulti = false
    /// May run on a RESP2 connection that has subscriptions ((P)SUBSCRIBE, PING, QUIT...).
    var allowedWhileSubscribed = false
    /// EXEC: its rejections end the transaction with EXECABORT.
    var isExec = false
    /// SCAN and RANDOMKEY (Redis's CMD_TOUCHES_ARBITRARY_KEYS): the DELs of the expired keys
    /// they meet go out one by one, never wrapped in MULTI ... EXEC.
    var touchesArbitraryKeys = false
    /// Held by CLIENT PAUSE WRITE: writes and commands that may replicate (Redis's
    /// CMD_WRITE | CMD_MAY_REPLICATE, the latter hidden from COMMAND INFO).
    var pausedByWrites = false

    init(spec: GeneratedCommandSpec, handler: CommandHandler?, subcommands: [Command]) {
        name = spec.name
        onlyWrittenKey = Command.writtenKey(of: spec.name)
        self.spec = spec
        self.handler = handler
        self.subcommands = subcommands
        subcommandLookup = subcommands.isEmpty ? nil
            : NameLookup(subcommands.map { (Array($0.name.split(separator: "|").last!.utf8), $0) })
        histogram.initialize(repeating: 0, count: 32)
        histogramSink = histogram
    }

    /// Counts one call of `duration` µs in its histogram bucket: the smallest k with
    /// duration <= 2^k (a shift and a count of leading zeros, no branch).
    @inline(__always)
    func recordLatency(_ duration: Int) {
        let k = min(31, 64 - (max(duration, 1) &- 1).leadingZeroBitCount)
        histogramSink[k] &+= 1
    }

    /// For commands whose declared keys include sources they only read (the STORE forms,
    /// COPY), the one position they write: only that key is touched for WATCH and
    /// blocked clients. Nil: every declared key may be written.
    let onlyWrittenKey: Int?

    private static func writtenKey(of name: String) -> Int? {
        switch name {
        case "zrangestore", "sinterstore", "sunionstore", "sdiffstore", "geosearchstore": return 1
        case "copy", "bitop": return 2
        default: return nil
        }
    }

    var isContainer: Bool { !subcommands.isEmpty }
    var arity: Int { spec.arity }
    var flags: CommandFlags { spec.flags }
}

/// Every implemented command, and dispatch by case-insensitive name.
final class CommandTable {
    /// Top-level commands, sorted by name.
    let all: [Command]
    private let lookup: NameLookup<Command>

    init() {
        var handlers: [String: CommandHandler] = [:]
        for family in [
            connectionCommands,
            serverCommands,
            clientCommands,
            keyCommands,
            geoCommands,
            sortCommands,
            dumpRestoreCommands,
            expireCommands,
            stringCommands,
            lcsCommands,
            swapdbCommands,
            bitmapCommands,
            memoryCommands,
            hyperLogLogCommands,
            persistenceCommands,
            listCommands,
            hashCommands,
            setCommands,
            sortedSetCommands,
            streamCommands,
            transactionCommands,
            pubsubCommands,
            replicaofCommands,
            slowlogCommands,
            latencyCommands,
            monitorCommands,
            commandKeysCommands,
            clientReplyCommands,
            replicationCommands,
            authCommands,
            scriptingCommands,
            functionCommands,
        ] {
            for (name, h) in family {
                precondition(handlers[name] == nil, "command \(name) registered twice")
                handlers[name] = h
            }
        }
        var made: [Command] = []
        var used = 0
        for spec in generatedCommandSpecs {
            let subs = spec.subcommands.compactMap { s -> Command? in
                guard let h = handlers[s.name] else { return nil }
                used += 1
                return Command(spec: s, handler: h, subcommands: [])
            }
            let h = handlers[spec.name]
            if h != nil { used += 1 }
            if h != nil || !subs.isEmpty {
                made.append(Command(spec: spec, handler: h, subcommands: subs))
            }
        }
        precondition(used == handlers.count, "a handler has no command spec: regenerate CommandSpecs.generated.swift")
        all = made
        lookup = NameLookup(made.map { (Array($0.name.utf8), $0) })
        for c in made {
            c.runsInsideMulti = ["exec", "discard", "multi", "watch", "quit", "reset"].contains(c.name)
            c.allowedWhileSubscribed = ["ping", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe",
                                        "sunsubscribe", "quit", "reset"].contains(c.name)
            c.isExec = c.name == "exec"
            c.touchesArbitraryKeys = c.name == "scan" || c.name == "randomkey"
            for s in [c] + c.subcommands {
                s.pausedByWrites = s.flags.contains(.write)
                    || ["eval", "evalsha", "fcall", "publish", "spublish", "pfcount"].contains(s.name)
            }
        }
    }

    func find(_ name: UnsafeRawBufferPointer) -> Command? { lookup.find(name) }

    /// A command or "parent|sub" subcommand by name (COMMAND INFO / DOCS).
    func findFull(_ name: UnsafeRawBufferPointer) -> Command? {
        if let bar = name.firstIndex(of: UInt8(ascii: "|")) {
            guard let parent = lookup.find(UnsafeRawBufferPointer(rebasing: name[..<bar])) else { return nil }
            return parent.subcommandLookup?.find(UnsafeRawBufferPointer(rebasing: name[(bar + 1)...]))
        }
        return lookup.find(name)
    }

    /// Finds and runs the command in `args`, replying with Redis's errors for unknown
    /// commands, unknown subcommands and wrong argument counts.
    ///
    /// `c` is the running client (`e.client`). The command and the client are used through
    /// unretained references: commands live as long as the table, and a client record is
    /// only dropped between commands (`Engine.closeClient`), so reference counting them per
    /// command would only cost atomic operations.
    @inline(__always)
    func dispatch(_ e: Engine, _ c: Client, _ args: Arguments) {
        guard let found = lookup.findUnretained(args[0]) else {
            if args[0].equalsIgnoringCase("host:") || args[0].equalsIgnoringCase("post") {
                e.rejectCrossProtocolAttack()
                return
            }
            e.flagTransaction()
            e.replyUnknownCommand(args)
            return
        }
        found._withUnsafeGuaranteedRef { parent in
            if parent.isContainer && (args.count >= 2 || parent.handler == nil) {
                if args.count < 2 {
                    e.rejectCommand(parent, Array("ERR wrong number of arguments for '\(parent.name)' command".utf8))
                    return
                }
                guard let sub = parent.subcommandLookup!.findUnretained(args[1]) else {
                    e.rejectCommand(parent, Array("ERR unknown subcommand '".utf8) + truncatedForError(args[1], 128)
                        + "'. Try \(parent.name.uppercased()) HELP.")
                    return
                }
                sub._withUnsafeGuaranteedRef { run($0, e, c, args) }
            } else {
                run(parent, e, c, args)
            }
        }
    }

    /// Dispatch's checks and the call, once the command (or subcommand) is known.
    @inline(__always)
    private func run(_ cmd: Command, _ e: Engine, _ c: Client, _ args: Arguments) {
        let arity = cmd.arity
        if (arity > 0 && args.count != arity) || args.count < -arity {
            e.rejectCommand(cmd, Array("ERR wrong number of arguments for '\(cmd.name)' command".utf8), isExec: cmd.isExec)
            return
        }
        // Redis checks authentication after the command's existence and arity.
        if !c.authenticated && e.deniedForAuthentication(c, cmd) {
            e.rejectCommand(cmd, noAuthError, isExec: cmd.isExec)
            return
        }
        // maxmemory: evict, or refuse what could grow memory (before MISCONF, as in Redis;
        // not for the commands of a transaction or script, which the check before them
        // covered). The one branch a server without a limit pays.
        if e.eviction.limit > 0 && !e.transactions.executingTransaction && !e.scriptRunning
            && !e.admitUnderMaxmemory(cmd) { return }
        if !e.persistence.lastBackgroundSaveOK && e.deniedBySaveError(cmd) {
            e.rejectCommand(cmd, misconfError)   // inside MULTI this also dooms the EXEC
            return
        }
        // min-replicas-to-write: writes need enough replicas that acknowledged recently.
        if e.config.minReplicasToWrite > 0 && cmd.flags.contains(.write) && !e.hasEnoughGoodReplicas {
            e.rejectCommand(cmd, Array("NOREPLICAS Not enough good replicas to write.".utf8), isExec: cmd.isExec)
            return
        }
        // A read-only replica takes writes from its master only (inside MULTI this also
        // dooms the EXEC, as in Redis).
        if cmd.flags.contains(.write), let link = e.replication.master, link.client !== e.client, e.config.replicaReadOnly {
            e.rejectCommand(cmd, Array("READONLY You can't write against a read only replica.".utf8), isExec: cmd.isExec)
            return
        }
        // CLIENT PAUSE holds the command, before MULTI queues it, as Redis does.
        if e.pause.kind != .off && !e.transactions.executingTransaction && e.pausesCommand(c, cmd) {
            c.lastCommand = cmd   // CLIENT LIST shows the paused command, as Redis does
            e.holdPausedCommand(c, args)
            return
        }
        // MULTI queueing and the subscribed-context rule, for the few clients they concern.
        if (c.multiState != nil || c.subscriptions != nil || c.isMonitor) && !e.transactions.executingTransaction {
            if !e.admitCommand(cmd, args) { return }
        }
        c.lastCommand = cmd
        c.commandFailed = false
        cmd.calls += 1
        e.stats.totalCommands += 1
        let dirtyBefore = e.dirty
        e.propagationReplaced = false
        if e.snapshotJob != nil && cmd.flags.contains(.write) { e.preserveForSnapshot(cmd, args) }
        let opened = e.openPropagationUnit(cmd)   // false for a command EXEC runs
        let start = e.clockMark
        cmd.handler!(e, args)
        // One clock read per command: its end is the next one's start.
        let end = monotonicMicroseconds()
        let duration = end &- start
        e.clockMark = end
        cmd.microseconds &+= duration
        cmd.recordLatency(duration)
        if e.dirty != dirtyBefore { e.commandChangedData(cmd, args) }
        if opened { e.closePropagationUnit() }
        if c.commandFailed {
            cmd.failedCalls += 1
            e.stats.failedCalls += 1
        }
        if duration >= e.observeThreshold { e.commandObserved(cmd, args, client: c, duration: duration) }
    }
}

extension Engine {
    /// "-ERR unknown command 'x', with args beginning with: 'a' 'b' " exactly as Redis
    /// 7.0 words it, including its 128-byte truncation of the name and of the args. Built
    /// from bytes: arguments need not be UTF-8 and are echoed as sent.
    func replyUnknownCommand(_ args: Arguments) {
        stats.rejectedCalls += 1
        var text = Array("ERR unknown command '".utf8)
        text += truncatedForError(args[0], 128)
        text += Array("', with args beginning with: ".utf8)
        var listed = 0   // bytes of the args part so far (Redis's sdslen(args))
        var i = 1
        while i < args.count && listed < 128 {
            let part = truncatedForError(args[i], 128 - listed)
            text.append(UInt8(ascii: "'"))
            text += part
            text += [UInt8(ascii: "'"), UInt8(ascii: " ")]
            listed += part.count + 3
            i += 1
        }
        replyError(bytes: text)
    }
}

/// At most `limit` bytes of `bytes`, cut at the first NUL as C's "%.*s" would.
func truncatedForError(_ bytes: UnsafeRawBufferPointer, _ limit: Int) -> [UInt8] {
    var n = 0
    while n < bytes.count && n < limit && bytes[n] != 0 { n += 1 }
    return Array(bytes[0..<n])
}

extension Array where Element == UInt8 {
    /// For building error texts from argument bytes.
    static func + (lhs: [UInt8], rhs: String) -> [UInt8] { lhs + Array(rhs.utf8) }
}

/// Case-insensitive lookup of short ASCII names (command and subcommand names): open
/// addressing over FNV-1a hashes of the lowercased name, no allocation per lookup.
struct NameLookup<Value: AnyObject> {
    private var names: [[UInt8]] = []
    private var values: [Value] = []
    private var slots: [Int32]
    private let mask: Int

    init(_ pairs: [([UInt8], Value)]) {
        var size = 8
        while size < pairs.count * 4 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (name, value) in pairs {
            let lower = name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
            var i = Int(truncatingIfNeeded: NameLookup.hash(lower.withUnsafeBytes { $0 })) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(names.count)
            names.append(lower)
            values.append(value)
        }
    }

    @inline(__always)
    static func hash(_ name: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for var c in name {
            if c >= 65 && c <= 90 { c |= 0x20 }
            h = (h ^ UInt64(c)) &* 0x100_0000_01b3
        }
        return h
    }

    @inline(__always)
    func find(_ name: UnsafeRawBufferPointer) -> Value? {
        findUnretained(name)?.takeUnretainedValue()
    }

    /// `find` without taking a reference: for values that outlive every caller (the
    /// command table's commands), so dispatch pays no reference counting per command.
    @inline(__always)
    func findUnretained(_ name: UnsafeRawBufferPointer) -> Unmanaged<Value>? {
        if name.count > 64 { return nil }
        var i = Int(truncatingIfNeeded: NameLookup.hash(name)) & mask
        while true {
            let s = Int(slots[i])
            if s < 0 { return nil }
            if equalsLowercased(name, names[s]) {
                return values.withUnsafeBufferPointer { Unmanaged.passUnretained($0[s]) }
            }
            i = (i + 1) & mask
        }
    }

    @inline(__always)
    private func equalsLowercased(_ a: UnsafeRawBufferPointer, _ lower: [UInt8]) -> Bool {
        if a.count != lower.count { return false }
        return lower.withUnsafeBufferPointer { l in
            for i in 0..<a.count {
                var c = a[i]
                if c >= 65 && c <= 90 { c |= 0x20 }
                if c != l[i] { return false }
            }
            return true
        }
    }
}
