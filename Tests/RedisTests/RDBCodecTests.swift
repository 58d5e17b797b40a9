import Testing
@testable import Redis

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A little deterministic generator so failures reproduce.
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// An RDB file around hand-made records: header of `version`, `body`, EOF, CRC64.
private func file(version: String = "0010", _ body: [UInt8]) -> [UInt8] {
    var f = b("REDIS" + version) + body + [RDBOpcode.eof]
    let crc = CRC64.checksum(f)
    for k in 0..<8 { f.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt64(k)))) }
    return f
}

/// An RDB raw string: 6-bit or 14-bit length, then the bytes.
private func rdbString(_ s: [UInt8]) -> [UInt8] {
    s.count < 64 ? [UInt8(s.count)] + s : [UInt8(0x40 | (s.count >> 8)), UInt8(s.count & 0xff)] + s
}

private func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// Ziplist bytes for `entries` (strings up to 63 bytes, or Int64 given as .int).
private enum ZEntry { case str(String), int(Int64) }
private func ziplist(_ entries: [ZEntry]) -> [UInt8] {
    var body: [UInt8] = []
    var prev = 0
    for e in entries {
        var enc: [UInt8]
        switch e {
        case .str(let s): enc = [UInt8(s.utf8.count)] + b(s)
        case .int(let v):
            if v >= 0 && v <= 12 { enc = [0xf1 + UInt8(v + 1) - 1] }       // 4-bit immediate: 0xf1 + v
            else if v >= -128 && v <= 127 { enc = [0xfe, UInt8(truncatingIfNeeded: v)] }
            else if v >= -32768 && v <= 32767 { enc = [0xc0] + (0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
            else if v >= -(1 << 23) && v < 1 << 23 { enc = [0xf0] + (0..<3).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
            else if v >= Int64(Int32.min) && v <= Int64(Int32.max) { enc = [0xd0] + (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
            else { enc = [0xe0] + (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        }
        let entry = [UInt8(prev)] + enc
        prev = entry.count
        body += entry
    }
    let total = 10 + body.count + 1
    return le32(total) + le32(10) + [UInt8(entries.count & 0xff), UInt8(entries.count >> 8)] + body + [0xff]
}

/// Listpack bytes for short strings and small integers.
private func listpack(_ entries: [ZEntry]) -> [UInt8] {
    var body: [UInt8] = []
    for e in entries {
        var enc: [UInt8]
        switch e {
        case .str(let s): enc = [0x80 | UInt8(s.utf8.count)] + b(s)
        case .int(let v):
            if v >= 0 && v < 128 { enc = [UInt8(v)] }
            else if v >= -4096 && v < 4096 { let u = UInt16(bitPattern: Int16(v)) & 0x1fff; enc = [0xc0 | UInt8(u >> 8), UInt8(u & 0xff)] }
            else { enc = [0xf4] + (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        }
        body += enc + [UInt8(enc.count)]
    }
    let total = 6 + body.count + 1
    return le32(total) + [UInt8(entries.count & 0xff), UInt8(entries.count >> 8)] + body + [0xff]
}

private func records(_ bytes: [UInt8]) throws -> [RDBReader.Record] {
    var reader = RDBReader(bytes)
    var out: [RDBReader.Record] = []
    try reader.read { out.append($0) }
    return out
}

@Suite struct CRC64Tests {
    @Test func knownVector() {
        #expect(CRC64.checksum(b("123456789")) == 0xe9c6_d914_c4b8_d9ca)
        #expect(CRC64.checksum([]) == 0)
    }

    /// The sliced loop agrees with the byte-at-a-time definition at every length and split.
    @Test func slicedMatchesBytewise() {
        var g = SplitMix(state: 7)
        let data = (0..<300).map { _ in UInt8.random(in: 0...255, using: &g) }
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 299, 300] {
            var slow: UInt64 = 0
            for byte in data[0..<n] { slow = CRC64.tables[0][Int((slow ^ UInt64(byte)) & 0xff)] ^ (slow >> 8) }
            #expect(CRC64.checksum(Array(data[0..<n])) == slow)
            let split = n / 3
            let chained = data.withUnsafeBytes { all in
                CRC64.update(CRC64.update(0, UnsafeRawBufferPointer(rebasing: all[0..<split])),
                             UnsafeRawBufferPointer(rebasing: all[split..<n]))
            }
            #expect(chained == slow)
        }
    }
}

@Suite struct LZFTests {
    private func roundTrip(_ input: [UInt8]) -> [UInt8]? {
        guard let packed = input.withUnsafeBytes({ LZF.compress($0, limit: input.count + input.count / 16 + 64) }) else { return nil }
        return packed.withUnsafeBytes { LZF.decompress($0, length: input.count) }
    }

    @Test func roundTripsVariedInputs() {
        var g = SplitMix(state: 42)
        var inputs: [[UInt8]] = [
            b("a"), b("abc"), b(String(repeating: "abc", count: 50)),
            [UInt8](repeating: 0, count: 100_000),
            (0..<70_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) },
            b(String(repeating: "the quick brown fox jumps over the lazy dog ", count: 400)),
        ]
        for n in [1, 2, 3, 31, 32, 33, 264, 265, 10_000] {
            inputs.append((0..<n).map { _ in UInt8.random(in: 0...255, using: &g) })
            inputs.append((0..<n).map { _ in UInt8.random(in: 97...99, using: &g) })   // compressible
        }
        for input in inputs {
            let same = roundTrip(input) == input   // a Bool, so a failure does not print megabytes
            #expect(same, "length \(input.count)")
        }
    }

    @Test func compressesRepetitionAndGivesUpOnNoise() {
        let rep = b(String(repeating: "abcdefgh", count: 100))
        let packed = rep.withUnsafeBytes { LZF.compress($0, limit: rep.count - 4) }
        #expect(packed != nil && packed!.count < rep.count / 4)
        var g = SplitMix(state: 1)
        let noise = (0..<200).map { _ in UInt8.random(in: 0...255, using: &g) }
        #expect(noise.withUnsafeBytes { LZF.compress($0, limit: noise.count - 4) } == nil)
    }

    /// Malformed input is refused, not read past.
    @Test func rejectsMalformed() {
        // A back-reference before the start of the output.
        #expect([UInt8]([0x20, 0x05]).withUnsafeBytes { LZF.decompress($0, length: 3) } == nil)
        // A literal run longer than the input.
        #expect([UInt8]([0x05, 0x41]).withUnsafeBytes { LZF.decompress($0, length: 6) } == nil)
        // Output shorter than announced.
        #expect([UInt8]([0x00, 0x41]).withUnsafeBytes { LZF.decompress($0, length: 2) } == nil)
    }
}

@Suite struct RDBRoundTripTests {
    /// Every value kind, expiry, several databases, each string encoding, compression on and off.
    @Test(arguments: [true, false])
    func writerOutputReadsBack(compression: Bool) throws {
        let long = [UInt8](repeating: UInt8(ascii: "q"), count: 5000)
        let values: [([UInt8], RDBValue, Int64?)] = [
            (b("s"), .string(b("hello")), nil),
            (b("i8"), .string(b("-12")), nil),
            (b("i16"), .string(b("3000")), 1_900_000_000_123),
            (b("i32"), .string(b("-2000000000")), nil),
            (b("i64"), .string(b("12345678901234")), nil),
            (b("notint"), .string(b("007")), nil),
            (b("empty"), .string([]), nil),
            (b("long"), .string(long), nil),
            (b("l"), .list([b("a"), b(""), long, b("42")]), nil),
            (b("set"), .set([b("x"), b("1")]), 1_900_000_000_000),
            (b("h"), .hash([(b("f"), b("v")), (b("n"), b("1"))]), nil),
            (b("z"), .zset([(b("lo"), -.infinity), (b("mid"), 0.1), (b("hi"), 1e300)]), nil),
            (long, .string(b("long key")), nil),
        ]
        var w = RDBWriter(compression: compression)
        w.aux("redis-ver", "7.0.15")
        w.aux("ctime", integer: 1_700_000_000)
        w.selectDB(0, keys: values.count, expires: 2)
        for (k, v, t) in values { k.withUnsafeBytes { w.entry(key: $0, value: v, expireAt: t) } }
        w.selectDB(9, keys: 1, expires: 0)
        b("other").withUnsafeBytes { w.entry(key: $0, value: .string(b("db")), expireAt: nil) }
        let bytes = w.finish()
        if compression { #expect(bytes.count < long.count) }   // both 5000-byte strings compressed
        var reader = RDBReader(bytes)
        var got: [RDBReader.Record] = []
        try reader.read { got.append($0) }
        #expect(reader.auxField("ctime") == "1700000000")
        #expect(reader.checksumVerified)
        #expect(got.count == values.count + 1)
        for (i, (k, v, t)) in values.enumerated() {
            #expect(got[i].db == 0 && got[i].key == k && got[i].expireAt == t)
            if case .zset(let pairs) = v {
                #expect(got[i].value == .zset(pairs.reversed()))   // written highest first
            } else {
                #expect(got[i].value == v)
            }
        }
        #expect(got.last?.db == 9 && got.last?.value == .string(b("db")))
    }

    /// Redis's string encodings, byte for byte.
    @Test func stringEncodingsMatchRedis() {
        func encoded(_ s: String) -> [UInt8] {
            var w = RDBWriter()
            let before = w.bytes.count
            b(s).withUnsafeBytes { w.string($0) }
            return Array(w.bytes[before...])
        }
        #expect(encoded("5") == [0xc0, 5])
        #expect(encoded("-129") == [0xc1, 0x7f, 0xff])
        #expect(encoded("70000") == [0xc2, 0x70, 0x11, 0x01, 0x00])
        #expect(encoded("2147483648") == [10] + b("2147483648"))   // beyond int32: raw
        #expect(encoded("+5") == [2] + b("+5"))
        #expect(encoded("abc") == [3] + b("abc"))
        var w = RDBWriter()
        w.length(16383); w.length(16384); w.length(1 << 33)
        #expect(Array(w.bytes[9...]) == [0x7f, 0xff, 0x80, 0, 0, 0x40, 0, 0x81, 0, 0, 0, 2, 0, 0, 0, 0])
    }
}

@Suite struct RDBReaderEncodingTests {
    @Test func ziplistListAndQuicklist() throws {
        let zl = ziplist([.str("a"), .int(7), .int(-100), .int(1000), .int(100_000), .int(-3_000_000_000), .str("end")])
        let expected: [[UInt8]] = ["a", "7", "-100", "1000", "100000", "-3000000000", "end"].map(b)
        let r1 = try records(file(version: "0006", [RDBType.listZiplist] + rdbString(b("k")) + rdbString(zl)))
        #expect(r1.first?.value == .list(expected))
        let r2 = try records(file(version: "0009", [RDBType.listQuicklist] + rdbString(b("k")) + [2]
            + rdbString(zl) + rdbString(ziplist([.str("more")]))))
        #expect(r2.first?.value == .list(expected + [b("more")]))
    }

    @Test func ziplistHashAndZset() throws {
        let h = try records(file(version: "0009", [RDBType.hashZiplist] + rdbString(b("h"))
            + rdbString(ziplist([.str("f"), .str("v"), .str("n"), .int(12)]))))
        #expect(h.first?.value == .hash([(b("f"), b("v")), (b("n"), b("12"))]))
        let z = try records(file(version: "0009", [RDBType.zsetZiplist] + rdbString(b("z"))
            + rdbString(ziplist([.str("a"), .int(-2), .str("b"), .str("1.5"), .str("c"), .str("inf")]))))
        #expect(z.first?.value == .zset([(b("a"), -2), (b("b"), 1.5), (b("c"), .infinity)]))
    }

    @Test func zipmapHash() throws {
        // zmlen, then (len key len free value), end.
        let zm: [UInt8] = [2, 1] + b("a") + [2, 0] + b("xy") + [2] + b("bb") + [1, 1] + b("z") + [0x00] + [0xff]
        let r = try records(file(version: "0003", [RDBType.hashZipmap] + rdbString(b("h")) + rdbString(zm)))
        #expect(r.first?.value == .hash([(b("a"), b("xy")), (b("bb"), b("z"))]))
    }

    @Test func intsetAndSetListpack() throws {
        let intset = le32(2) + le32(3) + [0xfe, 0xff, 0x05, 0x00, 0x10, 0x27]   // int16: -2, 5, 10000
        let r1 = try records(file([RDBType.setIntset] + rdbString(b("s")) + rdbString(intset)))
        #expect(r1.first?.value == .set(["-2", "5", "10000"].map(b)))
        // Redis 7.2 (RDB 11) small sets are listpacks.
        let lp = listpack([.str("m"), .int(3), .int(-4000), .int(1 << 40)])
        let r2 = try records(file(version: "0011", [RDBType.setListpack] + rdbString(b("s")) + rdbString(lp)))
        #expect(r2.first?.value == .set(["m", "3", "-4000", "1099511627776"].map(b)))
    }

    @Test func quicklist2PlainAndPackedNodes() throws {
        let body = [RDBType.listQuicklist2] + rdbString(b("l")) + [3]
            + [UInt8(QuicklistContainer.packed)] + rdbString(listpack([.str("a"), .int(1)]))
            + [UInt8(QuicklistContainer.plain)] + rdbString(b("big element"))
            + [UInt8(QuicklistContainer.packed)] + rdbString(listpack([.str("z")]))
        #expect(try records(file(body)).first?.value == .list(["a", "1", "big element", "z"].map(b)))
    }

    /// Old ZSET values keep scores as text, with 253/254/255 for nan/inf/-inf.
    @Test func zsetWithTextScores() throws {
        let body = [RDBType.zset] + rdbString(b("z")) + [3] + rdbString(b("a")) + [3] + b("1.5")
            + rdbString(b("b")) + [254] + rdbString(b("c")) + [255]
        #expect(try records(file(body)).first?.value == .zset([(b("a"), 1.5), (b("b"), .infinity), (b("c"), -.infinity)]))
    }

    /// Seconds expiry (RDB < 3 style), LRU/LFU opcodes, unknown aux fields are all taken in stride.
    @Test func opcodesAroundKeys() throws {
        let body: [UInt8] = [RDBOpcode.aux] + rdbString(b("future-field")) + rdbString(b("x"))
            + [RDBOpcode.selectDB, 5, RDBOpcode.resizeDB, 2, 1]
            + [RDBOpcode.expireTime] + le32(2_000_000_000) + [RDBType.string] + rdbString(b("a")) + rdbString(b("1"))
            + [RDBOpcode.idle, 10, RDBOpcode.freq, 3, RDBType.string] + rdbString(b("b")) + rdbString(b("2"))
        let r = try records(file(body))
        #expect(r.count == 2)
        #expect(r[0].db == 5 && r[0].expireAt == 2_000_000_000_000)
        #expect(r[1].expireAt == nil && r[1].value == .string(b("2")))
    }

    @Test func emptyRedis72FileLoads() throws {
        let body = [RDBOpcode.aux] + rdbString(b("redis-ver")) + rdbString(b("7.2.4"))
        var reader = RDBReader(file(version: "0011", body))
        var n = 0
        try reader.read { _ in n += 1 }
        #expect(n == 0 && reader.version == 11 && reader.auxField("redis-ver") == "7.2.4")
    }
}

@Suite struct RDBCorruptionTests {
    private func sample() -> [UInt8] {
        var w = RDBWriter()
        w.aux("redis-ver", "7.0.15")
        w.selectDB(0, keys: 3, expires: 1)
        b("k1").withUnsafeBytes { w.entry(key: $0, value: .string(b("value one")), expireAt: 1_900_000_000_000) }
        b("k2").withUnsafeBytes { w.entry(key: $0, value: .list([b("a"), b("b")]), expireAt: nil) }
        b("k3").withUnsafeBytes { w.entry(key: $0, value: .hash([(b("f"), b(String(repeating: "v", count: 100)))]), expireAt: nil) }
        return w.finish()
    }

    @Test func everyTruncationIsRefused() {
        let full = sample()
        for n in 0..<full.count {
            #expect(throws: RDBError.self, "cut at \(n)") { _ = try records(Array(full[0..<n])) }
        }
    }

    @Test func flippedByteFailsTheChecksum() {
        var f = sample()
        f[21] ^= 0x01   // inside the redis-ver aux value: still parses, checksum differs
        #expect(throws: RDBError.self) { _ = try records(f) }
        var reader = RDBReader(f)
        #expect(throws: Never.self) { try reader.read(verifyChecksum: false) { _ in } }
    }

    /// A zero checksum means "written without one" (rdbchecksum no) and is not checked.
    @Test func zeroChecksumIsAccepted() throws {
        var f = sample()
        for i in (f.count - 8)..<f.count { f[i] = 0 }
        #expect(try records(f).count == 3)
        var w = RDBWriter()
        let unchecked = w.finish(checksum: false)
        #expect(Array(unchecked.suffix(8)) == [UInt8](repeating: 0, count: 8))
    }

    /// Function libraries (RDB_OPCODE_FUNCTION2) are collected for the engine to load.
    @Test func functionLibrariesAreCollected() throws {
        var reader = RDBReader(file([RDBOpcode.function2] + rdbString(b("#!lua name=l\nx"))))
        try reader.read { _ in }
        #expect(reader.functionCodes == [b("#!lua name=l\nx")])
    }

    @Test func badHeadersAndUnsupportedContentAreRefused() {
        #expect(throws: RDBError.self) { _ = try records(b("RADIS0010") + [0xff]) }
        #expect(throws: RDBError.self) { _ = try records(file(version: "0012", [])) }
        #expect(throws: RDBError.self) { _ = try records(file(version: "0000", [])) }
        #expect(throws: RDBError.self) { _ = try records(file([RDBOpcode.functionPreGA, 0])) }
        #expect(throws: RDBError.self) { _ = try records(file([RDBOpcode.moduleAux, 0])) }
        #expect(throws: RDBError.self) { _ = try records(file([RDBType.streamListpacks3] + rdbString(b("s")))) }
        #expect(throws: RDBError.self) { _ = try records(file([42] + rdbString(b("k")))) }
        // A ziplist whose length field disagrees with its size.
        var zl = ziplist([.str("a")])
        zl[0] += 1
        #expect(throws: RDBError.self) { _ = try records(file([RDBType.listZiplist] + rdbString(b("k")) + rdbString(zl))) }
    }
}
