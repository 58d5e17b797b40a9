import Synchronization

/// Heap bytes held by the contents of lists, hashes, sets, sorted sets and streams, kept as
/// a running total so that INFO's used_memory counts them without walking the dataset.
///
/// Each value type adds what it allocates and subtracts what it frees, at the places where
/// it calls malloc/realloc/free (or grows an array), not per element read; object headers
/// count too. Only the keyspace thread creates, changes and frees values in the server, so
/// the count is a relaxed load and store rather than an atomic add: one plain `add` to
/// memory (the global is statically initialized), and still no data race when unit tests
/// build values on several threads at once (they may lose an update; nothing reads it).
let valueMemoryCounter = Atomic<Int>(0)

/// Adds `delta` (negative when freeing) to `valueMemoryCounter`.
@inline(__always)
func addValueMemory(_ delta: Int) {
    valueMemoryCounter.store(valueMemoryCounter.load(ordering: .relaxed) &+ delta, ordering: .relaxed)
}

/// What glibc's malloc takes for a request of `n` bytes: the size plus its 8-byte chunk
/// header, rounded up to 16, and never less than a 32-byte chunk.
@inline(__always)
func mallocCost(_ n: Int) -> Int { max(32, (n + 8 + 15) & ~15) }
