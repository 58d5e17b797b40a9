import Testing
@testable import Redis

/// The key table against a plain Set model, through growth, shrinking and rehashing
/// interleaved with inserts and removals (removing while rehashing once corrupted counts).
struct KeyTableTests {
    let hasher = KeyHasher()

    func key(_ i: Int) -> [UInt8] { Array("key:\(i)".utf8) }

    func find(_ t: KeyTable, _ k: [UInt8]) -> KeyTable.Link? {
        k.withUnsafeBytes { t.find($0, hash: hasher.hash($0)) }
    }

    func insert(_ t: KeyTable, _ k: [UInt8]) {
        k.withUnsafeBytes { kb in
            let h = hasher.hash(kb)
            t.insert(Entry.allocate(key: kb, hash: h, valueLength: 0, type: .string, encoding: 1, volatile: false), hash: h)
        }
    }

    @Test func randomOperationsMatchModel() {
        let t = KeyTable()
        var model = Set<Int>()
        var g = SystemRandomNumberGenerator()
        for round in 0..<40_000 {
            let i = Int.random(in: 0..<3000, using: &g)
            if Bool.random(using: &g) || model.count < 100 {
                if find(t, key(i)) == nil { insert(t, key(i)); model.insert(i) }
            } else if let link = find(t, key(i)) {
                t.remove(at: link)
                model.remove(i)
            }
            if round % 5000 == 0 { t.shrinkIfSparse() }
            #expect(t.count == model.count)
        }
        for i in 0..<3000 { #expect((find(t, key(i)) != nil) == model.contains(i)) }
        // Empty most of it, shrink, and keep checking while the shrink rehashes.
        for i in model.prefix(model.count - 50) {
            t.remove(at: find(t, key(i))!)
            model.remove(i)
        }
        t.shrinkIfSparse()
        #expect(t.isRehashing)
        for i in 0..<3000 { #expect((find(t, key(i)) != nil) == model.contains(i)) }
        #expect(t.count == model.count)
    }

    @Test func scanVisitsEveryKeyPresentThroughout() {
        let t = KeyTable()
        for i in 0..<1000 { insert(t, key(i)) }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var added = 1000
        repeat {
            cursor = t.scan(cursor: cursor) { seen.insert(Array($0.key)) }
            if added < 5000 {   // forces growth mid-scan; bounded, or the scan never ends
                for _ in 0..<20 { insert(t, key(added)); added += 1 }
            }
        } while cursor != 0
        for i in 0..<1000 { #expect(seen.contains(key(i))) }
    }
}
