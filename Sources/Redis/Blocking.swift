/// Clients blocked on keys (BLPOP, BZPOPMIN, XREAD BLOCK, ...).
struct BlockingState {
    var blockedClientCount = 0
}

/// What one blocked client waits for, and until when.
final class BlockState {}

extension Engine {
    /// A key changed: clients blocked on it may now be served.
    func blockingKeyTouched(_ key: UnsafeRawBufferPointer, database: Int) {}

    func blockingClientClosed(_ c: Client) {}
}
