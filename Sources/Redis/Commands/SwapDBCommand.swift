/// SWAPDB index1 index2 (Redis 7.0's swapdbCommand and dbSwapDatabases).
let swapdbCommands: [(String, CommandHandler)] = [
    ("swapdb", { $0.swapdb($1) }),
]

extension Engine {
    /// Exchanges the contents of two databases. Clients stay in the database they
    /// selected (they now see the other contents); the replication stream keeps its
    /// database numbering, since SWAPDB itself goes to replicas, which swap the same way.
    func swapdb(_ a: Arguments) {
        guard let first = databaseIndexArgument(a[1], "ERR invalid first DB index"),
              let second = databaseIndexArgument(a[2], "ERR invalid second DB index") else { return }
        guard first >= 0 && first < databases.count && second >= 0 && second < databases.count else {
            replyError("ERR DB index is out of range")
            return
        }
        if first != second {
            let d1 = databases[first], d2 = databases[second]
            // Before the swap, as Redis: a watched key present on either side changes.
            if transactions.watchedKeyCount > 0 {
                transactionsDatabaseReplaced(first, with: second)
                transactionsDatabaseReplaced(second, with: first)
            }
            let table = d1.table
            d1.table = d2.table
            d2.table = table
            // Clients blocked on keys that now exist get another look (scanDatabaseForReadyKeys).
            if blocking.blockedClientCount > 0 {
                for bk in Array(blocking.waiters.keys) where bk.database == first || bk.database == second {
                    let present = bk.key.withUnsafeBytes {
                        databases[bk.database].lookup($0, hash: hashKey($0), now: now) != nil
                    }
                    if present { bk.key.withUnsafeBytes { blockingKeyTouched($0, database: bk.database) } }
                }
            }
        }
        dirty += 1
        replyOK()
    }

    /// getIntFromObjectOrReply with a message of its own: any integer that is not an int
    /// gets `message`.
    private func databaseIndexArgument(_ bytes: UnsafeRawBufferPointer, _ message: StaticString) -> Int? {
        guard let n = parseInteger(bytes), n >= Int(Int32.min), n <= Int(Int32.max) else {
            replyError(message)
            return nil
        }
        return n
    }

    /// touchAllWatchedKeysInDb(emptied, replaced_with) for SWAPDB: a key watched in
    /// database `index` is changed when it exists there or in `other`, with Redis's
    /// expired-key rules: a watcher that saw the key already expired keeps its transaction
    /// when `other` lacks the key or holds it expired too, and a missing key replaced by an
    /// expired one counts as already expired for its watchers.
    func transactionsDatabaseReplaced(_ index: Int, with other: Int) {
        let emptied = databases[index].table, replacement = databases[other].table
        for (_, bucket) in transactions.watched {
            for wk in bucket where wk.database == index {
                let (inEmptied, replacing) = wk.key.withUnsafeBytes {
                    (emptied.find($0, hash: hashKey($0)) != nil, replacement.find($0, hash: hashKey($0)))
                }
                if !inEmptied && replacing == nil { continue }
                let replacingExpired = replacing.map { isExpired(Entry($0.pointee!)) } ?? false
                for i in wk.watchers.indices {
                    if wk.watchers[i].expired {
                        if replacing == nil {
                            wk.watchers[i].expired = false
                            continue
                        }
                        if replacingExpired { continue }
                    } else if !inEmptied && replacingExpired {
                        wk.watchers[i].expired = true
                        continue
                    }
                    wk.watchers[i].client.multiState?.watchedKeyChanged = true
                }
            }
        }
    }
}
