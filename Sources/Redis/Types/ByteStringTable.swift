import Glibc

/// An open-addressing table of byte strings, each with a byte-string value (empty for set
/// members): the storage of hashes and of sets that are not intsets.
///
/// Elements live in malloc'd blocks, one per element:
///
///     0  hash of the key (8)
///     8  key length      (4)
///     12 value length    (4)
///     16 key bytes, then value bytes
///
/// `items` holds the blocks by position; `index` maps hashes to positions by linear probing.
/// An index word is 0 (empty), 1 (deleted) or `(hash >> 32) << 32 | (position + 2)`, so
/// most probes that miss are rejected without touching the element's block.
///
/// In `ordered` mode (a listpack-encoded hash) positions are insertion order and a removal
/// shifts the later elements down, as deleting from a listpack does. Otherwise a removal
/// leaves a hole that the next insertion reuses, so an element never moves while it is in
/// the table, which keeps HSCAN/SSCAN cursors (positions) valid; only a table that has
/// become mostly holes is compacted.
struct ByteStringTable {
    /// Element block addresses, or `(next free position << 1) | 1` for a hole.
    private(set) var items: UnsafeMutablePointer<UInt>
    private var itemCapacity: Int
    /// Positions in use, live or holes.
    private(set) var end = 0
    /// Live elements.
    private(set) var count = 0
    private var freeHead = -1
    private var index: UnsafeMutablePointer<UInt64>
    private var indexMask: Int
    /// Index words that are not empty (live or deleted).
    private var indexUsed = 0
    var ordered: Bool

    static let headerSize = 16

    init(ordered: Bool, capacity: Int = 4) {
        self.ordered = ordered
        itemCapacity = max(4, capacity)
        items = .allocate(capacity: itemCapacity)
        var size = 8
        while size < itemCapacity * 2 { size <<= 1 }
        index = .allocate(capacity: size)
        index.initialize(repeating: 0, count: size)
        indexMask = size - 1
        addValueMemory(mallocCost(itemCapacity * 8) + mallocCost(size * 8))
    }

    /// Frees every element and the table's arrays, taking their bytes off `valueMemoryCounter`.
    func deallocate() {
        var bytes = mallocCost(itemCapacity * 8) + mallocCost((indexMask + 1) * 8)
        for i in 0..<end where items[i] & 1 == 0 {
            let b = block(i)
            bytes += ByteStringTable.blockCost(b)
            free(b)
        }
        addValueMemory(-bytes)
        items.deallocate()
        index.deallocate()
    }

    /// What an element's block takes from malloc, from the lengths in its header.
    @inline(__always)
    private static func blockCost(_ b: UnsafeRawPointer) -> Int {
        mallocCost(headerSize + Int(b.load(fromByteOffset: 8, as: UInt32.self)) + Int(b.load(fromByteOffset: 12, as: UInt32.self)))
    }

    // MARK: Elements

    @inline(__always) func isLive(_ position: Int) -> Bool { items[position] & 1 == 0 }

    @inline(__always) private func block(_ position: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: items[position])!
    }

    @inline(__always) func key(at position: Int) -> UnsafeRawBufferPointer {
        let b = block(position)
        return UnsafeRawBufferPointer(start: b + ByteStringTable.headerSize,
                                      count: Int(b.load(fromByteOffset: 8, as: UInt32.self)))
    }

    @inline(__always) func value(at position: Int) -> UnsafeRawBufferPointer {
        let b = block(position)
        let k = Int(b.load(fromByteOffset: 8, as: UInt32.self))
        return UnsafeRawBufferPointer(start: b + ByteStringTable.headerSize + k,
                                      count: Int(b.load(fromByteOffset: 12, as: UInt32.self)))
    }

    @inline(__always) private func hash(at position: Int) -> UInt64 { block(position).load(as: UInt64.self) }

    // MARK: Lookup

    /// The index word slot holding `key`, or -1.
    @inline(__always)
    private func slot(of key: UnsafeRawBufferPointer, hash: UInt64) -> Int {
        let tag = hash & 0xFFFF_FFFF_0000_0000
        var i = Int(truncatingIfNeeded: hash) & indexMask
        while true {
            let w = index[i]
            if w == 0 { return -1 }
            if w & 0xFFFF_FFFF_0000_0000 == tag && w > 1 {
                let b = block(Int(w & 0xFFFF_FFFF) - 2)
                let len = Int(b.load(fromByteOffset: 8, as: UInt32.self))
                if len == key.count && b.load(as: UInt64.self) == hash
                    && (len == 0 || memcmp(b + ByteStringTable.headerSize, key.baseAddress!, len) == 0) {
                    return i
                }
            }
            i = (i + 1) & indexMask
        }
    }

    /// The position of `key`, or nil.
    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let s = slot(of: key, hash: hash)
        return s < 0 ? nil : Int(index[s] & 0xFFFF_FFFF) - 2
    }

    // MARK: Changes

    /// Adds `key` (which must be absent) with `value`; returns its position.
    @discardableResult
    mutating func insert(_ key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, hash: UInt64) -> Int {
        if (indexUsed + 1) * 4 > (indexMask + 1) * 3 { rebuildIndex(minimumFor: count + 1) }
        let b = ByteStringTable.makeBlock(key, value, hash: hash)
        let position: Int
        if !ordered && freeHead >= 0 {
            position = freeHead
            freeHead = Int(items[position] >> 1) - 1
        } else {
            if end == itemCapacity { growItems(to: itemCapacity * 2) }
            position = end
            end += 1
        }
        items[position] = UInt(bitPattern: b)
        count += 1
        placeInIndex(position, hash: hash)
        return position
    }

    /// Replaces the value at `position`, keeping the element where it is.
    mutating func setValue(at position: Int, _ value: UnsafeRawBufferPointer) {
        var b = block(position)
        let k = Int(b.load(fromByteOffset: 8, as: UInt32.self))
        let old = Int(b.load(fromByteOffset: 12, as: UInt32.self))
        if old != value.count {
            // realloc keeps the key and hash in place; the address may change.
            addValueMemory(mallocCost(ByteStringTable.headerSize + k + value.count) - mallocCost(ByteStringTable.headerSize + k + old))
            b = realloc(b, ByteStringTable.headerSize + k + value.count)!
            items[position] = UInt(bitPattern: b)
            b.storeBytes(of: UInt32(value.count), toByteOffset: 12, as: UInt32.self)
        }
        if value.count > 0 {
            (b + ByteStringTable.headerSize + k).copyMemory(from: value.baseAddress!, byteCount: value.count)
        }
    }

    /// Removes `key`; returns whether it was present.
    @discardableResult
    mutating func remove(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Bool {
        let s = slot(of: key, hash: hash)
        if s < 0 { return false }
        removeSlot(s)
        return true
    }

    /// Removes the element at `position`.
    mutating func remove(at position: Int) {
        let tag = hash(at: position)
        var i = Int(truncatingIfNeeded: tag) & indexMask
        while Int(index[i] & 0xFFFF_FFFF) != position + 2 || index[i] <= 1 { i = (i + 1) & indexMask }
        removeSlot(i)
    }

    private mutating func removeSlot(_ s: Int) {
        let position = Int(index[s] & 0xFFFF_FFFF) - 2
        addValueMemory(-ByteStringTable.blockCost(block(position)))
        free(block(position))
        count -= 1
        if ordered {
            // Shift the later elements down as a listpack deletion does, and renumber
            // their index words in one pass over the index (ordered tables are small).
            index[s] = 1
            if position + 1 < end {
                (items + position).update(from: items + position + 1, count: end - position - 1)
                let removed = UInt64(position + 2)
                for i in 0...indexMask {
                    let w = index[i]
                    if w > 1 && w & 0xFFFF_FFFF > removed { index[i] = w - 1 }
                }
            }
            end -= 1
            return
        }
        index[s] = 1
        items[position] = (UInt(freeHead + 1) << 1) | 1
        freeHead = position
        if count == 0 {
            clear()
        } else if end > 32 && count * 8 < end {
            compact()
        }
    }

    /// Removes every element, keeping the arrays.
    private mutating func clear() {
        end = 0
        freeHead = -1
        index.update(repeating: 0, count: indexMask + 1)
        indexUsed = 0
    }

    /// Moves the live elements to the front, in order, and drops the holes: a table that
    /// is mostly holes would make random picks slow and hold memory for nothing.
    private mutating func compact() {
        var j = 0
        for i in 0..<end where items[i] & 1 == 0 {
            items[j] = items[i]
            j += 1
        }
        end = j
        freeHead = -1
        if itemCapacity > 64 && end * 4 < itemCapacity { growItems(to: max(64, end * 2)) }
        rebuildIndex(minimumFor: count)
    }

    /// Stops preserving insertion order (a hash converted from listpack to hashtable).
    mutating func becomeUnordered() { ordered = false }

    // MARK: Iteration

    /// Calls `body` with each live position, in position order.
    @inline(__always)
    func forEachPosition(_ body: (Int) -> Void) {
        var i = 0
        while i < end {
            if items[i] & 1 == 0 { body(i) }
            i += 1
        }
    }

    /// Calls `body` with each live element, in position order (RDB saving, copies).
    func forEach(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void) {
        forEachPosition { body(key(at: $0), value(at: $0)) }
    }

    /// A uniformly random live position; the table must not be empty.
    @inline(__always)
    func randomPosition(_ random: inout FastRandom) -> Int {
        while true {
            let i = random.below(end)
            if items[i] & 1 == 0 { return i }
        }
    }

    /// SCAN step: calls `body` for live positions from `cursor` on until `wanted` were
    /// visited (or the end); returns the next cursor, 0 when the table is done.
    func scan(from cursor: Int, wanted: Int, _ body: (Int) -> Void) -> Int {
        var i = cursor, seen = 0
        while i < end && seen < wanted {
            if items[i] & 1 == 0 {
                body(i)
                seen += 1
            }
            i += 1
        }
        return i >= end ? 0 : i
    }

    /// An independent copy (COPY, SUNIONSTORE of one set).
    func copy() -> ByteStringTable {
        var t = ByteStringTable(ordered: ordered, capacity: count)
        forEachPosition { p in
            let b = block(p)
            t.insert(key(at: p), value: value(at: p), hash: b.load(as: UInt64.self))
        }
        return t
    }

    // MARK: Internals

    private static func makeBlock(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                                  hash: UInt64) -> UnsafeMutableRawPointer {
        guard let b = malloc(headerSize + key.count + value.count) else { fatalError("out of memory") }
        addValueMemory(mallocCost(headerSize + key.count + value.count))
        b.storeBytes(of: hash, as: UInt64.self)
        b.storeBytes(of: UInt32(key.count), toByteOffset: 8, as: UInt32.self)
        b.storeBytes(of: UInt32(value.count), toByteOffset: 12, as: UInt32.self)
        if key.count > 0 { (b + headerSize).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        if value.count > 0 { (b + headerSize + key.count).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        return b
    }

    private mutating func growItems(to capacity: Int) {
        let n = UnsafeMutablePointer<UInt>.allocate(capacity: capacity)
        addValueMemory(mallocCost(capacity * 8) - mallocCost(itemCapacity * 8))
        if end > 0 { n.moveInitialize(from: items, count: end) }
        items.deallocate()
        items = n
        itemCapacity = capacity
    }

    /// Puts `position` in the first empty or deleted index word of its probe sequence.
    @inline(__always)
    private mutating func placeInIndex(_ position: Int, hash: UInt64) {
        var i = Int(truncatingIfNeeded: hash) & indexMask
        while index[i] > 1 { i = (i + 1) & indexMask }
        if index[i] == 0 { indexUsed += 1 }
        index[i] = (hash & 0xFFFF_FFFF_0000_0000) | UInt64(position + 2)
    }

    /// Rebuilds the index without deleted words, sized for `n` live elements at most half full.
    private mutating func rebuildIndex(minimumFor n: Int) {
        var size = 8
        while size < (n + 1) * 2 { size <<= 1 }
        if size != indexMask + 1 {
            addValueMemory(mallocCost(size * 8) - mallocCost((indexMask + 1) * 8))
            index.deallocate()
            index = .allocate(capacity: size)
            indexMask = size - 1
        }
        index.initialize(repeating: 0, count: size)
        indexUsed = 0
        forEachPosition { placeInIndex($0, hash: hash(at: $0)) }
    }
}

/// Advanced by every `FastRandom(for:)`; only the keyspace thread makes value objects.
nonisolated(unsafe) private var fastRandomSequence: UInt64 = 0

/// wyrand: a fast 64-bit generator for picking random elements (SPOP, SRANDMEMBER,
/// HRANDFIELD) without a system call per pick.
struct FastRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A generator for `owner`: its identity's hash (seeded per process) plus a count of
    /// generators made so far, so a new value at a reused address starts elsewhere.
    init(for owner: AnyObject) {
        fastRandomSequence &+= 0x9e37_79b9_7f4a_7c15
        state = UInt64(truncatingIfNeeded: ObjectIdentifier(owner).hashValue) &+ fastRandomSequence
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0xa076_1d64_78bd_642f
        let m = state.multipliedFullWidth(by: state ^ 0xe703_7ed1_a0b4_28db)
        return m.high ^ m.low
    }

    /// A number in 0..<n (n > 0), by Lemire's multiply-shift (the bias is negligible).
    @inline(__always)
    mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }
}
