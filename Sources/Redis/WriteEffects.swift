import Reactor

/// What a write does beyond changing data, run once per command that changed something:
/// propagation to replicas and the backlog, WATCH invalidation, waking clients blocked on
/// keys. Command handlers only count their changes in `dirty` (Redis's server.dirty);
/// `CommandTable.dispatch` calls `commandChangedData` when the count moved.
///
/// Contract for handlers:
/// - every change to the dataset adds to `dirty` (the primitives in KeyAccess.swift do it
///   for whole-key stores, deletes and expiry changes; in-place changes of a value object
///   — LPUSH onto an existing list, HSET of a field — add to it themselves);
/// - a command whose effect is not reproduced by re-running its arguments (relative
///   expiries, SPOP, INCRBYFLOAT, XADD *, a blocking pop) calls `propagateInstead` with the
///   deterministic command(s), once per command to send; then its own arguments are not sent
///   (when one execution sends several, with a lazy-expiry DEL or not, they go out inside
///   MULTI ... EXEC as in Redis 7.0: see `PropagationUnit`);
/// - a command whose keys are not at fixed positions (the spec's movablekeys flag: LMPOP,
///   ZUNIONSTORE, ...) calls `touchKey` for each key it changed.
extension Engine {
    /// After a command that changed data: propagate it (or its rewrite), and touch the
    /// keys at its declared positions.
    @inline(__always)
    func commandChangedData(_ cmd: Command, _ args: Arguments) {
        if !propagationReplaced {
            propagate(args)
        }
        if needsKeyTouches && !cmd.flags.contains(.movableKeys) {
            let spec = cmd.spec
            if let only = cmd.onlyWrittenKey {
                if only < args.count { touchKey(args[only]) }
            } else if spec.firstKey > 0 {
                let last = spec.lastKey < 0 ? args.count + spec.lastKey : spec.lastKey
                var i = spec.firstKey
                while i <= last && i < args.count {
                    touchKey(args[i])
                    i += max(1, spec.keyStep)
                }
            }
        }
    }

    /// Whether any client watches a key or waits on one: only then are keys touched.
    @inline(__always)
    var needsKeyTouches: Bool { transactions.watchedKeyCount > 0 || blocking.blockedClientCount > 0 }

    /// `key` in the current database changed (written, deleted, expired): clients that
    /// WATCH it will fail their EXEC, and clients blocked on it get another look.
    func touchKey(_ key: UnsafeRawBufferPointer) {
        touchKey(key, database: db.index)
    }

    func touchKey(_ key: UnsafeRawBufferPointer, database: Int) {
        if transactions.watchedKeyCount > 0 { transactionsKeyTouched(key, database: database) }
        if blocking.blockedClientCount > 0 { blockingKeyTouched(key, database: database) }
    }

    /// Sends `parts` to replicas and the backlog instead of the running command's own
    /// arguments. Call once per command to send, in order. `parts` is only built while
    /// something is fed (a replica attached), so SPOP and friends allocate nothing for
    /// their rewrite otherwise.
    func propagateInstead(_ parts: @autoclosure () -> [[UInt8]]) {
        propagationReplaced = true
        guard replication.feedsWrites else { return }
        OwnedArguments(parts()).withArguments { propagate($0) }
    }

    /// Sends the running command's arguments as they came (the default for a write).
    @inline(__always)
    func propagate(_ args: Arguments) {
        feedReplication(args, database: db.index)
    }

    /// Sends one command to replicas and the backlog, or, while EXEC runs its queue,
    /// collects it so the transaction goes out as one MULTI ... EXEC block
    /// (Transactions.swift's flushTransactionPropagation). Within one command execution
    /// the second command fed wraps the unit in MULTI ... EXEC (`PropagationUnit`).
    @inline(__always)
    func feedReplication(_ args: Arguments, database: Int) {
        if transactions.executingTransaction {
            // Nothing is fed without a backlog: copy nothing then.
            if replication.feedsWrites && !scriptReplicationOff {
                transactions.pendingPropagation.append((database, OwnedArguments(args)))
            }
            return
        }
        guard replication.feedsWrites, !scriptReplicationOff else { return }
        if propagationUnit.open {
            feedInUnit(args, database: database)
        } else {
            replicationEncode(args, database: database)
        }
    }

    /// One command fed by the running command. The first goes into the stream at once,
    /// its place remembered; a second one takes it back out and puts it again after a
    /// MULTI, so only commands that feed several pay for the wrapping (Redis 7.0's
    /// also_propagate, sent by propagatePendingCommands when the command ends).
    private func feedInUnit(_ args: Arguments, database: Int) {
        let r = replication
        if propagationUnit.count == 0 {
            propagationUnit.start = r.pending.writer
            propagationUnit.databaseBefore = r.streamDatabase
            propagationUnit.firstDatabase = database
            replicationEncode(args, database: database)
            propagationUnit.end = r.pending.writer
            propagationUnit.offsetAfterFirst = r.masterReplOffset
        } else {
            if propagationUnit.count == 1 { wrapFirstFedCommand() }
            replicationEncode(args, database: database)
        }
        propagationUnit.count += 1
        propagationUnit.lastDatabase = database
    }

    /// Rewrites the stream's tail "[SELECT] cmd1" as "[SELECT] MULTI cmd1". Only when cmd1
    /// is still the last thing in the batch's stream bytes (nothing was flushed or fed in
    /// between); otherwise the commands go out unwrapped.
    private func wrapFirstFedCommand() {
        let r = replication
        let u = propagationUnit
        guard r.pending.writer == u.end, r.masterReplOffset == u.offsetAfterFirst, u.start <= u.end else { return }
        // The first command's bytes, after the SELECT it may have needed.
        var commandStart = u.start
        if u.databaseBefore != u.firstDatabase && u.firstDatabase >= 0 {
            commandStart = skipMultibulk(r.pending, from: u.start)
        }
        let first = [UInt8](UnsafeRawBufferPointer(start: r.pending.base! + commandStart, count: u.end - commandStart))
        r.masterReplOffset -= Int64(u.end - u.start)
        r.pending.writer = u.start
        r.streamDatabase = u.databaseBefore
        multiArguments.withArguments { replicationEncode($0, database: u.firstDatabase) }
        first.withUnsafeBytes { r.pending.append($0) }
        r.masterReplOffset += Int64(first.count)
        propagationUnit.wrapped = true
    }

    /// A command starts: what it feeds forms one unit. False when one is open already
    /// (a command run by EXEC: the EXEC is the unit), and for SCAN and RANDOMKEY, whose
    /// expiry DELs Redis 7.0.15 sends unwrapped as the active cycle's.
    @inline(__always)
    func openPropagationUnit(_ cmd: Command) -> Bool {
        if propagationUnit.open || cmd.touchesArbitraryKeys { return false }
        propagationUnit.open = true
        return true
    }

    /// The command ended: a wrapped unit gets its EXEC (in the last command's database,
    /// so no SELECT precedes it).
    @inline(__always)
    func closePropagationUnit() {
        if propagationUnit.count != 0 {
            if propagationUnit.wrapped {
                let database = propagationUnit.lastDatabase
                execArguments.withArguments { replicationEncode($0, database: database) }
            }
            propagationUnit.count = 0
            propagationUnit.wrapped = false
        }
        propagationUnit.open = false
    }

    /// A key found expired (lazily or by the active cycle) was deleted from database
    /// `database`: replicas get a DEL, watchers and blocked clients are told.
    func keyExpired(_ key: UnsafeRawBufferPointer, database: Int) {
        stats.expiredKeys += 1
        notify(NotifyClass.expired, "expired", key, database: database)
        if replication.feedsWrites {
            OwnedArguments([Array("DEL".utf8), Array(key)]).withArguments { feedReplication($0, database: database) }
        }
        touchKey(key, database: database)
    }

    /// A database is about to be emptied (FLUSHDB / FLUSHALL): every key in it counts as
    /// touched. Called before the keys go, since WATCH fails only for keys that existed.
    func flushedDatabase(_ index: Int) {
        if transactions.watchedKeyCount > 0 { transactionsDatabaseFlushed(index) }
        if blocking.blockedClientCount > 0 {
            for bk in blocking.waiters.keys where bk.database == index {
                bk.key.withUnsafeBytes { blockingKeyTouched($0, database: index) }
            }
        }
    }
}

/// What the running command has fed to the replication stream so far (Redis 7.0's
/// server.also_propagate for one execution unit). The commands themselves are already in
/// the stream; this is where the first one sits, so that it can be wrapped.
struct PropagationUnit {
    /// A command is running (dispatch): feeds are counted. Outside commands (the active
    /// expire cycle) every DEL goes out on its own, as 7.0's propagate_no_multi does.
    var open = false
    var count = 0
    /// MULTI was put before the first command: EXEC goes after the last.
    var wrapped = false
    /// Stream bytes of the first command (with its SELECT): pending.writer before, after.
    var start = 0
    var end = 0
    var offsetAfterFirst: Int64 = 0
    /// The stream's database before the first command, and the first and last commands'.
    var databaseBefore = -1
    var firstDatabase = 0
    var lastDatabase = 0
}

/// MULTI and EXEC as arguments, encoded once (also for EXEC's own wrapping).
let multiArguments = OwnedArguments([Array("MULTI".utf8)])
let execArguments = OwnedArguments([Array("EXEC".utf8)])

/// The offset just after the RESP multibulk that starts at `from` in `buffer` (a command
/// this server encoded itself, so well formed).
private func skipMultibulk(_ buffer: ByteBuffer, from: Int) -> Int {
    let p = buffer.base!.assumingMemoryBound(to: UInt8.self)
    var i = from + 1   // '*'
    var count = 0
    while p[i] != 13 { count = count * 10 + Int(p[i] - 48); i += 1 }
    i += 2
    for _ in 0..<count {
        i += 1   // '$'
        var n = 0
        while p[i] != 13 { n = n * 10 + Int(p[i] - 48); i += 1 }
        i += 2 + n + 2
    }
    return i
}
