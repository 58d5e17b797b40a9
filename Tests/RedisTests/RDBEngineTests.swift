import Logging
import Reactor
import Testing
@testable import Redis

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// An engine with no reactor attached: enough to load and snapshot datasets.
private func makeEngine(databases: Int = 16) -> Engine {
    let config = ServerConfig()
    config.databases = databases
    var logger = Logger(label: "rdb-tests")
    logger.logLevel = .critical
    let engine = Engine(channels: [ReactorChannel(index: 0, ringBytes: 1 << 16, slotCapacity: 4)],
                        doorbell: Doorbell(nonBlocking: true), settings: ReactorSettings(rejectReply: []),
                        config: config, logger: logger)
    engine.now = wallClockMilliseconds()
    return engine
}

/// A file of string keys: (db, key, value, expireAt).
private func file(_ keys: [(Int, String, String, Int64?)]) -> [UInt8] {
    var w = RDBWriter()
    w.aux("redis-ver", "7.0.15")
    var current = -1
    for (d, k, v, t) in keys {
        if d != current { w.selectDB(d, keys: 0, expires: 0); current = d }
        b(k).withUnsafeBytes { w.entry(key: $0, value: .string(b(v)), expireAt: t) }
    }
    return w.finish()
}

/// The string keys of database `index`: key -> (value, expireAt).
private func contents(_ e: Engine, _ index: Int) -> [String: (String, Int64?)] {
    var out: [String: (String, Int64?)] = [:]
    e.databases[index].table.forEach { entry in
        let v = entry.stringBytes { String(decoding: $0, as: UTF8.self) }
        out[String(decoding: entry.key, as: UTF8.self)] = (v, entry.isVolatile ? entry.expireAt : nil)
    }
    return out
}

@Suite struct RDBEngineTests {
    @Test func loadsStringsExpiriesAndDatabases() throws {
        let e = makeEngine()
        let future = e.now + 100_000
        let (loaded, expired, reader) = try e.loadSnapshot(file([
            (0, "a", "1", nil), (0, "b", "hello", future), (0, "gone", "x", 1000), (7, "c", "in seven", nil),
        ]))
        #expect(loaded == 3 && expired == 1)
        #expect(reader.auxField("redis-ver") == "7.0.15")
        let d0 = contents(e, 0)
        #expect(d0.count == 2 && d0["a"]?.0 == "1" && d0["b"]?.0 == "hello" && d0["b"]?.1 == future)
        #expect(contents(e, 7)["c"]?.0 == "in seven")
        #expect(e.databases[0].table.volatileCount == 1)
        // Small integers are int-encoded, as SET would store them.
        var encoding: StringEncoding?
        e.databases[0].table.forEach { if $0.keyEquals(b("a").withUnsafeBytes { UnsafeRawBufferPointer($0) }) { encoding = $0.stringEncoding } }
        #expect(encoding == .int)
    }

    /// A replica keeps keys whose expiry passed: its master sends the DEL.
    @Test func replicaLoadKeepsExpiredKeys() throws {
        let e = makeEngine()
        let (loaded, expired, _) = try e.loadSnapshot(file([(0, "gone", "x", 1000)]), keepExpired: true)
        #expect(loaded == 1 && expired == 0)
        #expect(contents(e, 0)["gone"]?.1 == 1000)
    }

    /// A bad file leaves the dataset exactly as it was: never half a file, never an empty one.
    @Test func failedLoadKeepsTheOldDataset() throws {
        let e = makeEngine(databases: 4)
        try e.loadSnapshot(file([(0, "old", "value", nil), (2, "other", "v", nil)]))
        let good = file([(0, "new1", "x", nil), (1, "new2", "y", nil)])
        let bad: [[UInt8]] = [
            Array(good[0..<(good.count - 12)]),                           // truncated
            file([(0, "k", "1", nil), (0, "k", "2", nil)]),               // duplicate key
            file([(0, "k", "1", nil), (9, "beyond", "databases", nil)]),  // database 9 of 4
            { var f = good; f[f.count - 1] ^= 1; return f }(),             // checksum
        ]
        for f in bad {
            #expect(throws: RDBError.self) { try e.loadSnapshot(f) }
            #expect(contents(e, 0).keys.sorted() == ["old"])
            #expect(contents(e, 2).keys.sorted() == ["other"])
            #expect(contents(e, 1).isEmpty)
        }
        try e.loadSnapshot(good)
        #expect(contents(e, 0).keys.sorted() == ["new1"] && contents(e, 1).keys.sorted() == ["new2"])
        #expect(contents(e, 2).isEmpty)
    }

    /// makeSnapshot writes what is in memory, with the aux fields a replica needs when asked.
    @Test func snapshotRoundTrip() throws {
        let e = makeEngine()
        let future = e.now + 50_000
        let keys: [(Int, String, String, Int64?)] = [
            (0, "s", "text", nil), (0, "n", "-42", future), (3, "big", String(repeating: "abc", count: 500), nil),
        ]
        try e.loadSnapshot(file(keys))
        let bytes = e.makeSnapshot(replication: (id: String(repeating: "f", count: 40), offset: 1234, streamDB: 3))
        var reader = RDBReader(bytes)
        var got: [RDBReader.Record] = []
        try reader.read { got.append($0) }
        #expect(reader.auxField("repl-id") == String(repeating: "f", count: 40))
        #expect(reader.auxField("repl-offset") == "1234")
        #expect(reader.auxField("repl-stream-db") == "3")
        #expect(reader.auxField("redis-ver") == redisCompatibleVersion)
        #expect(got.count == 3)
        for (d, k, v, t) in keys {
            let r = got.first { $0.key == b(k) }
            #expect(r?.db == d && r?.value == .string(b(v)) && r?.expireAt == t)
        }
        // Without replication there are no repl-* fields, as in Redis's SAVE.
        var plain = RDBReader(e.makeSnapshot())
        try plain.read { _ in }
        #expect(plain.auxField("repl-id") == nil && plain.auxField("aof-base") == "0")
    }

    private func fileOf(_ key: String, _ value: RDBValue) -> [UInt8] {
        var w = RDBWriter()
        w.selectDB(0, keys: 1, expires: 0)
        b(key).withUnsafeBytes { w.entry(key: $0, value: value, expireAt: nil) }
        return w.finish()
    }

    /// Values no Redis could have written make the file corrupt rather than a broken value.
    @Test func inconsistentValuesAreRefused() {
        let e = makeEngine()
        let entry = RDBStream.Entry(id: RDBStream.ID(ms: 1, seq: 1), fields: [RDBStream.Field(name: b("f"), value: b("v"))])
        var orphan = RDBStream()
        orphan.entries = [entry]
        orphan.length = 1
        orphan.groups = [RDBStream.Group(name: b("g"), lastID: entry.id, entriesRead: 1,
                                         pending: [RDBStream.Pending(id: entry.id, deliveryTime: 5, deliveryCount: 1)],
                                         consumers: [])]
        var wrongLength = RDBStream()
        wrongLength.entries = [entry]
        wrongLength.length = 2
        var unordered = RDBStream()
        unordered.entries = [entry, entry]
        unordered.length = 2
        let bad: [RDBValue] = [
            .zset([(b("a"), 1), (b("a"), 2)]),
            .zset([(b("a"), .nan)]),
            .stream(orphan), .stream(wrongLength), .stream(unordered),
        ]
        for v in bad {
            #expect(throws: RDBError.self) { try e.loadSnapshot(fileOf("k", v)) }
            #expect(e.databases[0].table.count == 0)
        }
    }

    /// Sorted sets and streams come back from a snapshot as they went in.
    @Test func sortedSetsAndStreamsRoundTrip() throws {
        let e = makeEngine()
        var s = RDBStream()
        for i in 0..<150 {
            s.entries.append(RDBStream.Entry(id: RDBStream.ID(ms: UInt64(10 + i), seq: 0),
                                             fields: [RDBStream.Field(name: b("n"), value: b("\(i)"))]))
        }
        s.length = 150
        s.lastID = RDBStream.ID(ms: 159, seq: 0)
        s.firstID = RDBStream.ID(ms: 10, seq: 0)
        s.entriesAdded = 160
        s.maxDeletedID = RDBStream.ID(ms: 3, seq: 0)
        let ids = [RDBStream.ID(ms: 10, seq: 0), RDBStream.ID(ms: 11, seq: 0)]
        s.groups = [RDBStream.Group(name: b("g"), lastID: ids[1], entriesRead: 12,
                                    pending: ids.map { RDBStream.Pending(id: $0, deliveryTime: 77, deliveryCount: 3) },
                                    consumers: [RDBStream.Consumer(name: b("a"), seenTime: 70, activeTime: 70, pending: [ids[0]]),
                                                RDBStream.Consumer(name: b("b"), seenTime: 71, activeTime: 71, pending: [ids[1]])])]
        let zset: [([UInt8], Double)] = (0..<300).map { (b("m\($0)"), Double($0) - 100.5) }
        var w = RDBWriter()
        w.selectDB(0, keys: 2, expires: 0)
        b("s").withUnsafeBytes { w.entry(key: $0, value: .stream(s), expireAt: nil) }
        b("z").withUnsafeBytes { w.entry(key: $0, value: .zset(zset), expireAt: nil) }
        try e.loadSnapshot(w.finish())
        var reader = RDBReader(e.makeSnapshot())
        var got: [String: RDBValue] = [:]
        try reader.read { got[String(decoding: $0.key, as: UTF8.self)] = $0.value }
        #expect(got["s"] == .stream(s))
        #expect(got["z"] == .zset(zset.reversed()))   // written highest score first
    }
}

/// Damaged files (checksum not checked, so the damage reaches the decoders) are either
/// read or refused: never a crash, never a hang. Deterministic seeds.
@Suite struct RDBFuzzTests {
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

    @Test(arguments: [0, 1])
    func mutatedFilesNeverCrash(fixture: Int) {
        let original = decodeBase64(fixture == 0 ? redis7Dump : redis7StreamDump)
        let e = makeEngine()
        e.config.rdbchecksum = false
        var g = SplitMix(state: UInt64(fixture) + 99)
        var refused = 0
        for _ in 0..<1500 {
            var f = original
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                let i = Int.random(in: 9..<(f.count - 8), using: &g)
                f[i] = Bool.random(using: &g) ? UInt8.random(in: 0...255, using: &g) : f[i] ^ (1 << UInt8.random(in: 0...7, using: &g))
            }
            do { try e.loadSnapshot(f) } catch { refused += 1 }
        }
        #expect(refused > 0)
    }
}
