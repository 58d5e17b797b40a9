/// MULTI / EXEC / DISCARD / WATCH / UNWATCH.
struct TransactionState {
    /// Watched (database, key) pairs across all clients; 0 lets writes skip the lookup.
    var watchedKeyCount = 0
    /// True while EXEC runs the queued commands (blocking commands must not block then).
    var executingTransaction = false
}

/// One client's transaction: queued commands and watched keys.
final class MultiState {}

extension Engine {
    /// A watched key changed: its watchers' next EXEC fails.
    func transactionsKeyTouched(_ key: UnsafeRawBufferPointer, database: Int) {}

    /// Every key of database `index` is gone: all its watchers fail.
    func transactionsDatabaseFlushed(_ index: Int) {}

    func transactionsClientClosed(_ c: Client) {}
}
