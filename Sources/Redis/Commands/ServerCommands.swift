import Glibc
import Logging

let serverCommands: [(String, CommandHandler)] = [
    ("dbsize", { e, _ in e.replyInteger(e.db.table.count) }),
    ("flushdb", { e, a in
        guard e.flushOptionValid(a) else { return }
        e.dirty += e.db.table.count
        e.flushedDatabase(e.db.index)
        e.db.removeAllKeys()
        e.dirty += 1   // propagated even when already empty, like Redis
        e.replyOK()
    }),
    ("flushall", { e, a in
        guard e.flushOptionValid(a) else { return }
        for d in e.databases {
            e.dirty += d.table.count
            e.flushedDatabase(d.index)
            d.removeAllKeys()
        }
        if !(parseSavePoints(e.config.save) ?? []).isEmpty { e.saveAfterFlushAll() }
        e.dirty += 1   // FLUSHALL always propagates and counts as a change, like Redis
        e.replyOK()
    }),
    ("time", { e, _ in
        let us = wallClockMicroseconds()
        e.replyArrayHeader(2)
        e.replyBulk(integer: us / 1_000_000)
        e.replyBulk(integer: us % 1_000_000)
    }),
    ("debug", { $0.debug($1) }),
    ("shutdown", { $0.shutdown($1) }),
    ("info", { $0.info($1) }),
    ("config|get", { $0.configGet($1) }),
    ("config|set", { $0.configSet($1) }),
    ("config|resetstat", { e, _ in
        e.resetStats()
        for c in e.commands.all {
            for s in [c] + c.subcommands {
                s.calls = 0; s.failedCalls = 0; s.rejectedCalls = 0; s.microseconds = 0
                s.histogram.update(repeating: 0, count: 32)
            }
        }
        e.replyOK()
    }),
    ("config|rewrite", { e, _ in e.configRewrite() }),
    ("config|help", { e, _ in
        e.replyHelp("CONFIG", [
            "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
            "RESETSTAT", "    Reset statistics reported by the INFO command.",
            "REWRITE", "    Rewrite the configuration file.",
        ])
    }),
    ("command", { e, a in
        e.replyArrayHeader(e.commands.all.count)
        for c in e.commands.all { e.replyRaw(c.specInfo) }
    }),
    ("command|count", { e, _ in e.replyInteger(e.commands.all.count) }),
    ("command|info", { e, a in
        if a.count == 2 {
            e.replyArrayHeader(e.commands.all.count)
            for c in e.commands.all { e.replyRaw(c.specInfo) }
            return
        }
        e.replyArrayHeader(a.count - 2)
        for i in 2..<a.count {
            if let c = e.commands.findFull(a[i]) { e.replyRaw(c.specInfo) } else { e.replyNull() }
        }
    }),
    ("command|docs", { e, a in
        let chosen: [Command] = a.count == 2 ? e.commands.all : (2..<a.count).compactMap { e.commands.findFull(a[$0]) }
        e.replyArrayHeader(chosen.count * 2)
        for c in chosen {
            e.replyBulk(c.name)
            e.replyRaw(c.specDocs)
        }
    }),
    ("command|list", { e, a in
        if a.count != 2 { e.replySyntaxError(); return }
        var names: [String] = []
        for c in e.commands.all { names.append(c.name); names += c.subcommands.map(\.name) }
        e.replyArrayHeader(names.count)
        for n in names { e.replyBulk(n) }
    }),
    ("command|help", { e, _ in
        e.replyHelp("COMMAND", [
            "(no subcommand)", "    Return details about all Redis commands.",
            "COUNT", "    Return the total number of commands in this Redis server.",
            "LIST", "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
        ])
    }),
]

extension Command {
    var specInfo: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: spec.info.utf8Start, count: spec.info.utf8CodeUnitCount)
    }
    var specDocs: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: spec.docs.utf8Start, count: spec.docs.utf8CodeUnitCount)
    }
}

extension Engine {
    /// FLUSHDB / FLUSHALL accept one optional ASYNC or SYNC.
    func flushOptionValid(_ a: Arguments) -> Bool {
        if a.count > 2 || (a.count == 2 && !a[1].equalsIgnoringCase("async") && !a[1].equalsIgnoringCase("sync")) {
            replySyntaxError()
            return false
        }
        return true
    }

    /// A HELP reply: the title line, then the lines, then Redis's closing HELP line.
    func replyHelp(_ command: String, _ lines: [String]) {
        replyArrayHeader(lines.count + 3)
        replyStatus("\(command) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        for l in lines { replyStatus(l) }
        replyStatus("HELP")
        replyStatus("    Prints this help.")
    }

    /// DEBUG SLEEP <seconds> (blocks the keyspace thread, as in Redis) and
    /// DEBUG SET-ACTIVE-EXPIRE <0|1>.
    func debug(_ a: Arguments) {
        if a.count == 3 && a[1].equalsIgnoringCase("sleep") {
            let seconds = Double(a[2].string) ?? 0
            if seconds > 0 { usleep(UInt32(min(seconds, 3600) * 1_000_000)) }
            replyOK()
        } else if a.count == 2 && a[1].equalsIgnoringCase("reload") {
            debugReload()
        } else if a.count == 3 && a[1].equalsIgnoringCase("set-active-expire") {
            activeExpireEnabled = parseInteger(a[2]) != 0
            replyOK()
        } else {
            replyError(bytes: Array("ERR Unknown subcommand or wrong number of arguments for '".utf8)
                + truncatedForError(a[1], 128) + "'. Try DEBUG HELP.")
        }
    }

    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: saves first when save points are
    /// configured or SAVE is given (not with NOSAVE); a failed save keeps the server
    /// running unless FORCE. ABORT has no shutdown in progress to cancel.
    func shutdown(_ a: Arguments) {
        var save = false, nosave = false, force = false
        for i in 1..<a.count {
            let o = a[i]
            if o.equalsIgnoringCase("abort") && a.count == 2 {
                replyError("ERR No shutdown in progress.")
                return
            }
            if !(o.equalsIgnoringCase("nosave") || o.equalsIgnoringCase("save") || o.equalsIgnoringCase("now")
                || o.equalsIgnoringCase("force")) {
                replySyntaxError()
                return
            }
            if o.equalsIgnoringCase("save") { save = true }
            if o.equalsIgnoringCase("nosave") { nosave = true }
            if o.equalsIgnoringCase("force") { force = true }
        }
        if save && nosave {
            replySyntaxError()
            return
        }
        logger.warning("User requested shutdown...")
        if !saveBeforeShutdown(force: save, skip: nosave) && !force {
            replyError("ERR Errors trying to SHUTDOWN. Check logs.")
            return
        }
        logger.notice("Redis is now ready to exit, bye bye...")
        requestShutdown()
    }

    /// CONFIG GET name-or-pattern...: like Redis 7.0, a name without glob characters is
    /// answered as it was written (alias and letter case included), and a pattern matches
    /// names and aliases alike, each matching one giving its own entry; a name already in
    /// the answer (compared without case) is not repeated.
    func configGet(_ a: Arguments) {
        var matched: [([UInt8], ConfigParameter)] = []
        func add(_ name: [UInt8], _ p: ConfigParameter) {
            let lower = String(decoding: name, as: UTF8.self).lowercased()
            if matched.contains(where: { String(decoding: $0.0, as: UTF8.self).lowercased() == lower }) { return }
            matched.append((name, p))
        }
        for i in 2..<a.count {
            if !a[i].contains(where: { $0 == 42 || $0 == 63 || $0 == 91 }) {
                if let p = ConfigParameter.find(a[i].string.lowercased()) { add(Array(a[i]), p) }
                continue
            }
            for (name, p) in ConfigParameter.matchingNames(a[i]) { add(Array(name.utf8), p) }
        }
        replyMapHeader(matched.count)
        for (name, p) in matched {
            replyBulk(name)
            replyBulk(p.get(config))
        }
    }

    /// CONFIG SET name value...: Redis 7.0's order of checks. Every name is looked up first
    /// (unknown, immutable, protected or repeated: the first such argument is reported, as
    /// typed, and nothing changes); then the values are applied in order, and when one is
    /// refused the ones applied before it get their old values back. A refused value is
    /// reported under the (lower-case) name or alias that was used.
    func configSet(_ a: Arguments) {
        if a.count < 4 {
            replyError("ERR wrong number of arguments for 'config|set' command")
            return
        }
        if a.count % 2 != 0 {
            replySyntaxError()
            return
        }
        var changes: [(name: String, p: ConfigParameter, args: [String])] = []
        var failure: String?
        for i in stride(from: 2, to: a.count, by: 2) {
            let typed = a[i].string
            let name = typed.lowercased()
            guard let p = ConfigParameter.find(name) else {
                if failure == nil { failure = "ERR Unknown option or number of arguments for CONFIG SET - '\(typed)'" }
                continue
            }
            if failure != nil { continue }
            if !p.mutable {
                failure = "ERR CONFIG SET failed (possibly related to argument '\(typed)') - can't set immutable config"
            } else if p.protected {
                failure = "ERR CONFIG SET failed (possibly related to argument '\(typed)') - can't set protected config"
            } else if changes.contains(where: { $0.name == name }) {
                failure = "ERR CONFIG SET failed (possibly related to argument '\(typed)') - duplicate parameter"
            }
            changes.append((name, p, [a[i + 1].string]))
        }
        if let failure {
            replyError(failure)
            return
        }
        let previous = changes.map { $0.p.get(config) }
        for (k, change) in changes.enumerated() {
            if let err = change.p.set(config, change.args) {
                for j in (0..<k).reversed() { _ = changes[j].p.set(config, [previous[j]]) }
                replyError("ERR CONFIG SET failed (possibly related to argument '\(change.name)') - \(err)")
                return
            }
        }
        applyLogLevel()
        refreshObserveThreshold()
        applyLatencyTracking()
        applyEvictionConfig()
        // A lower maxmemory evicts at once, as Redis's updateMaxmemory does.
        if eviction.limit > 0 && changes.contains(where: { $0.p.name == "maxmemory" }) {
            let used = memoryCountedForEviction()
            if used > eviction.limit {
                logger.warning("WARNING: the new maxmemory value set via CONFIG SET (\(eviction.limit)) is smaller than the current memory usage (\(used)). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.")
            }
            refreshEvictionOverhead(force: true)
            performEvictions()
        }
        replyOK()
    }
}

extension Engine {
    /// CONFIG RESETSTAT's INFO counters. A method rather than an assignment in the handler:
    /// the large struct stored from a thin closure crashes the debug compiler
    /// (LoadableByAddress, Swift 6.3).
    func resetStats() { stats = ServerStats() }
}
