import Glibc
import Reactor
import Synchronization

/// Frames RESP2 requests (multibulk and inline) into the engine's request encoding:
///
///     UInt32 argc, argc x (UInt32 offset, UInt32 length), argument bytes
///
/// with offsets relative to the start of the encoding, so the engine indexes arguments in
/// place. Runs on a reactor thread, one instance per connection.
///
/// Like Redis's processMultibulkBuffer it is incremental: a partly received command keeps
/// the spans of its complete arguments, so a huge command arriving in many reads is scanned
/// once, not once per read. Limits and error wording are redis-server 7.0's.
public final class RESPParser: RequestParser {
    /// Longest inline command or `*`/`$` header line (PROTO_INLINE_MAX_SIZE).
    static let inlineMax = 64 * 1024
    let limits: ProtocolLimits

    // State of a multibulk command in progress, relative to its first byte. Only the owning
    // reactor thread touches a parser, one call at a time: the dynamic exclusivity checks
    // Swift would run on every access of a class's stored property (a thread-local access
    // set, about 10% of a reactor's time in a ZADD profile) cannot find anything here.
    @exclusivity(unchecked) private var expectedArgs = 0          // 0: not inside a multibulk command
    @exclusivity(unchecked) private var scan = 0                  // where the next argument header starts
    @exclusivity(unchecked) private var bulkLength = -1           // length of the argument being received, or -1
    @exclusivity(unchecked) private var spans: [(offset: Int, length: Int)] = []
    @exclusivity(unchecked) private var argumentBytes = 0
    /// Whether the connection may have authenticated, for Redis 7.0's limits on what a
    /// client that has not may send (`unauthenticatedMaxArgs`, `unauthenticatedMaxBulk`).
    /// The parser runs ahead of the engine, so it follows the commands it frames: AUTH or
    /// HELLO with credentials count as success (a wrong password only spares that client
    /// the limits, never refuses a right one), RESET under a password as a log-out.
    @exclusivity(unchecked) private var mayBeAuthenticated: Bool

    /// Redis refuses larger multibulk counts and bulk lengths before authentication, so a
    /// client without the password cannot make the server buffer much.
    static let unauthenticatedMaxArgs = 10
    static let unauthenticatedMaxBulk = 16384

    /// `authenticated`: the connection is exempt from the limits whatever the password
    /// (our link to a master); by default, it is when no password is set now, as Redis
    /// authenticates a client at connect.
    public init(limits: ProtocolLimits, authenticated: Bool? = nil) {
        self.limits = limits
        mayBeAuthenticated = authenticated ?? !limits.passwordRequired.load(ordering: .relaxed)
        spans.reserveCapacity(8)
    }

    public func parse(_ input: UnsafeRawBufferPointer, into sink: inout RequestSink) -> ParseOutcome {
        let n = input.count
        guard n > 0 else { return ParseOutcome(consumed: 0, status: .needMore) }
        let p = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let passwordRequired = limits.passwordRequired.load(ordering: .relaxed)
        var consumed = 0
        while consumed < n {
            if expectedArgs == 0 {
                if p[consumed] == UInt8(ascii: "*") {
                    guard let cr = findCR(p, from: consumed + 1, to: n) else {
                        if n - consumed > RESPParser.inlineMax { return error(consumed, "too big mbulk count string") }
                        return ParseOutcome(consumed: consumed, status: .needMore)
                    }
                    if cr - consumed > RESPParser.inlineMax { return error(consumed, "too big mbulk count string") }
                    // Redis needs the whole "\r\n" before it looks at the number.
                    if cr + 1 >= n { return ParseOutcome(consumed: consumed, status: .needMore) }
                    guard let count = parseInteger(p + consumed + 1, cr - consumed - 1), count <= Int(Int32.max) else {
                        return error(consumed, "invalid multibulk length")
                    }
                    if count <= 0 {
                        consumed = cr + 2
                        continue
                    }
                    if count > RESPParser.unauthenticatedMaxArgs && passwordRequired && !mayBeAuthenticated {
                        return error(consumed, "unauthenticated multibulk length")
                    }
                    expectedArgs = count
                    scan = cr + 2 - consumed
                    bulkLength = -1
                    argumentBytes = 0
                    spans.removeAll(keepingCapacity: true)
                } else {
                    // Inline command: one line, arguments split like sdssplitargs.
                    guard let nl = findByte(p, UInt8(ascii: "\n"), from: consumed, to: n) else {
                        if n - consumed > RESPParser.inlineMax { return error(consumed, "too big inline request") }
                        return ParseOutcome(consumed: consumed, status: .needMore)
                    }
                    var end = nl
                    if end > consumed && p[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                    guard let args = splitInlineArguments(UnsafeBufferPointer(start: p + consumed, count: end - consumed)) else {
                        return error(consumed, "unbalanced quotes in request")
                    }
                    if args.isEmpty {
                        consumed = nl + 1
                        continue
                    }
                    var size = 4 + 8 * args.count
                    for a in args { size += a.count }
                    guard let out = sink.reserve(length: size) else {
                        return ParseOutcome(consumed: consumed, status: .sinkFull)
                    }
                    out.storeBytes(of: UInt32(args.count), as: UInt32.self)
                    var offset = 4 + 8 * args.count
                    for (i, a) in args.enumerated() {
                        out.storeBytes(of: UInt32(offset), toByteOffset: 4 + 8 * i, as: UInt32.self)
                        out.storeBytes(of: UInt32(a.count), toByteOffset: 8 + 8 * i, as: UInt32.self)
                        a.withUnsafeBytes { if $0.count > 0 { (out + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
                        offset += a.count
                    }
                    if passwordRequired || !mayBeAuthenticated {
                        args[0].withUnsafeBufferPointer { if let b = $0.baseAddress { noteAuthentication(b, $0.count, argc: args.count, passwordRequired) } }
                    }
                    consumed = nl + 1
                    continue
                }
            }
            // Inside a multibulk command: collect argument spans.
            while spans.count < expectedArgs {
                if bulkLength < 0 {
                    let h = consumed + scan
                    if h >= n { return ParseOutcome(consumed: consumed, status: .needMore) }
                    guard let cr = findCR(p, from: h, to: n) else {
                        if n - h > RESPParser.inlineMax { return error(consumed, "too big bulk count string") }
                        return ParseOutcome(consumed: consumed, status: .needMore)
                    }
                    if cr - h > RESPParser.inlineMax { return error(consumed, "too big bulk count string") }
                    if cr + 1 >= n { return ParseOutcome(consumed: consumed, status: .needMore) }
                    if p[h] != UInt8(ascii: "$") {
                        return ParseOutcome(consumed: consumed, status: .protocolError(
                            Array("-ERR Protocol error: expected '$', got '".utf8) + [p[h] == 13 || p[h] == 10 ? 32 : p[h]] + Array("'\r\n".utf8)))
                    }
                    guard let length = parseInteger(p + h + 1, cr - h - 1), length >= 0,
                          length <= limits.maxBulkLength.load(ordering: .relaxed) else {
                        return error(consumed, "invalid bulk length")
                    }
                    if length > RESPParser.unauthenticatedMaxBulk && passwordRequired && !mayBeAuthenticated {
                        return error(consumed, "unauthenticated bulk length")
                    }
                    bulkLength = length
                    scan = cr + 2 - consumed
                }
                // The argument and the two bytes after it (not checked, as in Redis).
                if n - (consumed + scan) < bulkLength + 2 { return ParseOutcome(consumed: consumed, status: .needMore) }
                spans.append((scan, bulkLength))
                argumentBytes += bulkLength
                scan += bulkLength + 2
                bulkLength = -1
            }
            let argc = spans.count
            let size = 4 + 8 * argc + argumentBytes
            guard let out = sink.reserve(length: size) else {
                return ParseOutcome(consumed: consumed, status: .sinkFull)
            }
            out.storeBytes(of: UInt32(argc), as: UInt32.self)
            var offset = 4 + 8 * argc
            let start = p + consumed
            for i in 0..<argc {
                let span = spans[i]
                out.storeBytes(of: UInt32(offset), toByteOffset: 4 + 8 * i, as: UInt32.self)
                out.storeBytes(of: UInt32(span.length), toByteOffset: 8 + 8 * i, as: UInt32.self)
                (out + offset).copyMemory(from: start + span.offset, byteCount: span.length)
                offset += span.length
            }
            if passwordRequired || !mayBeAuthenticated {
                noteAuthentication(start + spans[0].offset, spans[0].length, argc: argc, passwordRequired)
            }
            consumed += scan
            expectedArgs = 0
            scan = 0
        }
        return ParseOutcome(consumed: consumed, status: .needMore)
    }

    /// Follows a framed command that may change whether the connection is authenticated:
    /// AUTH (its one-argument form always fails when no password is set), HELLO with an
    /// AUTH option (5 or more arguments), RESET.
    @inline(__always)
    private func noteAuthentication(_ name: UnsafePointer<UInt8>, _ length: Int, argc: Int, _ passwordRequired: Bool) {
        let command = UnsafeRawBufferPointer(start: name, count: length)
        if mayBeAuthenticated {
            if length == 5 && passwordRequired && command.equalsIgnoringCase("reset") { mayBeAuthenticated = false }
        } else if (length == 4 && (argc == 3 || passwordRequired) && command.equalsIgnoringCase("auth"))
                    || (length == 5 && argc >= 5 && command.equalsIgnoringCase("hello")) {
            mayBeAuthenticated = true
        }
    }

    private func error(_ consumed: Int, _ message: String) -> ParseOutcome {
        ParseOutcome(consumed: consumed, status: .protocolError(Array("-ERR Protocol error: \(message)\r\n".utf8)))
    }
}

@inline(__always)
func findCR(_ p: UnsafePointer<UInt8>, from: Int, to: Int) -> Int? {
    findByte(p, UInt8(ascii: "\r"), from: from, to: to)
}

@inline(__always)
func findByte(_ p: UnsafePointer<UInt8>, _ byte: UInt8, from: Int, to: Int) -> Int? {
    if from >= to { return nil }
    guard let hit = memchr(p + from, Int32(byte), to - from) else { return nil }
    return UnsafeRawPointer(hit) - UnsafeRawPointer(p)
}

/// Parses a decimal integer exactly as Redis's string2ll: optional '-', no '+', no spaces,
/// no leading zeros, no overflow.
@inline(__always)
func parseInteger(_ p: UnsafePointer<UInt8>, _ length: Int) -> Int? {
    if length == 0 || length > 20 { return nil }
    if length == 1 && p[0] == UInt8(ascii: "0") { return 0 }
    var i = 0
    var negative = false
    if p[0] == UInt8(ascii: "-") {
        negative = true
        i = 1
        if length == 1 { return nil }
    }
    // First digit 1-9 (no leading zeros).
    guard p[i] >= UInt8(ascii: "1") && p[i] <= UInt8(ascii: "9") else { return nil }
    var value: UInt64 = 0
    while i < length {
        let d = p[i] &- UInt8(ascii: "0")
        if d > 9 { return nil }
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.addingReportingOverflow(UInt64(d))
        if o1 || o2 { return nil }
        value = s
        i += 1
    }
    if negative {
        if value > UInt64(Int64.max) + 1 { return nil }
        return value == UInt64(Int64.max) + 1 ? Int.min : -Int(value)
    }
    if value > UInt64(Int64.max) { return nil }
    return Int(value)
}

/// Splits an inline command line like Redis's sdssplitargs: spaces separate arguments,
/// "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \'.
/// A closing quote must be followed by a space or the end. Nil means unbalanced quotes.
func splitInlineArguments(_ line: UnsafeBufferPointer<UInt8>) -> [[UInt8]]? {
    var args: [[UInt8]] = []
    var i = 0
    let n = line.count
    func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
    func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 97...102: return Int(c - 87)
        case 65...70: return Int(c - 55)
        default: return nil
        }
    }
    while true {
        while i < n && isSpace(line[i]) { i += 1 }
        if i >= n { return args }
        var current: [UInt8] = []
        var inDouble = false
        var inSingle = false
        var done = false
        while !done {
            if inDouble {
                if i >= n { return nil }
                let c = line[i]
                if c == UInt8(ascii: "\\") && i + 3 < n && line[i + 1] == UInt8(ascii: "x"),
                   let h = hexValue(line[i + 2]), let l = hexValue(line[i + 3]) {
                    current.append(UInt8(h * 16 + l))
                    i += 3
                } else if c == UInt8(ascii: "\\") && i + 1 < n {
                    i += 1
                    switch line[i] {
                    case UInt8(ascii: "n"): current.append(10)
                    case UInt8(ascii: "r"): current.append(13)
                    case UInt8(ascii: "t"): current.append(9)
                    case UInt8(ascii: "b"): current.append(8)
                    case UInt8(ascii: "a"): current.append(7)
                    default: current.append(line[i])
                    }
                } else if c == UInt8(ascii: "\"") {
                    if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                    done = true
                } else {
                    current.append(c)
                }
            } else if inSingle {
                if i >= n { return nil }
                let c = line[i]
                if c == UInt8(ascii: "\\") && i + 1 < n && line[i + 1] == UInt8(ascii: "'") {
                    i += 1
                    current.append(UInt8(ascii: "'"))
                } else if c == UInt8(ascii: "'") {
                    if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                    done = true
                } else {
                    current.append(c)
                }
            } else {
                if i >= n { done = true; break }
                let c = line[i]
                switch c {
                case 32, 10, 13, 9, 0:
                    done = true
                case UInt8(ascii: "\""): inDouble = true
                case UInt8(ascii: "'"): inSingle = true
                default: current.append(c)
                }
            }
            if i < n { i += 1 }
        }
        args.append(current)
    }
}

/// Makes one `RESPParser` per connection.
/// Limits every connection's parser reads live, so CONFIG SET proto-max-bulk-len applies to
/// open connections at once. Relaxed: a lone value, nothing else is published with it.
public final class ProtocolLimits: Sendable {
    public let maxBulkLength: Atomic<Int>
    /// requirepass is set: clients that have not authenticated get Redis's smaller limits.
    public let passwordRequired = Atomic<Bool>(false)
    public init(maxBulkLength: Int) { self.maxBulkLength = Atomic(maxBulkLength) }
}

public struct RESPParserFactory: RequestParserFactory {
    public let limits: ProtocolLimits
    public init(limits: ProtocolLimits) { self.limits = limits }
    public init(maxBulkLength: Int) { limits = ProtocolLimits(maxBulkLength: maxBulkLength) }
    public func makeParser() -> RequestParser { RESPParser(limits: limits) }
}
