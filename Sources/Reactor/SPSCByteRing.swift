import Synchronization

/// A bounded, lock-free single-producer/single-consumer queue of variable-length records.
///
/// Records are laid out contiguously in one power-of-two byte buffer: an 8-byte header
/// (`UInt32` payload length, `UInt32` kind) then the payload, padded to 8 bytes. A record
/// that would straddle the end of the buffer is preceded by a padding record that sends the
/// consumer back to offset 0, so every payload is contiguous and read in place (no copy).
///
/// Positions are monotonically increasing byte counts (`head`, `tail`); the index in the
/// buffer is `position & mask`. The producer accumulates records in `localTail` and makes
/// a whole batch visible with one release store (`publish()`); the consumer likewise frees
/// a batch of records with one release store of `head` (`release()`). Each side keeps a
/// cached copy of the other side's index and only reloads it (acquire) when the cache says
/// the queue is full or empty, so a steady stream costs one shared cache-line transfer per
/// batch, not per record.
public final class SPSCByteRing: @unchecked Sendable {
    public static let headerSize = 8
    static let padKind: UInt32 = 0xFFFF_FFFF

    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let storage: UnsafeMutableRawPointer

    // Consumer-owned line: the shared head and the consumer's private state.
    private let _pad0 = CacheLinePad()
    /// Written by the consumer with release (it has finished reading everything below head);
    /// read by the producer with acquire before it reuses that space.
    @usableFromInline let head = Atomic<Int>(0)
    @exclusivity(unchecked) @usableFromInline var consumerHead: Int = 0     // consumer-private read position
    @exclusivity(unchecked) @usableFromInline var consumerCachedTail: Int = 0
    private let _pad1 = CacheLinePad()
    /// Written by the producer with release (every record below tail is fully written);
    /// read by the consumer with acquire before it reads those records.
    @usableFromInline let tail = Atomic<Int>(0)
    @exclusivity(unchecked) @usableFromInline var producerTail: Int = 0      // producer-private write position
    @exclusivity(unchecked) @usableFromInline var producerCachedHead: Int = 0
    private let _pad2 = CacheLinePad()

    /// Creates a ring of `capacity` bytes (rounded up to a power of two, at least 4 KiB).
    public init(capacity: Int) {
        var c = 4096
        while c < capacity { c <<= 1 }
        self.capacity = c
        self.mask = c - 1
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 64)
    }

    deinit { storage.deallocate() }

    /// The largest payload a single record may carry; larger requests go out of line.
    public var maxPayload: Int { capacity / 4 }

    @inline(__always) static func align8(_ n: Int) -> Int { (n + 7) & ~7 }

    // MARK: producer side

    /// Reserves a record of `payloadLength` bytes and returns a pointer to its payload, or
    /// nil when the ring lacks the space (the caller applies back-pressure). The record is
    /// invisible to the consumer until `publish()`.
    @inlinable @inline(__always)
    public func reserve(kind: UInt32, payloadLength: Int) -> UnsafeMutableRawPointer? {
        let recordSize = (SPSCByteRing.headerSize + payloadLength + 7) & ~7
        var index = producerTail & mask
        let toEnd = capacity - index
        let needed = recordSize <= toEnd ? recordSize : recordSize + toEnd
        if capacity - (producerTail - producerCachedHead) < needed {
            producerCachedHead = loadHead()
            if capacity - (producerTail - producerCachedHead) < needed { return nil }
        }
        if recordSize > toEnd {
            // Pad to the end so the record itself is contiguous at offset 0.
            storage.storeBytes(of: UInt32(toEnd - SPSCByteRing.headerSize), toByteOffset: index, as: UInt32.self)
            storage.storeBytes(of: 0xFFFF_FFFF as UInt32, toByteOffset: index + 4, as: UInt32.self)
            producerTail &+= toEnd
            index = 0
        }
        storage.storeBytes(of: UInt32(truncatingIfNeeded: payloadLength), toByteOffset: index, as: UInt32.self)
        storage.storeBytes(of: kind, toByteOffset: index + 4, as: UInt32.self)
        producerTail &+= recordSize
        return storage + index + SPSCByteRing.headerSize
    }

    /// Shrinks the payload of the record just returned by `reserve` (only the last one).
    @inlinable
    public func shrinkLast(payload: UnsafeMutableRawPointer, from oldLength: Int, to newLength: Int) {
        let oldSize = (SPSCByteRing.headerSize + oldLength + 7) & ~7
        let newSize = (SPSCByteRing.headerSize + newLength + 7) & ~7
        (payload - SPSCByteRing.headerSize).storeBytes(of: UInt32(truncatingIfNeeded: newLength), as: UInt32.self)
        producerTail &-= oldSize - newSize
    }

    /// Bytes the producer could still reserve (a lower bound when the cache is stale).
    public var producerFreeSpace: Int {
        producerCachedHead = loadHead()
        return capacity - (producerTail - producerCachedHead)
    }

    @usableFromInline func loadHead() -> Int {
        // Acquire pairs with the consumer's release in `release()`: the consumer is done
        // reading every byte below head, so the producer may overwrite them.
        head.load(ordering: .acquiring)
    }

    /// Makes every record reserved so far visible to the consumer. Returns true when it
    /// published anything new.
    @discardableResult @inlinable
    public func publish() -> Bool {
        // Release pairs with the consumer's acquire in `loadTail()`: every payload byte
        // written before this store is visible to a consumer that sees the new tail.
        if tail.load(ordering: .relaxed) == producerTail { return false }
        tail.store(producerTail, ordering: .releasing)
        return true
    }

    /// True when the consumer has taken everything published (producer's view).
    public var isDrainedByConsumer: Bool { loadHead() == producerTail }

    // MARK: consumer side

    /// Returns the next record, or nil when nothing is published. The payload stays valid
    /// until `release()` after `advance()` moved past it.
    @inlinable @inline(__always)
    public func peek() -> (kind: UInt32, payload: UnsafeRawBufferPointer)? {
        while true {
            if consumerHead == consumerCachedTail {
                consumerCachedTail = loadTail()
                if consumerHead == consumerCachedTail { return nil }
            }
            let index = consumerHead & mask
            let length = Int(storage.load(fromByteOffset: index, as: UInt32.self))
            let kind = storage.load(fromByteOffset: index + 4, as: UInt32.self)
            if kind == 0xFFFF_FFFF {
                consumerHead &+= length + SPSCByteRing.headerSize
                continue
            }
            return (kind, UnsafeRawBufferPointer(start: storage + index + SPSCByteRing.headerSize, count: length))
        }
    }

    /// Moves past the record returned by the last `peek()`.
    @inlinable @inline(__always)
    public func advance() {
        let length = Int(storage.load(fromByteOffset: consumerHead & mask, as: UInt32.self))
        consumerHead &+= (SPSCByteRing.headerSize + length + 7) & ~7
    }

    @usableFromInline func loadTail() -> Int {
        // Acquire pairs with the producer's release in `publish()`.
        tail.load(ordering: .acquiring)
    }

    /// Hands the space of every advanced-over record back to the producer.
    @inlinable
    public func release() {
        // Release pairs with the producer's acquire in `loadHead()`: our reads of those
        // records happen before the producer may overwrite them.
        head.store(consumerHead, ordering: .releasing)
    }

    /// True when a record is published and not yet consumed (consumer's view, fresh load).
    public var hasPublishedRecords: Bool {
        consumerHead != loadTail()
    }

    /// Bytes published but not yet consumed (consumer's view).
    public var consumerBacklog: Int { loadTail() - consumerHead }
}

/// 64 bytes of padding, to keep the two sides' fields on different cache lines.
struct CacheLinePad {
    var a: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
}
