import Glibc

/// Kinds of value a key can hold (TYPE's answer).
public enum ValueType: UInt8 {
    case string = 0, list, set, zset, hash, stream

    var name: StaticString {
        switch self {
        case .string: "string"
        case .list: "list"
        case .set: "set"
        case .zset: "zset"
        case .hash: "hash"
        case .stream: "stream"
        }
    }
}

/// How a string value is stored; reported by OBJECT ENCODING with Redis's names.
public enum StringEncoding: UInt8 {
    /// A decimal integer kept as an Int64 (8 bytes).
    case int = 0
    /// Short string set whole (Redis's embstr: up to 44 bytes).
    case embstr
    /// Anything else, and every string modified in place (APPEND, SETRANGE).
    case raw
}

/// One key and its value in a single malloc'd block, chained in its `KeyTable` bucket:
///
///     0  next entry in the bucket     (8)
///     8  low 32 bits of the key hash  (4)
///     12 key length                   (4)
///     16 value length                 (4)
///     20 type (3 bits), encoding (2), flags (2)       (1)
///     21 access clock: LRU seconds or LFU minutes+counter (3)
///     24 [expire-at ms (8), index in the volatile list (4), pad (4)]  only with an expiry
///     .. key bytes, then value bytes (a string's bytes, an Int64, or an object reference)
///
/// The access clock is Redis's 24-bit `lru` field (see Eviction.swift); packing type,
/// encoding and flags into one byte, as Redis's robj does, leaves the header at 24 bytes.
/// Keys without expiry pay nothing for it. Entries never move except through
/// `KeyTable.resize(entry:)`, which updates the bucket link and volatile list.
@usableFromInline
struct Entry {
    @usableFromInline let p: UnsafeMutableRawPointer

    @inline(__always) @usableFromInline init(_ p: UnsafeMutableRawPointer) { self.p = p }

    static let headerSize = 24
    static let expirySize = 16
    static let volatileFlag: UInt8 = 1
    /// Which side of its table's `snapshotMark` the entry is on: equal means a snapshot in
    /// progress already holds it (or it was written after the snapshot began).
    static let snapshotFlag: UInt8 = 2

    @inline(__always) var next: UnsafeMutableRawPointer? {
        get { p.load(as: UnsafeMutableRawPointer?.self) }
        nonmutating set { p.storeBytes(of: newValue, as: UnsafeMutableRawPointer?.self) }
    }
    @inline(__always) var hash32: UInt32 { p.load(fromByteOffset: 8, as: UInt32.self) }
    @inline(__always) var keyLength: Int { Int(p.load(fromByteOffset: 12, as: UInt32.self)) }
    @inline(__always) var valueLength: Int {
        get { Int(p.load(fromByteOffset: 16, as: UInt32.self)) }
        nonmutating set { p.storeBytes(of: UInt32(newValue), toByteOffset: 16, as: UInt32.self) }
    }
    /// Byte 20: type in bits 0-2, string encoding in bits 3-4, flags in bits 5-6.
    @inline(__always) private var packed: UInt8 {
        get { p.load(fromByteOffset: 20, as: UInt8.self) }
        nonmutating set { p.storeBytes(of: newValue, toByteOffset: 20, as: UInt8.self) }
    }
    @inline(__always) var type: ValueType { ValueType(rawValue: packed & 7)! }
    @inline(__always) var encodingByte: UInt8 {
        get { (packed >> 3) & 3 }
        nonmutating set { packed = (packed & ~0x18) | ((newValue & 3) << 3) }
    }
    @inline(__always) var stringEncoding: StringEncoding {
        get { StringEncoding(rawValue: encodingByte)! }
        nonmutating set { encodingByte = newValue.rawValue }
    }
    @inline(__always) var flags: UInt8 {
        get { (packed >> 5) & 3 }
        nonmutating set { packed = (packed & ~0x60) | ((newValue & 3) << 5) }
    }
    /// Redis's 24-bit `lru` field: the LRU clock (seconds) of the last access, or under an
    /// LFU policy the minutes of the last decrement (high 16 bits) and the log counter.
    @inline(__always) var accessClock: UInt32 {
        get { p.load(fromByteOffset: 20, as: UInt32.self) >> 8 }
        nonmutating set {
            let low = UInt32(p.load(fromByteOffset: 20, as: UInt8.self))
            p.storeBytes(of: low | (newValue << 8), toByteOffset: 20, as: UInt32.self)
        }
    }
    @inline(__always) var isVolatile: Bool { packed & (Entry.volatileFlag << 5) != 0 }
    @inline(__always) var expireAt: Int64 {
        get { p.load(fromByteOffset: 24, as: Int64.self) }
        nonmutating set { p.storeBytes(of: newValue, toByteOffset: 24, as: Int64.self) }
    }
    @inline(__always) var volatileIndex: Int {
        get { Int(p.load(fromByteOffset: 32, as: UInt32.self)) }
        nonmutating set { p.storeBytes(of: UInt32(newValue), toByteOffset: 32, as: UInt32.self) }
    }
    @inline(__always) var keyOffset: Int { isVolatile ? Entry.headerSize + Entry.expirySize : Entry.headerSize }
    @inline(__always) var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + keyOffset, count: keyLength)
    }
    @inline(__always) var valuePointer: UnsafeMutableRawPointer { p + keyOffset + keyLength }
    @inline(__always) var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: valuePointer, count: valueLength)
    }
    /// The value of an int-encoded string.
    @inline(__always) var intValue: Int64 {
        get { valuePointer.loadUnaligned(as: Int64.self) }
        nonmutating set { valuePointer.storeBytes(of: newValue, as: Int64.self) }
    }
    /// The object of a non-string value (lists, sets, ... are reference types).
    var object: AnyObject {
        Unmanaged<AnyObject>.fromOpaque(valuePointer.loadUnaligned(as: UnsafeRawPointer.self)).takeUnretainedValue()
    }

    @inline(__always)
    func keyEquals(_ other: UnsafeRawBufferPointer) -> Bool {
        keyLength == other.count && (other.count == 0 || memcmp(p + keyOffset, other.baseAddress!, other.count) == 0)
    }

    static func size(keyLength: Int, valueLength: Int, volatile: Bool) -> Int {
        headerSize + (volatile ? expirySize : 0) + keyLength + valueLength
    }

    /// Allocates an entry for `key` with room for `valueLength` bytes of value (not filled).
    static func allocate(key: UnsafeRawBufferPointer, hash: UInt64, valueLength: Int, type: ValueType,
                         encoding: UInt8, volatile: Bool) -> Entry {
        let size = Entry.size(keyLength: key.count, valueLength: valueLength, volatile: volatile)
        guard let p = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        let e = Entry(p)
        e.next = nil
        p.storeBytes(of: UInt32(truncatingIfNeeded: hash), toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: UInt32(key.count), toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: UInt32(valueLength), toByteOffset: 16, as: UInt32.self)
        let packed = UInt32(type.rawValue) | UInt32(encoding & 3) << 3 | (volatile ? UInt32(Entry.volatileFlag) << 5 : 0)
        p.storeBytes(of: packed | newEntryAccessClock << 8, toByteOffset: 20, as: UInt32.self)
        if key.count > 0 { memcpy(p + e.keyOffset, key.baseAddress!, key.count) }
        return e
    }

    /// Bytes this entry occupies on the heap (for used_memory).
    var allocatedSize: Int { malloc_usable_size(p) }

    /// Releases the value's object, if any, and the block.
    func free() {
        if type != .string {
            Unmanaged<AnyObject>.fromOpaque(valuePointer.loadUnaligned(as: UnsafeRawPointer.self)).release()
        }
        Glibc.free(p)
    }
}

/// glibc's malloc_usable_size lives in <malloc.h>, which the Glibc module does not export.
@_silgen_name("malloc_usable_size")
func malloc_usable_size(_ p: UnsafeMutableRawPointer?) -> Int
