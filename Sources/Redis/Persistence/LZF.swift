/// LZF, the compression Redis applies to RDB strings longer than 20 bytes
/// (rdbcompression yes). The decoder accepts anything liblzf produces; the encoder is a
/// straightforward single-hash-table LZF compressor whose output liblzf decodes.
///
/// Format: a control byte below 32 starts a literal run of ctrl+1 bytes; otherwise its top
/// three bits are the back-reference length minus 2 (7 means "add the next byte"), its low
/// five bits the high bits of the offset, and the following byte the low bits; the copy
/// starts offset+1 bytes behind the output position.
enum LZF {
    static let maxLiteral = 32
    static let maxOffset = 1 << 13
    static let maxReference = (1 << 8) + (1 << 3)   // 264: the longest encodable match
    static let hashLog = 14

    /// Compresses `input`. Returns nil when the result would not be shorter than
    /// `limit` bytes (Redis then stores the string uncompressed).
    static func compress(_ input: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
        var c = LZFCompressor()
        var out: [UInt8] = []
        return c.compress(input, limit: limit, into: &out) ? out : nil
    }

    /// Decompresses `input` into exactly `length` bytes; nil when the data is malformed.
    static func decompress(_ input: UnsafeRawBufferPointer, length: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: length)
        let ok = out.withUnsafeMutableBufferPointer { dst -> Bool in
            var ip = 0, op = 0
            let n = input.count
            while ip < n {
                let ctrl = Int(input[ip]); ip += 1
                if ctrl < 32 {
                    let run = ctrl + 1
                    if ip + run > n || op + run > length { return false }
                    for k in 0..<run { dst[op + k] = input[ip + k] }
                    ip += run; op += run
                } else {
                    var len = ctrl >> 5
                    if len == 7 {
                        if ip >= n { return false }
                        len += Int(input[ip]); ip += 1
                    }
                    if ip >= n { return false }
                    let ref = op - ((ctrl & 0x1f) << 8) - Int(input[ip]) - 1
                    ip += 1
                    len += 2
                    if ref < 0 || op + len > length { return false }
                    for k in 0..<len { dst[op + k] = dst[ref + k] }   // may overlap: byte by byte
                    op += len
                }
            }
            return op == length
        }
        return ok ? out : nil
    }
}

/// An LZF compressor whose hash table is reused from string to string: a snapshot of a
/// million values compresses without clearing or allocating a table per value. Stale
/// table entries need no clearing because every candidate match is verified against the
/// current input before use (liblzf does the same).
struct LZFCompressor {
    private var table = [Int32](repeating: -1, count: 1 << LZF.hashLog)

    /// Compresses `input` into `out` (replacing its contents). Returns false when the
    /// result would not be shorter than `limit` bytes.
    mutating func compress(_ input: UnsafeRawBufferPointer, limit: Int, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        let n = input.count
        guard n > 0, limit > 0, let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        return table.withUnsafeMutableBufferPointer { t -> Bool in
            @inline(__always) func hash(_ i: Int) -> Int {
                let v = UInt32(src[i]) << 16 | UInt32(src[i + 1]) << 8 | UInt32(src[i + 2])
                return Int((v &* 2_654_435_761) >> (32 - UInt32(LZF.hashLog)))
            }
            var litPos = 0
            var lit = 0
            out.append(0)   // control byte of the first literal run
            var ip = 0
            while ip + 2 < n {
                let h = hash(ip)
                let ref = Int(t[h])
                t[h] = Int32(truncatingIfNeeded: ip)
                if ref >= 0, ref < ip, ip - ref - 1 < LZF.maxOffset,
                   src[ref] == src[ip], src[ref + 1] == src[ip + 1], src[ref + 2] == src[ip + 2] {
                    let off = ip - ref - 1
                    let maxLen = min(n - ip, LZF.maxReference)
                    var len = 3
                    while len < maxLen && src[ref + len] == src[ip + len] { len += 1 }
                    // Close the pending literal run (or drop its unused control byte).
                    if lit > 0 { out[litPos] = UInt8(lit - 1) } else { out.removeLast() }
                    let code = len - 2
                    if code < 7 {
                        out.append(UInt8(off >> 8) | UInt8(code << 5))
                    } else {
                        out.append(UInt8(off >> 8) | (7 << 5))
                        out.append(UInt8(code - 7))
                    }
                    out.append(UInt8(off & 0xff))
                    // Index the positions inside the match so later data can refer to them.
                    var k = ip + 1
                    ip += len
                    while k < ip && k + 2 < n { t[hash(k)] = Int32(truncatingIfNeeded: k); k += 1 }
                    litPos = out.count
                    lit = 0
                    out.append(0)
                } else {
                    out.append(src[ip])
                    lit += 1
                    ip += 1
                    if lit == LZF.maxLiteral {
                        out[litPos] = UInt8(LZF.maxLiteral - 1)
                        litPos = out.count
                        lit = 0
                        out.append(0)
                    }
                }
                if out.count >= limit { return false }
            }
            while ip < n {
                out.append(src[ip])
                lit += 1
                ip += 1
                if lit == LZF.maxLiteral {
                    out[litPos] = UInt8(LZF.maxLiteral - 1)
                    litPos = out.count
                    lit = 0
                    out.append(0)
                }
            }
            if lit > 0 { out[litPos] = UInt8(lit - 1) } else { out.removeLast() }
            return out.count < limit
        }
    }
}
