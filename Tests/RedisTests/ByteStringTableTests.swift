import Testing
@testable import Redis

/// The table against a model (an array of pairs in insertion order), through thousands of
/// random inserts, updates and removals: enough to cross every resize, compaction and
/// tombstone-heavy rebuild in both modes.
@Suite struct ByteStringTableTests {
    let hasher = KeyHasher()

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func find(_ t: ByteStringTable, _ k: [UInt8]) -> Int? {
        k.withUnsafeBytes { t.find($0, hash: hasher.hash($0)) }
    }

    func contents(_ t: ByteStringTable) -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        t.forEach { k, v in out.append((Array(k), Array(v))) }
        return out
    }

    func run(ordered: Bool, seed: UInt64, keySpace: Int, steps: Int) {
        var t = ByteStringTable(ordered: ordered)
        defer { t.deallocate() }
        var model: [([UInt8], [UInt8])] = []
        var random = FastRandom(seed: seed)
        for step in 0..<steps {
            let k = bytes("k\(random.below(keySpace))")
            let v = bytes(String(repeating: "v", count: random.below(20)) + "\(step)")
            let at = model.firstIndex { $0.0 == k }
            switch random.below(10) {
            case 0..<5:
                if let p = find(t, k) {
                    v.withUnsafeBytes { t.setValue(at: p, $0) }
                    model[at!].1 = v
                } else {
                    #expect(at == nil)
                    k.withUnsafeBytes { kb in v.withUnsafeBytes { _ = t.insert(kb, value: $0, hash: hasher.hash(kb)) } }
                    model.append((k, v))
                }
            case 5..<8:
                let removed = k.withUnsafeBytes { t.remove($0, hash: hasher.hash($0)) }
                #expect(removed == (at != nil))
                if let at { model.remove(at: at) }
            default:
                if t.count > 0 {
                    var r = FastRandom(seed: UInt64(step))
                    let p = t.randomPosition(&r)
                    let key = Array(t.key(at: p))
                    t.remove(at: p)
                    model.removeAll { $0.0 == key }
                }
            }
            #expect(t.count == model.count)
        }
        let got = contents(t)
        if ordered {
            #expect(got.map { $0.0 } == model.map { $0.0 })
            #expect(got.map { $0.1 } == model.map { $0.1 })
        } else {
            #expect(got.sorted { $0.0.lexicographicallyPrecedes($1.0) }.map { $0.0 + [0] + $0.1 }
                == model.sorted { $0.0.lexicographicallyPrecedes($1.0) }.map { $0.0 + [0] + $0.1 })
        }
        for (k, v) in model {
            let p = find(t, k)
            #expect(p != nil)
            if let p { #expect(Array(t.value(at: p)) == v) }
        }
        #expect(find(t, bytes("absent")) == nil)
    }

    @Test func orderedMatchesModel() {
        run(ordered: true, seed: 1, keySpace: 40, steps: 4000)
        run(ordered: true, seed: 2, keySpace: 600, steps: 6000)
    }

    @Test func unorderedMatchesModel() {
        run(ordered: false, seed: 3, keySpace: 40, steps: 4000)
        run(ordered: false, seed: 4, keySpace: 3000, steps: 20000)
    }

    /// Elements keep their positions in an unordered table while others come and go (what
    /// HSCAN/SSCAN cursors rely on), as long as the table is not mostly holes.
    @Test func unorderedPositionsAreStable() {
        var t = ByteStringTable(ordered: false)
        defer { t.deallocate() }
        var positions: [[UInt8]: Int] = [:]
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        for i in 0..<1000 {
            let k = bytes("k\(i)")
            positions[k] = k.withUnsafeBytes { t.insert($0, value: none, hash: hasher.hash($0)) }
        }
        for i in stride(from: 0, to: 1000, by: 3) {
            _ = bytes("k\(i)").withUnsafeBytes { t.remove($0, hash: hasher.hash($0)) }
            positions[bytes("k\(i)")] = nil
        }
        for i in 0..<200 {
            _ = bytes("n\(i)").withUnsafeBytes { t.insert($0, value: none, hash: hasher.hash($0)) }
        }
        for (k, p) in positions { #expect(find(t, k) == p) }
    }

    @Test func emptyKeysAndValues() {
        var t = ByteStringTable(ordered: true)
        defer { t.deallocate() }
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        t.insert(empty, value: empty, hash: hasher.hash(empty))
        #expect(t.find(empty, hash: hasher.hash(empty)) == 0)
        #expect(t.value(at: 0).count == 0)
        bytes("x").withUnsafeBytes { t.setValue(at: 0, $0) }
        #expect(Array(t.value(at: 0)) == bytes("x"))
        t.setValue(at: 0, empty)
        #expect(t.value(at: 0).count == 0)
        let removed = t.remove(empty, hash: hasher.hash(empty))
        #expect(removed)
        #expect(t.count == 0)
    }
}
