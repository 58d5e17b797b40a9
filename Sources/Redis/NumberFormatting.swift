import Glibc

/// Number <-> text conversions with redis 7.0's exact rules (src/util.c and networking.c),
/// because clients see these bytes: INCRBYFLOAT results, ZSCORE replies, and which inputs
/// are "not a valid float". Everything goes through glibc's printf/strto* family, as in
/// Redis, so rounding and corner cases (hex floats, "inf", denormals) are identical.

/// MAX_LONG_DOUBLE_CHARS: the longest text a long double is parsed from or printed into.
let maxLongDoubleChars = 5 * 1024

/// ld2string. `humanFriendly` is LD_STR_HUMAN ("%.17Lf" without trailing zeros, used by
/// INCRBYFLOAT/HINCRBYFLOAT so results never show an exponent); otherwise LD_STR_AUTO
/// ("%.17Lg"). Returns [] where Redis returns 0 (the text does not fit in 5 KiB, which
/// "%.17Lf" of any finite long double never reaches).
func formatLongDouble(_ v: Float80, humanFriendly: Bool) -> [UInt8] {
    // Spelled out, as Redis does, rather than trusting every libc's "inf" spelling.
    if v.isInfinite { return v > 0 ? Array("inf".utf8) : Array("-inf".utf8) }
    var out = printfBytes(humanFriendly ? "%.17Lf" : "%.17Lg", v, capacity: maxLongDoubleChars)
    guard humanFriendly, !out.isEmpty else { return out }
    if out.contains(UInt8(ascii: ".")) {
        while out.last == UInt8(ascii: "0") { out.removeLast() }
        if out.last == UInt8(ascii: ".") { out.removeLast() }
    }
    // A negative result that rounds to zero prints as "-0"; Redis replies "0".
    if out == [UInt8(ascii: "-"), UInt8(ascii: "0")] { return [UInt8(ascii: "0")] }
    return out
}

/// string2ld: the whole input must be a strtold number. Rejects empty input, input of
/// MAX_LONG_DOUBLE_CHARS bytes or more, a leading space, trailing bytes, NaN, overflow to
/// +-HUGE_VAL and underflow to zero ("inf" itself is accepted: INCRBYFLOAT then reports
/// "increment would produce NaN or Infinity"). strtold must consume every byte, so an
/// embedded NUL rejects the input (redis-server 7.0.15: INCRBYFLOAT on "1\0x" fails).
func parseLongDouble(_ s: UnsafeRawBufferPointer) -> Float80? {
    if s.count == 0 || s.count >= maxLongDoubleChars { return nil }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: s.count + 1) { buf -> Float80? in
        let base = buf.baseAddress!
        UnsafeMutableRawPointer(base).copyMemory(from: s.baseAddress!, byteCount: s.count)
        base[s.count] = 0
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        let value = strtold(base, &end)
        let err = errno
        if isspace(Int32(UInt8(bitPattern: base[0]))) != 0 { return nil }
        if end!.pointee != 0 || end! - base != s.count { return nil }
        if err == ERANGE && (value.isInfinite || value == 0) { return nil }
        if err == EINVAL || value.isNaN { return nil }
        return value
    }
}

/// The text of a double in a RESP2 reply (addReplyDouble in 7.0): "%.17g", with inf and
/// -inf spelled out. -0.0 stays "-0" (Redis prints it that way from a skiplist zset).
func formatDouble(_ v: Double) -> [UInt8] {
    if v.isInfinite { return v > 0 ? Array("inf".utf8) : Array("-inf".utf8) }
    return printfBytes("%.17g", v, capacity: 64)
}

/// string2d, the parser behind getDoubleFromObject (ZADD scores, INCRBYFLOAT on doubles,
/// ZRANGEBYSCORE bounds...): strtod must consume every byte, no leading space, no NaN,
/// no overflow to +-HUGE_VAL, no underflow to zero (denormals are accepted). Redis runs
/// strtod on the NUL-terminated sds, so an embedded NUL makes the lengths differ: rejected.
func parseDouble(_ s: UnsafeRawBufferPointer) -> Double? {
    if s.count == 0 { return nil }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: s.count + 1) { buf -> Double? in
        let base = buf.baseAddress!
        UnsafeMutableRawPointer(base).copyMemory(from: s.baseAddress!, byteCount: s.count)
        base[s.count] = 0
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        let value = strtod(base, &end)
        let err = errno
        if isspace(Int32(UInt8(bitPattern: base[0]))) != 0 { return nil }
        if end! - base != s.count { return nil }
        if err == ERANGE && (value.isInfinite || value == 0) { return nil }
        if value.isNaN { return nil }
        return value
    }
}

/// snprintf of one floating-point argument into bytes. Float80 is a CVarArg on x86-64
/// Linux and is passed as a C long double, so "%Lf" formats it at full precision.
private func printfBytes(_ format: StaticString, _ value: CVarArg, capacity: Int) -> [UInt8] {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buf -> [UInt8] in
        // A StaticString literal is stored NUL-terminated, as vsnprintf needs.
        let fmt = UnsafeRawPointer(format.utf8Start).assumingMemoryBound(to: CChar.self)
        let n = withVaList([value]) { vsnprintf(buf.baseAddress!, capacity, fmt, $0) }
        // Redis treats a truncated result ("l+1 > len") as "no room".
        if n < 0 || Int(n) + 1 > capacity { return [] }
        return Array(UnsafeRawBufferPointer(start: buf.baseAddress!, count: Int(n)))
    }
}
