import Glibc

/// A stream entry ID: milliseconds and a sequence number, ordered as a 128-bit number.
struct StreamID: Comparable, Hashable {
    var ms: UInt64
    var seq: UInt64

    static let zero = StreamID(ms: 0, seq: 0)
    static let max = StreamID(ms: UInt64.max, seq: UInt64.max)

    static func < (a: StreamID, b: StreamID) -> Bool { a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq) }

    var isZero: Bool { ms == 0 && seq == 0 }

    /// The next ID, or nil past the last possible one (Redis's streamIncrID).
    func incremented() -> StreamID? {
        if seq == UInt64.max {
            if ms == UInt64.max { return nil }
            return StreamID(ms: ms + 1, seq: 0)
        }
        return StreamID(ms: ms, seq: seq + 1)
    }

    /// The previous ID, or nil before 0-0 (Redis's streamDecrID).
    func decremented() -> StreamID? {
        if seq == 0 {
            if ms == 0 { return nil }
            return StreamID(ms: ms - 1, seq: UInt64.max)
        }
        return StreamID(ms: ms, seq: seq - 1)
    }

    /// Writes "ms-seq" at `p` (at most 41 bytes) and returns its length.
    @inline(__always)
    func write(into p: UnsafeMutableRawPointer) -> Int {
        let n = formatUnsigned(ms, into: p)
        p.storeBytes(of: UInt8(ascii: "-"), toByteOffset: n, as: UInt8.self)
        return n + 1 + formatUnsigned(seq, into: p + n + 1)
    }

    /// "ms-seq" as bytes (rare paths: propagation, errors).
    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 48)
        let n = out.withUnsafeMutableBytes { write(into: $0.baseAddress!) }
        out.removeSubrange(n...)
        return out
    }
}

/// Writes the decimal digits of `v` at `p` (at most 20 bytes) and returns their count.
@inline(__always)
func formatUnsigned(_ v: UInt64, into p: UnsafeMutableRawPointer) -> Int {
    if v < 10 {
        p.storeBytes(of: UInt8(48 + v), as: UInt8.self)
        return 1
    }
    var digits = 0
    var t = v
    while t > 0 { digits += 1; t /= 10 }
    var x = v
    var i = digits
    while x > 0 {
        i -= 1
        p.storeBytes(of: UInt8(48 + x % 10), toByteOffset: i, as: UInt8.self)
        x /= 10
    }
    return digits
}

/// Up to `StreamChunk.maxEntries` consecutive entries in contiguous bytes, like one of
/// Redis's listpack nodes: XADD appends to the last chunk, XRANGE binary-searches the
/// chunks and then the IDs inside one. Deleted entries stay as tombstones until the whole
/// chunk is empty, as in Redis, so node boundaries (and approximate trimming) match.
final class StreamChunk {
    /// stream-node-max-entries (0: no limit) and stream-node-max-bytes (0: 1 GB) as
    /// configured now; XADD reads them each time it decides whether to start a chunk.
    @inline(__always) static var maxEntries: Int { encodingLimits.streamNodeMaxEntries }
    @inline(__always) static var maxBytes: Int { encodingLimits.effectiveStreamNodeMaxBytes }

    @exclusivity(unchecked) var ids: [StreamID] = []
    @exclusivity(unchecked) var deleted: [Bool] = []
    /// Start of each entry in `data`.
    @exclusivity(unchecked) var offsets: [UInt32] = []
    /// Per entry: u32 pair count, then per field and value a u32 length and the bytes.
    @exclusivity(unchecked) var data: [UInt8] = []
    /// Entries not deleted.
    var live = 0
    /// Size the entries would take in a Redis listpack, to cut chunks where Redis does.
    var listpackBytes = 0
    /// The first entry's fields, which Redis's listpack keeps as its master entry.
    var masterFields: [[UInt8]] = []
    /// What this chunk was last counted as in `valueMemoryCounter` (see `recount`).
    private var accountedBytes = 0

    deinit { addValueMemory(-accountedBytes) }

    /// Heap bytes of the chunk: the object and its arrays' storage at their capacities
    /// (master fields at a flat 48 bytes each, to keep this free of loops).
    private var heapBytes: Int {
        160 + ids.capacity * MemoryLayout<StreamID>.stride + deleted.capacity + offsets.capacity * 4 + data.capacity
            + masterFields.count * 48
    }

    /// Drops the spare capacity of the arrays once the chunk is full and a newer one takes
    /// the appends: growth by doubling leaves about a quarter of them unused otherwise.
    func seal() {
        ids = ids.withUnsafeBufferPointer { Array($0) }
        deleted = deleted.withUnsafeBufferPointer { Array($0) }
        offsets = offsets.withUnsafeBufferPointer { Array($0) }
        data = data.withUnsafeBufferPointer { Array($0) }
        recount()
    }

    /// Brings `valueMemoryCounter` up to date with this chunk's size after a change: a handful
    /// of loads per XADD, so the running total stays exact without walking the stream.
    @inline(__always)
    func recount() {
        let now = heapBytes
        addValueMemory(now - accountedBytes)
        accountedBytes = now
    }

    var count: Int { ids.count }
    var firstID: StreamID { ids[0] }
    var lastID: StreamID { ids[ids.count - 1] }

    /// Index of the first entry with an ID >= `id` (count if none).
    @inline(__always)
    func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Calls `body` with each field and value of entry `i`, in order.
    @inline(__always)
    func forEachPart(_ i: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        data.withUnsafeBytes { d in
            var o = Int(offsets[i])
            let pairs = Int(d.loadUnaligned(fromByteOffset: o, as: UInt32.self))
            o += 4
            for _ in 0..<(2 * pairs) {
                let len = Int(d.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                o += 4
                body(UnsafeRawBufferPointer(rebasing: d[o..<(o + len)]))
                o += len
            }
        }
    }

    /// Number of field-value pairs of entry `i`.
    @inline(__always)
    func pairCount(_ i: Int) -> Int {
        data.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: Int(offsets[i]), as: UInt32.self)) }
    }

    func copy() -> StreamChunk {
        let c = StreamChunk()
        c.ids = ids; c.deleted = deleted; c.offsets = offsets; c.data = data
        c.live = live; c.listpackBytes = listpackBytes; c.masterFields = masterFields
        c.recount()
        return c
    }
}

/// One pending (delivered, not yet acknowledged) entry of a consumer group.
final class PendingEntry {
    var deliveryTime: Int64
    var deliveryCount: Int
    var consumer: StreamConsumer

    init(deliveryTime: Int64, deliveryCount: Int, consumer: StreamConsumer) {
        self.deliveryTime = deliveryTime
        self.deliveryCount = deliveryCount
        self.consumer = consumer
    }
}

/// IDs kept in order, for a consumer's pending list.
struct SortedIDs {
    var ids: [StreamID] = []

    @inline(__always)
    func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Inserts `id`; returns false if it was there.
    @discardableResult
    mutating func insert(_ id: StreamID) -> Bool {
        if let last = ids.last, last < id { ids.append(id); return true }
        let i = lowerBound(id)
        if i < ids.count && ids[i] == id { return false }
        ids.insert(id, at: i)
        return true
    }

    @discardableResult
    mutating func remove(_ id: StreamID) -> Bool {
        let i = lowerBound(id)
        guard i < ids.count && ids[i] == id else { return false }
        ids.remove(at: i)
        return true
    }

    var count: Int { ids.count }
}

/// A consumer group's pending entries list, ordered by ID.
struct PendingList {
    var ids: [StreamID] = []
    var entries: [PendingEntry] = []

    @inline(__always)
    func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func find(_ id: StreamID) -> PendingEntry? {
        let i = lowerBound(id)
        return i < ids.count && ids[i] == id ? entries[i] : nil
    }

    /// Adds `entry` under `id`, which must not be present.
    mutating func insert(_ id: StreamID, _ entry: PendingEntry) {
        if ids.isEmpty || ids[ids.count - 1] < id {
            ids.append(id); entries.append(entry); return
        }
        let i = lowerBound(id)
        ids.insert(id, at: i)
        entries.insert(entry, at: i)
    }

    @discardableResult
    mutating func remove(_ id: StreamID) -> PendingEntry? {
        let i = lowerBound(id)
        guard i < ids.count && ids[i] == id else { return nil }
        ids.remove(at: i)
        return entries.remove(at: i)
    }

    var count: Int { ids.count }
}

/// A consumer of a group: its name, when it was last seen, and its pending IDs.
final class StreamConsumer {
    let name: [UInt8]
    var seenTime: Int64
    @exclusivity(unchecked) var pending = SortedIDs()

    init(name: [UInt8], seenTime: Int64) {
        self.name = name
        self.seenTime = seenTime
    }
}

/// A consumer group: last delivered ID, logical read counter, pending entries, consumers
/// (kept sorted by name, the order Redis's radix tree lists them in).
final class ConsumerGroup {
    let name: [UInt8]
    var lastID: StreamID
    /// Entries the group has read, or `ConsumerGroup.invalidEntriesRead` when unknown.
    var entriesRead: Int64
    @exclusivity(unchecked) var pending = PendingList()
    @exclusivity(unchecked) var consumers: [StreamConsumer] = []

    static let invalidEntriesRead: Int64 = -1

    init(name: [UInt8], lastID: StreamID, entriesRead: Int64) {
        self.name = name
        self.lastID = lastID
        self.entriesRead = entriesRead
    }

    /// Index where a consumer named `name` is or would be inserted.
    func consumerIndex(_ name: UnsafeRawBufferPointer) -> (Int, found: Bool) {
        var lo = 0, hi = consumers.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let c = compareBytes(consumers[mid].name, name)
            if c == 0 { return (mid, true) }
            if c < 0 { lo = mid + 1 } else { hi = mid }
        }
        return (lo, false)
    }

    func consumer(_ name: UnsafeRawBufferPointer) -> StreamConsumer? {
        let (i, found) = consumerIndex(name)
        return found ? consumers[i] : nil
    }

    /// The consumer named `name`, created if missing; `created` tells which.
    func findOrCreateConsumer(_ name: UnsafeRawBufferPointer, now: Int64) -> (StreamConsumer, created: Bool) {
        let (i, found) = consumerIndex(name)
        if found { return (consumers[i], false) }
        let c = StreamConsumer(name: Array(name), seenTime: now)
        consumers.insert(c, at: i)
        return (c, true)
    }

    /// Removes a consumer and its pending entries from the group; returns how many it had.
    func deleteConsumer(_ name: UnsafeRawBufferPointer) -> Int? {
        let (i, found) = consumerIndex(name)
        guard found else { return nil }
        let c = consumers[i]
        for id in c.pending.ids { pending.remove(id) }
        consumers.remove(at: i)
        return c.pending.count
    }
}

/// Compares byte strings the way Redis's radix tree orders keys (memcmp, shorter first on
/// a common prefix).
func compareBytes(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let r = a.withUnsafeBytes { memcmp($0.baseAddress!, b.baseAddress!, n) }
        if r != 0 { return Int(r) }
    }
    return a.count - b.count
}

/// A stream value: chunks of entries, counters Redis keeps (length, last and first IDs,
/// the largest deleted ID, entries ever added), and consumer groups sorted by name.
final class StreamValue: KeyspaceObject {
    @exclusivity(unchecked) var chunks: [StreamChunk] = []
    var length = 0
    var lastID = StreamID.zero
    var firstID = StreamID.zero
    var maxDeletedID = StreamID.zero
    var entriesAdded: Int64 = 0
    @exclusivity(unchecked) var groups: [ConsumerGroup] = []

    /// The object itself, as counted in `valueMemoryCounter` (chunks count themselves; consumer
    /// groups and their pending lists are not counted).
    @inline(__always) private static var objectBytes: Int { 128 }

    init() { addValueMemory(StreamValue.objectBytes) }

    deinit { addValueMemory(-StreamValue.objectBytes) }

    var encodingName: StaticString { "stream" }

    func duplicate() -> AnyObject {
        let s = StreamValue()
        s.chunks = chunks.map { $0.copy() }
        s.length = length
        s.lastID = lastID
        s.firstID = firstID
        s.maxDeletedID = maxDeletedID
        s.entriesAdded = entriesAdded
        for g in groups {
            let ng = ConsumerGroup(name: g.name, lastID: g.lastID, entriesRead: g.entriesRead)
            var byName: [[UInt8]: StreamConsumer] = [:]
            for c in g.consumers {
                let nc = StreamConsumer(name: c.name, seenTime: c.seenTime)
                nc.pending = c.pending
                ng.consumers.append(nc)
                byName[c.name] = nc
            }
            for (i, id) in g.pending.ids.enumerated() {
                let p = g.pending.entries[i]
                ng.pending.insert(id, PendingEntry(deliveryTime: p.deliveryTime, deliveryCount: p.deliveryCount,
                                                   consumer: byName[p.consumer.name]!))
            }
            s.groups.append(ng)
        }
        return s
    }

    // MARK: entries

    /// Appends an entry with ID `id` (greater than `lastID`) whose field-value pairs are
    /// `args[from...]`. Allocates only when a chunk's storage grows or a chunk starts.
    func append(_ id: StreamID, _ args: Arguments, from: Int) {
        let pairs = (args.count - from) / 2
        var total = 0
        for i in from..<args.count { total += args[i].count }
        var chunk = chunks.last
        if let c = chunk {
            let maxEntries = StreamChunk.maxEntries
            if c.listpackBytes + total >= StreamChunk.maxBytes || (maxEntries != 0 && c.count >= maxEntries) {
                c.seal()
                chunk = nil
            }
        }
        let c: StreamChunk
        var sameFields = false
        if let chunk {
            c = chunk
            if c.masterFields.count == pairs {
                sameFields = true
                for j in 0..<pairs where !c.masterFields[j].withUnsafeBytes({ $0.elementsEqual(args[from + 2 * j]) }) {
                    sameFields = false
                    break
                }
            }
        } else {
            c = StreamChunk()
            c.data.reserveCapacity(256)
            c.masterFields = (0..<pairs).map { Array(args[from + 2 * $0]) }
            // Listpack header and end byte, then the master entry: count, deleted,
            // field count, the fields, and its zero terminator.
            c.listpackBytes = 7 + 2 + 2 + listpackIntegerSize(Int64(pairs)) + 2
            for j in 0..<pairs { c.listpackBytes += listpackElementSize(args[from + 2 * j]) }
            chunks.append(c)
            sameFields = true
        }
        c.ids.append(id)
        c.deleted.append(false)
        c.offsets.append(UInt32(c.data.count))
        c.live += 1
        appendUInt32(&c.data, UInt32(pairs))
        for i in from..<args.count {
            let a = args[i]
            appendUInt32(&c.data, UInt32(a.count))
            c.data.append(contentsOf: a)
        }
        // flags, ms delta, seq delta, [field count, fields], values, lp-count
        let master = c.ids[0]
        var size = 2 + listpackUnsignedSize(id.ms &- master.ms) + listpackUnsignedSize(id.seq &- master.seq)
        for j in 0..<pairs {
            if !sameFields { size += listpackElementSize(args[from + 2 * j]) }
            size += listpackElementSize(args[from + 2 * j + 1])
        }
        let lpCount = sameFields ? pairs + 3 : 2 * pairs + 4
        if !sameFields { size += listpackIntegerSize(Int64(pairs)) }
        size += listpackIntegerSize(Int64(lpCount))
        c.listpackBytes += size
        c.recount()
        length += 1
        entriesAdded += 1
        lastID = id
        if length == 1 { firstID = id }
    }

    /// Chunk index and entry index of the first entry (deleted or not) with ID >= `id`;
    /// the chunk index is `chunks.count` when there is none.
    func seek(_ id: StreamID) -> (Int, Int) {
        var lo = 0, hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if chunks[mid].lastID < id { lo = mid + 1 } else { hi = mid }
        }
        if lo == chunks.count { return (lo, 0) }
        return (lo, chunks[lo].lowerBound(id))
    }

    /// The live entry with ID `id`, as (chunk, index).
    func find(_ id: StreamID) -> (StreamChunk, Int)? {
        let (ci, ei) = seek(id)
        guard ci < chunks.count else { return nil }
        let c = chunks[ci]
        guard ei < c.count, c.ids[ei] == id, !c.deleted[ei] else { return nil }
        return (c, ei)
    }

    /// Calls `body` with live entries with IDs in [start, end], ascending or descending,
    /// until it returns false.
    func forEach(from start: StreamID, to end: StreamID, reverse: Bool, _ body: (StreamChunk, Int) -> Bool) {
        if start > end { return }
        if !reverse {
            var (ci, ei) = seek(start)
            while ci < chunks.count {
                let c = chunks[ci]
                while ei < c.count {
                    if c.ids[ei] > end { return }
                    if !c.deleted[ei] && !body(c, ei) { return }
                    ei += 1
                }
                ci += 1
                ei = 0
            }
        } else {
            var (ci, ei) = seek(end)
            // seek gives the first >= end: step back unless it is end itself.
            if ci == chunks.count || chunks[ci].ids[ei] > end {
                if ei > 0 { ei -= 1 } else {
                    ci -= 1
                    if ci < 0 { return }
                    ei = chunks[ci].count - 1
                }
            }
            while ci >= 0 {
                let c = chunks[ci]
                while ei >= 0 {
                    if c.ids[ei] < start { return }
                    if !c.deleted[ei] && !body(c, ei) { return }
                    ei -= 1
                }
                ci -= 1
                if ci >= 0 { ei = chunks[ci].count - 1 }
            }
        }
    }

    /// Deletes the entry `id`; returns whether it existed.
    func delete(_ id: StreamID) -> Bool {
        let (ci, ei) = seek(id)
        guard ci < chunks.count else { return false }
        let c = chunks[ci]
        guard ei < c.count, c.ids[ei] == id, !c.deleted[ei] else { return false }
        c.deleted[ei] = true
        c.live -= 1
        length -= 1
        if c.live == 0 { chunks.remove(at: ci) }
        if id > maxDeletedID { maxDeletedID = id }
        if length == 0 {
            firstID = .zero
        } else if id == firstID {
            firstID = firstLiveID()
        }
        return true
    }

    /// The first live entry's ID (0-0 when empty).
    func firstLiveID() -> StreamID {
        for c in chunks {
            for i in 0..<c.count where !c.deleted[i] { return c.ids[i] }
        }
        return .zero
    }

    /// The last live entry's ID (0-0 when empty).
    func lastLiveID() -> StreamID {
        for c in chunks.reversed() {
            for i in stride(from: c.count - 1, through: 0, by: -1) where !c.deleted[i] { return c.ids[i] }
        }
        return .zero
    }

    /// Redis's streamTrim: removes whole chunks from the head while the rule allows, then,
    /// unless `approx`, entries inside the next chunk. `limit` (0 = none) caps the entries
    /// removed as whole chunks. Returns the number of entries removed.
    func trim(maxLength: Int?, minID: StreamID?, approx: Bool, limit: Int) -> Int {
        var removed = 0
        while let c = chunks.first {
            if let maxLength, length <= maxLength { break }
            if limit > 0 && removed + c.live > limit { break }
            let removeWhole: Bool
            if let maxLength { removeWhole = length - c.live >= maxLength } else { removeWhole = c.lastID < minID! }
            if removeWhole {
                chunks.removeFirst()
                length -= c.live
                removed += c.live
                continue
            }
            if approx { break }
            for i in 0..<c.count {
                if let maxLength {
                    if length <= maxLength { break }
                } else if c.ids[i] >= minID! {
                    break
                }
                if !c.deleted[i] {
                    c.deleted[i] = true
                    c.live -= 1
                    length -= 1
                    removed += 1
                }
            }
            break
        }
        firstID = length == 0 ? .zero : firstLiveID()
        return removed
    }

    // MARK: consumer groups

    func groupIndex(_ name: UnsafeRawBufferPointer) -> (Int, found: Bool) {
        var lo = 0, hi = groups.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let c = compareBytes(groups[mid].name, name)
            if c == 0 { return (mid, true) }
            if c < 0 { lo = mid + 1 } else { hi = mid }
        }
        return (lo, false)
    }

    func group(_ name: UnsafeRawBufferPointer) -> ConsumerGroup? {
        let (i, found) = groupIndex(name)
        return found ? groups[i] : nil
    }

    /// Redis's streamEstimateDistanceFromFirstEverEntry: the logical read counter of `id`,
    /// or `invalidEntriesRead` when it cannot be known.
    func estimateEntriesRead(upTo id: StreamID) -> Int64 {
        if entriesAdded == 0 { return 0 }
        if length == 0 && id <= lastID { return entriesAdded }
        if id == lastID { return entriesAdded }
        if id > lastID { return ConsumerGroup.invalidEntriesRead }
        if maxDeletedID.isZero || maxDeletedID < firstID {
            if id < firstID { return entriesAdded - Int64(length) }
            if id == firstID { return entriesAdded - Int64(length) + 1 }
        }
        return ConsumerGroup.invalidEntriesRead
    }

    /// Redis's streamRangeHasTombstones: whether the largest deleted ID may lie in
    /// [start, end] (end nil = the end of the stream).
    func rangeHasTombstones(from start: StreamID, to end: StreamID? = nil) -> Bool {
        if length == 0 || maxDeletedID.isZero { return false }
        if firstID > maxDeletedID { return false }
        return start <= maxDeletedID && maxDeletedID <= (end ?? .max)
    }

    /// A group's lag (entries not yet delivered), or nil when it cannot be known.
    func lag(of g: ConsumerGroup) -> Int64? {
        if entriesAdded == 0 { return 0 }
        if g.entriesRead != ConsumerGroup.invalidEntriesRead && !rangeHasTombstones(from: g.lastID) {
            return entriesAdded - g.entriesRead
        }
        let read = estimateEntriesRead(upTo: g.lastID)
        if read != ConsumerGroup.invalidEntriesRead { return entriesAdded - read }
        return nil
    }

    // MARK: persistence

    /// Calls `body` with every live entry's ID and its fields and values, in order.
    func forEachEntry(_ body: (StreamID, [UnsafeRawBufferPointer]) -> Void) {
        var parts: [UnsafeRawBufferPointer] = []
        for c in chunks {
            // The parts point into the chunk's bytes: only inside this closure.
            c.data.withUnsafeBytes { d in
                for i in 0..<c.count where !c.deleted[i] {
                    parts.removeAll(keepingCapacity: true)
                    var o = Int(c.offsets[i])
                    let pairs = Int(d.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                    o += 4
                    for _ in 0..<(2 * pairs) {
                        let len = Int(d.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                        o += 4
                        parts.append(UnsafeRawBufferPointer(rebasing: d[o..<(o + len)]))
                        o += len
                    }
                    body(c.ids[i], parts)
                }
            }
        }
    }
}

@inline(__always)
private func appendUInt32(_ data: inout [UInt8], _ v: UInt32) {
    withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
}

/// Bytes a listpack uses for an integer element, with its back-length byte.
@inline(__always)
func listpackIntegerSize(_ v: Int64) -> Int {
    if v >= 0 && v <= 127 { return 2 }
    if v >= -4096 && v <= 4095 { return 3 }
    if v >= -32768 && v <= 32767 { return 4 }
    if v >= -8_388_608 && v <= 8_388_607 { return 5 }
    if v >= -2_147_483_648 && v <= 2_147_483_647 { return 6 }
    return 10
}

@inline(__always)
func listpackUnsignedSize(_ v: UInt64) -> Int { listpackIntegerSize(Int64(bitPattern: v)) }

/// Bytes a listpack uses for a string element (stored as an integer when it is one).
@inline(__always)
func listpackElementSize(_ s: UnsafeRawBufferPointer) -> Int {
    if s.count <= 20, s.count > 0, (s[0] >= 48 && s[0] <= 57) || s[0] == 45, let n = parseInteger(s) {
        return listpackIntegerSize(Int64(n))
    }
    let l = s.count
    let encoded = l < 64 ? 1 + l : (l < 4096 ? 2 + l : 5 + l)
    let back = encoded < 128 ? 1 : (encoded < 16384 ? 2 : (encoded < 2_097_152 ? 3 : (encoded < 268_435_456 ? 4 : 5)))
    return encoded + back
}

// MARK: RDB conversion

