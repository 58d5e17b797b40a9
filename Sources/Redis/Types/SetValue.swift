import Glibc

/// A set value. Like Redis 7.0 it starts as an intset (sorted 64-bit integers) while every
/// member is the canonical decimal form of an integer and there are at most
/// `set-max-intset-entries` of them, and converts for good to a hash table otherwise.
final class SetValue: KeyspaceObject {
    /// The members of an intset, ascending. Empty once converted.
    @exclusivity(unchecked) var ints: [Int64] = []
    /// The members of a hashtable set; nil while an intset.
    @exclusivity(unchecked) var table: ByteStringTable?
    var random: FastRandom

    /// set-max-intset-entries as configured now (capped at 2^30 as t_set.c does).
    @inline(__always) static var maxIntsetEntries: Int { encodingLimits.effectiveSetMaxIntsetEntries }

    /// An empty set: an intset, or a hashtable when the first member is not an integer
    /// (setTypeCreate).
    init(intset: Bool, capacity: Int = 4) {
        if !intset { table = ByteStringTable(ordered: false, capacity: capacity) }
        random = FastRandom(seed: 0)
        random = FastRandom(for: self)
        addValueMemory(SetValue.objectBytes)
    }

    /// The object and its intset array's header, as counted in `valueMemoryCounter`; intset
    /// members add 8 bytes each (the array's spare capacity is not counted), a table
    /// counts its own blocks.
    @inline(__always) private static var objectBytes: Int { 160 }

    deinit {
        table?.deallocate()
        addValueMemory(-(SetValue.objectBytes + ints.count * 8))
    }

    @inline(__always) var isIntset: Bool { table == nil }
    @inline(__always) var count: Int { table?.count ?? ints.count }

    var encodingName: StaticString { isIntset ? "intset" : "hashtable" }

    func duplicate() -> AnyObject {
        let s = SetValue(intset: true)
        s.ints = ints
        addValueMemory(ints.count * 8)
        s.table = table?.copy()
        return s
    }

    /// Whether Redis would start a set holding `member` as an intset.
    @inline(__always)
    static func startsAsIntset(_ member: UnsafeRawBufferPointer) -> Bool { parseInteger(member) != nil }

    // MARK: Intset

    /// Position of `v` in `ints`, or where it would go (`found` false).
    @inline(__always)
    private func intPosition(_ v: Int64) -> (Int, found: Bool) {
        var lo = 0, hi = ints.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let m = ints[mid]
            if m == v { return (mid, true) }
            if m < v { lo = mid + 1 } else { hi = mid }
        }
        return (lo, false)
    }

    /// Converts an intset to a hashtable holding the same members.
    func convertToHashtable(hasher: KeyHasher) {
        guard isIntset else { return }
        addValueMemory(-(ints.count * 8))
        var t = ByteStringTable(ordered: false, capacity: ints.count + 1)
        for v in ints {
            withDecimal(v) { t.insert($0, value: UnsafeRawBufferPointer(start: nil, count: 0), hash: hasher.hash($0)) }
        }
        ints = []
        table = t
    }

    // MARK: Members

    /// setTypeAdd: adds `member`; returns whether it was new.
    @inline(__always)
    func add(_ member: UnsafeRawBufferPointer, hasher: KeyHasher) -> Bool {
        if isIntset {
            if let n = parseInteger(member) {
                let (i, found) = intPosition(Int64(n))
                if found { return false }
                ints.insert(Int64(n), at: i)
                addValueMemory(8)
                if ints.count > SetValue.maxIntsetEntries { convertToHashtable(hasher: hasher) }
                return true
            }
            convertToHashtable(hasher: hasher)
        }
        let h = hasher.hash(member)
        if table!.find(member, hash: h) != nil { return false }
        table!.insert(member, value: UnsafeRawBufferPointer(start: nil, count: 0), hash: h)
        return true
    }

    /// setTypeRemove: removes `member`; returns whether it was there.
    @inline(__always)
    func remove(_ member: UnsafeRawBufferPointer, hasher: KeyHasher) -> Bool {
        if isIntset {
            guard let n = parseInteger(member) else { return false }
            let (i, found) = intPosition(Int64(n))
            if found {
                ints.remove(at: i)
                addValueMemory(-8)
            }
            return found
        }
        return table!.remove(member, hash: hasher.hash(member))
    }

    /// setTypeIsMember.
    @inline(__always)
    func contains(_ member: UnsafeRawBufferPointer, hasher: KeyHasher) -> Bool {
        if isIntset {
            guard let n = parseInteger(member) else { return false }
            return intPosition(Int64(n)).found
        }
        return table!.find(member, hash: hasher.hash(member)) != nil
    }

    /// A random member, as an index into `ints` or a table position.
    @inline(__always)
    func randomPick() -> Int {
        if isIntset { return random.below(ints.count) }
        return table!.randomPosition(&random)
    }

    /// Calls `body` with the member at `pick` (from `randomPick` or iteration).
    @inline(__always)
    func withMember<R>(at pick: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if isIntset { return withDecimal(ints[pick], body) }
        return body(table!.key(at: pick))
    }

    /// Removes the member at `pick`.
    @inline(__always)
    func remove(at pick: Int) {
        if isIntset {
            ints.remove(at: pick)
            addValueMemory(-8)
        } else {
            table!.remove(at: pick)
        }
    }

    /// Calls `body` with every member: ascending for an intset, in table order otherwise.
    func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        if isIntset {
            for v in ints { withDecimal(v, body) }
        } else {
            table!.forEachPosition { body(table!.key(at: $0)) }
        }
    }

    /// Every member's pick (index or position), for iteration that also removes.
    func allPicks() -> [Int] {
        if isIntset { return Array(0..<ints.count) }
        var picks: [Int] = []
        picks.reserveCapacity(count)
        table!.forEachPosition { picks.append($0) }
        return picks
    }

    /// A set loaded from an RDB file, in the encoding Redis 7.0 gives it under the limits
    /// in force: an intset while every member is an integer and there are few enough.
    static func loaded(_ members: [[UInt8]], hasher: KeyHasher) -> SetValue {
        let intset = members.count <= maxIntsetEntries
        let s = SetValue(intset: intset, capacity: members.count)
        for m in members { m.withUnsafeBytes { _ = s.add($0, hasher: hasher) } }
        return s
    }

    /// The RDB form: the members, ascending for an intset.
    var rdbValue: RDBValue {
        var members: [[UInt8]] = []
        members.reserveCapacity(count)
        forEach { members.append(Array($0)) }
        return .set(members)
    }
}

/// Calls `body` with the decimal text of `v` (an intset member as clients see it).
@inline(__always) @discardableResult
func withDecimal<R>(_ v: Int64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
    return withUnsafeMutableBytes(of: &scratch) { s in
        let n = formatDecimal(v, into: s.baseAddress!)
        return body(UnsafeRawBufferPointer(rebasing: s[0..<n]))
    }
}
