import Glibc

/// Decoders for the compact blobs Redis stores as RDB strings: ziplist, listpack, intset
/// and zipmap. Every read is bounds-checked; a malformed blob throws instead of being
/// half-used, since a value that decodes wrongly would be loaded silently otherwise.
enum CompactEncodings {
    private static func corrupt(_ what: String) -> RDBError { RDBError("Corrupt \(what) in RDB value") }

    @inline(__always)
    private static func decimal(_ n: Int64) -> [UInt8] { Array(String(n).utf8) }

    /// The entries of a ziplist (Redis < 7.0 lists, hashes, zsets), integers as decimal text.
    static func ziplistEntries(_ z: [UInt8]) throws -> [[UInt8]] {
        guard z.count >= 11 else { throw corrupt("ziplist") }
        let total = Int(UInt32(z[0]) | UInt32(z[1]) << 8 | UInt32(z[2]) << 16 | UInt32(z[3]) << 24)
        guard total == z.count, z[z.count - 1] == 0xff else { throw corrupt("ziplist") }
        var out: [[UInt8]] = []
        var p = 10
        let end = z.count - 1
        while p < end {
            // Previous entry length: one byte, or 0xfe and four more.
            if z[p] == 0xfe { p += 5 } else { p += 1 }
            guard p < end else { throw corrupt("ziplist") }
            let enc = z[p]
            switch enc >> 6 {
            case 0:
                let len = Int(enc & 0x3f)
                p += 1
                guard p + len <= end else { throw corrupt("ziplist") }
                out.append(Array(z[p..<(p + len)])); p += len
            case 1:
                guard p + 1 < end else { throw corrupt("ziplist") }
                let len = Int(enc & 0x3f) << 8 | Int(z[p + 1])
                p += 2
                guard p + len <= end else { throw corrupt("ziplist") }
                out.append(Array(z[p..<(p + len)])); p += len
            case 2:
                guard p + 4 < end else { throw corrupt("ziplist") }
                let len = Int(z[p + 1]) << 24 | Int(z[p + 2]) << 16 | Int(z[p + 3]) << 8 | Int(z[p + 4])
                p += 5
                guard p + len <= end else { throw corrupt("ziplist") }
                out.append(Array(z[p..<(p + len)])); p += len
            default:
                p += 1
                let size: Int
                switch enc {
                case 0xc0: size = 2
                case 0xd0: size = 4
                case 0xe0: size = 8
                case 0xf0: size = 3
                case 0xfe: size = 1
                case 0xf1...0xfd: size = 0
                default: throw corrupt("ziplist")
                }
                guard p + size <= end else { throw corrupt("ziplist") }
                let v: Int64
                if size == 0 {
                    v = Int64(enc & 0x0f) - 1
                } else {
                    var u: UInt64 = 0
                    for k in 0..<size { u |= UInt64(z[p + k]) << (8 * UInt64(k)) }
                    let shift = UInt64(64 - 8 * size)
                    v = Int64(bitPattern: u << shift) >> Int64(shift)   // sign-extend
                }
                out.append(decimal(v)); p += size
            }
        }
        return out
    }

    /// The entries of a listpack (Redis 7 hashes, zsets, list nodes, 7.2 sets).
    static func listpackEntries(_ l: [UInt8]) throws -> [[UInt8]] {
        guard l.count >= 7 else { throw corrupt("listpack") }
        let total = Int(UInt32(l[0]) | UInt32(l[1]) << 8 | UInt32(l[2]) << 16 | UInt32(l[3]) << 24)
        guard total == l.count, l[l.count - 1] == 0xff else { throw corrupt("listpack") }
        var out: [[UInt8]] = []
        var p = 6
        let end = l.count - 1
        while p < end {
            let b = l[p]
            var entrySize: Int
            if b & 0x80 == 0 {                       // 7-bit unsigned integer
                out.append(decimal(Int64(b & 0x7f))); entrySize = 1
            } else if b & 0xc0 == 0x80 {             // string up to 63 bytes
                let len = Int(b & 0x3f)
                guard p + 1 + len <= end else { throw corrupt("listpack") }
                out.append(Array(l[(p + 1)..<(p + 1 + len)])); entrySize = 1 + len
            } else if b & 0xe0 == 0xc0 {             // 13-bit signed integer
                guard p + 1 < end else { throw corrupt("listpack") }
                var v = Int64(b & 0x1f) << 8 | Int64(l[p + 1])
                if v >= 1 << 12 { v -= 1 << 13 }
                out.append(decimal(v)); entrySize = 2
            } else if b & 0xf0 == 0xe0 {             // string up to 4095 bytes
                guard p + 1 < end else { throw corrupt("listpack") }
                let len = Int(b & 0x0f) << 8 | Int(l[p + 1])
                guard p + 2 + len <= end else { throw corrupt("listpack") }
                out.append(Array(l[(p + 2)..<(p + 2 + len)])); entrySize = 2 + len
            } else if b == 0xf0 {                    // string with a 32-bit length
                guard p + 4 < end else { throw corrupt("listpack") }
                let len = Int(l[p + 1]) | Int(l[p + 2]) << 8 | Int(l[p + 3]) << 16 | Int(l[p + 4]) << 24
                guard p + 5 + len <= end else { throw corrupt("listpack") }
                out.append(Array(l[(p + 5)..<(p + 5 + len)])); entrySize = 5 + len
            } else if b >= 0xf1 && b <= 0xf4 {       // 16, 24, 32, 64-bit integers
                let size = [2, 3, 4, 8][Int(b - 0xf1)]
                guard p + size < end else { throw corrupt("listpack") }
                var u: UInt64 = 0
                for k in 0..<size { u |= UInt64(l[p + 1 + k]) << (8 * UInt64(k)) }
                let shift = UInt64(64 - 8 * size)
                out.append(decimal(Int64(bitPattern: u << shift) >> Int64(shift))); entrySize = 1 + size
            } else {
                throw corrupt("listpack")
            }
            // Skip the back-length, whose size depends on the entry size.
            let back = ListpackEncoder.backlenSize(entrySize)
            p += entrySize + back
            guard p <= end else { throw corrupt("listpack") }
        }
        return out
    }

    /// The members of an intset, as decimal text.
    static func intsetMembers(_ s: [UInt8]) throws -> [[UInt8]] {
        guard s.count >= 8 else { throw corrupt("intset") }
        let width = Int(UInt32(s[0]) | UInt32(s[1]) << 8 | UInt32(s[2]) << 16 | UInt32(s[3]) << 24)
        let count = Int(UInt32(s[4]) | UInt32(s[5]) << 8 | UInt32(s[6]) << 16 | UInt32(s[7]) << 24)
        guard width == 2 || width == 4 || width == 8, s.count == 8 + width * count else { throw corrupt("intset") }
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let p = 8 + i * width
            var u: UInt64 = 0
            for k in 0..<width { u |= UInt64(s[p + k]) << (8 * UInt64(k)) }
            let shift = UInt64(64 - 8 * width)
            out.append(decimal(Int64(bitPattern: u << shift) >> Int64(shift)))
        }
        return out
    }

    /// The field/value pairs of a zipmap (hashes of Redis < 2.6).
    static func zipmapPairs(_ z: [UInt8]) throws -> [([UInt8], [UInt8])] {
        guard z.count >= 2 else { throw corrupt("zipmap") }
        var p = 1
        var out: [([UInt8], [UInt8])] = []
        func length() throws -> Int {
            guard p < z.count else { throw corrupt("zipmap") }
            let b = z[p]
            if b < 254 { p += 1; return Int(b) }
            guard b == 254, p + 4 < z.count else { throw corrupt("zipmap") }
            let n = Int(z[p + 1]) | Int(z[p + 2]) << 8 | Int(z[p + 3]) << 16 | Int(z[p + 4]) << 24
            p += 5
            return n
        }
        while p < z.count && z[p] != 0xff {
            let klen = try length()
            guard p + klen <= z.count else { throw corrupt("zipmap") }
            let field = Array(z[p..<(p + klen)]); p += klen
            let vlen = try length()
            guard p < z.count else { throw corrupt("zipmap") }
            let free = Int(z[p]); p += 1
            guard p + vlen + free <= z.count else { throw corrupt("zipmap") }
            out.append((field, Array(z[p..<(p + vlen)]))); p += vlen + free
        }
        guard p < z.count else { throw corrupt("zipmap") }
        return out
    }

    /// A score stored as text in a ziplist/listpack zset or an old ZSET value: strtod,
    /// which also reads "inf", "-inf" and "nan" as Redis wrote them.
    static func scoreFromText(_ t: [UInt8]) throws -> Double {
        var z = t.map { CChar(bitPattern: $0) }
        z.append(0)
        var end: UnsafeMutablePointer<CChar>?
        let v = z.withUnsafeMutableBufferPointer { b -> Double in
            let d = strtod(b.baseAddress!, &end)
            if end! - b.baseAddress! != t.count { return .nan }
            return d
        }
        if v.isNaN && !(t.count == 3 && t.map({ $0 | 0x20 }) == Array("nan".utf8)) {
            throw corrupt("zset score")
        }
        return v
    }
}

/// Builds a listpack the way Redis's lpAppend does: text that is a canonical integer is
/// stored as an integer of the smallest width, other text with the shortest length prefix,
/// and each entry is followed by its length encoded backwards ("backlen").
struct ListpackEncoder {
    private(set) var body: [UInt8] = []
    private(set) var count = 0

    /// Bytes the back-length of an entry of `size` bytes takes (lpEncodeBacklen).
    static func backlenSize(_ size: Int) -> Int {
        size <= 127 ? 1 : size < 16383 ? 2 : size < 2_097_151 ? 3 : size < 268_435_455 ? 4 : 5
    }

    mutating func append(_ s: [UInt8]) {
        if s.count <= 20, let v = s.withUnsafeBytes({ parseInteger($0) }) {
            append(integer: Int64(v))
            return
        }
        let start = body.count
        let n = s.count
        if n < 64 {
            body.append(0x80 | UInt8(n))
        } else if n < 4096 {
            body.append(0xe0 | UInt8(n >> 8))
            body.append(UInt8(n & 0xff))
        } else {
            body.append(0xf0)
            for k in 0..<4 { body.append(UInt8(truncatingIfNeeded: n >> (8 * k))) }
        }
        body += s
        finishEntry(from: start)
    }

    mutating func append(integer v: Int64) {
        let start = body.count
        if v >= 0 && v <= 127 {
            body.append(UInt8(v))
        } else if v >= -4096 && v <= 4095 {
            let u = UInt16(bitPattern: Int16(v)) & 0x1fff
            body.append(0xc0 | UInt8(u >> 8))
            body.append(UInt8(u & 0xff))
        } else {
            let width = v >= -32768 && v <= 32767 ? 2 : v >= -8_388_608 && v <= 8_388_607 ? 3
                : v >= Int64(Int32.min) && v <= Int64(Int32.max) ? 4 : 8
            body.append([2: 0xf1, 3: 0xf2, 4: 0xf3, 8: 0xf4][width]!)
            for k in 0..<width { body.append(UInt8(truncatingIfNeeded: v >> (8 * Int64(k)))) }
        }
        finishEntry(from: start)
    }

    private mutating func finishEntry(from start: Int) {
        let l = body.count - start
        switch ListpackEncoder.backlenSize(l) {
        case 1: body.append(UInt8(l))
        case 2: body += [UInt8(l >> 7), UInt8(l & 127) | 128]
        case 3: body += [UInt8(l >> 14), UInt8((l >> 7) & 127) | 128, UInt8(l & 127) | 128]
        case 4: body += [UInt8(l >> 21), UInt8((l >> 14) & 127) | 128, UInt8((l >> 7) & 127) | 128, UInt8(l & 127) | 128]
        default:
            body += [UInt8(truncatingIfNeeded: l >> 28), UInt8((l >> 21) & 127) | 128, UInt8((l >> 14) & 127) | 128,
                     UInt8((l >> 7) & 127) | 128, UInt8(l & 127) | 128]
        }
        count += 1
    }

    /// The complete listpack: total size, element count (65535 meaning "count them"), body, end.
    func bytes() -> [UInt8] {
        let total = 6 + body.count + 1
        var out: [UInt8] = []
        out.reserveCapacity(total)
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: total >> (8 * k))) }
        let c = min(count, 65535)
        out.append(UInt8(c & 0xff))
        out.append(UInt8(c >> 8))
        out += body
        out.append(0xff)
        return out
    }
}
