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
        guard let n = c.compress(input, limit: limit, into: &out) else { return nil }
        return Array(out[0..<n])
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

    /// Compresses `input` into the start of `out`, which it grows as needed and whose
    /// other bytes are scratch. Returns the compressed length, or nil when the result
    /// would not be shorter than `limit` bytes.
    mutating func compress(_ input: UnsafeRawBufferPointer, limit: Int, into out: inout [UInt8]) -> Int? {
        let n = input.count
        guard n > 0, limit > 0, let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        // Room for `limit` bytes plus what one step may add past it before the check.
        if out.count < limit + 4 { out = [UInt8](repeating: 0, count: limit + 4) }
        let length = table.withUnsafeMutableBufferPointer { t -> Int? in
            out.withUnsafeMutableBufferPointer { o -> Int? in
                let dst = o.baseAddress!
                @inline(__always) func hash(_ i: Int) -> Int {
                    let v = UInt32(src[i]) << 16 | UInt32(src[i + 1]) << 8 | UInt32(src[i + 2])
                    return Int((v &* 2_654_435_761) >> (32 - UInt32(LZF.hashLog)))
                }
                var op = 1          // dst[0] is the control byte of the first literal run
                var litPos = 0
                var lit = 0
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
                        // Close the pending literal run (or reuse its unused control byte).
                        if lit > 0 { dst[litPos] = UInt8(lit - 1) } else { op -= 1 }
                        let code = len - 2
                        if code < 7 {
                            dst[op] = UInt8(off >> 8) | UInt8(code << 5); op += 1
                        } else {
                            dst[op] = UInt8(off >> 8) | (7 << 5)
                            dst[op + 1] = UInt8(code - 7)
                            op += 2
                        }
                        dst[op] = UInt8(off & 0xff); op += 1
                        // Index the positions inside the match so later data can refer to them.
                        var k = ip + 1
                        ip += len
                        while k < ip && k + 2 < n { t[hash(k)] = Int32(truncatingIfNeeded: k); k += 1 }
                        litPos = op
                        lit = 0
                        op += 1
                    } else {
                        dst[op] = src[ip]; op += 1
                        lit += 1
                        ip += 1
                        if lit == LZF.maxLiteral {
                            dst[litPos] = UInt8(LZF.maxLiteral - 1)
                            litPos = op
                            lit = 0
                            op += 1
                        }
                    }
                    if op >= limit { return nil }
                }
                while ip < n {
                    dst[op] = src[ip]; op += 1
                    lit += 1
                    ip += 1
                    if lit == LZF.maxLiteral {
                        dst[litPos] = UInt8(LZF.maxLiteral - 1)
                        litPos = op
                        lit = 0
                        op += 1
                    }
                    if op >= limit { return nil }
                }
                if lit > 0 { dst[litPos] = UInt8(lit - 1) } else { op -= 1 }
                return op < limit ? op : nil
            }
        }
        return length
    }
}
