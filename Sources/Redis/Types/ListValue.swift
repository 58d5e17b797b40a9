import Glibc

/// Data area of a list's first chunk; it doubles up to the list's chunk byte limit as the
/// list grows, so that the many short lists of a keyspace do not each hold 8 KB.
private let listFirstChunkBytes = 64

/// One node of a list: a malloc'd block holding a 16-byte header and a data area in which
/// the elements sit contiguously between `start` and `end`:
///
///     0  data capacity (u32)   4  start (u32)   8  end (u32)   12 element count (u32)
///     16 data: ... [element][element] ...
///
/// An element is [length][bytes][length]: the length once in front and once behind, so the
/// node can be walked in both directions (Redis's listpack keeps a back-length for the same
/// reason). A length below 255 is one byte; a longer one is 0xFF and a u32 in front, and a
/// u32 then 0xFF behind. Free room is kept on both sides of the data, so pushes at either
/// end of the list write in place.
struct ListChunk {
    let p: UnsafeMutableRawPointer

    @inline(__always) init(_ p: UnsafeMutableRawPointer) { self.p = p }

    static let headerSize = 16

    @inline(__always) var capacity: Int {
        get { Int(p.load(as: UInt32.self)) }
        nonmutating set { p.storeBytes(of: UInt32(newValue), as: UInt32.self) }
    }
    @inline(__always) var start: Int {
        get { Int(p.load(fromByteOffset: 4, as: UInt32.self)) }
        nonmutating set { p.storeBytes(of: UInt32(newValue), toByteOffset: 4, as: UInt32.self) }
    }
    @inline(__always) var end: Int {
        get { Int(p.load(fromByteOffset: 8, as: UInt32.self)) }
        nonmutating set { p.storeBytes(of: UInt32(newValue), toByteOffset: 8, as: UInt32.self) }
    }
    @inline(__always) var count: Int {
        get { Int(p.load(fromByteOffset: 12, as: UInt32.self)) }
        nonmutating set { p.storeBytes(of: UInt32(newValue), toByteOffset: 12, as: UInt32.self) }
    }
    @inline(__always) var data: UnsafeMutableRawPointer { p + ListChunk.headerSize }
    @inline(__always) var used: Int { end - start }

    /// A new empty chunk with `capacity` data bytes and its (empty) data placed at `offset`.
    static func allocate(capacity: Int, offset: Int) -> ListChunk {
        guard let p = malloc(headerSize + capacity) else { fatalError("out of memory allocating a list chunk") }
        addValueMemory(mallocCost(headerSize + capacity))
        let c = ListChunk(p)
        c.capacity = capacity
        c.start = offset
        c.end = offset
        c.count = 0
        return c
    }

    /// Frees the chunk, taking its bytes off `valueMemoryCounter`.
    @inline(__always)
    func release() {
        addValueMemory(-mallocCost(ListChunk.headerSize + capacity))
        free(p)
    }
}

/// Bytes an element of `length` bytes takes in a chunk.
@inline(__always)
func listEncodedSize(_ length: Int) -> Int { length < 255 ? length + 2 : length + 10 }

/// Writes `bytes` as an element at `dst` (room for `listEncodedSize(bytes.count)` bytes).
@inline(__always)
private func writeListElement(_ dst: UnsafeMutableRawPointer, _ bytes: UnsafeRawBufferPointer) {
    let n = bytes.count
    if n < 255 {
        dst.storeBytes(of: UInt8(truncatingIfNeeded: n), as: UInt8.self)
        if n > 0 { (dst + 1).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        dst.storeBytes(of: UInt8(truncatingIfNeeded: n), toByteOffset: n + 1, as: UInt8.self)
    } else {
        dst.storeBytes(of: 0xFF as UInt8, as: UInt8.self)
        dst.storeBytes(of: UInt32(n), toByteOffset: 1, as: UInt32.self)
        (dst + 5).copyMemory(from: bytes.baseAddress!, byteCount: n)
        dst.storeBytes(of: UInt32(n), toByteOffset: n + 5, as: UInt32.self)
        dst.storeBytes(of: 0xFF as UInt8, toByteOffset: n + 9, as: UInt8.self)
    }
}

/// The element starting at `q`: its bytes and its encoded size.
@inline(__always)
private func readListElement(_ q: UnsafeRawPointer) -> (bytes: UnsafeRawBufferPointer, size: Int) {
    let b = q.load(as: UInt8.self)
    if b != 0xFF {
        let n = Int(b)
        return (UnsafeRawBufferPointer(start: q + 1, count: n), n + 2)
    }
    let n = Int(q.loadUnaligned(fromByteOffset: 1, as: UInt32.self))
    return (UnsafeRawBufferPointer(start: q + 5, count: n), n + 10)
}

/// The encoded size of the element that ends just before `e`.
@inline(__always)
private func sizeOfListElement(endingAt e: UnsafeRawPointer) -> Int {
    let b = (e - 1).load(as: UInt8.self)
    if b != 0xFF { return Int(b) + 2 }
    return Int((e - 5).loadUnaligned(as: UInt32.self)) + 10
}

/// Where an element is: its chunk's index and its byte offset in that chunk's data area.
struct ListPosition {
    var chunk: Int
    var offset: Int
}

/// A Redis list: a deque of `ListChunk`s (Redis's quicklist of listpacks). Pushes and pops
/// at both ends write or read the end chunks in place; no element is allocated on its own.
/// Index access walks chunk counts from the nearer end, then elements within one chunk.
final class ListValue: KeyspaceObject {
    /// The chunks in list order, none of them empty.
    @exclusivity(unchecked) private(set) var chunks: [ListChunk] = []
    /// Number of elements.
    private(set) var count = 0
    /// One emptied full-size chunk kept for the next new one, so that pushes and pops at a
    /// chunk boundary do not malloc and free on every call.
    private var spare: ListChunk?
    /// Largest data area of a chunk and most elements in one, fixed when the list is made
    /// from list-max-listpack-size (as a Redis quicklist takes its fill when created):
    /// -2 gives 8 KB and no count limit. A single element larger than the byte limit gets a
    /// chunk of its own, sized to fit.
    private let maxChunkBytesStored: Int32
    private let maxChunkCountStored: Int32

    @inline(__always) private var maxChunkBytes: Int { Int(maxChunkBytesStored) }
    @inline(__always) private var maxChunkCount: Int { Int(maxChunkCountStored) }

    /// The object (about 64 bytes) and its chunk array's block, as counted in `valueMemoryCounter`.
    @inline(__always) private static var objectBytes: Int { 160 }

    init() {
        let limits = encodingLimits.listNodeLimits
        maxChunkBytesStored = Int32(limits.bytes)
        maxChunkCountStored = Int32(limits.count)
        addValueMemory(ListValue.objectBytes)
    }

    private init(maxChunkBytes: Int32, maxChunkCount: Int32) {
        maxChunkBytesStored = maxChunkBytes
        maxChunkCountStored = maxChunkCount
        addValueMemory(ListValue.objectBytes)
    }

    /// A list of `elements`, in order (RDB loading).
    convenience init<S: Sequence>(elements: S) where S.Element == [UInt8] {
        self.init()
        for e in elements { append(e) }
    }

    deinit {
        for c in chunks { c.release() }
        if let s = spare { s.release() }
        addValueMemory(-ListValue.objectBytes)
    }

    var encodingName: StaticString { "quicklist" }

    /// An independent copy (COPY).
    func duplicate() -> AnyObject {
        let copy = ListValue(maxChunkBytes: maxChunkBytesStored, maxChunkCount: maxChunkCountStored)
        copy.chunks.reserveCapacity(chunks.count)
        for c in chunks {
            let n = ListChunk.allocate(capacity: c.capacity, offset: c.start)
            n.end = c.end
            n.count = c.count
            if c.used > 0 { (n.data + c.start).copyMemory(from: c.data + c.start, byteCount: c.used) }
            copy.chunks.append(n)
        }
        copy.count = count
        return copy
    }

    // MARK: pushes

    /// Appends an element at the tail (RDB loading; RPUSH).
    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { pushBack($0) } }

    /// RPUSH of one element.
    @inline(__always)
    func pushBack(_ bytes: UnsafeRawBufferPointer) {
        let need = listEncodedSize(bytes.count)
        if let c = chunks.last {
            if c.capacity - c.end >= need && c.count < maxChunkCount {
                writeListElement(c.data + c.end, bytes)
                c.end += need
                c.count += 1
                count += 1
                return
            }
            if let r = makeRoom(chunk: chunks.count - 1, need: need, atBack: true) {
                writeListElement(r.data + r.end, bytes)
                r.end += need
                r.count += 1
                count += 1
                return
            }
        }
        let c = newChunk(need: need, atBack: true)
        writeListElement(c.data + c.end, bytes)
        c.end += need
        c.count = 1
        chunks.append(c)
        count += 1
    }

    /// LPUSH of one element.
    @inline(__always)
    func pushFront(_ bytes: UnsafeRawBufferPointer) {
        let need = listEncodedSize(bytes.count)
        if let c = chunks.first {
            if c.start >= need && c.count < maxChunkCount {
                c.start -= need
                writeListElement(c.data + c.start, bytes)
                c.count += 1
                count += 1
                return
            }
            if let r = makeRoom(chunk: 0, need: need, atBack: false) {
                r.start -= need
                writeListElement(r.data + r.start, bytes)
                r.count += 1
                count += 1
                return
            }
        }
        let c = newChunk(need: need, atBack: false)
        c.start -= need
        writeListElement(c.data + c.start, bytes)
        c.count = 1
        chunks.insert(c, at: 0)
        count += 1
    }

    /// An empty chunk for an element of `need` bytes pushed at one end of the list, its data
    /// placed at the end where further pushes at that side will grow it.
    /// A list limited by element count starts each chunk small too, since a few elements
    /// may be all it ever holds.
    private func newChunk(need: Int, atBack: Bool) -> ListChunk {
        let small = chunks.isEmpty || maxChunkCountStored != Int32.max
        var capacity = small ? min(maxChunkBytes, max(listFirstChunkBytes, need)) : maxChunkBytes
        if need > maxChunkBytes { capacity = need }
        if capacity == maxChunkBytes, let s = spare {
            spare = nil
            s.start = atBack ? 0 : capacity
            s.end = s.start
            s.count = 0
            return s
        }
        return ListChunk.allocate(capacity: capacity, offset: atBack ? 0 : capacity)
    }

    /// Makes `need` free bytes at one side of chunk `i` by growing it (up to
    /// `maxChunkBytes`) or moving its data to the middle, when the element still belongs
    /// in it. Returns the (possibly moved) chunk, or nil when a new chunk should be started.
    /// Data is only moved when at least a quarter of the chunk is free, so each move buys
    /// room for many pushes.
    private func makeRoom(chunk i: Int, need: Int, atBack: Bool) -> ListChunk? {
        let c = chunks[i]
        let used = c.used
        if used + need > maxChunkBytes || c.count >= maxChunkCount { return nil }
        var capacity = c.capacity
        if capacity < maxChunkBytes {
            capacity = min(maxChunkBytes, max(capacity * 2, used + need))
        } else if capacity - used < capacity / 4 {
            return nil
        }
        let slack = capacity - used
        let start = atBack ? min(slack / 2, slack - need) : max(slack / 2, need)
        if capacity != c.capacity {
            let n = ListChunk.allocate(capacity: capacity, offset: start)
            if used > 0 { (n.data + start).copyMemory(from: c.data + c.start, byteCount: used) }
            n.end = start + used
            n.count = c.count
            c.release()
            chunks[i] = n
            return n
        }
        if used > 0 { memmove(c.data + start, c.data + c.start, used) }
        c.start = start
        c.end = start + used
        return c
    }

    // MARK: pops

    /// LPOP of one element: `body` sees its bytes before they are dropped. The list must
    /// not be empty.
    @inline(__always)
    func popFront<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let c = chunks[0]
        let (bytes, size) = readListElement(c.data + c.start)
        let r = body(bytes)
        c.start += size
        c.count -= 1
        count -= 1
        if c.count == 0 { dropChunk(0) }
        return r
    }

    /// RPOP of one element, as `popFront`.
    @inline(__always)
    func popBack<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let last = chunks.count - 1
        let c = chunks[last]
        let size = sizeOfListElement(endingAt: c.data + c.end)
        let r = body(readListElement(c.data + c.end - size).bytes)
        c.end -= size
        c.count -= 1
        count -= 1
        if c.count == 0 { dropChunk(last) }
        return r
    }

    /// Removes the empty chunk `i`, keeping one full-size chunk for reuse.
    private func dropChunk(_ i: Int) {
        let c = chunks.remove(at: i)
        if spare == nil && c.capacity == maxChunkBytes && !chunks.isEmpty {
            spare = c
        } else {
            c.release()
        }
    }

    /// Removes the first `n` elements (LTRIM, LPOP with a count).
    func removeFront(_ n: Int) {
        var left = min(n, count)
        count -= left
        while left > 0 {
            let c = chunks[0]
            if c.count <= left {
                left -= c.count
                c.count = 0
                dropChunk(0)
                continue
            }
            var o = c.start
            for _ in 0..<left { o += readListElement(c.data + o).size }
            c.start = o
            c.count -= left
            left = 0
        }
    }

    /// Removes the last `n` elements (LTRIM, RPOP with a count).
    func removeBack(_ n: Int) {
        var left = min(n, count)
        count -= left
        while left > 0 {
            let last = chunks.count - 1
            let c = chunks[last]
            if c.count <= left {
                left -= c.count
                c.count = 0
                dropChunk(last)
                continue
            }
            var e = c.end
            for _ in 0..<left { e -= sizeOfListElement(endingAt: c.data + e) }
            c.end = e
            c.count -= left
            left = 0
        }
    }

    // MARK: positions and walking

    /// The position of element `index` (0 ≤ index < count), found from the nearer end.
    func position(of index: Int) -> ListPosition {
        if index < count / 2 {
            var i = index
            var ci = 0
            while i >= chunks[ci].count { i -= chunks[ci].count; ci += 1 }
            let c = chunks[ci]
            var o = c.start
            for _ in 0..<i { o += readListElement(c.data + o).size }
            return ListPosition(chunk: ci, offset: o)
        }
        var back = count - 1 - index        // elements after the one wanted
        var ci = chunks.count - 1
        while back >= chunks[ci].count { back -= chunks[ci].count; ci -= 1 }
        let c = chunks[ci]
        var e = c.end
        for _ in 0...back { e -= sizeOfListElement(endingAt: c.data + e) }
        return ListPosition(chunk: ci, offset: e)
    }

    /// The first element's position (the list must not be empty).
    var firstPosition: ListPosition { ListPosition(chunk: 0, offset: chunks[0].start) }

    /// The last element's position (the list must not be empty).
    var lastPosition: ListPosition {
        let c = chunks[chunks.count - 1]
        return ListPosition(chunk: chunks.count - 1, offset: c.end - sizeOfListElement(endingAt: c.data + c.end))
    }

    /// The bytes of the element at `p`, valid until the list changes.
    @inline(__always)
    func element(at p: ListPosition) -> UnsafeRawBufferPointer {
        let c = chunks[p.chunk]
        return readListElement(c.data + p.offset).bytes
    }

    /// Moves `p` to the next element; false past the last one.
    @inline(__always)
    func advance(_ p: inout ListPosition) -> Bool {
        let c = chunks[p.chunk]
        p.offset += readListElement(c.data + p.offset).size
        if p.offset < c.end { return true }
        if p.chunk + 1 == chunks.count { return false }
        p.chunk += 1
        p.offset = chunks[p.chunk].start
        return true
    }

    /// Moves `p` to the previous element; false before the first one.
    @inline(__always)
    func retreat(_ p: inout ListPosition) -> Bool {
        var c = chunks[p.chunk]
        if p.offset == c.start {
            if p.chunk == 0 { return false }
            p.chunk -= 1
            c = chunks[p.chunk]
            p.offset = c.end
        }
        p.offset -= sizeOfListElement(endingAt: c.data + p.offset)
        return true
    }

    /// Calls `body` with `n` elements from index `from` on, towards the tail, or towards the
    /// head when `reversed` (then `from` is the first element seen). Bytes come straight
    /// from the chunks. Indices must be in range.
    @inline(__always)
    func forEach(from index: Int, _ n: Int, reversed: Bool = false, _ body: (UnsafeRawBufferPointer) -> Void) {
        if n == 0 { return }
        var p = position(of: index)
        var left = n
        var c = chunks[p.chunk]
        if !reversed {
            while true {
                let (bytes, size) = readListElement(c.data + p.offset)
                body(bytes)
                left -= 1
                if left == 0 { return }
                p.offset += size
                if p.offset == c.end {
                    p.chunk += 1
                    c = chunks[p.chunk]
                    p.offset = c.start
                }
            }
        } else {
            while true {
                body(readListElement(c.data + p.offset).bytes)
                left -= 1
                if left == 0 { return }
                if p.offset == c.start {
                    p.chunk -= 1
                    c = chunks[p.chunk]
                    p.offset = c.end
                }
                p.offset -= sizeOfListElement(endingAt: c.data + p.offset)
            }
        }
    }

    /// Calls `body` with every element, head to tail (RDB saving, DEBUG).
    func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        forEach(from: 0, count, body)
    }

    // MARK: changes in the middle (LSET, LINSERT, LREM)

    /// The elements of chunk `i`, copied.
    private func elements(ofChunk i: Int) -> [[UInt8]] {
        let c = chunks[i]
        var out: [[UInt8]] = []
        out.reserveCapacity(c.count)
        var o = c.start
        while o < c.end {
            let (bytes, size) = readListElement(c.data + o)
            out.append(Array(bytes))
            o += size
        }
        return out
    }

    /// Replaces chunk `i` with chunks holding `elements`, packed up to the chunk limits.
    private func rebuildChunk(_ i: Int, with elements: [[UInt8]]) {
        count += elements.count - chunks[i].count
        chunks[i].release()
        chunks.remove(at: i)
        var made: [ListChunk] = []
        var j = 0
        while j < elements.count {
            var bytes = 0
            var k = j
            while k < elements.count {
                let s = listEncodedSize(elements[k].count)
                if k > j && (bytes + s > maxChunkBytes || k - j >= maxChunkCount) { break }
                bytes += s
                k += 1
            }
            let c = ListChunk.allocate(capacity: max(bytes, min(maxChunkBytes, 2 * bytes)), offset: 0)
            for e in elements[j..<k] {
                e.withUnsafeBytes { writeListElement(c.data + c.end, $0) }
                c.end += listEncodedSize(e.count)
            }
            c.count = k - j
            made.append(c)
            j = k
        }
        chunks.insert(contentsOf: made, at: i)
    }

    /// Which element of its chunk `p` is.
    private func indexInChunk(_ p: ListPosition) -> Int {
        let c = chunks[p.chunk]
        var o = c.start
        var n = 0
        while o < p.offset {
            o += readListElement(c.data + o).size
            n += 1
        }
        return n
    }

    /// Writes `bytes` as an element over the `removing` bytes at `offset` in chunk `i`,
    /// moving the shorter side of the data (or growing the chunk up to `maxChunkBytes`).
    /// Returns false, changing nothing, when the result would not fit in one chunk.
    private func splice(chunk i: Int, offset: Int, removing: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var c = chunks[i]
        let add = listEncodedSize(bytes.count)
        let delta = add - removing
        if c.used + delta > maxChunkBytes { return false }
        var at = offset
        if delta <= 0 {
            let tail = c.end - (at + removing)
            if delta < 0 && tail > 0 { memmove(c.data + at + add, c.data + at + removing, tail) }
            c.end += delta
            writeListElement(c.data + at, bytes)
            return true
        }
        if c.capacity - c.used < delta {
            // Grow into a larger block, the data centred in it.
            let capacity = min(maxChunkBytes, max(c.capacity * 2, c.used + delta))
            let start = (capacity - c.used) / 2
            let n = ListChunk.allocate(capacity: capacity, offset: start)
            if c.used > 0 { (n.data + start).copyMemory(from: c.data + c.start, byteCount: c.used) }
            n.end = start + c.used
            n.count = c.count
            at += start - c.start
            c.release()
            chunks[i] = n
            c = n
        }
        let roomBehind = c.capacity - c.end >= delta, roomInFront = c.start >= delta
        if roomBehind && (!roomInFront || c.end - at - removing <= at - c.start) {
            let tail = c.end - (at + removing)
            if tail > 0 { memmove(c.data + at + removing + delta, c.data + at + removing, tail) }
            c.end += delta
        } else if roomInFront {
            if at > c.start { memmove(c.data + c.start - delta, c.data + c.start, at - c.start) }
            c.start -= delta
            at -= delta
        } else {
            // Room only on both sides together: re-centre so the tail side has it.
            let start = (c.capacity - c.used - delta) / 2
            memmove(c.data + start, c.data + c.start, c.used)
            at += start - c.start
            c.end = start + c.used
            c.start = start
            let tail = c.end - (at + removing)
            if tail > 0 { memmove(c.data + at + removing + delta, c.data + at + removing, tail) }
            c.end += delta
        }
        writeListElement(c.data + at, bytes)
        return true
    }

    /// LSET: the element at `p` becomes `bytes`, in place unless its chunk must split.
    func replace(at p: ListPosition, with bytes: UnsafeRawBufferPointer) {
        let old = readListElement(chunks[p.chunk].data + p.offset).size
        if splice(chunk: p.chunk, offset: p.offset, removing: old, bytes) { return }
        var els = elements(ofChunk: p.chunk)
        els[indexInChunk(p)] = Array(bytes)
        rebuildChunk(p.chunk, with: els)
    }

    /// LINSERT: puts `bytes` before or after the element at `p`, in place unless its chunk
    /// must split.
    func insert(_ bytes: UnsafeRawBufferPointer, at p: ListPosition, after: Bool) {
        let c = chunks[p.chunk]
        let offset = after ? p.offset + readListElement(c.data + p.offset).size : p.offset
        if c.count < maxChunkCount && splice(chunk: p.chunk, offset: offset, removing: 0, bytes) {
            chunks[p.chunk].count += 1
            count += 1
            return
        }
        var els = elements(ofChunk: p.chunk)
        els.insert(Array(bytes), at: indexInChunk(p) + (after ? 1 : 0))
        rebuildChunk(p.chunk, with: els)
    }

    /// LREM: removes up to `limit` elements equal to `value` (all when `limit` is 0),
    /// the first ones from the head, or from the tail when `fromTail`. Returns how many.
    /// Each chunk is compacted in place.
    func removeAll(equalTo value: UnsafeRawBufferPointer, limit: Int, fromTail: Bool) -> Int {
        var removed = 0
        var ci = fromTail ? chunks.count - 1 : 0
        while ci >= 0 && ci < chunks.count && (limit == 0 || removed < limit) {
            let c = chunks[ci]
            var matches = 0
            var o = c.start
            while o < c.end {
                let (bytes, size) = readListElement(c.data + o)
                if listBytesEqual(bytes, value) { matches += 1 }
                o += size
            }
            if matches == 0 {
                ci += fromTail ? -1 : 1
                continue
            }
            let budget = limit == 0 ? matches : min(matches, limit - removed)
            // Going from the tail, the chunk's last `budget` matches go: skip the others.
            var skip = fromTail ? matches - budget : 0
            var drop = budget
            var src = c.start
            var dst = c.start
            var kept = 0
            while src < c.end {
                let (bytes, size) = readListElement(c.data + src)
                var keep = true
                if drop > 0 && listBytesEqual(bytes, value) {
                    if skip > 0 { skip -= 1 } else { keep = false; drop -= 1 }
                }
                if keep {
                    if dst != src { memmove(c.data + dst, c.data + src, size) }
                    dst += size
                    kept += 1
                }
                src += size
            }
            c.end = dst
            c.count = kept
            removed += budget
            count -= budget
            if kept == 0 {
                dropChunk(ci)
                if fromTail { ci -= 1 }
            } else {
                ci += fromTail ? -1 : 1
            }
        }
        return removed
    }
}

/// Byte equality of two elements.
@inline(__always)
func listBytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
}
