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
///   deterministic command(s), once per command to send; then its own arguments are not sent;
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
    /// (Transactions.swift's flushTransactionPropagation).
    @inline(__always)
    func feedReplication(_ args: Arguments, database: Int) {
        if transactions.executingTransaction {
            // Nothing is fed without a backlog: copy nothing then.
            if replication.feedsWrites { transactions.pendingPropagation.append((database, OwnedArguments(args))) }
            return
        }
        replicationFeed(args, database: database)
    }

    /// A key found expired (lazily or by the active cycle) was deleted from database
    /// `database`: replicas get a DEL, watchers and blocked clients are told.
    func keyExpired(_ key: UnsafeRawBufferPointer, database: Int) {
        stats.expiredKeys += 1
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
