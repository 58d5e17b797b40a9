import Glibc

/// The replication backlog: the last `capacity` bytes of the replication stream, kept so a
/// replica that lost its link can resume from its offset (PSYNC -> +CONTINUE) instead of
/// loading a whole snapshot again.
///
/// A fixed circular buffer, like Redis 6's repl_backlog: appending never allocates, and the
/// oldest bytes are overwritten once it is full. Offsets are replication offsets: the first
/// byte held is `firstByteOffset`, and the stream's next byte will be
/// `firstByteOffset + historyLength` (Redis's repl_backlog_off and repl_backlog_histlen).
final class ReplicationBacklog {
    private(set) var capacity: Int
    private var storage: UnsafeMutableRawPointer
    /// Where the next byte goes.
    private var writeIndex = 0
    /// Bytes held, at most `capacity`.
    private(set) var historyLength = 0
    /// Replication offset of the oldest byte held.
    private(set) var firstByteOffset: Int64

    /// An empty backlog whose next byte has offset `nextOffset` (master_repl_offset + 1).
    init(capacity: Int, nextOffset: Int64) {
        self.capacity = max(1, capacity)
        storage = malloc(self.capacity)!
        firstByteOffset = nextOffset
    }

    deinit { free(storage) }

    /// Offset the next appended byte will have.
    var nextOffset: Int64 { firstByteOffset + Int64(historyLength) }

    /// Adds stream bytes, dropping the oldest when full.
    func append(_ bytes: UnsafeRawBufferPointer) {
        var src = bytes
        // Only the last `capacity` bytes of a huge append can survive it.
        if src.count > capacity {
            let skip = src.count - capacity
            firstByteOffset += Int64(historyLength + skip)
            historyLength = 0
            src = UnsafeRawBufferPointer(rebasing: src[skip...])
        }
        var done = 0
        while done < src.count {
            let n = min(capacity - writeIndex, src.count - done)
            (storage + writeIndex).copyMemory(from: src.baseAddress! + done, byteCount: n)
            writeIndex = (writeIndex + n) % capacity
            done += n
        }
        historyLength += src.count
        if historyLength > capacity {
            firstByteOffset += Int64(historyLength - capacity)
            historyLength = capacity
        }
    }

    /// Whether a replica asking to continue from `offset` (the first byte it lacks) can be
    /// served from here: Redis accepts [first byte, first byte + histlen].
    func contains(offset: Int64) -> Bool {
        offset >= firstByteOffset && offset <= nextOffset
    }

    /// Passes the bytes from `offset` to the end of the history to `body`, in at most two
    /// contiguous pieces. `offset` must satisfy `contains(offset:)`.
    func forEachPiece(from offset: Int64, _ body: (UnsafeRawBufferPointer) -> Void) {
        let skip = Int(offset - firstByteOffset)
        var remaining = historyLength - skip
        let oldest = (writeIndex - historyLength + capacity) % capacity
        var index = (oldest + skip) % capacity
        while remaining > 0 {
            let n = min(capacity - index, remaining)
            body(UnsafeRawBufferPointer(start: storage + index, count: n))
            index = (index + n) % capacity
            remaining -= n
        }
    }

    /// Changes the size (CONFIG SET repl-backlog-size), keeping the newest history that fits.
    func resize(to newCapacity: Int) {
        let size = max(1, newCapacity)
        if size == capacity { return }
        let fresh = malloc(size)!
        let keep = min(historyLength, size)
        var copied = 0
        forEachPiece(from: nextOffset - Int64(keep)) { piece in
            (fresh + copied).copyMemory(from: piece.baseAddress!, byteCount: piece.count)
            copied += piece.count
        }
        free(storage)
        storage = fresh
        firstByteOffset = nextOffset - Int64(keep)
        capacity = size
        historyLength = keep
        writeIndex = keep % size
    }
}
