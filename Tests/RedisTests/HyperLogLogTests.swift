import Testing
@testable import Redis

/// The register and run length redis-server 7.0.15 gives each element: PFADD of the one
/// element into an empty key, then PFDEBUG DECODE ("Z:<index> v:<count>,1 Z:...").
@Test(arguments: [("a", 12711, 2), ("hello", 9216, 1), ("", 5938, 2), ("12345678", 10579, 3),
                  ("abcdefghijklmnop", 9328, 1)])
func patternLengthMatchesRedis(element: String, index: Int, count: Int) {
    let got = Array(element.utf8).withUnsafeBytes { HLL.patternLength($0) }
    #expect(got.index == index)
    #expect(Int(got.count) == count)
}

/// The registers a HLL string holds, one byte each.
func registers(of v: UnsafeRawBufferPointer) -> [UInt8]? {
    var r = [UInt8](repeating: 0, count: HLL.registerCount)
    let ok = r.withUnsafeMutableBufferPointer { HLL.merge(into: $0.baseAddress!, v) }
    return ok ? r : nil
}

/// Random register raises through the sparse encoding (splits, VAL merges, promotion by
/// value and by size) keep exactly the registers a plain array keeps, report a change
/// exactly when one happened, and never let a sparse string pass the size limit.
@Test(arguments: [UInt64(1), 2, 3, 4])
func sparseSetKeepsTheRegisters(seed: UInt64) {
    var state = seed
    func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    let ws = HyperLogLogWorkspace()
    ws.loadEmpty()
    var expected = [UInt8](repeating: 0, count: HLL.registerCount)
    for step in 0..<4000 {
        // Clustered indices make adjacent VALs, so merges and splits of runs happen often.
        let index = step % 3 == 0 ? Int(next() % UInt64(HLL.registerCount)) : Int(next() % 64) + 8000
        let count = UInt8(next() % (step > 3500 ? 40 : 20) + 1)
        let changed: Int
        if ws.isDense {
            changed = HLL.denseRaise(ws.bytes + HLL.headerSize, index, count) ? 1 : 0
        } else {
            changed = ws.sparseSet(index, count)
        }
        #expect(changed == (count > expected[index] ? 1 : 0))
        expected[index] = max(expected[index], count)
        if !ws.isDense { #expect(ws.length <= encodingLimits.hllSparseMaxBytes) }
        if step % 97 == 0 || step == 3999 { #expect(registers(of: ws.value) == expected) }
    }
    #expect(registers(of: ws.value) == expected)
    #expect(ws.isDense)   // thousands of registers pass the 3000-byte sparse limit
}

/// A value above 32 does not fit a VAL opcode: the HLL turns dense with it.
@Test func largeValuePromotesToDense() {
    let ws = HyperLogLogWorkspace()
    ws.loadEmpty()
    #expect(ws.sparseSet(100, 7) == 1)
    #expect(ws.sparseSet(5, 33) == 1)
    #expect(ws.isDense)
    #expect(ws.length == HLL.denseSize)
    #expect(HLL.denseGet(ws.bytes + HLL.headerSize, 5) == 33)
    #expect(HLL.denseGet(ws.bytes + HLL.headerSize, 100) == 7)
    #expect(HLL.denseGet(ws.bytes + HLL.headerSize, 6) == 0)
}

/// Dense register access: every register keeps its value and leaves its neighbours alone.
@Test func denseRegistersAreIndependent() {
    var dense = [UInt8](repeating: 0, count: HLL.denseSize - HLL.headerSize)
    dense.withUnsafeMutableBufferPointer { b in
        let r = b.baseAddress!
        for i in 0..<HLL.registerCount { HLL.denseSet(r, i, UInt8((i * 7 + 3) & 63)) }
        for i in stride(from: 0, to: HLL.registerCount, by: 3) { HLL.denseSet(r, i, 63) }
        for i in 0..<HLL.registerCount {
            let want: UInt8 = i % 3 == 0 ? 63 : UInt8((i * 7 + 3) & 63)
            #expect(HLL.denseGet(r, i) == want)
        }
    }
}

/// The estimator's fixed points: an empty HLL counts 0, and the union of nothing too.
@Test func emptyCountsZero() {
    let ws = HyperLogLogWorkspace()
    ws.loadEmpty()
    #expect(HLL.count(ws.value) == 0)
    let zero = [UInt8](repeating: 0, count: HLL.registerCount)
    #expect(zero.withUnsafeBufferPointer { HLL.count(registers: $0.baseAddress!) } == 0)
    #expect(ws.toDense())
    #expect(ws.length == HLL.denseSize)
    #expect(HLL.count(ws.value) == 0)
}
