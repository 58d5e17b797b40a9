import Glibc

/// A growable byte buffer with `reader <= writer <= capacity`, owned by exactly one thread.
///
/// It is a plain struct over malloc'd memory, freed explicitly with `free()`: connections
/// keep their buffers for their whole life and reuse them, so no request allocates.
public struct ByteBuffer {
    public private(set) var base: UnsafeMutableRawPointer?
    public private(set) var capacity: Int = 0
    public var reader: Int = 0
    public var writer: Int = 0

    public init() {}

    public init(capacity: Int) { reserveCapacity(capacity) }

    @inlinable public var readable: Int { writer - reader }
    @inlinable public var isEmpty: Bool { writer == reader }
    public var writable: Int { capacity - writer }

    public var readPointer: UnsafeMutableRawPointer { base! + reader }
    public var writePointer: UnsafeMutableRawPointer { base! + writer }
    public var readableBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base.map { UnsafeRawPointer($0) + reader }, count: readable)
    }

    /// Ensures room for `count` more bytes after `writer`, compacting or growing.
    public mutating func ensureWritable(_ count: Int) {
        if capacity - writer >= count { return }
        if reader > 0 && capacity - readable >= count && reader >= readable {
            // Moving the live bytes to the front is cheaper than growing.
            if readable > 0 { memmove(base!, base! + reader, readable) }
            writer -= reader
            reader = 0
            return
        }
        reserveCapacity(readable + count)
    }

    /// Grows the allocation to at least `minimum` live bytes, moving live bytes to offset 0.
    public mutating func reserveCapacity(_ minimum: Int) {
        var newCapacity = Swift.max(capacity, 256)
        while newCapacity < minimum { newCapacity <<= 1 }
        if newCapacity == capacity && reader == 0 { return }
        if reader > 0, let b = base {
            if readable > 0 { memmove(b, b + reader, readable) }
            writer -= reader
            reader = 0
        }
        if newCapacity != capacity {
            base = realloc(base, newCapacity)
            precondition(base != nil, "out of memory")
            capacity = newCapacity
        }
    }

    /// Appends `count` bytes from `bytes`.
    @inline(__always)
    public mutating func append(_ bytes: UnsafeRawPointer, count: Int) {
        if count == 0 { return }
        ensureWritable(count)
        memcpy(base! + writer, bytes, count)
        writer += count
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if let b = bytes.baseAddress { append(b, count: bytes.count) }
    }

    public mutating func append<S: Sequence>(contentsOf bytes: S) where S.Element == UInt8 {
        for b in bytes { appendByte(b) }
    }

    @inline(__always)
    public mutating func appendByte(_ byte: UInt8) {
        ensureWritable(1)
        base!.storeBytes(of: byte, toByteOffset: writer, as: UInt8.self)
        writer += 1
    }

    /// Marks `count` bytes as written after the caller filled `writePointer` directly.
    @inline(__always) public mutating func commitWritten(_ count: Int) { writer += count }

    /// Drops `count` bytes from the front; resets to offset 0 when empty.
    @inline(__always)
    public mutating func consume(_ count: Int) {
        reader += count
        if reader == writer { reader = 0; writer = 0 }
    }

    public mutating func clear() { reader = 0; writer = 0 }

    /// Releases memory beyond `keep` bytes once the buffer is empty, so an idle connection
    /// that once received a huge request does not hold on to it.
    public mutating func shrinkIfIdle(keep: Int) {
        if readable == 0 && capacity > keep {
            Glibc.free(base)
            base = nil
            capacity = 0
            reader = 0
            writer = 0
        }
    }

    public mutating func free() {
        Glibc.free(base)
        base = nil
        capacity = 0
        reader = 0
        writer = 0
    }
}
