import Testing
@testable import Redis

/// ListValue against a plain array model, through chunk growth, splits, in-place moves,
/// oversized elements and edits in the middle.
struct ListValueTests {
    func contents(_ l: ListValue) -> [[UInt8]] {
        var out: [[UInt8]] = []
        l.forEach { out.append(Array($0)) }
        return out
    }

    func randomElement(_ g: inout SystemRandomNumberGenerator) -> [UInt8] {
        let r = Int.random(in: 0..<100, using: &g)
        let length = r < 80 ? Int.random(in: 0..<20, using: &g)
            : r < 98 ? Int.random(in: 200..<600, using: &g) : Int.random(in: 8000..<10000, using: &g)
        return (0..<length).map { _ in UInt8.random(in: 97...100, using: &g) }
    }

    @Test func randomOperationsMatchModel() {
        let l = ListValue()
        var model: [[UInt8]] = []
        var g = SystemRandomNumberGenerator()
        for round in 0..<20_000 {
            let op = Int.random(in: 0..<100, using: &g)
            switch op {
            case 0..<30:
                let e = randomElement(&g)
                e.withUnsafeBytes { l.pushBack($0) }
                model.append(e)
            case 30..<60:
                let e = randomElement(&g)
                e.withUnsafeBytes { l.pushFront($0) }
                model.insert(e, at: 0)
            case 60..<70 where !model.isEmpty:
                let got = l.popFront { Array($0) }
                #expect(got == model.removeFirst())
            case 70..<80 where !model.isEmpty:
                let got = l.popBack { Array($0) }
                #expect(got == model.removeLast())
            case 80..<83:
                let n = Int.random(in: 0..<50, using: &g)
                l.removeFront(n)
                model.removeFirst(min(n, model.count))
            case 83..<86:
                let n = Int.random(in: 0..<50, using: &g)
                l.removeBack(n)
                model.removeLast(min(n, model.count))
            case 86..<90 where !model.isEmpty:
                let i = Int.random(in: 0..<model.count, using: &g)
                let e = randomElement(&g)
                e.withUnsafeBytes { l.replace(at: l.position(of: i), with: $0) }
                model[i] = e
            case 90..<94 where !model.isEmpty:
                let i = Int.random(in: 0..<model.count, using: &g)
                let after = Bool.random(using: &g)
                let e = randomElement(&g)
                e.withUnsafeBytes { l.insert($0, at: l.position(of: i), after: after) }
                model.insert(e, at: i + (after ? 1 : 0))
            case 94..<97:
                let target: [UInt8] = [UInt8(Int.random(in: 97...100, using: &g))]
                let limit = Int.random(in: 0..<4, using: &g)
                let fromTail = Bool.random(using: &g)
                let removed = target.withUnsafeBytes { l.removeAll(equalTo: $0, limit: limit, fromTail: fromTail) }
                var expected = 0
                if fromTail {
                    var i = model.count - 1
                    while i >= 0 && (limit == 0 || expected < limit) {
                        if model[i] == target { model.remove(at: i); expected += 1 }
                        i -= 1
                    }
                } else {
                    var i = 0
                    while i < model.count && (limit == 0 || expected < limit) {
                        if model[i] == target { model.remove(at: i); expected += 1 } else { i += 1 }
                    }
                }
                #expect(removed == expected)
            default:
                if !model.isEmpty {
                    let i = Int.random(in: 0..<model.count, using: &g)
                    #expect(Array(l.element(at: l.position(of: i))) == model[i])
                }
            }
            #expect(l.count == model.count)
            if round % 500 == 0 {
                #expect(contents(l) == model)
                #expect(l.chunks.allSatisfy { $0.count > 0 })
            }
        }
        #expect(contents(l) == model)
    }

    @Test func walksBothWaysAcrossChunks() {
        let l = ListValue()
        let model = (0..<5000).map { Array("element-\($0)".utf8) }
        for e in model { l.append(e) }
        #expect(l.chunks.count > 1)
        var p = l.firstPosition
        var forward: [[UInt8]] = [Array(l.element(at: p))]
        while l.advance(&p) { forward.append(Array(l.element(at: p))) }
        #expect(forward == model)
        p = l.lastPosition
        var backward: [[UInt8]] = [Array(l.element(at: p))]
        while l.retreat(&p) { backward.append(Array(l.element(at: p))) }
        #expect(backward == model.reversed())
        var reversed: [[UInt8]] = []
        l.forEach(from: 4000, 1500, reversed: true) { reversed.append(Array($0)) }
        #expect(reversed == Array(model[0...4000].reversed().prefix(1500)))
    }

    @Test func duplicateIsIndependent() {
        let l = ListValue(elements: [[1, 2], [3], Array(repeating: 7, count: 9000)])
        let d = l.duplicate() as! ListValue
        [UInt8(9)].withUnsafeBytes { d.pushFront($0) }
        #expect(contents(l) == [[1, 2], [3], Array(repeating: 7, count: 9000)])
        #expect(contents(d) == [[9], [1, 2], [3], Array(repeating: 7, count: 9000)])
        #expect(l.encodingName.description == "quicklist")
    }

    /// Inserts and replacements in the middle of chunks whose free room is all behind the
    /// data, all in front of it, or split between both sides, growing or splitting them.
    @Test func editsInTheMiddleOfChunksInEveryShape() {
        for shape in 0..<3 {
            let l = ListValue()
            var model: [[UInt8]] = []
            for i in 0..<300 {
                let e = Array("item-\(i)".utf8)
                if shape == 0 || (shape == 2 && i % 2 == 0) {
                    e.withUnsafeBytes { l.pushBack($0) }
                    model.append(e)
                } else {
                    e.withUnsafeBytes { l.pushFront($0) }
                    model.insert(e, at: 0)
                }
            }
            for round in 0..<400 {
                let i = (round * 7919) % model.count
                let e = [UInt8](repeating: UInt8(97 + round % 26), count: round % 3 == 0 ? 300 : round % 40)
                if round % 2 == 0 {
                    e.withUnsafeBytes { l.insert($0, at: l.position(of: i), after: round % 4 == 0) }
                    model.insert(e, at: i + (round % 4 == 0 ? 1 : 0))
                } else {
                    e.withUnsafeBytes { l.replace(at: l.position(of: i), with: $0) }
                    model[i] = e
                }
                #expect(l.count == model.count)
            }
            #expect(contents(l) == model, "shape \(shape)")
            var reversed: [[UInt8]] = []
            l.forEach(from: l.count - 1, l.count, reversed: true) { reversed.append(Array($0)) }
            #expect(reversed == model.reversed(), "shape \(shape)")
        }
    }
}
