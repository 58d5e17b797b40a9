import Glibc

/// zset-max-listpack-entries and zset-max-listpack-value as configured now: a sorted set
/// stays packed while it has at most this many members, none longer than this; past either
/// it becomes a skiplist and never goes back (as in Redis).
var sortedSetPackedMaxCount: Int { @inline(__always) get { encodingLimits.zsetMaxListpackEntries } }
var sortedSetPackedMaxMemberLength: Int { @inline(__always) get { encodingLimits.zsetMaxListpackValue } }

/// Redis's ZSKIPLIST_MAXLEVEL and ZSKIPLIST_P.
private let skiplistMaxLevel = 32

/// A score interval (Redis's zrangespec): "(" makes an end exclusive.
struct ScoreRange {
    var min: Double
    var max: Double
    var minExclusive = false
    var maxExclusive = false

    @inline(__always) func aboveMin(_ v: Double) -> Bool { minExclusive ? v > min : v >= min }
    @inline(__always) func belowMax(_ v: Double) -> Bool { maxExclusive ? v < max : v <= max }
    /// Ranges that can hold nothing whatever the set (zslIsInRange's first test).
    var isEmpty: Bool { min > max || (min == max && (minExclusive || maxExclusive)) }
}

/// One end of a lexicographic interval: "-", "+", "[member" or "(member". The bytes point
/// into the command's arguments and are valid only while it runs.
enum LexBound {
    case minusInfinity
    case plusInfinity
    case member(UnsafeRawBufferPointer, exclusive: Bool)

    var isExclusive: Bool {
        switch self {
        case .minusInfinity, .plusInfinity: return true
        case .member(_, let ex): return ex
        }
    }
}

/// A lexicographic interval (Redis's zlexrangespec), compared with sdscmplex's rules.
struct LexRange {
    var min: LexBound
    var max: LexBound

    /// sdscmplex(member, bound).
    @inline(__always)
    private static func compare(_ m: UnsafeRawBufferPointer, _ b: LexBound) -> Int {
        switch b {
        case .minusInfinity: return 1
        case .plusInfinity: return -1
        case .member(let v, _): return compareMembers(m, v)
        }
    }

    @inline(__always) func aboveMin(_ m: UnsafeRawBufferPointer) -> Bool {
        let c = LexRange.compare(m, min)
        return min.isExclusive ? c > 0 : c >= 0
    }

    @inline(__always) func belowMax(_ m: UnsafeRawBufferPointer) -> Bool {
        let c = LexRange.compare(m, max)
        return max.isExclusive ? c < 0 : c <= 0
    }

    /// Ranges that can hold nothing (zslIsInLexRange's first test): min after max, or the
    /// same bound on both sides with one of them exclusive ("-" and "+" count as exclusive).
    var isEmpty: Bool {
        let c: Int
        switch (min, max) {
        case (.minusInfinity, .minusInfinity), (.plusInfinity, .plusInfinity): c = 0
        case (.minusInfinity, _), (_, .plusInfinity): c = -1
        case (.plusInfinity, _), (_, .minusInfinity): c = 1
        case (.member(let a, _), .member(let b, _)): c = compareMembers(a, b)
        }
        return c > 0 || (c == 0 && (min.isExclusive || max.isExclusive))
    }
}

/// sdscmp: bytes compared as unsigned, a prefix sorting first.
@inline(__always)
func compareMembers(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = Swift.min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}

@inline(__always)
private func membersEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
}

/// Where an element sits: an index in the packed array, or a skiplist node's address.
/// Valid until the set is changed.
struct SortedSetPosition: Equatable {
    fileprivate let raw: Int
}

/// One skiplist node in a single malloc'd block, like Redis's zskiplistNode with the dict
/// entry folded in (the member hash and the bucket chain link live in the node):
///
///     0  score                         (8)
///     8  backward node                 (8)
///     16 next node in the hash bucket  (8)
///     24 member hash                   (8)
///     32 member length                 (4)
///     36 level count                   (4)
///     40 per level: forward node (8), span (8)
///     .. member bytes
private struct SkipNode {
    let p: UnsafeMutableRawPointer

    @inline(__always) init(_ p: UnsafeMutableRawPointer) { self.p = p }

    @inline(__always) var score: Double {
        get { p.load(as: Double.self) }
        nonmutating set { p.storeBytes(of: newValue, as: Double.self) }
    }
    @inline(__always) var backward: UnsafeMutableRawPointer? {
        get { p.load(fromByteOffset: 8, as: UnsafeMutableRawPointer?.self) }
        nonmutating set { p.storeBytes(of: newValue, toByteOffset: 8, as: UnsafeMutableRawPointer?.self) }
    }
    @inline(__always) var hashNext: UnsafeMutableRawPointer? {
        get { p.load(fromByteOffset: 16, as: UnsafeMutableRawPointer?.self) }
        nonmutating set { p.storeBytes(of: newValue, toByteOffset: 16, as: UnsafeMutableRawPointer?.self) }
    }
    @inline(__always) var hash: UInt64 {
        get { p.load(fromByteOffset: 24, as: UInt64.self) }
        nonmutating set { p.storeBytes(of: newValue, toByteOffset: 24, as: UInt64.self) }
    }
    @inline(__always) var memberLength: Int { Int(p.load(fromByteOffset: 32, as: UInt32.self)) }
    @inline(__always) var levelCount: Int { Int(p.load(fromByteOffset: 36, as: UInt32.self)) }
    @inline(__always) func forward(_ i: Int) -> UnsafeMutableRawPointer? {
        p.load(fromByteOffset: 40 + 16 * i, as: UnsafeMutableRawPointer?.self)
    }
    @inline(__always) func setForward(_ i: Int, _ n: UnsafeMutableRawPointer?) {
        p.storeBytes(of: n, toByteOffset: 40 + 16 * i, as: UnsafeMutableRawPointer?.self)
    }
    @inline(__always) func span(_ i: Int) -> Int { p.load(fromByteOffset: 48 + 16 * i, as: Int.self) }
    @inline(__always) func setSpan(_ i: Int, _ s: Int) { p.storeBytes(of: s, toByteOffset: 48 + 16 * i, as: Int.self) }
    @inline(__always) var member: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + 40 + 16 * levelCount, count: memberLength)
    }

    /// A node of `level` levels holding `member` (copied), links unset.
    static func allocate(level: Int, member: UnsafeRawBufferPointer, score: Double, hash: UInt64) -> SkipNode {
        let size = 40 + 16 * level + member.count
        guard let p = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        let n = SkipNode(p)
        n.score = score
        n.backward = nil
        n.hashNext = nil
        n.hash = hash
        p.storeBytes(of: UInt32(member.count), toByteOffset: 32, as: UInt32.self)
        p.storeBytes(of: UInt32(level), toByteOffset: 36, as: UInt32.self)
        for i in 0..<level {
            n.setForward(i, nil)
            n.setSpan(i, 0)
        }
        if member.count > 0 { memcpy(p + 40 + 16 * level, member.baseAddress!, member.count) }
        return n
    }

    /// Whether this node sorts before (score, member).
    @inline(__always)
    func precedes(_ score: Double, _ member: UnsafeRawBufferPointer) -> Bool {
        let s = self.score
        return s < score || (s == score && compareMembers(self.member, member) < 0)
    }
}

/// A sorted set value: members (bytes) ordered by score, then by member bytes.
///
/// Two representations, as in Redis, with Redis's names for OBJECT ENCODING:
/// - "listpack": a sorted array of fixed-size slots (score, 4-byte length, member bytes), the
///   slot size fitting the longest member. Lookups scan or bisect the array; inserts and
///   deletes move the tail. Within zset-max-listpack-entries/-value (128 and 64 by default).
/// - "skiplist": Pugh's skiplist with spans (O(log n) rank and rank lookup) and a backward
///   link, plus a chained hash table from member to node whose links live in the nodes, so a
///   member costs one allocation.
/// Every node and slot is raw memory owned by this object, freed in deinit.
final class SortedSetValue: KeyspaceObject {
    /// Seeds the member hash once per process, so bucket collisions cannot be planned.
    static let memberHasher = KeyHasher()

    private(set) var count = 0
    /// Whether the packed ("listpack") representation is in use.
    private(set) var isPacked = true

    // Packed representation.
    private var slots: UnsafeMutableRawPointer?
    private var slotStride = 0
    private var slotCapacity = 0

    // Skiplist representation.
    private var header: UnsafeMutableRawPointer?
    private var tail: UnsafeMutableRawPointer?
    private var level = 1
    private var buckets: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    private var bucketMask = 0
    /// zslInsert's update[] and rank[] vectors, kept to avoid a per-insert allocation.
    private var scratch: UnsafeMutableRawPointer?
    private var randomState: UInt64 = 0x9E37_79B9_7F4A_7C15
    private let hasher = SortedSetValue.memberHasher
    /// Bytes this set holds in malloc'd blocks (slots, nodes, header, buckets), also
    /// counted in `valueMemoryCounter`.
    private var heapBytes = 0

    /// The object itself, as counted in `valueMemoryCounter`.
    @inline(__always) private static var objectBytes: Int { 128 }

    init() { addValueMemory(SortedSetValue.objectBytes) }

    /// Adds `delta` bytes to this set's count and to `valueMemoryCounter`.
    @inline(__always)
    private func account(_ delta: Int) {
        heapBytes += delta
        addValueMemory(delta)
    }

    /// What the packed slot array takes from malloc.
    private var slotsCost: Int { slots == nil ? 0 : mallocCost(slotCapacity * slotStride) }

    /// What a skiplist node takes from malloc.
    @inline(__always)
    private static func nodeCost(_ n: SkipNode) -> Int { mallocCost(40 + 16 * n.levelCount + n.memberLength) }

    /// The skiplist's header node, scratch vectors and `buckets` bucket words.
    @inline(__always)
    private static func skiplistFixedCost(buckets: Int) -> Int {
        mallocCost(40 + 16 * skiplistMaxLevel) + mallocCost(skiplistMaxLevel * 16) + mallocCost(buckets * 8)
    }

    /// An empty set already in the representation `count` members of at most
    /// `maxMemberLength` bytes call for (results of ZUNIONSTORE & co., RDB loading).
    init(expectedCount: Int, maxMemberLength: Int) {
        addValueMemory(SortedSetValue.objectBytes)
        if expectedCount > sortedSetPackedMaxCount || maxMemberLength > sortedSetPackedMaxMemberLength {
            convertToSkiplist(expectedCount: expectedCount)
        } else if expectedCount > 0 {
            reserveSlots(expectedCount, stride: SortedSetValue.stride(for: maxMemberLength))
        }
    }

    /// An empty set in the skiplist representation whatever its size: Redis builds the
    /// results of ZUNION, ZINTER and ZDIFF that way, so their scores keep a -0.
    init(skiplist: Void) {
        addValueMemory(SortedSetValue.objectBytes)
        convertToSkiplist(expectedCount: 0)
    }

    deinit {
        addValueMemory(-(heapBytes + SortedSetValue.objectBytes))
        if let slots { free(slots) }
        if let header {
            var x = SkipNode(header).forward(0)
            while let n = x {
                x = SkipNode(n).forward(0)
                free(n)
            }
            free(header)
        }
        if let buckets { buckets.deallocate() }
        if let scratch { free(scratch) }
    }

    var encodingName: StaticString { isPacked ? "listpack" : "skiplist" }

    /// An independent copy in the same representation (COPY).
    func duplicate() -> AnyObject {
        let copy = SortedSetValue()
        if isPacked {
            if count > 0 {
                copy.reserveSlots(count, stride: slotStride)
                memcpy(copy.slots!, slots!, count * slotStride)
                copy.count = count
            }
        } else {
            copy.convertToSkiplist(expectedCount: count)
            var p = first
            while let pos = p {
                copy.insertNew(member(at: pos), score: score(at: pos))
                p = next(pos)
            }
        }
        return copy
    }

    // MARK: lookups

    /// The hash a member is filed under in the skiplist representation.
    @inline(__always)
    func memberHash(_ member: UnsafeRawBufferPointer) -> UInt64 { hasher.hash(member) }

    /// Where `member` is, or nil. `hash` is `memberHash(member)`; it is only read for the
    /// skiplist representation.
    @inline(__always)
    func find(_ member: UnsafeRawBufferPointer, hash: UInt64) -> SortedSetPosition? {
        if isPacked {
            let base = slots
            for i in 0..<count {
                let s = base! + i * slotStride
                let len = Int(s.load(fromByteOffset: 8, as: UInt32.self))
                if len == member.count && (len == 0 || memcmp(s + 12, member.baseAddress!, len) == 0) {
                    return SortedSetPosition(raw: i)
                }
            }
            return nil
        }
        var x = buckets![Int(truncatingIfNeeded: hash) & bucketMask]
        while let n = x {
            let node = SkipNode(n)
            if node.hash == hash && membersEqual(node.member, member) { return SortedSetPosition(raw: Int(bitPattern: n)) }
            x = node.hashNext
        }
        return nil
    }

    /// Where `member` is, or nil, computing its hash when needed.
    func find(_ member: UnsafeRawBufferPointer) -> SortedSetPosition? {
        find(member, hash: isPacked ? 0 : memberHash(member))
    }

    /// `member`'s score (ZSCORE), or nil.
    func score(of member: UnsafeRawBufferPointer) -> Double? {
        guard let p = find(member) else { return nil }
        return score(at: p)
    }

    @inline(__always)
    func score(at p: SortedSetPosition) -> Double {
        if isPacked { return (slots! + p.raw * slotStride).load(as: Double.self) }
        return SkipNode(UnsafeMutableRawPointer(bitPattern: p.raw)!).score
    }

    @inline(__always)
    func member(at p: SortedSetPosition) -> UnsafeRawBufferPointer {
        if isPacked {
            let s = slots! + p.raw * slotStride
            return UnsafeRawBufferPointer(start: s + 12, count: Int(s.load(fromByteOffset: 8, as: UInt32.self)))
        }
        return SkipNode(UnsafeMutableRawPointer(bitPattern: p.raw)!).member
    }

    // MARK: order

    /// The lowest-ranked element, or nil when empty.
    var first: SortedSetPosition? {
        if isPacked { return count > 0 ? SortedSetPosition(raw: 0) : nil }
        return SkipNode(header!).forward(0).map { SortedSetPosition(raw: Int(bitPattern: $0)) }
    }

    /// The highest-ranked element, or nil when empty.
    var last: SortedSetPosition? {
        if isPacked { return count > 0 ? SortedSetPosition(raw: count - 1) : nil }
        return tail.map { SortedSetPosition(raw: Int(bitPattern: $0)) }
    }

    @inline(__always)
    func next(_ p: SortedSetPosition) -> SortedSetPosition? {
        if isPacked { return p.raw + 1 < count ? SortedSetPosition(raw: p.raw + 1) : nil }
        return SkipNode(UnsafeMutableRawPointer(bitPattern: p.raw)!).forward(0).map { SortedSetPosition(raw: Int(bitPattern: $0)) }
    }

    @inline(__always)
    func previous(_ p: SortedSetPosition) -> SortedSetPosition? {
        if isPacked { return p.raw > 0 ? SortedSetPosition(raw: p.raw - 1) : nil }
        return SkipNode(UnsafeMutableRawPointer(bitPattern: p.raw)!).backward.map { SortedSetPosition(raw: Int(bitPattern: $0)) }
    }

    /// One step towards the high end, or towards the low end when `reverse`.
    @inline(__always)
    func step(_ p: SortedSetPosition, reverse: Bool) -> SortedSetPosition? {
        reverse ? previous(p) : next(p)
    }

    /// The element of 0-based rank `rank` (0 <= rank < count): zslGetElementByRank.
    func position(atRank rank: Int) -> SortedSetPosition {
        if isPacked { return SortedSetPosition(raw: rank) }
        let target = rank + 1
        var x = SkipNode(header!)
        var traversed = 0
        var i = level - 1
        while i >= 0 {
            while let f = x.forward(i), traversed + x.span(i) <= target {
                traversed += x.span(i)
                x = SkipNode(f)
            }
            if traversed == target { return SortedSetPosition(raw: Int(bitPattern: x.p)) }
            i -= 1
        }
        fatalError("sorted set rank \(rank) out of range")
    }

    /// The 0-based rank of the element at `p` (zslGetRank for the skiplist).
    func rank(at p: SortedSetPosition) -> Int {
        if isPacked { return p.raw }
        let node = SkipNode(UnsafeMutableRawPointer(bitPattern: p.raw)!)
        let score = node.score, member = node.member
        var x = SkipNode(header!)
        var rank = 0
        var i = level - 1
        while i >= 0 {
            while let f = x.forward(i) {
                let fn = SkipNode(f)
                guard fn.score < score || (fn.score == score && compareMembers(fn.member, member) <= 0) else { break }
                rank += x.span(i)
                x = fn
            }
            if x.p == node.p { return rank - 1 }
            i -= 1
        }
        fatalError("sorted set node not in its skiplist")
    }

    // MARK: ranges

    /// The first element with a score in `range`, or nil (zslFirstInRange / zzlFirstInRange).
    func firstInRange(_ range: ScoreRange) -> SortedSetPosition? {
        if range.isEmpty || count == 0 { return nil }
        if isPacked {
            // Scores are sorted: bisect for the first score at or above min.
            var lo = 0, hi = count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if range.aboveMin(packedScore(mid)) { hi = mid } else { lo = mid + 1 }
            }
            return lo < count && range.belowMax(packedScore(lo)) ? SortedSetPosition(raw: lo) : nil
        }
        if !range.aboveMin(SkipNode(tail!).score) { return nil }
        var x = SkipNode(header!)
        var i = level - 1
        while i >= 0 {
            while let f = x.forward(i), !range.aboveMin(SkipNode(f).score) { x = SkipNode(f) }
            i -= 1
        }
        let n = SkipNode(x.forward(0)!)
        return range.belowMax(n.score) ? SortedSetPosition(raw: Int(bitPattern: n.p)) : nil
    }

    /// The last element with a score in `range`, or nil.
    func lastInRange(_ range: ScoreRange) -> SortedSetPosition? {
        if range.isEmpty || count == 0 { return nil }
        if isPacked {
            var lo = 0, hi = count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if range.belowMax(packedScore(mid)) { lo = mid + 1 } else { hi = mid }
            }
            return lo > 0 && range.aboveMin(packedScore(lo - 1)) ? SortedSetPosition(raw: lo - 1) : nil
        }
        if !range.belowMax(SkipNode(SkipNode(header!).forward(0)!).score) { return nil }
        var x = SkipNode(header!)
        var i = level - 1
        while i >= 0 {
            while let f = x.forward(i), range.belowMax(SkipNode(f).score) { x = SkipNode(f) }
            i -= 1
        }
        return range.aboveMin(x.score) ? SortedSetPosition(raw: Int(bitPattern: x.p)) : nil
    }

    /// The first element in the lexicographic `range`, or nil. The packed form is scanned
    /// from the start, as Redis scans a listpack, so that sets whose scores differ (where
    /// lex ranges are unspecified) give the same answers as Redis.
    func firstInRange(_ range: LexRange) -> SortedSetPosition? {
        guard !range.isEmpty, let lo = first, let hi = last,
              range.aboveMin(member(at: hi)), range.belowMax(member(at: lo)) else { return nil }
        if isPacked {
            for i in 0..<count {
                let m = member(at: SortedSetPosition(raw: i))
                if range.aboveMin(m) { return range.belowMax(m) ? SortedSetPosition(raw: i) : nil }
            }
            return nil
        }
        var x = SkipNode(header!)
        var i = level - 1
        while i >= 0 {
            while let f = x.forward(i), !range.aboveMin(SkipNode(f).member) { x = SkipNode(f) }
            i -= 1
        }
        let n = SkipNode(x.forward(0)!)
        return range.belowMax(n.member) ? SortedSetPosition(raw: Int(bitPattern: n.p)) : nil
    }

    /// The last element in the lexicographic `range`, or nil (scanning back from the end
    /// in the packed form, as Redis does).
    func lastInRange(_ range: LexRange) -> SortedSetPosition? {
        guard !range.isEmpty, let lo = first, let hi = last,
              range.aboveMin(member(at: hi)), range.belowMax(member(at: lo)) else { return nil }
        if isPacked {
            var i = count - 1
            while i >= 0 {
                let m = member(at: SortedSetPosition(raw: i))
                if range.belowMax(m) { return range.aboveMin(m) ? SortedSetPosition(raw: i) : nil }
                i -= 1
            }
            return nil
        }
        var x = SkipNode(header!)
        var i = level - 1
        while i >= 0 {
            while let f = x.forward(i), range.belowMax(SkipNode(f).member) { x = SkipNode(f) }
            i -= 1
        }
        return range.aboveMin(x.member) ? SortedSetPosition(raw: Int(bitPattern: x.p)) : nil
    }

    // MARK: changes

    /// Adds `member`, which must not be present, with `score`; switches to the skiplist
    /// first when the packed form would outgrow its limits. `hash` is `memberHash(member)`
    /// when the set is a skiplist (ignored otherwise).
    func insert(_ member: UnsafeRawBufferPointer, score: Double, hash: UInt64) {
        if isPacked {
            if count + 1 > sortedSetPackedMaxCount || member.count > sortedSetPackedMaxMemberLength {
                convertToSkiplist(expectedCount: count + 1)
                skiplistInsert(member, score: score, hash: memberHash(member))
                return
            }
            packedInsert(member, score: score)
            return
        }
        skiplistInsert(member, score: score, hash: hash)
    }

    /// Adds a member known to be absent (RDB loading, building results).
    func insertNew(_ member: UnsafeRawBufferPointer, score: Double) {
        insert(member, score: score, hash: isPacked ? 0 : memberHash(member))
    }

    /// Changes the score of the element at `p` (which stays valid only for the skiplist).
    func setScore(at p: SortedSetPosition, _ newScore: Double) {
        if isPacked {
            let newScore = SortedSetValue.packedScore(newScore)
            let i = p.raw
            // Still in order where it is: change in place (zslUpdateScore's shortcut).
            if (i == 0 || packedScore(i - 1) < newScore) && (i == count - 1 || packedScore(i + 1) > newScore) {
                (slots! + i * slotStride).storeBytes(of: newScore, as: Double.self)
                return
            }
            // Move the slot: copy it out, close the gap, reopen one at the new place.
            withUnsafeTemporaryAllocation(byteCount: slotStride, alignment: 8) { tmp in
                let t = tmp.baseAddress!
                memcpy(t, slots! + i * slotStride, slotStride)
                t.storeBytes(of: newScore, as: Double.self)
                packedRemove(at: i)
                let m = UnsafeRawBufferPointer(start: t + 12, count: Int(t.load(fromByteOffset: 8, as: UInt32.self)))
                let j = packedInsertionIndex(newScore, m)
                openSlot(at: j)
                memcpy(slots! + j * slotStride, t, slotStride)
            }
            return
        }
        let node = SkipNode(UnsafeMutableRawPointer(bitPattern: p.raw)!)
        if (node.backward == nil || SkipNode(node.backward!).score < newScore)
            && (node.forward(0) == nil || SkipNode(node.forward(0)!).score > newScore) {
            node.score = newScore
            return
        }
        unlink(node)
        node.score = newScore
        link(node)
    }

    /// Removes the element at `p`.
    func remove(at p: SortedSetPosition) {
        if isPacked {
            packedRemove(at: p.raw)
            return
        }
        let node = SkipNode(UnsafeMutableRawPointer(bitPattern: p.raw)!)
        unlink(node)
        hashRemove(node)
        account(-SortedSetValue.nodeCost(node))
        free(node.p)
        shrinkBucketsIfSparse()
    }

    /// Removes `member` if present; returns whether it was.
    @discardableResult
    func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        guard let p = find(member) else { return false }
        remove(at: p)
        return true
    }

    /// Removes the elements of 0-based ranks start...end (valid, start <= end); returns how many.
    func removeRanks(_ start: Int, _ end: Int) -> Int {
        let n = end - start + 1
        if isPacked {
            packedRemove(from: start, count: n)
            return n
        }
        var x = position(atRank: start)
        for _ in 0..<n {
            let following = next(x)
            remove(at: x)
            guard let f = following else { break }
            x = f
        }
        return n
    }

    /// Removes the elements with a score in `range`; returns how many.
    func removeRange(_ range: ScoreRange) -> Int {
        guard let lo = firstInRange(range) else { return 0 }
        if isPacked {
            var end = lo.raw
            while end < count && range.belowMax(packedScore(end)) { end += 1 }
            packedRemove(from: lo.raw, count: end - lo.raw)
            return end - lo.raw
        }
        var removed = 0
        var x: SortedSetPosition? = lo
        while let p = x, range.belowMax(score(at: p)) {
            x = next(p)
            remove(at: p)
            removed += 1
        }
        return removed
    }

    /// Removes the elements in the lexicographic `range`; returns how many.
    func removeRange(_ range: LexRange) -> Int {
        guard let lo = firstInRange(range) else { return 0 }
        if isPacked {
            var end = lo.raw
            while end < count && range.belowMax(member(at: SortedSetPosition(raw: end))) { end += 1 }
            packedRemove(from: lo.raw, count: end - lo.raw)
            return end - lo.raw
        }
        var removed = 0
        var x: SortedSetPosition? = lo
        while let p = x, range.belowMax(member(at: p)) {
            x = next(p)
            remove(at: p)
            removed += 1
        }
        return removed
    }

    /// Moves a skiplist that fits the packed limits back into the packed form
    /// (zsetConvertToListpackIfNeeded, for stored results of set operations).
    func packIfSmall() {
        guard !isPacked, count <= sortedSetPackedMaxCount else { return }
        var longest = 0
        var x = SkipNode(header!).forward(0)
        while let n = x {
            longest = max(longest, SkipNode(n).memberLength)
            x = SkipNode(n).forward(0)
        }
        guard longest <= sortedSetPackedMaxMemberLength else { return }
        let oldHeader = header!, oldBuckets = buckets!, oldScratch = scratch!
        account(-SortedSetValue.skiplistFixedCost(buckets: bucketMask + 1))
        let n = count
        header = nil
        buckets = nil
        scratch = nil
        tail = nil
        level = 1
        bucketMask = 0
        count = 0
        isPacked = true
        if n > 0 { reserveSlots(n, stride: SortedSetValue.stride(for: longest)) }
        x = SkipNode(oldHeader).forward(0)
        while let p = x {
            let node = SkipNode(p)
            // In order: each lands at the end of the array.
            packedInsert(node.member, score: node.score)
            x = node.forward(0)
            account(-SortedSetValue.nodeCost(node))
            free(p)
        }
        free(oldHeader)
        oldBuckets.deallocate()
        free(oldScratch)
    }

    // MARK: iteration, sampling, scanning

    /// Every element in order, for RDB saving and set operations.
    func forEachElement(_ body: (UnsafeRawBufferPointer, Double) -> Void) {
        var p = first
        while let pos = p {
            body(member(at: pos), score(at: pos))
            p = next(pos)
        }
    }

    /// A uniformly chosen element of a non-empty set.
    func randomPosition<G: RandomNumberGenerator>(using g: inout G) -> SortedSetPosition {
        position(atRank: Int.random(in: 0..<count, using: &g))
    }

    /// One step of ZSCAN over the skiplist's hash table (dictScan's reverse-binary cursor,
    /// so members present for the whole scan are returned at least once even if the table
    /// grows or shrinks between calls). Calls `body` for each member of one bucket and
    /// returns the next cursor (0 when done). The packed form has no cursor: callers list
    /// it whole.
    func scanStep(cursor: UInt64, _ body: (SortedSetPosition) -> Void) -> UInt64 {
        precondition(!isPacked)
        let mask = UInt64(bucketMask)
        var x = buckets![Int(cursor & mask)]
        while let n = x {
            body(SortedSetPosition(raw: Int(bitPattern: n)))
            x = SkipNode(n).hashNext
        }
        let v = cursor | ~mask
        return (v.bitReversed &+ 1).bitReversed
    }

    // MARK: packed representation

    @inline(__always)
    private func packedScore(_ i: Int) -> Double { (slots! + i * slotStride).load(as: Double.self) }

    /// Bytes per slot for members up to `length` bytes: score, length, member, 8-aligned.
    /// The length takes 4 bytes because a raised zset-max-listpack-value admits long members.
    private static func stride(for length: Int) -> Int { max(16, (12 + length + 7) & ~7) }

    /// Room for `capacity` slots of `stride` bytes, keeping the current elements.
    private func reserveSlots(_ capacity: Int, stride: Int) {
        if stride == slotStride {
            guard capacity > slotCapacity else { return }
            account(mallocCost(capacity * stride) - slotsCost)
            guard let p = realloc(slots, capacity * stride) else { fatalError("out of memory") }
            slots = p
            slotCapacity = capacity
            return
        }
        // A longer member: lay the slots out again at the new width.
        let cap = max(capacity, slotCapacity)
        account(mallocCost(cap * stride) - slotsCost)
        guard let p = malloc(cap * stride) else { fatalError("out of memory") }
        for i in 0..<count {
            memcpy(p + i * stride, slots! + i * slotStride, min(stride, slotStride))
        }
        if let slots { free(slots) }
        slots = p
        slotStride = stride
        slotCapacity = cap
    }

    /// The index (member, score) belongs at: the first slot ordered after it.
    private func packedInsertionIndex(_ score: Double, _ member: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let s = packedScore(mid)
            if s < score || (s == score && compareMembers(self.member(at: SortedSetPosition(raw: mid)), member) < 0) {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        return lo
    }

    /// Makes slot `i` free by moving the following ones up (capacity must allow one more).
    private func openSlot(at i: Int) {
        if count == slotCapacity { reserveSlots(max(4, slotCapacity * 2), stride: slotStride) }
        let s = slots! + i * slotStride
        if i < count { memmove(s + slotStride, s, (count - i) * slotStride) }
        count += 1
    }

    /// A listpack keeps scores as text and -0 comes back from it as 0: so here too.
    @inline(__always)
    private static func packedScore(_ d: Double) -> Double { d == 0 ? 0 : d }

    private func packedInsert(_ member: UnsafeRawBufferPointer, score rawScore: Double) {
        let score = SortedSetValue.packedScore(rawScore)
        let need = SortedSetValue.stride(for: member.count)
        if need > slotStride { reserveSlots(max(count + 1, slotCapacity), stride: need) }
        let i = packedInsertionIndex(score, member)
        openSlot(at: i)
        let s = slots! + i * slotStride
        s.storeBytes(of: score, as: Double.self)
        s.storeBytes(of: UInt32(member.count), toByteOffset: 8, as: UInt32.self)
        if member.count > 0 { memcpy(s + 12, member.baseAddress!, member.count) }
    }

    private func packedRemove(at i: Int) { packedRemove(from: i, count: 1) }

    private func packedRemove(from i: Int, count n: Int) {
        let s = slots! + i * slotStride
        let after = count - i - n
        if after > 0 { memmove(s, s + n * slotStride, after * slotStride) }
        count -= n
    }

    // MARK: skiplist representation

    /// SORT turns a packed set into a skiplist for good before reading it (sortCommandGeneric's
    /// zsetConvert), which OBJECT ENCODING shows afterwards.
    func convertToSkiplistForSort() {
        if isPacked { convertToSkiplist(expectedCount: count) }
    }

    /// Moves the packed elements into a new skiplist (zsetConvert).
    private func convertToSkiplist(expectedCount: Int) {
        precondition(isPacked)
        guard let h = malloc(40 + 16 * skiplistMaxLevel),
              let s = malloc(skiplistMaxLevel * 16) else { fatalError("out of memory") }
        h.initializeMemory(as: UInt8.self, repeating: 0, count: 40 + 16 * skiplistMaxLevel)
        h.storeBytes(of: UInt32(skiplistMaxLevel), toByteOffset: 36, as: UInt32.self)
        header = h
        scratch = s
        tail = nil
        level = 1
        var size = 4
        while size < expectedCount { size <<= 1 }
        buckets = .allocate(capacity: size)
        buckets!.initialize(repeating: nil, count: size)
        bucketMask = size - 1
        account(SortedSetValue.skiplistFixedCost(buckets: size) - slotsCost)
        randomState ^= UInt64(UInt(bitPattern: ObjectIdentifier(self).hashValue)) | 1

        let oldSlots = slots, oldCount = count, oldStride = slotStride
        slots = nil
        slotCapacity = 0
        slotStride = 0
        count = 0
        isPacked = false
        if let old = oldSlots {
            for i in 0..<oldCount {
                let sl = old + i * oldStride
                let m = UnsafeRawBufferPointer(start: sl + 12, count: Int(sl.load(fromByteOffset: 8, as: UInt32.self)))
                skiplistInsert(m, score: sl.load(as: Double.self), hash: memberHash(m))
            }
            free(old)
        }
    }

    /// zslRandomLevel: each level kept with probability 1/4, at most 32.
    @inline(__always)
    private func randomLevel() -> Int {
        var lvl = 1
        while true {
            // xorshift64*
            randomState ^= randomState >> 12
            randomState ^= randomState << 25
            randomState ^= randomState >> 27
            let r = (randomState &* 0x2545_F491_4F6C_DD1D) >> 32
            if r & 0xFFFF < 0x3FFF && lvl < skiplistMaxLevel { lvl += 1 } else { return lvl }
        }
    }

    private func skiplistInsert(_ member: UnsafeRawBufferPointer, score: Double, hash: UInt64) {
        let node = SkipNode.allocate(level: randomLevel(), member: member, score: score, hash: hash)
        account(SortedSetValue.nodeCost(node))
        link(node)
        hashInsert(node)
    }

    /// Links `node` into the skiplist at its (score, member) place, with the level count it
    /// was allocated with (zslInsert).
    private func link(_ node: SkipNode) {
        let update = scratch!.assumingMemoryBound(to: UnsafeMutableRawPointer.self)
        let rank = (scratch! + 8 * skiplistMaxLevel).assumingMemoryBound(to: Int.self)
        let score = node.score, member = node.member
        var x = SkipNode(header!)
        var i = level - 1
        while i >= 0 {
            rank[i] = i == level - 1 ? 0 : rank[i + 1]
            while let f = x.forward(i), SkipNode(f).precedes(score, member) {
                rank[i] += x.span(i)
                x = SkipNode(f)
            }
            update[i] = x.p
            i -= 1
        }
        let lvl = node.levelCount
        if lvl > level {
            for j in level..<lvl {
                rank[j] = 0
                update[j] = header!
                SkipNode(header!).setSpan(j, count)
            }
            level = lvl
        }
        for j in 0..<lvl {
            let u = SkipNode(update[j])
            node.setForward(j, u.forward(j))
            u.setForward(j, node.p)
            node.setSpan(j, u.span(j) - (rank[0] - rank[j]))
            u.setSpan(j, rank[0] - rank[j] + 1)
        }
        if lvl < level {
            for j in lvl..<level { SkipNode(update[j]).setSpan(j, SkipNode(update[j]).span(j) + 1) }
        }
        node.backward = update[0] == header! ? nil : update[0]
        if let f = node.forward(0) { SkipNode(f).backward = node.p } else { tail = node.p }
        count += 1
    }

    /// Unlinks `node` from the skiplist, leaving it allocated and in the hash table
    /// (zslDelete's search followed by zslDeleteNode).
    private func unlink(_ node: SkipNode) {
        let update = scratch!.assumingMemoryBound(to: UnsafeMutableRawPointer.self)
        if node.backward == nil {
            // The first node (ZPOPMIN): the header precedes it on every level, no search.
            for j in 0..<level { update[j] = header! }
        } else {
            let score = node.score, member = node.member
            var x = SkipNode(header!)
            var i = level - 1
            while i >= 0 {
                while let f = x.forward(i), f != node.p, SkipNode(f).precedes(score, member) { x = SkipNode(f) }
                update[i] = x.p
                i -= 1
            }
        }
        for j in 0..<level {
            let u = SkipNode(update[j])
            if u.forward(j) == node.p {
                u.setSpan(j, u.span(j) + node.span(j) - 1)
                u.setForward(j, node.forward(j))
            } else {
                u.setSpan(j, u.span(j) - 1)
            }
        }
        if let f = node.forward(0) { SkipNode(f).backward = node.backward } else { tail = node.backward }
        while level > 1 && SkipNode(header!).forward(level - 1) == nil { level -= 1 }
        count -= 1
    }

    private func hashInsert(_ node: SkipNode) {
        let b = Int(truncatingIfNeeded: node.hash) & bucketMask
        node.hashNext = buckets![b]
        buckets![b] = node.p
        if count > bucketMask + 1 { rehash(to: (bucketMask + 1) * 2) }
    }

    private func hashRemove(_ node: SkipNode) {
        var link = buckets! + (Int(truncatingIfNeeded: node.hash) & bucketMask)
        while let n = link.pointee {
            if n == node.p {
                link.pointee = node.hashNext
                return
            }
            link = (n + 16).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
        }
        fatalError("sorted set node missing from its hash table")
    }

    /// Redis shrinks a dict below 10% fill (htNeedsResize); so do we, to the smallest power
    /// of two that holds every member.
    private func shrinkBucketsIfSparse() {
        let size = bucketMask + 1
        if size > 4 && count * 10 < size {
            var target = 4
            while target < count { target <<= 1 }
            rehash(to: target)
        }
    }

    /// Refiles every node into a table of `size` buckets (at once: sets are bounded by
    /// memory, and a cursor scan stays correct across the change of size).
    private func rehash(to size: Int) {
        let nb = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: size)
        account(mallocCost(size * 8) - mallocCost((bucketMask + 1) * 8))
        nb.initialize(repeating: nil, count: size)
        let mask = size - 1
        for b in 0...bucketMask {
            var x = buckets![b]
            while let n = x {
                let node = SkipNode(n)
                x = node.hashNext
                let i = Int(truncatingIfNeeded: node.hash) & mask
                node.hashNext = nb[i]
                nb[i] = n
            }
        }
        buckets!.deallocate()
        buckets = nb
        bucketMask = mask
    }
}
