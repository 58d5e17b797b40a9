import Testing
@testable import Redis

/// The replica's snapshot reader on bytes redis-server 7.0.15 wrote (redis-cli --rdb of a
/// server holding s=hello, n=300 (int), big=("ab" x 40, LZF), t with a TTL, and d2=x in db 2),
/// and on damaged copies of them.
struct ReplicaSnapshotTests {
    static let realRDB: [UInt8] = hexBytes(
        "524544495330303130fa0972656469732d76657206372e302e3135fa0a72656469732d62697473c040fa056374696d65c2af26046bfa08757365642d6d656dc290ec0e00fa0e7265706c2d73747265616d2d6462c000fa077265706c2d69642863653333323362663863653933643538323534363939313736636639363432666337626536343933fa0b7265706c2d6f6666736574c000fa08616f662d62617365c000fe00fb0401fc9cd2d143a201000000017401760001730568656c6c6f00016ec12c010003626967c30a405002616261e04201016162fe02fb0100000264320178ff43eb037f790dd4b9")

    static func hexBytes(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func read(_ bytes: [UInt8]) throws -> [(Int, String, [UInt8], Int64?)] {
        var out: [(Int, String, [UInt8], Int64?)] = []
        try bytes.withUnsafeBytes { b in
            try ReplicaSnapshotReader.read(b) { db, key, value, expire in
                out.append((db, String(decoding: key, as: UTF8.self), value, expire))
            }
        }
        return out
    }

    @Test func crc64KnownVector() {
        let v = Array("123456789".utf8).withUnsafeBytes { ReplicaSnapshotReader.crc64($0) }
        #expect(v == 0xe9c6_d914_c4b8_d9ca)
    }

    @Test func readsEveryStringEncodingAndTheTTL() throws {
        let records = try read(Self.realRDB)
        let byKey = Dictionary(uniqueKeysWithValues: records.map { ($0.1, $0) })
        #expect(records.count == 5)
        #expect(byKey["s"]?.2 == Array("hello".utf8))
        #expect(byKey["n"]?.2 == Array("300".utf8))
        #expect(byKey["big"]?.2 == Array(String(repeating: "ab", count: 40).utf8))
        #expect(byKey["t"]?.3 != nil)
        #expect(byKey["s"]?.3 == nil)
        #expect(byKey["d2"]?.0 == 2)
        #expect(byKey["s"]?.0 == 0)
    }

    @Test func refusesAWrongChecksum() {
        var bad = Self.realRDB
        bad[bad.count - 1] ^= 0xFF
        #expect(throws: ReplicaSnapshotReader.Failure.self) { try read(bad) }
    }

    @Test func refusesEveryTruncation() {
        for n in 0..<Self.realRDB.count {
            #expect(throws: ReplicaSnapshotReader.Failure.self) { try read(Array(Self.realRDB[0..<n])) }
        }
    }

    @Test func refusesAFlippedPayloadByte() {
        var bad = Self.realRDB
        bad[200] ^= 0x01   // inside the records: the checksum no longer matches, or parsing fails
        #expect(throws: ReplicaSnapshotReader.Failure.self) { try read(bad) }
    }

    @Test func acceptsAZeroChecksumAsDisabled() throws {
        var unchecked = Self.realRDB
        for i in (unchecked.count - 8)..<unchecked.count { unchecked[i] = 0 }
        #expect(try read(unchecked).count == 5)
    }

    @Test func lzfRejectsBackReferencesBeforeTheStart() {
        let bogus: [UInt8] = [0xE0, 0x10, 0x05]
        #expect(bogus.withUnsafeBytes { ReplicaSnapshotReader.lzfDecompress($0, expected: 20) } == nil)
    }
}
