/// Reads the RDB payload a master sends in a full resynchronization, as far as the keyspace
/// holds it: string keys with their expiry, in any database. Every record is checked before
/// any is used (the caller loads into fresh databases and swaps them in only on success),
/// so a truncated, garbled or wrongly checksummed payload never leaves half a dataset.
///
/// The general RDB codec (Persistence/) supersedes this once it lands; the replica needs
/// only `read(_:_:)`'s shape: one call per key, or an error naming what is wrong.
struct ReplicaSnapshotReader {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    private let p: UnsafeRawBufferPointer
    private var at = 0

    private init(_ p: UnsafeRawBufferPointer) { self.p = p }

    /// Checks `payload` (header, records, EOF, CRC64) and calls `record(db, key, value,
    /// expireAtMs)` for every key. Throws on the first problem; records already reported
    /// must then be discarded by the caller.
    static func read(_ payload: UnsafeRawBufferPointer,
                     _ record: (Int, [UInt8], [UInt8], Int64?) -> Void) throws {
        var r = ReplicaSnapshotReader(payload)
        try r.run(record)
    }

    private mutating func run(_ record: (Int, [UInt8], [UInt8], Int64?) -> Void) throws {
        guard p.count >= 9, Array(p[0..<5]) == Array("REDIS".utf8),
              let version = Int(String(decoding: p[5..<9], as: UTF8.self)) else {
            throw Failure("Wrong signature trying to load DB from file")
        }
        guard version >= 1 && version <= 11 else { throw Failure("Can't handle RDB format version \(version)") }
        at = 9
        var db = 0
        var expireAt: Int64?
        while true {
            let type = try byte()
            switch type {
            case 0xFA:   // AUX field: ignored
                _ = try string()
                _ = try string()
            case 0xFB:   // RESIZEDB hints
                _ = try length()
                _ = try length()
            case 0xFC:   // EXPIRETIME_MS, little-endian
                expireAt = Int64(bitPattern: try fixed(8))
            case 0xFD:   // EXPIRETIME in seconds
                expireAt = Int64(try fixed(4)) * 1000
            case 0xFE:
                db = try length()
            case 0xF8:   // FREQ (LFU)
                _ = try byte()
            case 0xF9:   // IDLE (LRU)
                _ = try length()
            case 0xF7, 0xF6, 0xF5:
                throw Failure("RDB holds modules or functions data (opcode \(type)), which this server does not load")
            case 0xFF:
                if version >= 5 {
                    let end = at
                    let stored = try fixed(8)
                    if stored != 0 {
                        let computed = ReplicaSnapshotReader.crc64(UnsafeRawBufferPointer(rebasing: p[0..<end]))
                        if computed != stored {
                            throw Failure("Wrong RDB checksum expected: (\(hex(stored))) got: (\(hex(computed)))")
                        }
                    }
                }
                if at != p.count { throw Failure("Unexpected \(p.count - at) bytes after the RDB end") }
                return
            case 0:
                let key = try string()
                let value = try string()
                record(db, key, value, expireAt)
                expireAt = nil
            default:
                throw Failure("Unsupported RDB value type \(type): this server loads string keys only")
            }
        }
    }

    private func hex(_ v: UInt64) -> String { String(v, radix: 16) }

    private mutating func byte() throws -> UInt8 {
        guard at < p.count else { throw Failure("Short read or OOM loading DB. Unrecoverable error, aborting now.") }
        at += 1
        return p[at - 1]
    }

    /// `n` bytes as a little-endian unsigned number.
    private mutating func fixed(_ n: Int) throws -> UInt64 {
        guard at + n <= p.count else { throw Failure("Short read or OOM loading DB. Unrecoverable error, aborting now.") }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(p[at + i]) << (8 * UInt64(i)) }
        at += n
        return v
    }

    /// `n` bytes as a big-endian unsigned number (32/64-bit lengths).
    private mutating func bigEndian(_ n: Int) throws -> UInt64 {
        guard at + n <= p.count else { throw Failure("Short read or OOM loading DB. Unrecoverable error, aborting now.") }
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(p[at + i]) }
        at += n
        return v
    }

    /// A length, or an encoding (special) marker: returns (value, isEncoded).
    private mutating func lengthOrEncoding() throws -> (Int, Bool) {
        let first = try byte()
        switch first >> 6 {
        case 0: return (Int(first & 0x3F), false)
        case 1: return (Int(first & 0x3F) << 8 | Int(try byte()), false)
        case 3: return (Int(first & 0x3F), true)
        default:
            if first == 0x80 { return (Int(try bigEndian(4)), false) }
            if first == 0x81 {
                let v = try bigEndian(8)
                guard v <= UInt64(Int.max) else { throw Failure("Bad RDB length") }
                return (Int(v), false)
            }
            throw Failure("Unknown length encoding \(first) in rdbLoadLen()")
        }
    }

    private mutating func length() throws -> Int {
        let (n, encoded) = try lengthOrEncoding()
        if encoded { throw Failure("Unexpected encoded length") }
        return n
    }

    /// A string in any of its encodings: raw, 8/16/32-bit integer, LZF-compressed.
    private mutating func string() throws -> [UInt8] {
        let (n, encoded) = try lengthOrEncoding()
        if !encoded {
            guard at + n <= p.count else { throw Failure("Short read or OOM loading DB. Unrecoverable error, aborting now.") }
            at += n
            return Array(p[(at - n)..<at])
        }
        switch n {
        case 0: return Array(String(Int8(bitPattern: UInt8(try fixed(1)))).utf8)
        case 1: return Array(String(Int16(bitPattern: UInt16(try fixed(2)))).utf8)
        case 2: return Array(String(Int32(bitPattern: UInt32(try fixed(4)))).utf8)
        case 3:
            let compressed = try length()
            let plain = try length()
            guard at + compressed <= p.count else { throw Failure("Short read or OOM loading DB. Unrecoverable error, aborting now.") }
            at += compressed
            guard let out = ReplicaSnapshotReader.lzfDecompress(UnsafeRawBufferPointer(rebasing: p[(at - compressed)..<at]),
                                                                 expected: plain) else {
                throw Failure("Invalid LZF compressed string")
            }
            return out
        default:
            throw Failure("Unknown RDB string encoding type \(n)")
        }
    }

    /// LZF decompression as liblzf's lzf_decompress; nil when the data does not decode to
    /// exactly `expected` bytes.
    static func lzfDecompress(_ input: UnsafeRawBufferPointer, expected: Int) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(expected)
        var i = 0
        while i < input.count {
            let ctrl = Int(input[i])
            i += 1
            if ctrl < 32 {   // a literal run of ctrl + 1 bytes
                let n = ctrl + 1
                guard i + n <= input.count, out.count + n <= expected else { return nil }
                out.append(contentsOf: input[i..<(i + n)])
                i += n
            } else {          // a back reference
                var len = ctrl >> 5
                if len == 7 {
                    guard i < input.count else { return nil }
                    len += Int(input[i])
                    i += 1
                }
                len += 2
                guard i < input.count else { return nil }
                let back = ((ctrl & 0x1F) << 8) + Int(input[i]) + 1
                i += 1
                guard back <= out.count, out.count + len <= expected else { return nil }
                var from = out.count - back
                for _ in 0..<len {   // may overlap what it writes: byte by byte
                    out.append(out[from])
                    from += 1
                }
            }
        }
        return out.count == expected ? out : nil
    }

    /// Redis's CRC-64 (Jones polynomial, reflected, as src/crc64.c).
    static func crc64(_ data: UnsafeRawBufferPointer) -> UInt64 {
        var crc: UInt64 = 0
        for b in data {
            crc = crc64Table[Int((crc ^ UInt64(b)) & 0xFF)] ^ (crc >> 8)
        }
        return crc
    }

    private static let crc64Table: [UInt64] = (0..<256).map { i -> UInt64 in
        var c = UInt64(i)
        for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0x95AC_9329_AC4B_C9B5 : c >> 1 }
        return c
    }
}
