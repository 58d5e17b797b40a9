import Testing
@testable import Redis

/// A dump.rdb written by redis-server 7.0.15 (SAVE) after:
///
///     XADD s 1-1 name alice age 30; XADD s 1-2 name bob age 31; XADD s 2-0 other field
///     XADD s 3-5 name carol age -4000 extra 1234567890123; XADD s 5-0 name 0123 age x
///     XDEL s 1-2; XGROUP CREATE s g1 0; XGROUP CREATE s g2 $
///     XREADGROUP GROUP g1 c1 COUNT 2 STREAMS s >; XREADGROUP GROUP g1 c2 COUNT 1 STREAMS s >
///     XACK s g1 1-1; XGROUP CREATECONSUMER s g2 idle
///     XADD empty 7-7 f v; XDEL empty 7-7; XADD big * f v
let redis7StreamDump = """
    UkVESVMwMDEw+glyZWRpcy12ZXIGNy4wLjE1+gpyZWRpcy1iaXRzwED6BWN0aW1lwlYnBGv6CHVzZWQtbWVtwsi8EAD6CGFvZi1i
    YXNlwAD+APsDABMDYmlnARAAAAGiCDmrIgAAAAAAAAAAHR0AAAAKAAEBAAEBAYFmAgABAgEAAQABgXYCBAH/AYEAAAGiCDmrIgCB
    AAABogg5qyIAAAABABMFZW1wdHkAAAcHAAAHBwEAEwFzARAAAAAAAAAAAQAAAAAAAAABw0CLQJUXlQAAACoABAEBAQIBhG5hbWUF
    g2FnZQQAIA4AACABC4VhbGljZQYeAQUBAyAOBwEBg2JvYgQfIA5ADBPf/wIBAYVvdGhlcgaFZmllbGQGBiAYAgIBBCAtgE0GhWNh
    cm9sBmBUFNBgAoVleHRyYQb0ywT7cR8BAAAJCmAtIEgLhDAxMjMFgXgCBQH/BAUAAQEBAgUCAmcxAwWB//////////8CAAAAAAAA
    AAIAAAAAAAAAACGrOQiiAQAAAQAAAAAAAAADAAAAAAAAAAUiqzkIogEAAAECAmMxIas5CKIBAAABAAAAAAAAAAIAAAAAAAAAAAJj
    MiKrOQiiAQAAAQAAAAAAAAADAAAAAAAAAAUCZzIFAIH//////////wABBGlkbGUiqzkIogEAAAD/DZPu9aPds2o=
    """

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }
private func id(_ ms: UInt64, _ seq: UInt64) -> RDBStream.ID { RDBStream.ID(ms: ms, seq: seq) }
private func fields(_ pairs: [(String, String)]) -> [RDBStream.Field] {
    pairs.map { RDBStream.Field(name: b($0.0), value: b($0.1)) }
}

private func streams(_ bytes: [UInt8]) throws -> [String: RDBStream] {
    var reader = RDBReader(bytes)
    var out: [String: RDBStream] = [:]
    try reader.read { r in
        if case .stream(let s) = r.value { out[String(decoding: r.key, as: UTF8.self)] = s }
    }
    return out
}

@Suite struct RDBStreamTests {
    @Test func entriesAndMetadata() throws {
        let all = try streams(decodeBase64(redis7StreamDump))
        #expect(all.count == 3)
        let s = try #require(all["s"])
        #expect(s.entries == [
            RDBStream.Entry(id: id(1, 1), fields: fields([("name", "alice"), ("age", "30")])),
            RDBStream.Entry(id: id(2, 0), fields: fields([("other", "field")])),
            RDBStream.Entry(id: id(3, 5), fields: fields([("name", "carol"), ("age", "-4000"), ("extra", "1234567890123")])),
            RDBStream.Entry(id: id(5, 0), fields: fields([("name", "0123"), ("age", "x")])),
        ])
        #expect(s.length == 4)
        #expect(s.lastID == id(5, 0))
        #expect(s.firstID == id(1, 1))
        #expect(s.maxDeletedID == id(1, 2))
        #expect(s.entriesAdded == 5)
        let empty = try #require(all["empty"])
        #expect(empty.entries.isEmpty && empty.length == 0 && empty.lastID == id(7, 7) && empty.entriesAdded == 1)
        let big = try #require(all["big"])
        #expect(big.entries.count == 1 && big.entries[0].id.ms > 1_700_000_000_000)
    }

    @Test func consumerGroups() throws {
        let s = try #require(try streams(decodeBase64(redis7StreamDump))["s"])
        #expect(s.groups.map(\.name) == [b("g1"), b("g2")])
        let g1 = s.groups[0]
        #expect(g1.lastID == id(3, 5))
        #expect(g1.entriesRead == -1)   // XINFO GROUPS shows nil: not known after a deletion
        #expect(g1.pending.map(\.id) == [id(2, 0), id(3, 5)])
        #expect(g1.pending.allSatisfy { $0.deliveryCount == 1 && $0.deliveryTime > 1_700_000_000_000 })
        #expect(g1.consumers.map(\.name) == [b("c1"), b("c2")])
        #expect(g1.consumers[0].pending == [id(2, 0)])
        #expect(g1.consumers[1].pending == [id(3, 5)])
        #expect(g1.consumers.allSatisfy { $0.activeTime == $0.seenTime })
        let g2 = s.groups[1]
        #expect(g2.lastID == id(5, 0) && g2.pending.isEmpty)
        #expect(g2.consumers.map(\.name) == [b("idle")] && g2.consumers[0].pending.isEmpty)
    }

    /// Our STREAM_LISTPACKS_2 encoding of what Redis wrote reads back identically.
    @Test func rewriteKeepsStreams() throws {
        let original = try streams(decodeBase64(redis7StreamDump))
        var w = RDBWriter()
        w.selectDB(0, keys: original.count, expires: 0)
        for (k, s) in original.sorted(by: { $0.key < $1.key }) {
            b(k).withUnsafeBytes { w.entry(key: $0, value: .stream(s), expireAt: nil) }
        }
        #expect(try streams(w.finish()) == original)
    }

    /// Nodes split at 100 entries; entries whose fields differ from the master's are
    /// written with their own field names; negative sequence differences survive.
    @Test func manyEntriesAcrossNodes() throws {
        var s = RDBStream()
        for i in 0..<250 {
            let f = i % 7 == 0 ? fields([("odd", "\(i)")]) : fields([("a", "\(i)"), ("b", String(repeating: "x", count: i))])
            s.entries.append(RDBStream.Entry(id: id(UInt64(1000 + i / 3), UInt64(100 - i % 3 * 50)), fields: f))
        }
        s.length = 250
        s.lastID = s.entries.last!.id
        s.firstID = s.entries.first!.id
        s.entriesAdded = 300
        #expect(StreamNodes.encode(s.entries).count == 3)
        var w = RDBWriter()
        b("k").withUnsafeBytes { w.entry(key: $0, value: .stream(s), expireAt: nil) }
        #expect(try streams(w.finish())["k"] == s)
    }

    /// Listpacks we build decode back, across every integer width and string length class.
    @Test func listpackEncoderRoundTrip() throws {
        var lp = ListpackEncoder()
        let items: [[UInt8]] = ["0", "127", "128", "-1", "-4096", "4095", "-4097", "32767", "-32768", "8388607",
                                "-8388608", "2147483647", "-2147483648", "9223372036854775807",
                                "-9223372036854775808", "007", "+1", "", "text"].map(b)
            + [[UInt8](repeating: 65, count: 63), [UInt8](repeating: 66, count: 64),
               [UInt8](repeating: 67, count: 4095), [UInt8](repeating: 68, count: 4096),
               [UInt8](repeating: 69, count: 20000)]
        for i in items { lp.append(i) }
        #expect(try CompactEncodings.listpackEntries(lp.bytes()) == items)
    }
}
