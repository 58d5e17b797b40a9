import Testing
@testable import Redis

/// SortedSetValue against a sorted array model, in both representations and across the
/// conversion: ranks, rank lookups, score and lex ranges, range deletions, score changes,
/// copies and full ZSCAN coverage.
struct SortedSetValueTests {
    /// SplitMix64, so a failing sequence can be replayed from its seed.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    typealias Element = (member: [UInt8], score: Double)

    static func ordered(_ a: Element, _ b: Element) -> Bool {
        a.score < b.score || (a.score == b.score && a.member.lexicographicallyPrecedes(b.member))
    }

    func contents(_ z: SortedSetValue) -> [Element] {
        var out: [Element] = []
        z.forEachElement { m, s in out.append((Array(m), s)) }
        return out
    }

    func same(_ a: [Element], _ b: [Element]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.member == $1.member && $0.score == $1.score }
    }

    func randomMember(_ g: inout Seeded, long: Bool) -> [UInt8] {
        let n = long && Int.random(in: 0..<50, using: &g) == 0 ? 70 : Int.random(in: 0..<4, using: &g)
        return (0..<n).map { _ in UInt8.random(in: 97...102, using: &g) }
    }

    @Test(arguments: [1, 2, 3, 4])
    func randomOperationsMatchModel(seed: UInt64) {
        var g = Seeded(state: seed)
        let z = SortedSetValue()
        var model: [Element] = []
        let scores: [Double] = [0, 1, -1, 2.5, 7, 7, .infinity, -.infinity, 1e-300]
        for round in 0..<6000 {
            let op = Int.random(in: 0..<100, using: &g)
            let m = randomMember(&g, long: seed > 2)
            let s = Int.random(in: 0..<3, using: &g) == 0 ? scores.randomElement(using: &g)!
                : Double(Int.random(in: -40...40, using: &g))
            switch op {
            case 0..<45:
                m.withUnsafeBytes { mb in
                    if let p = z.find(mb) {
                        z.setScore(at: p, s)
                        model[model.firstIndex { $0.member == m }!].score = s
                    } else {
                        z.insertNew(mb, score: s)
                        model.append((m, s))
                    }
                }
                model.sort(by: SortedSetValueTests.ordered)
            case 45..<60:
                let removed = m.withUnsafeBytes { z.remove($0) }
                let i = model.firstIndex { $0.member == m }
                #expect(removed == (i != nil))
                if let i { model.remove(at: i) }
            case 60..<64 where !model.isEmpty:
                let a = Int.random(in: 0..<model.count, using: &g)
                let b = Int.random(in: a..<model.count, using: &g)
                #expect(z.removeRanks(a, b) == b - a + 1)
                model.removeSubrange(a...b)
            case 64..<68:
                var r = ScoreRange(min: s, max: s + Double(Int.random(in: 0..<10, using: &g)))
                r.minExclusive = Bool.random(using: &g)
                r.maxExclusive = Bool.random(using: &g)
                let before = model.count
                model.removeAll { r.aboveMin($0.score) && r.belowMax($0.score) }
                #expect(z.removeRange(r) == before - model.count)
            case 68..<85 where !model.isEmpty:
                var r = ScoreRange(min: s, max: s + Double(Int.random(in: -2..<15, using: &g)))
                r.minExclusive = Bool.random(using: &g)
                r.maxExclusive = Bool.random(using: &g)
                let inside = model.indices.filter { r.aboveMin(model[$0].score) && r.belowMax(model[$0].score) }
                let lo = z.firstInRange(r), hi = z.lastInRange(r)
                #expect(lo.map { z.rank(at: $0) } == inside.first)
                #expect(hi.map { z.rank(at: $0) } == inside.last)
            default:
                if !model.isEmpty {
                    let k = Int.random(in: 0..<model.count, using: &g)
                    let p = z.position(atRank: k)
                    #expect(Array(z.member(at: p)) == model[k].member)
                    #expect(z.rank(at: p) == k)
                    let found = model[k].member.withUnsafeBytes { z.find($0) }
                    #expect(found == p)
                }
            }
            #expect(z.count == model.count)
            if round % 500 == 0 || round == 5999 {
                #expect(same(contents(z), model), "round \(round)")
                let copy = z.duplicate() as! SortedSetValue
                #expect(same(contents(copy), model))
                #expect(copy.isPacked == z.isPacked)
            }
        }
    }

    @Test func conversionKeepsOrderAndNegativeZero() {
        let z = SortedSetValue()
        Array("neg".utf8).withUnsafeBytes { z.insertNew($0, score: -0.0) }
        // The packed form reads -0 back as 0, as a listpack does.
        #expect(z.isPacked)
        #expect(Array("neg".utf8).withUnsafeBytes { z.score(of: $0)! }.sign == .plus)
        for i in 0..<128 { Array("m\(i)".utf8).withUnsafeBytes { z.insertNew($0, score: Double(i % 9)) } }
        #expect(!z.isPacked)
        #expect(z.encodingName.description == "skiplist")
        Array("late".utf8).withUnsafeBytes { z.insertNew($0, score: -0.0) }
        #expect(Array("late".utf8).withUnsafeBytes { z.score(of: $0)! }.sign == .minus)
        var previous: Element? = nil
        for e in contents(z) {
            if let p = previous { #expect(SortedSetValueTests.ordered(p, e)) }
            previous = e
        }
        #expect(z.count == 130)
    }

    @Test func packIfSmallReturnsToThePackedForm() {
        let z = SortedSetValue(skiplist: ())
        for i in 0..<100 { Array("e\(i)".utf8).withUnsafeBytes { z.insertNew($0, score: Double(100 - i)) } }
        let before = contents(z)
        z.packIfSmall()
        #expect(z.isPacked)
        #expect(same(contents(z), before))
        let long = SortedSetValue(skiplist: ())
        [UInt8](repeating: 120, count: 65).withUnsafeBytes { long.insertNew($0, score: 1) }
        long.packIfSmall()
        #expect(!long.isPacked)
    }

    @Test func lexRangesOnEqualScores() {
        for size in [20, 300] {
            let z = SortedSetValue()
            var members: [[UInt8]] = []
            for i in 0..<size {
                let m = Array(String(i, radix: 7).utf8)
                members.append(m)
                m.withUnsafeBytes { z.insertNew($0, score: 0) }
            }
            members.sort { $0.lexicographicallyPrecedes($1) }
            let probes: [[UInt8]] = [[], Array("1".utf8), Array("3".utf8), Array("33".utf8), Array("6".utf8), Array("9".utf8)]
            for a in probes {
                for b in probes {
                    for (ea, eb) in [(false, false), (true, false), (false, true), (true, true)] {
                        a.withUnsafeBytes { ab in
                            b.withUnsafeBytes { bb in
                                let r = LexRange(min: .member(ab, exclusive: ea), max: .member(bb, exclusive: eb))
                                let inside = members.indices.filter { i in
                                    members[i].withUnsafeBytes { r.aboveMin($0) && r.belowMax($0) }
                                }
                                #expect(z.firstInRange(r).map { z.rank(at: $0) } == inside.first)
                                #expect(z.lastInRange(r).map { z.rank(at: $0) } == inside.last)
                            }
                        }
                    }
                }
            }
            let all = LexRange(min: .minusInfinity, max: .plusInfinity)
            #expect(z.firstInRange(all).map { z.rank(at: $0) } == 0)
            #expect(z.removeRange(all) == size)
            #expect(z.count == 0)
        }
    }

    @Test func scanVisitsEveryMemberAcrossResizes() {
        let z = SortedSetValue()
        for i in 0..<1000 { Array("k\(i)".utf8).withUnsafeBytes { z.insertNew($0, score: Double(i)) } }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var steps = 0
        repeat {
            cursor = z.scanStep(cursor: cursor) { seen.insert(Array(z.member(at: $0))) }
            steps += 1
            if steps == 50 {
                for i in 0..<5000 { Array("t\(i)".utf8).withUnsafeBytes { z.insertNew($0, score: Double(i)) } }
            }
            if steps == 400 {
                for i in 0..<5000 { _ = Array("t\(i)".utf8).withUnsafeBytes { z.remove($0) } }
            }
        } while cursor != 0
        for i in 0..<1000 { #expect(seen.contains(Array("k\(i)".utf8))) }
    }
}
