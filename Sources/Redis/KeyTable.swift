import Glibc

/// The keys of one database: a chained hash table of `Entry` blocks with Redis's
/// incremental rehashing (two bucket arrays while growing or shrinking, a few buckets moved
/// per operation and per cron tick), so a resize never stalls the engine, and SCAN's
/// reverse-binary cursor keeps its guarantee across resizes.
///
/// Also keeps the list of keys with an expiry, for the active expire cycle to sample.
final class KeyTable {
    typealias Link = UnsafeMutablePointer<UnsafeMutableRawPointer?>

    struct Buckets {
        var slots: Link?
        var mask: Int = -1          // size - 1; -1 when empty
        var used = 0
        var size: Int { mask + 1 }
    }

    private(set) var tables = (Buckets(), Buckets())
    /// Next bucket of tables.0 to move, or -1 when not rehashing.
    private(set) var rehashIndex = -1
    private(set) var volatileEntries: UnsafeMutablePointer<UnsafeMutableRawPointer>
    private(set) var volatileCount = 0
    private var volatileCapacity = 16
    /// Heap bytes held by entries (their blocks; objects account for themselves).
    private(set) var entryBytes = 0

    /// The snapshot being taken of this table, if any (see SnapshotJob). While it runs,
    /// every entry about to change or go is first handed to it, unless it already holds it.
    var snapshot: SnapshotJob?
    /// The value of an entry's `Entry.snapshotFlag` bit meaning "in the snapshot already".
    /// Flipped when a snapshot starts, so that every existing entry becomes pending at once.
    var snapshotMark: UInt8 = 0
    /// This table's section in `snapshot`.
    var snapshotSection = 0

    init() {
        volatileEntries = .allocate(capacity: volatileCapacity)
    }

    deinit {
        removeAll()
        volatileEntries.deallocate()
    }

    var count: Int { tables.0.used + tables.1.used }
    var isRehashing: Bool { rehashIndex >= 0 }
    var bucketCount: Int { tables.0.size + tables.1.size }

    // MARK: lookup

    /// The link (bucket slot or previous entry's `next`) that points at `key`'s entry. Valid
    /// until the next call that changes the table.
    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Link? {
        if rehashIndex >= 0 { rehashStep(1) }
        if let l = find(in: tables.0, key, hash) { return l }
        if rehashIndex >= 0 { return find(in: tables.1, key, hash) }
        return nil
    }

    @inline(__always)
    private func find(in t: Buckets, _ key: UnsafeRawBufferPointer, _ hash: UInt64) -> Link? {
        guard let slots = t.slots else { return nil }
        let h32 = UInt32(truncatingIfNeeded: hash)
        var link = slots + (Int(UInt32(truncatingIfNeeded: hash)) & t.mask)
        while let p = link.pointee {
            let e = Entry(p)
            if e.hash32 == h32 && e.keyEquals(key) { return link }
            link = p.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
        }
        return nil
    }

    // MARK: changes

    /// Inserts an entry whose key is known to be absent.
    func insert(_ e: Entry, hash: UInt64) {
        if rehashIndex >= 0 { rehashStep(1) }
        growIfNeeded()
        if rehashIndex >= 0 {
            let slot = tables.1.slots! + (Int(UInt32(truncatingIfNeeded: hash)) & tables.1.mask)
            e.next = slot.pointee
            slot.pointee = e.p
            tables.1.used += 1
        } else {
            let slot = tables.0.slots! + (Int(UInt32(truncatingIfNeeded: hash)) & tables.0.mask)
            e.next = slot.pointee
            slot.pointee = e.p
            tables.0.used += 1
        }
        entryBytes += e.allocatedSize
        if e.isVolatile { addVolatile(e) }
        markSnapshotted(e)   // a key added after the snapshot began is not part of it
    }

    /// Unlinks and frees the entry `link` points at.
    func remove(at link: Link) {
        let e = Entry(link.pointee!)
        if snapshot != nil { preserveForSnapshot(e) }
        // Which table holds it must be decided while it is still chained.
        let inTable1 = isInTable1(e)
        link.pointee = e.next
        if inTable1 { tables.1.used -= 1 } else { tables.0.used -= 1 }
        if e.isVolatile { removeVolatile(e) }
        entryBytes -= e.allocatedSize
        e.free()
    }

    /// Replaces the entry at `link` with `new` (same key), freeing the old one.
    func replace(at link: Link, with new: Entry) {
        let old = Entry(link.pointee!)
        if snapshot != nil { preserveForSnapshot(old) }
        markSnapshotted(new)
        // The key's access history carries over (Redis keeps the LFU counter on overwrite;
        // the LRU clock was just set by the lookup that found the old value).
        new.accessClock = old.accessClock
        new.next = old.next
        link.pointee = new.p
        if old.isVolatile { removeVolatile(old) }
        entryBytes -= old.allocatedSize
        entryBytes += new.allocatedSize
        if new.isVolatile { addVolatile(new) }
        old.free()
    }

    /// Reallocates the entry at `link` for a value of `valueLength` bytes and/or a changed
    /// expiry slot, keeping key, value prefix and links right. Returns the moved entry.
    @discardableResult
    func resize(at link: Link, valueLength: Int, volatile: Bool) -> Entry {
        let old = Entry(link.pointee!)
        if snapshot != nil { preserveForSnapshot(old) }   // the flags move with the block
        let wasVolatile = old.isVolatile
        let keyLength = old.keyLength
        let oldValueLength = old.valueLength
        entryBytes -= old.allocatedSize
        if wasVolatile { removeVolatile(old) }
        let newSize = Entry.size(keyLength: keyLength, valueLength: valueLength, volatile: volatile)
        var p = old.p
        if volatile != wasVolatile {
            let oldBody = Entry.headerSize + (wasVolatile ? Entry.expirySize : 0)
            let newBody = Entry.headerSize + (volatile ? Entry.expirySize : 0)
            let keep = keyLength + Swift.min(oldValueLength, valueLength)
            if newBody > oldBody {
                p = realloc(p, newSize)!
                memmove(p + newBody, p + oldBody, keep)
            } else {
                memmove(p + newBody, p + oldBody, keep)
                p = realloc(p, newSize)!
            }
        } else {
            p = realloc(p, newSize)!
        }
        let e = Entry(p)
        e.flags = volatile ? (e.flags | Entry.volatileFlag) : (e.flags & ~Entry.volatileFlag)
        e.valueLength = valueLength
        link.pointee = p
        entryBytes += e.allocatedSize
        if volatile { addVolatile(e) }
        return e
    }

    /// While rehashing, an entry is in table 1 unless it is still chained in its table-0
    /// bucket (new keys go to table 1 whatever their bucket).
    private func isInTable1(_ e: Entry) -> Bool {
        guard rehashIndex >= 0, let slots = tables.0.slots else { return false }
        var p = slots[Int(e.hash32) & tables.0.mask]
        while let cur = p {
            if cur == e.p { return false }
            p = Entry(cur).next
        }
        return true
    }

    // MARK: resizing

    private func growIfNeeded() {
        if rehashIndex >= 0 { return }
        if tables.0.slots == nil {
            tables.0 = KeyTable.makeBuckets(4)
            return
        }
        // Load factor 1, as Redis (dict_force_resize_ratio aside: no fork to protect).
        if tables.0.used >= tables.0.size { startRehash(to: tables.0.size * 2) }
    }

    /// Shrinks when under 10% full (Redis's HASHTABLE_MIN_FILL); called from cron.
    func shrinkIfSparse() {
        if rehashIndex >= 0 || tables.0.size <= 4 { return }
        if tables.0.used * 10 < tables.0.size {
            var size = 4
            while size < tables.0.used { size <<= 1 }
            startRehash(to: size)
        }
    }

    private static func makeBuckets(_ size: Int) -> Buckets {
        let slots = calloc(size, MemoryLayout<UnsafeMutableRawPointer?>.stride)!
            .assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
        return Buckets(slots: slots, mask: size - 1, used: 0)
    }

    private func startRehash(to size: Int) {
        tables.1 = KeyTable.makeBuckets(size)
        rehashIndex = 0
    }

    /// Moves up to `steps` buckets from the old table (visiting at most 10x that many empty
    /// ones); returns true while rehashing continues.
    @discardableResult
    func rehashStep(_ steps: Int) -> Bool {
        guard rehashIndex >= 0 else { return false }
        var n = steps
        var emptyVisits = steps * 10
        let old = tables.0.slots!
        let newSlots = tables.1.slots!
        let newMask = tables.1.mask
        let oldSize = tables.0.size
        while n > 0 && tables.0.used > 0 {
            while old[rehashIndex] == nil {
                rehashIndex += 1
                precondition(rehashIndex < oldSize, "key table count out of step with its buckets")
                emptyVisits -= 1
                if emptyVisits == 0 { return true }
            }
            var p = old[rehashIndex]
            while let cur = p {
                let e = Entry(cur)
                p = e.next
                let slot = newSlots + (Int(e.hash32) & newMask)
                e.next = slot.pointee
                slot.pointee = cur
                tables.0.used -= 1
                tables.1.used += 1
            }
            old[rehashIndex] = nil
            rehashIndex += 1
            n -= 1
        }
        if tables.0.used == 0 {
            free(tables.0.slots)
            tables.0 = tables.1
            tables.1 = Buckets()
            rehashIndex = -1
            return false
        }
        return true
    }

    /// Rehashes for up to `microseconds` (cron), 100 buckets at a time.
    func rehashFor(microseconds: Int) {
        guard rehashIndex >= 0 else { return }
        let start = monotonicMicroseconds()
        while rehashStep(100) {
            if monotonicMicroseconds() - start > microseconds { break }
        }
    }

    // MARK: iteration

    /// Calls `body` for every entry of the buckets at `cursor`, and returns the next cursor
    /// (0 when the scan is complete): Redis's dictScan, so that a full scan returns every
    /// key present throughout, across resizes, possibly more than once.
    func scan(cursor: UInt64, _ body: (Entry) -> Void) -> UInt64 {
        if count == 0 { return 0 }
        var v = cursor
        func emit(_ t: Buckets, _ index: Int) {
            var p = t.slots![index]
            while let cur = p {
                let e = Entry(cur)
                p = e.next
                body(e)
            }
        }
        if rehashIndex < 0 {
            let m0 = UInt64(tables.0.mask)
            emit(tables.0, Int(v & m0))
            v |= ~m0
            v = (v.bitReversed &+ 1).bitReversed
        } else {
            var small = tables.0, large = tables.1
            if small.size > large.size { swap(&small, &large) }
            let m0 = UInt64(small.mask), m1 = UInt64(large.mask)
            emit(small, Int(v & m0))
            repeat {
                emit(large, Int(v & m1))
                v |= ~m1
                v = (v.bitReversed &+ 1).bitReversed
            } while v & (m0 ^ m1) != 0
        }
        return v
    }

    /// A random entry (RANDOMKEY, eviction-style sampling), or nil when empty.
    func randomEntry<G: RandomNumberGenerator>(using g: inout G) -> Entry? {
        if count == 0 { return nil }
        while true {
            if rehashIndex >= 0 { rehashStep(1) }
            let total = tables.0.size + (rehashIndex >= 0 ? tables.1.size : 0)
            var i = Int.random(in: 0..<total, using: &g)
            var t = tables.0
            if i >= tables.0.size { i -= tables.0.size; t = tables.1 }
            guard var p = t.slots?[i] else { continue }
            var chain = 0
            var q: UnsafeMutableRawPointer? = p
            while let c = q { chain += 1; q = Entry(c).next }
            var k = Int.random(in: 0..<chain, using: &g)
            while k > 0 { p = Entry(p).next!; k -= 1 }
            return Entry(p)
        }
    }

    /// Calls `body` for every entry (KEYS, FLUSH, snapshots). `body` must not change the table.
    func forEach(_ body: (Entry) -> Void) {
        for t in [tables.0, tables.1] {
            guard let slots = t.slots else { continue }
            for i in 0..<t.size {
                var p = slots[i]
                while let cur = p {
                    let e = Entry(cur)
                    p = e.next
                    body(e)
                }
            }
        }
    }

    /// Frees every entry and both bucket arrays. (FLUSHALL during a snapshot hands the whole
    /// table to the snapshot instead: `Database.removeAllKeys`.)
    func removeAll() {
        if snapshot != nil { forEach { preserveForSnapshot($0) } }
        forEach { $0.free() }
        free(tables.0.slots)
        free(tables.1.slots)
        tables = (Buckets(), Buckets())
        rehashIndex = -1
        volatileCount = 0
        entryBytes = 0
    }

    // MARK: snapshots

    /// Whether a snapshot in progress still needs `e`.
    @inline(__always)
    func isPendingForSnapshot(_ e: Entry) -> Bool {
        e.flags & Entry.snapshotFlag != snapshotMark
    }

    /// Marks `e` as held by (or not part of) the snapshot in progress.
    @inline(__always)
    func markSnapshotted(_ e: Entry) {
        e.flags = (e.flags & ~Entry.snapshotFlag) | snapshotMark
    }

    /// Hands `e` to the snapshot in progress before it changes, if the snapshot still
    /// needs it: the snapshot keeps the value as it was when the snapshot began.
    @inline(__always)
    func preserveForSnapshot(_ e: Entry) {
        guard let s = snapshot, isPendingForSnapshot(e) else { return }
        s.write(e, section: snapshotSection)
        markSnapshotted(e)
    }

    // MARK: keys with an expiry

    private func addVolatile(_ e: Entry) {
        if volatileCount == volatileCapacity {
            let bigger = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: volatileCapacity * 2)
            bigger.moveInitialize(from: volatileEntries, count: volatileCount)
            volatileEntries.deallocate()
            volatileEntries = bigger
            volatileCapacity *= 2
        }
        e.volatileIndex = volatileCount
        volatileEntries[volatileCount] = e.p
        volatileCount += 1
    }

    private func removeVolatile(_ e: Entry) {
        let i = e.volatileIndex
        volatileCount -= 1
        if i != volatileCount {
            let moved = volatileEntries[volatileCount]
            volatileEntries[i] = moved
            Entry(moved).volatileIndex = i
        }
    }

    /// The i-th entry with an expiry (0 ..< volatileCount), for sampling.
    func volatileEntry(_ i: Int) -> Entry { Entry(volatileEntries[i]) }
}

@inline(__always)
func monotonicMicroseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
}

extension UInt64 {
    /// The bits in reverse order (SCAN's cursor arithmetic).
    @inline(__always) var bitReversed: UInt64 {
        var v = self
        v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
        v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
        v = ((v >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((v & 0x0F0F_0F0F_0F0F_0F0F) << 4)
        return v.byteSwapped
    }
}
