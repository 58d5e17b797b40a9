/// MULTI / EXEC / DISCARD / WATCH / UNWATCH: the state behind them (Redis's multi.c).
///
/// Watched keys are indexed by (database, key) in one table keyed by the key's hash mixed
/// with the database index, so that a write checks its key without allocating.
struct TransactionState {
    /// Watched (database, key) pairs across all clients; 0 lets writes skip the lookup.
    var watchedKeyCount = 0
    /// Watched keys by `watchHash(key, database)`; collisions share a bucket.
    var watched: [UInt64: [WatchedKey]] = [:]
    /// EXEC is running its queue: blocking commands must not block (Blocking.swift reads
    /// this), and writes are collected in `pendingPropagation`.
    var executingTransaction = false
    /// Writes made by the running EXEC, sent when it ends: as they are when there is one,
    /// wrapped in MULTI ... EXEC when there are several (Redis 7.0's propagatePendingCommands).
    var pendingPropagation: [(database: Int, args: OwnedArguments)] = []
}

/// One watched (database, key) pair and the clients watching it, in WATCH order.
final class WatchedKey {
    let database: Int
    let key: [UInt8]
    @exclusivity(unchecked) var watchers: [Watcher] = []

    /// One client's watch of the key. `expired`: the key had already expired (though not
    /// yet deleted) when WATCH ran, so its deletion is no change (Redis 7.0's wk->expired).
    struct Watcher {
        let client: Client
        var expired: Bool
    }

    init(database: Int, key: [UInt8]) {
        self.database = database
        self.key = key
    }

    func matches(_ key: UnsafeRawBufferPointer, database: Int) -> Bool {
        guard self.database == database, self.key.count == key.count else { return false }
        return self.key.withUnsafeBytes { $0.elementsEqual(key) }
    }
}

/// One client's transaction: whether MULTI is open, the queued commands, watched keys.
final class MultiState {
    /// MULTI was called and neither EXEC nor DISCARD yet (Redis's CLIENT_MULTI).
    var active = false
    /// A command was rejected while queueing: EXEC must answer EXECABORT (CLIENT_DIRTY_EXEC).
    var abortOnExec = false
    /// A watched key changed: EXEC must answer the null array (CLIENT_DIRTY_CAS).
    var watchedKeyChanged = false
    @exclusivity(unchecked) var queued: [(command: Command, args: OwnedArguments)] = []
    /// Bytes of the queued arguments (CLIENT LIST's multi-mem).
    var queuedBytes = 0
    @exclusivity(unchecked) var watching: [WatchedKey] = []

    /// Nothing left to remember: the client can drop this state.
    var isIdle: Bool { !active && watching.isEmpty && !watchedKeyChanged }
}

extension Engine {
    /// The bucket of `key` in `database` in the watched-key table.
    @inline(__always)
    func watchHash(_ key: UnsafeRawBufferPointer, database: Int) -> UInt64 {
        hashKey(key) &+ UInt64(database) &* 0x9E37_79B9_7F4A_7C15
    }

    /// The running client's transaction state, created on first use.
    func multiState(of c: Client) -> MultiState {
        if let m = c.multiState { return m }
        let m = MultiState()
        c.multiState = m
        return m
    }

    /// Drops the client's transaction state once it holds nothing (keeps dispatch's check
    /// for "in MULTI" to one nil test for most clients).
    func releaseMultiStateIfIdle(_ c: Client) {
        if let m = c.multiState, m.isIdle, m.queued.isEmpty { c.multiState = nil }
    }

    /// A watched key changed: its watchers' next EXEC fails. For a watcher that saw the key
    /// already expired, the key's deletion (it is gone, or being expired now) is no change.
    func transactionsKeyTouched(_ key: UnsafeRawBufferPointer, database: Int) {
        guard let bucket = transactions.watched[watchHash(key, database: database)] else { return }
        for wk in bucket where wk.matches(key, database: database) {
            for i in wk.watchers.indices {
                if wk.watchers[i].expired {
                    if !keyLive(key, database: database) {
                        wk.watchers[i].expired = false
                        continue
                    }
                }
                wk.watchers[i].client.multiState?.watchedKeyChanged = true
            }
        }
    }

    /// Whether `key` exists in `database` with no past TTL (no lazy deletion, no stats).
    private func keyLive(_ key: UnsafeRawBufferPointer, database: Int) -> Bool {
        guard let link = databases[database].table.find(key, hash: hashKey(key)) else { return false }
        let e = Entry(link.pointee!)
        return !(e.isVolatile && e.expireAt < now)
    }

    /// Whether `key` exists in `database` with a TTL in the past (Redis's keyIsExpired).
    private func keyExpiredButPresent(_ key: UnsafeRawBufferPointer, database: Int) -> Bool {
        guard let link = databases[database].table.find(key, hash: hashKey(key)) else { return false }
        let e = Entry(link.pointee!)
        return e.isVolatile && e.expireAt < now
    }

    /// Every key of database `index` is about to go: watchers of keys that exist fail
    /// (Redis's touchAllWatchedKeysInDb: an absent key stays valid, and so does one that
    /// had already expired when it was watched).
    func transactionsDatabaseFlushed(_ index: Int) {
        let table = databases[index].table
        for (_, bucket) in transactions.watched {
            for wk in bucket where wk.database == index {
                let exists = wk.key.withUnsafeBytes { table.find($0, hash: hashKey($0)) != nil }
                if !exists { continue }
                for i in wk.watchers.indices {
                    if wk.watchers[i].expired {
                        wk.watchers[i].expired = false
                        continue
                    }
                    wk.watchers[i].client.multiState?.watchedKeyChanged = true
                }
            }
        }
    }

    func transactionsClientClosed(_ c: Client) {
        unwatchAll(c)
        c.multiState = nil
    }

    /// WATCH one key for the running client (a key already watched in this database is
    /// not added twice).
    func watch(_ key: UnsafeRawBufferPointer) {
        let c = client!
        let m = multiState(of: c)
        let database = db.index
        if m.watching.contains(where: { $0.matches(key, database: database) }) { return }
        let h = watchHash(key, database: database)
        var bucket = transactions.watched[h] ?? []
        let wk: WatchedKey
        if let found = bucket.first(where: { $0.matches(key, database: database) }) {
            wk = found
        } else {
            wk = WatchedKey(database: database, key: Array(key))
            bucket.append(wk)
            transactions.watched[h] = bucket
            transactions.watchedKeyCount += 1
        }
        wk.watchers.append(WatchedKey.Watcher(client: c, expired: keyExpiredButPresent(key, database: database)))
        m.watching.append(wk)
    }

    /// Forgets every key `c` watches (the dirty flag is the caller's to clear).
    func unwatchAll(_ c: Client) {
        guard let m = c.multiState, !m.watching.isEmpty else { return }
        for wk in m.watching {
            wk.watchers.removeAll { $0.client === c }
            if wk.watchers.isEmpty {
                let h = wk.key.withUnsafeBytes { watchHash($0, database: wk.database) }
                if var bucket = transactions.watched[h] {
                    bucket.removeAll { $0 === wk }
                    transactions.watched[h] = bucket.isEmpty ? nil : bucket
                }
                transactions.watchedKeyCount -= 1
            }
        }
        m.watching.removeAll()
    }

    /// Whether a key `c` watches has a TTL in the past at EXEC time, even if nothing has
    /// deleted it yet (Redis 7.0's isWatchedKeyExpired).
    func watchedKeyExpired(_ c: Client) -> Bool {
        guard let m = c.multiState else { return false }
        for wk in m.watching {
            // A key already expired when watched does not count (Redis 7.0.15).
            if wk.watchers.contains(where: { $0.client === c && $0.expired }) { continue }
            if wk.key.withUnsafeBytes({ keyExpiredButPresent($0, database: wk.database) }) { return true }
        }
        return false
    }

    /// Ends MULTI state: the queue, the flags and the watched keys go (discardTransaction).
    func discardTransaction(_ c: Client) {
        if let m = c.multiState {
            m.queued.removeAll()
            m.queuedBytes = 0
            m.active = false
            m.abortOnExec = false
            m.watchedKeyChanged = false
            unwatchAll(c)
        }
        c.multiState = nil
    }

    /// Marks the open transaction of the running client as failed: a command could not be
    /// queued (Redis's flagTransaction).
    @inline(__always)
    func flagTransaction() {
        if let m = client.multiState, m.active { m.abortOnExec = true }
    }

    /// Queues a command of a client inside MULTI and replies +QUEUED. A transaction that
    /// will abort anyway keeps nothing.
    func queueCommand(_ cmd: Command, _ args: Arguments) {
        let m = client.multiState!
        if !m.abortOnExec {
            let owned = OwnedArguments(args)
            m.queuedBytes += owned.encoding.count
            m.queued.append((cmd, owned))
        }
        replyRaw("+QUEUED\r\n")
    }

    /// Runs the queued commands of the running client as one unit, replying an array of
    /// their replies, or the null array / EXECABORT when the transaction cannot run.
    func execTransaction(_ execCommand: Command) {
        let c = client!
        guard let m = c.multiState, m.active else {
            replyError("ERR EXEC without MULTI")
            return
        }
        if watchedKeyExpired(c) { m.watchedKeyChanged = true }
        if m.abortOnExec || m.watchedKeyChanged {
            if m.abortOnExec {
                replyError("EXECABORT Transaction discarded because of previous errors.")
            } else {
                replyNullArray()
            }
            discardTransaction(c)
            return
        }
        unwatchAll(c)
        let queue = m.queued
        m.queued.removeAll()
        m.queuedBytes = 0
        m.active = false   // queued commands run, they are not queued again
        transactions.executingTransaction = true
        replyArrayHeader(queue.count)
        for item in queue {
            item.args.withArguments { commands.dispatch(self, c, $0) }
            // A command may have switched databases (SELECT) or closed the client.
            db = databases[c.db]
        }
        transactions.executingTransaction = false
        discardTransaction(c)
        flushTransactionPropagation()
        // EXEC's own arguments are never propagated; its failure is its own replies'.
        propagationReplaced = true
        c.lastCommand = execCommand
        c.commandFailed = false
    }

    /// Sends the writes the EXEC just made to replicas: one as it is, several inside
    /// MULTI ... EXEC so a replica applies them as a unit.
    func flushTransactionPropagation() {
        let ops = transactions.pendingPropagation
        if ops.isEmpty { return }
        transactions.pendingPropagation.removeAll()
        let wrap = ops.count > 1
        if wrap {
            multiArguments.withArguments { replicationFeed($0, database: ops[0].database) }
        }
        for op in ops {
            op.args.withArguments { replicationFeed($0, database: op.database) }
        }
        if wrap {
            execArguments.withArguments { replicationFeed($0, database: ops[ops.count - 1].database) }
        }
    }

    /// A command rejected before it ran (unknown, wrong arity, not allowed here): flags
    /// an open transaction, and when the command is EXEC, ends the transaction with
    /// EXECABORT carrying the reason (Redis's rejectCommand / execCommandAbort).
    func rejectCommand(_ cmd: Command?, _ message: [UInt8], isExec: Bool = false) {
        flagTransaction()
        if let cmd { cmd.rejectedCalls += 1 }
        stats.rejectedCalls += 1
        if isExec {
            discardTransaction(client)
            var reason = message
            if reason.starts(with: Array("ERR ".utf8)) { reason.removeFirst(4) }
            replyError(bytes: Array("EXECABORT Transaction discarded because of: ".utf8) + reason)
        } else {
            replyError(bytes: message)
        }
    }
}

extension Engine {
    /// For a client inside MULTI or with subscriptions: rejects what may not run in that
    /// state, queues what MULTI defers, and returns true only for a command to run now.
    /// The order of the checks is processCommand's in Redis 7.0.
    func admitCommand(_ cmd: Command, _ args: Arguments) -> Bool {
        let c = client!
        // A monitor is a replica to Redis: it may not touch the keyspace.
        if c.isMonitor && (cmd.flags.contains(.readonly) || cmd.pausedByWrites) {
            rejectCommand(cmd, Array("ERR Replica can't interact with the keyspace".utf8), isExec: cmd.isExec)
            return false
        }
        let inMulti = c.multiState?.active ?? false
        if inMulti && cmd.flags.contains(.noMulti) {
            rejectCommand(cmd, Array("ERR Command not allowed inside a transaction".utf8))
            return false
        }
        if c.subscriptions != nil && c.protocolVersion == 2 && !cmd.allowedWhileSubscribed {
            rejectCommand(cmd, Array("ERR Can't execute '\(cmd.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context".utf8),
                          isExec: cmd.isExec)
            return false
        }
        if inMulti && !cmd.runsInsideMulti {
            c.lastCommand = cmd
            queueCommand(cmd, args)
            return false
        }
        return true
    }
}
