/// Reads an RDB file of version 1 to 11 (Redis 2.x to 7.2) into format-level records.
///
/// The whole file is in memory; every read is bounds-checked and a short or malformed
/// file throws an `RDBError`, so a caller that applies records only after `read` returned
/// can never load half a file.
struct RDBReader {
    /// One key as stored: its database, name, value and absolute expiry (ms) if any.
    struct Record {
        var db: Int
        var key: [UInt8]
        var value: RDBValue
        var expireAt: Int64?
        /// RDB_OPCODE_IDLE (seconds) / RDB_OPCODE_FREQ, written by a Redis whose policy is
        /// LRU / LFU; -1 when absent.
        var idleSeconds = -1
        var frequency = -1
    }

    private let data: [UInt8]
    private var pos = 0
    private(set) var version = 0
    /// Aux fields in file order (redis-ver, ctime, repl-id, ...), unknown ones included.
    private(set) var aux: [(String, [UInt8])] = []
    /// RESIZEDB hints: database -> (keys, keys with expiry).
    private(set) var sizeHints: [Int: (Int, Int)] = [:]
    /// Whether the stored checksum was checked (false when it is 0 or `verifyChecksum` is off).
    private(set) var checksumVerified = false

    /// Library codes of the file's functions (RDB_OPCODE_FUNCTION2), in file order.
    private(set) var functionCodes: [[UInt8]] = []

    init(_ bytes: [UInt8]) { data = bytes }

    /// A reader of bare RDB items with no file header (a FUNCTION DUMP body).
    init(_ bytes: [UInt8], raw: Bool) { data = bytes }

    var hasMoreRaw: Bool { pos < data.count }
    mutating func rawByte() throws -> UInt8 { try byte() }
    mutating func rawString() throws -> [UInt8] { try string() }

    /// The aux field `name` as text, if present.
    func auxField(_ name: String) -> String? {
        aux.first { $0.0 == name }.map { String(decoding: $0.1, as: UTF8.self) }
    }

    /// Parses the whole file, calling `body` for each key in file order.
    mutating func read(verifyChecksum: Bool = true, _ body: (Record) throws -> Void) throws {
        guard data.count >= 9, Array(data[0..<5]) == Array("REDIS".utf8) else {
            throw RDBError("Wrong signature trying to load DB from file")
        }
        guard let v = Int(String(decoding: data[5..<9], as: UTF8.self)), v >= 1, v <= rdbVersionReadable else {
            throw RDBError("Can't handle RDB format version \(String(decoding: data[5..<9], as: UTF8.self))")
        }
        version = v
        pos = 9
        var db = 0
        var expireAt: Int64?
        var idleSeconds = -1, frequency = -1
        while true {
            let type = try byte()
            switch type {
            case RDBOpcode.expireTime:
                expireAt = Int64(Int32(bitPattern: try littleEndian32())) * 1000
                continue
            case RDBOpcode.expireTimeMs:
                expireAt = Int64(bitPattern: try littleEndian64())
                continue
            case RDBOpcode.freq:
                frequency = Int(try byte())
                continue
            case RDBOpcode.idle:
                idleSeconds = try length()
                continue
            case RDBOpcode.eof:
                try finish(verifyChecksum: verifyChecksum)
                return
            case RDBOpcode.selectDB:
                db = try length()
                continue
            case RDBOpcode.resizeDB:
                let keys = try length()
                let expires = try length()
                sizeHints[db] = (keys, expires)
                continue
            case RDBOpcode.slotInfo:
                _ = try length(); _ = try length(); _ = try length()
                continue
            case RDBOpcode.aux:
                let k = try string()
                let val = try string()
                aux.append((String(decoding: k, as: UTF8.self), val))
                continue
            case RDBOpcode.moduleAux:
                throw RDBError("The RDB file contains AUX module data this server can't load (no modules)")
            case RDBOpcode.function2:
                functionCodes.append(try string())
                continue
            case RDBOpcode.functionPreGA:
                throw RDBError("Pre-release function format not supported.")
            default:
                break
            }
            let key = try string()
            let value = try self.value(type: type)
            try body(Record(db: db, key: key, value: value, expireAt: expireAt, idleSeconds: idleSeconds,
                            frequency: frequency))
            expireAt = nil
            idleSeconds = -1
            frequency = -1
        }
    }

    /// After EOF: the 8-byte little-endian CRC64 of everything before it (version 5 on).
    private mutating func finish(verifyChecksum: Bool) throws {
        guard version >= 5 else { return }
        let end = pos
        let stored = try littleEndian64()
        if stored == 0 || !verifyChecksum { return }
        let actual = data.withUnsafeBytes { CRC64.update(0, UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        guard actual == stored else {
            throw RDBError("Wrong RDB checksum expected: (\(hex16(stored))) got: (\(hex16(actual))). Aborting now.")
        }
        checksumVerified = true
    }

    private func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    // MARK: values

    private mutating func value(type: UInt8) throws -> RDBValue {
        switch type {
        case RDBType.string:
            return .string(try string())
        case RDBType.list:
            return .list(try strings(count: try length()))
        case RDBType.set:
            return .set(try strings(count: try length()))
        case RDBType.zset, RDBType.zset2:
            let n = try length()
            var pairs: [([UInt8], Double)] = []
            pairs.reserveCapacity(min(n, 1 << 20))
            for _ in 0..<n {
                let m = try string()
                let score = type == RDBType.zset2 ? Double(bitPattern: try littleEndian64()) : try textScore()
                pairs.append((m, score))
            }
            return .zset(pairs)
        case RDBType.hash:
            let n = try length()
            var pairs: [([UInt8], [UInt8])] = []
            pairs.reserveCapacity(min(n, 1 << 20))
            for _ in 0..<n { pairs.append((try string(), try string())) }
            return .hash(pairs)
        case RDBType.hashZipmap:
            return .hash(try CompactEncodings.zipmapPairs(try string()))
        case RDBType.listZiplist:
            return .list(try CompactEncodings.ziplistEntries(try string()))
        case RDBType.setIntset:
            return .set(try CompactEncodings.intsetMembers(try string()))
        case RDBType.setListpack:
            return .set(try CompactEncodings.listpackEntries(try string()))
        case RDBType.zsetZiplist, RDBType.zsetListpack:
            let blob = try string()
            let flat = type == RDBType.zsetZiplist ? try CompactEncodings.ziplistEntries(blob)
                : try CompactEncodings.listpackEntries(blob)
            return .zset(try pairs(flat).map { ($0.0, try CompactEncodings.scoreFromText($0.1)) })
        case RDBType.hashZiplist, RDBType.hashListpack:
            let blob = try string()
            let flat = type == RDBType.hashZiplist ? try CompactEncodings.ziplistEntries(blob)
                : try CompactEncodings.listpackEntries(blob)
            return .hash(try pairs(flat))
        case RDBType.listQuicklist:
            var items: [[UInt8]] = []
            for _ in 0..<(try length()) { items += try CompactEncodings.ziplistEntries(try string()) }
            return .list(items)
        case RDBType.listQuicklist2:
            var items: [[UInt8]] = []
            for _ in 0..<(try length()) {
                let container = try length()
                let blob = try string()
                switch container {
                case QuicklistContainer.plain: items.append(blob)
                case QuicklistContainer.packed: items += try CompactEncodings.listpackEntries(blob)
                default: throw RDBError("Unknown quicklist node container \(container)")
                }
            }
            return .list(items)
        case RDBType.streamListpacks, RDBType.streamListpacks2, RDBType.streamListpacks3:
            return .stream(try stream(type: type))
        case RDBType.modulePreGA, RDBType.module2:
            throw RDBError("The RDB file contains a module value this server can't load (no modules)")
        default:
            throw RDBError("Unknown RDB value type \(type)")
        }
    }

    /// A stream: listpack nodes keyed by master ID, then metadata, then consumer groups
    /// with their pending entries and consumers. Version 2 (Redis 7.0) adds first ID, max
    /// deleted ID, entries added and each group's entries read; version 3 (7.2) adds each
    /// consumer's active time.
    private mutating func stream(type: UInt8) throws -> RDBStream {
        var s = RDBStream()
        for _ in 0..<(try length()) {
            let master = try StreamNodes.id(fromBytes: try string())
            let lp = try string()
            s.entries += try StreamNodes.decode(master: master, listpack: lp)
        }
        s.length = try rawLength()
        s.lastID = try streamID()
        if type >= RDBType.streamListpacks2 {
            s.firstID = try streamID()
            s.maxDeletedID = try streamID()
            s.entriesAdded = try rawLength()
        } else {
            s.firstID = s.entries.first?.id ?? .zero
            s.entriesAdded = s.length
        }
        for _ in 0..<(try length()) {
            let name = try string()
            let last = try streamID()
            let entriesRead = type >= RDBType.streamListpacks2 ? Int64(bitPattern: try rawLength()) : -1
            var pending: [RDBStream.Pending] = []
            for _ in 0..<(try length()) {
                let id = try StreamNodes.id(fromBytes: try bytes(16))
                let time = Int64(bitPattern: try littleEndian64())
                pending.append(RDBStream.Pending(id: id, deliveryTime: time, deliveryCount: try rawLength()))
            }
            let known = Set(pending.map(\.id))
            var consumers: [RDBStream.Consumer] = []
            for _ in 0..<(try length()) {
                let cname = try string()
                let seen = Int64(bitPattern: try littleEndian64())
                let active = type >= RDBType.streamListpacks3 ? Int64(bitPattern: try littleEndian64()) : seen
                var ids: [RDBStream.ID] = []
                for _ in 0..<(try length()) {
                    let id = try StreamNodes.id(fromBytes: try bytes(16))
                    guard known.contains(id) else {
                        throw RDBError("Consumer pending entry not found in the group's global PEL")
                    }
                    ids.append(id)
                }
                consumers.append(RDBStream.Consumer(name: cname, seenTime: seen, activeTime: active, pending: ids))
            }
            s.groups.append(RDBStream.Group(name: name, lastID: last, entriesRead: entriesRead,
                                            pending: pending, consumers: consumers))
        }
        return s
    }

    private mutating func streamID() throws -> RDBStream.ID {
        RDBStream.ID(ms: try rawLength(), seq: try rawLength())
    }

    private func pairs(_ flat: [[UInt8]]) throws -> [([UInt8], [UInt8])] {
        guard flat.count % 2 == 0 else { throw RDBError("Corrupt pair encoding in RDB value") }
        return stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) }
    }

    private mutating func strings(count: Int) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(min(count, 1 << 20))
        for _ in 0..<count { out.append(try string()) }
        return out
    }

    /// A ZSET (type 3) score: a length byte, with 253/254/255 meaning nan/+inf/-inf.
    private mutating func textScore() throws -> Double {
        let n = try byte()
        switch n {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default: return try CompactEncodings.scoreFromText(try bytes(Int(n)))
        }
    }

    // MARK: primitives

    private mutating func byte() throws -> UInt8 {
        guard pos < data.count else { throw shortRead() }
        defer { pos += 1 }
        return data[pos]
    }

    private mutating func bytes(_ n: Int) throws -> [UInt8] {
        guard n >= 0, n <= data.count - pos else { throw shortRead() }
        defer { pos += n }
        return Array(data[pos..<(pos + n)])
    }

    private func shortRead() -> RDBError {
        RDBError("Short read or OOM loading DB. Unrecoverable error, aborting now.")
    }

    private mutating func littleEndian32() throws -> UInt32 {
        let b = try bytes(4)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    private mutating func littleEndian64() throws -> UInt64 {
        let b = try bytes(8)
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(b[k]) << (8 * UInt64(k)) }
        return v
    }

    /// A length prefix, or the special-encoding marker: (value, isEncoded).
    private mutating func lengthOrEncoding() throws -> (Int, Bool) {
        let b = try byte()
        switch b >> 6 {
        case RDBLength.bits6: return (Int(b & 0x3f), false)
        case RDBLength.bits14: return (Int(b & 0x3f) << 8 | Int(try byte()), false)
        case RDBLength.encoded: return (Int(b & 0x3f), true)
        default:
            if b == RDBLength.bits32 {
                let x = try bytes(4)
                return (Int(x[0]) << 24 | Int(x[1]) << 16 | Int(x[2]) << 8 | Int(x[3]), false)
            }
            if b == RDBLength.bits64 {
                let x = try bytes(8)
                var v: UInt64 = 0
                for k in 0..<8 { v = v << 8 | UInt64(x[k]) }
                guard v <= UInt64(Int.max) else { throw RDBError("Unknown length encoding in rdbLoadLen()") }
                return (Int(v), false)
            }
            throw RDBError("Unknown length encoding \(b) in rdbLoadLen()")
        }
    }

    /// A length field holding any 64-bit value (stream IDs and counters; -1 as 2^64-1).
    private mutating func rawLength() throws -> UInt64 {
        let b = try byte()
        switch b >> 6 {
        case RDBLength.bits6: return UInt64(b & 0x3f)
        case RDBLength.bits14: return UInt64(b & 0x3f) << 8 | UInt64(try byte())
        default:
            if b == RDBLength.bits32 {
                let x = try bytes(4)
                return UInt64(x[0]) << 24 | UInt64(x[1]) << 16 | UInt64(x[2]) << 8 | UInt64(x[3])
            }
            if b == RDBLength.bits64 {
                var v: UInt64 = 0
                for byte in try bytes(8) { v = v << 8 | UInt64(byte) }
                return v
            }
            throw RDBError("Unknown length encoding \(b) in rdbLoadLen()")
        }
    }

    private mutating func length() throws -> Int {
        let (n, encoded) = try lengthOrEncoding()
        if encoded { throw RDBError("Unexpected encoded value where a length was expected") }
        return n
    }

    /// A string in any of its encodings: raw, integer (8/16/32 bits), LZF.
    private mutating func string() throws -> [UInt8] {
        let (n, encoded) = try lengthOrEncoding()
        if !encoded { return try bytes(n) }
        switch n {
        case RDBEncoding.int8:
            return Array(String(Int8(bitPattern: try byte())).utf8)
        case RDBEncoding.int16:
            let b = try bytes(2)
            return Array(String(Int16(bitPattern: UInt16(b[0]) | UInt16(b[1]) << 8)).utf8)
        case RDBEncoding.int32:
            return Array(String(Int32(bitPattern: try littleEndian32())).utf8)
        case RDBEncoding.lzf:
            let clen = try length()
            let len = try length()
            // One LZF control pair expands to at most 264 bytes: a larger claim is corrupt,
            // and must not make us allocate it.
            guard len <= clen * 132 + 64 else { throw RDBError("Invalid LZF compressed string") }
            let compressed = try bytes(clen)
            guard let out = compressed.withUnsafeBytes({ LZF.decompress($0, length: len) }) else {
                throw RDBError("Invalid LZF compressed string")
            }
            return out
        default:
            throw RDBError("Unknown RDB string encoding type \(n)")
        }
    }
}
