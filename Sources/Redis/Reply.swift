import Glibc
import Reactor

/// RESP2 reply writers. They append to the running command's reply record (`out`), which
/// `Engine` opened for the client before dispatching.
extension Engine {
    @inline(__always)
    func replyRaw(_ s: StaticString) {
        out.pointee.buffer.append(s.utf8Start, count: s.utf8CodeUnitCount)
    }

    @inline(__always)
    func replyRaw(_ bytes: UnsafeRawBufferPointer) {
        out.pointee.buffer.append(bytes)
    }

    func replyRaw(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { out.pointee.buffer.append($0) }
    }

    @inline(__always) func replyOK() { replyRaw("+OK\r\n") }
    /// The null bulk string ("$-1" in RESP2, "_" in RESP3).
    @inline(__always) func replyNull() { if resp3 { replyRaw("_\r\n") } else { replyRaw("$-1\r\n") } }
    /// The null array ("*-1" in RESP2, "_" in RESP3).
    @inline(__always) func replyNullArray() { if resp3 { replyRaw("_\r\n") } else { replyRaw("*-1\r\n") } }

    /// A map of `n` pairs: "%n" in RESP3, a flat array of 2n elements in RESP2.
    func replyMapHeader(_ n: Int) {
        if resp3 { prefixedLength(UInt8(ascii: "%"), n) } else { prefixedLength(UInt8(ascii: "*"), 2 * n) }
    }

    /// Text meant for people (INFO, CLIENT LIST): a verbatim string "=len\r\ntxt:..." in
    /// RESP3, a bulk string in RESP2.
    func replyVerbatim(_ text: String) {
        guard resp3 else { replyBulk(text); return }
        var t = text
        t.withUTF8 { u in
            prefixedLength(UInt8(ascii: "="), u.count + 4)
            out.pointee.buffer.append("txt:" as StaticString)
            out.pointee.buffer.append(UnsafeRawBufferPointer(u))
            out.pointee.buffer.append("\r\n" as StaticString)
        }
    }
    @inline(__always) func replyEmptyArray() { replyRaw("*0\r\n") }

    /// "+<text>\r\n" for a text without CR/LF.
    func replyStatus(_ text: String) {
        var t = text
        t.withUTF8 { u in
            out.pointee.buffer.appendByte(UInt8(ascii: "+"))
            out.pointee.buffer.append(UnsafeRawBufferPointer(u))
            out.pointee.buffer.append("\r\n" as StaticString)
        }
    }

    /// "-<error>\r\n". `message` starts with the error code ("ERR ...", "WRONGTYPE ...").
    /// CR and LF become spaces, as Redis does, so the reply stays one line.
    func replyError(_ message: StaticString) {
        out.pointee.buffer.appendByte(UInt8(ascii: "-"))
        out.pointee.buffer.append(message.utf8Start, count: message.utf8CodeUnitCount)
        out.pointee.buffer.append("\r\n" as StaticString)
        countError(UnsafeRawBufferPointer(start: message.utf8Start, count: message.utf8CodeUnitCount))
    }

    func replyError(_ message: String) { replyError(bytes: Array(message.utf8)) }

    func replyError(bytes message: [UInt8]) {
        var bytes = message
        for i in bytes.indices where bytes[i] == 13 || bytes[i] == 10 { bytes[i] = 32 }
        out.pointee.buffer.appendByte(UInt8(ascii: "-"))
        replyRaw(bytes)
        out.pointee.buffer.append("\r\n" as StaticString)
        bytes.withUnsafeBytes { countError($0) }
    }

    private func countError(_ message: UnsafeRawBufferPointer) {
        stats.errorReplies += 1
        var end = 0
        while end < message.count && message[end] != 32 { end += 1 }
        stats.countError(prefix: String(decoding: UnsafeRawBufferPointer(rebasing: message[0..<end]), as: UTF8.self))
        client?.commandFailed = true
    }

    func replyWrongType() { replyError("WRONGTYPE Operation against a key holding the wrong kind of value") }
    func replySyntaxError() { replyError("ERR syntax error") }
    func replyNotInteger() { replyError("ERR value is not an integer or out of range") }

    /// ":<n>\r\n"
    @inline(__always)
    func replyInteger(_ n: Int) {
        out.pointee.buffer.ensureWritable(24)
        let p = out.pointee.buffer.writePointer
        p.storeBytes(of: UInt8(ascii: ":"), as: UInt8.self)
        let len = formatDecimal(Int64(n), into: p + 1)
        (p + 1 + len).storeBytes(of: 0x0A0D as UInt16, as: UInt16.self)   // "\r\n"
        out.pointee.buffer.commitWritten(len + 3)
    }

    /// "*<n>\r\n"
    @inline(__always)
    func replyArrayHeader(_ n: Int) { prefixedLength(UInt8(ascii: "*"), n) }

    /// "$<len>\r\n<bytes>\r\n"
    @inline(__always)
    func replyBulk(_ bytes: UnsafeRawBufferPointer) {
        out.pointee.buffer.ensureWritable(bytes.count + 24)
        prefixedLength(UInt8(ascii: "$"), bytes.count)
        if bytes.count > 0 { out.pointee.buffer.append(bytes.baseAddress!, count: bytes.count) }
        out.pointee.buffer.append("\r\n" as StaticString)
    }

    func replyBulk(_ bytes: [UInt8]) { bytes.withUnsafeBytes { replyBulk($0) } }

    func replyBulk(_ text: String) {
        var t = text
        t.withUTF8 { replyBulk(UnsafeRawBufferPointer($0)) }
    }

    /// A bulk string holding the decimal form of `n` (GET of an int-encoded value).
    @inline(__always)
    func replyBulk(integer n: Int64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { d in
            let len = formatDecimal(n, into: d.baseAddress!)
            replyBulk(UnsafeRawBufferPointer(rebasing: d[0..<len]))
        }
    }

    /// The string value of `e` as a bulk reply, whatever its encoding.
    @inline(__always)
    func replyBulk(stringEntry e: Entry) {
        if e.stringEncoding == .int { replyBulk(integer: e.intValue) } else { replyBulk(e.value) }
    }

    @inline(__always)
    private func prefixedLength(_ prefix: UInt8, _ n: Int) {
        out.pointee.buffer.ensureWritable(24)
        let p = out.pointee.buffer.writePointer
        p.storeBytes(of: prefix, as: UInt8.self)
        let len = formatDecimal(Int64(n), into: p + 1)
        (p + 1 + len).storeBytes(of: 0x0A0D as UInt16, toByteOffset: 0, as: UInt16.self)
        out.pointee.buffer.commitWritten(len + 3)
    }
}

/// Writes the decimal digits of `n` at `p` (at most 20 bytes) and returns their count.
@inline(__always)
func formatDecimal(_ n: Int64, into p: UnsafeMutableRawPointer) -> Int {
    var v = n.magnitude
    if v < 10 {
        if n < 0 {
            p.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self)
            p.storeBytes(of: UInt8(48 + v), toByteOffset: 1, as: UInt8.self)
            return 2
        }
        p.storeBytes(of: UInt8(48 + v), as: UInt8.self)
        return 1
    }
    var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
    return withUnsafeMutableBytes(of: &tmp) { t in
        var i = 24
        while v > 0 {
            i -= 1
            t[i] = UInt8(48 + v % 10)
            v /= 10
        }
        if n < 0 { i -= 1; t[i] = UInt8(ascii: "-") }
        let len = 24 - i
        p.copyMemory(from: t.baseAddress! + i, byteCount: len)
        return len
    }
}
