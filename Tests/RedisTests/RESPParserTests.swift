import Glibc
import Testing
@testable import Reactor
@testable import Redis

// RESPParser driven the way a reactor drives it: bytes arrive in arbitrary chunks, each
// call sees the unconsumed tail of the previous call followed by the new bytes, framed
// requests land in an SPSCByteRing (in line, or out of line in a malloc'd block), and a
// consumer decodes them. Because the tail plus the new bytes is always a contiguous piece
// of the stream, the driver presents slices of one buffer instead of copying.
//
// Reply bytes for protocol errors were captured from redis-server 7.0.15 with a python
// socket (send the bytes, read until the server closes).

/// What the parser produced for a stream.
struct ParsedStream {
    var commands: [[[UInt8]]] = []
    var error: [UInt8]? = nil
    var mismatch: String? = nil
    var sinkFullCount = 0
    var outOfLineCount = 0
    var parseCalls = 0
}

/// Drives one parser over `stream` split at `cuts` (increasing offsets: each cut ends the
/// bytes delivered so far). When `expected` is given, records are compared on the fly
/// with memcmp instead of being copied, which keeps the every-split tests fast in debug.
final class ParserDriver {
    let ring: SPSCByteRing
    let token: UInt64 = 0xABCD_0000_0000_0042
    let maxBulkLength: Int

    init(ringCapacity: Int, maxBulkLength: Int = 512 * 1024 * 1024) {
        ring = SPSCByteRing(capacity: ringCapacity)
        self.maxBulkLength = maxBulkLength
    }

    func run(_ stream: UnsafeRawBufferPointer, cuts: [Int], expected: [[[UInt8]]]? = nil) -> ParsedStream {
        let parser = RESPParser(limits: ProtocolLimits(maxBulkLength: maxBulkLength))
        var result = ParsedStream()
        var start = 0                       // first unconsumed byte
        var delivered = 0
        var cutIndex = 0
        while true {
            let end = cutIndex < cuts.count ? cuts[cutIndex] : stream.count
            cutIndex += 1
            delivered = max(delivered, min(end, stream.count))
            while true {
                let input = UnsafeRawBufferPointer(rebasing: stream[start..<delivered])
                var sink = RequestSink(ring: ring, token: token)
                let outcome = parser.parse(input, into: &sink)
                result.parseCalls += 1
                ring.publish()
                start += outcome.consumed
                drain(into: &result, expected: expected)
                if result.mismatch != nil { return result }
                switch outcome.status {
                case .needMore:
                    break
                case .sinkFull:
                    // The engine drained the ring (drain above): retry the same tail.
                    result.sinkFullCount += 1
                    if result.sinkFullCount > 1_000_000 {
                        result.mismatch = "sinkFull forever"
                        return result
                    }
                    continue
                case .protocolError(let reply):
                    result.error = reply
                    return result
                }
                break
            }
            if delivered >= stream.count { return result }
        }
    }

    private func drain(into result: inout ParsedStream, expected: [[[UInt8]]]?) {
        while let (kind, payload) = ring.peek() {
            let tokenSeen = payload.load(as: UInt64.self)
            if tokenSeen != token { result.mismatch = "token \(tokenSeen)" }
            switch kind {
            case RequestRecord.request:
                record(UnsafeRawBufferPointer(rebasing: payload[8...]), into: &result, expected: expected)
            case RequestRecord.requestOutOfLine:
                #expect(payload.count == 24)
                let address = UInt(payload.load(fromByteOffset: 8, as: UInt64.self))
                let length = Int(payload.load(fromByteOffset: 16, as: UInt64.self))
                let block = UnsafeMutableRawPointer(bitPattern: address)!
                // Only requests the ring cannot hold go out of line.
                if length + 8 <= ring.maxPayload { result.mismatch = "needless out-of-line record of \(length) bytes" }
                result.outOfLineCount += 1
                record(UnsafeRawBufferPointer(start: block, count: length), into: &result, expected: expected)
                free(block)
            default:
                result.mismatch = "unexpected record kind \(kind)"
            }
            ring.advance()
        }
        ring.release()
    }

    /// Decodes `UInt32 argc, argc x (UInt32 offset, UInt32 length), bytes`.
    private func record(_ encoding: UnsafeRawBufferPointer, into result: inout ParsedStream, expected: [[[UInt8]]]?) {
        guard result.mismatch == nil else { return }
        let argc = Int(encoding.load(as: UInt32.self))
        var spans: [(Int, Int)] = []
        var end = 4 + 8 * argc
        for i in 0..<argc {
            let offset = Int(encoding.load(fromByteOffset: 4 + 8 * i, as: UInt32.self))
            let length = Int(encoding.load(fromByteOffset: 8 + 8 * i, as: UInt32.self))
            if offset + length > encoding.count || offset < 4 + 8 * argc {
                result.mismatch = "argument \(i) out of its record"
                return
            }
            spans.append((offset, length))
            end = max(end, offset + length)
        }
        if end != encoding.count { result.mismatch = "record of \(encoding.count) bytes ends at \(end)" }
        let index = result.commands.count
        if let expected {
            guard index < expected.count else {
                result.mismatch = "extra command #\(index)"
                return
            }
            let want = expected[index]
            if want.count != argc {
                result.mismatch = "command #\(index): \(argc) arguments, expected \(want.count)"
                return
            }
            for (i, (offset, length)) in spans.enumerated() {
                let same = want[i].count == length && want[i].withUnsafeBytes { w in
                    length == 0 || memcmp(w.baseAddress!, encoding.baseAddress! + offset, length) == 0
                }
                if !same {
                    result.mismatch = "command #\(index) argument \(i) differs"
                    return
                }
            }
            result.commands.append([])       // keep the count only
        } else {
            result.commands.append(spans.map { Array(UnsafeRawBufferPointer(rebasing: encoding[$0.0..<($0.0 + $0.1)])) })
        }
    }
}

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

private func multibulk(_ args: [[UInt8]]) -> [UInt8] {
    var out = b("*\(args.count)\r\n")
    for a in args { out += b("$\(a.count)\r\n") + a + b("\r\n") }
    return out
}

/// The mixed pipeline and the exact argument lists Redis would execute for it.
struct Pipeline {
    var bytes: [UInt8] = []
    var commands: [[[UInt8]]] = []

    static func make(bigBulk: Int) -> Pipeline {
        var p = Pipeline()
        let binary = (0..<256).map { UInt8($0) } + b("\r\n*1\r\n$3\r\n")
        p.add(multibulk([b("SET"), b("bin"), binary]), [b("SET"), b("bin"), binary])
        p.add(multibulk([b("SET"), [], []]), [b("SET"), [], []])
        // Inline splitting as sdssplitargs; checked on redis-server with RPUSH + LRANGE.
        p.add(b("RPUSH l \"\\x41\\x4a\\n\" 'it\\'s' \"\"\t\u{0b}x\u{0c}y '\\n'  \"q\\\"\\z\\x4\"\r\n"),
              [b("RPUSH"), b("l"), b("AJ\n"), b("it's"), [], b("x\u{0c}y"), b("\\n"), b("q\"zx4")])
        p.add(b("PING\r\n"), [b("PING")])
        p.add(b("*0\r\n"), nil)
        p.add(b("*-1\r\n"), nil)
        p.add(b("\r\n"), nil)
        p.add(b("\n"), nil)
        p.add(b("   \t \r\n"), nil)
        p.add(b("PING\n"), [b("PING")])
        p.add(b("ECHO a\rb\r\n"), [b("ECHO"), b("a"), b("b")])
        let big = (0..<bigBulk).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        p.add(multibulk([b("ECHO"), big]), [b("ECHO"), big])
        // Redis takes the two bytes after a bulk without looking at them (here "XX").
        p.add(b("*1\r\n$3\r\nfooXX"), [b("foo")])
        p.add(b("  GET   key  \r\n"), [b("GET"), b("key")])
        p.add(multibulk([b("MSET")] + (0..<40).map { b("k\($0)") }), [b("MSET")] + (0..<40).map { b("k\($0)") })
        p.add(b("*1\r\n$4\r\nPING\r\n"), [b("PING")])
        return p
    }

    mutating func add(_ wire: [UInt8], _ command: [[UInt8]]?) {
        bytes += wire
        if let command { commands.append(command) }
    }
}

@Suite struct RESPParserTests {
    static let smallPipeline = Pipeline.make(bigBulk: 3000)
    static let bigPipeline = Pipeline.make(bigBulk: 100 * 1024)

    @Test func wholePipelineAtOnce() {
        let p = RESPParserTests.bigPipeline
        for capacity in [4096, 1 << 20] {
            let r = p.bytes.withUnsafeBytes { ParserDriver(ringCapacity: capacity).run($0, cuts: []) }
            #expect(r.mismatch == nil)
            #expect(r.error == nil)
            #expect(r.commands == p.commands)
            // With a 4 KiB ring the 100 KiB request cannot fit in line; with 1 MiB it must.
            #expect(r.outOfLineCount == (capacity == 4096 ? 1 : 0))
        }
    }

    /// Two chunks, split at every byte position of the stream (100 KiB bulk included), with a
    /// small ring (sink full, out-of-line records) and a large one (everything in line).
    @Test(arguments: [4096, 1 << 20])
    func everyTwoChunkSplit(ringCapacity: Int) {
        let p = RESPParserTests.bigPipeline
        let driver = ParserDriver(ringCapacity: ringCapacity)
        var failures: [String] = []
        p.bytes.withUnsafeBytes { stream in
            for cut in 0...stream.count {
                let r = driver.run(stream, cuts: [cut], expected: p.commands)
                if r.mismatch != nil || r.error != nil || r.commands.count != p.commands.count {
                    failures.append("cut \(cut): \(r.mismatch ?? "") error \(r.error.map { String(decoding: $0, as: UTF8.self) } ?? "none") commands \(r.commands.count)")
                    if failures.count > 5 { return }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// One byte per read, the worst case for the incremental state.
    @Test(arguments: [4096, 1 << 20])
    func oneByteAtATime(ringCapacity: Int) {
        let p = RESPParserTests.bigPipeline
        let r = p.bytes.withUnsafeBytes { ParserDriver(ringCapacity: ringCapacity).run($0, cuts: Array(1...$0.count), expected: p.commands) }
        #expect(r.mismatch == nil)
        #expect(r.error == nil)
        #expect(r.commands.count == p.commands.count)
        #expect(r.parseCalls >= p.bytes.count)
    }

    /// Three chunks at every pair of positions of a smaller pipeline, so a command can be
    /// cut twice (header and body) in every way.
    @Test func everyThreeChunkSplitOfSmallPipeline() {
        var p = Pipeline()
        p.add(multibulk([b("SET"), b("k\r\n"), []]), [b("SET"), b("k\r\n"), []])
        p.add(b("SET \"a b\" 'c'\r\n"), [b("SET"), b("a b"), b("c")])
        p.add(b("*0\r\n\r\nPING\n"), [b("PING")])
        p.add(multibulk([b("X")]), [b("X")])
        let driver = ParserDriver(ringCapacity: 4096)
        var failures = 0
        p.bytes.withUnsafeBytes { stream in
            for i in 0...stream.count {
                for j in i...stream.count {
                    let r = driver.run(stream, cuts: [i, j], expected: p.commands)
                    if r.mismatch != nil || r.error != nil || r.commands.count != p.commands.count { failures += 1 }
                }
            }
        }
        #expect(failures == 0)
    }

    /// A ring too small for the pipeline: sinkFull happens and nothing is lost or repeated.
    @Test func sinkFullKeepsPartialState() {
        var p = Pipeline()
        for i in 0..<200 {
            let value = [UInt8](repeating: UInt8(i), count: 500 + i)
            p.add(multibulk([b("SET"), b("key\(i)"), value]), [b("SET"), b("key\(i)"), value])
        }
        let r = p.bytes.withUnsafeBytes { ParserDriver(ringCapacity: 4096).run($0, cuts: [], expected: p.commands) }
        #expect(r.mismatch == nil)
        #expect(r.commands.count == 200)
        #expect(r.sinkFullCount > 0)
    }

    // MARK: protocol errors, reply bytes from redis-server 7.0.15

    static let errorCases: [(String, [UInt8], String)] = [
        ("multibulk length not a number", b("*abc\r\n"), "-ERR Protocol error: invalid multibulk length\r\n"),
        ("multibulk length above INT_MAX", b("*2147483648\r\n"), "-ERR Protocol error: invalid multibulk length\r\n"),
        ("multibulk length 3e9", b("*3000000000\r\n"), "-ERR Protocol error: invalid multibulk length\r\n"),
        ("multibulk length with +", b("*+1\r\n"), "-ERR Protocol error: invalid multibulk length\r\n"),
        ("multibulk length with leading 0", b("*01\r\n"), "-ERR Protocol error: invalid multibulk length\r\n"),
        ("bulk length not a number", b("*1\r\n$abc\r\n"), "-ERR Protocol error: invalid bulk length\r\n"),
        ("negative bulk length", b("*1\r\n$-1\r\n"), "-ERR Protocol error: invalid bulk length\r\n"),
        ("bulk length above proto-max-bulk-len", b("*1\r\n$536870913\r\n"), "-ERR Protocol error: invalid bulk length\r\n"),
        ("x instead of $", b("*1\r\nx3\r\nfoo\r\n"), "-ERR Protocol error: expected '$', got 'x'\r\n"),
        (": instead of $", b("*1\r\n:3\r\nfoo\r\n"), "-ERR Protocol error: expected '$', got ':'\r\n"),
        ("unterminated double quote", b("PING \"a\r\n"), "-ERR Protocol error: unbalanced quotes in request\r\n"),
        ("closing double quote not followed by space", b("ECHO \"a\"b\r\n"), "-ERR Protocol error: unbalanced quotes in request\r\n"),
        ("unterminated single quote", b("ECHO 'a\r\n"), "-ERR Protocol error: unbalanced quotes in request\r\n"),
        ("closing single quote not followed by space", b("ECHO 'a'b\r\n"), "-ERR Protocol error: unbalanced quotes in request\r\n"),
        ("inline request over 64 KiB without newline", [UInt8](repeating: UInt8(ascii: "a"), count: 70000), "-ERR Protocol error: too big inline request\r\n"),
        ("multibulk count line over 64 KiB", b("*") + [UInt8](repeating: UInt8(ascii: "1"), count: 70000), "-ERR Protocol error: too big mbulk count string\r\n"),
        ("bulk count line over 64 KiB", b("*1\r\n$") + [UInt8](repeating: UInt8(ascii: "1"), count: 70000), "-ERR Protocol error: too big bulk count string\r\n"),
    ]

    struct ErrorCase: CustomTestStringConvertible, Sendable {
        let name: String, wire: [UInt8], reply: String
        var testDescription: String { name }
    }

    /// Each error after a valid command, at every two-chunk split: the command before it
    /// is still framed, then exactly Redis's reply bytes.
    @Test(arguments: errorCases.map { ErrorCase(name: $0.0, wire: $0.1, reply: $0.2) })
    func protocolError(_ c: ErrorCase) {
        let prefix = multibulk([b("PING")])
        let stream = prefix + c.wire
        let driver = ParserDriver(ringCapacity: 4096)
        // Long inputs: every split near the start and the end, and a stride in between.
        let cuts = stream.count < 200 ? Array(0...stream.count)
            : Array(0..<100) + Array(stride(from: 100, to: stream.count - 100, by: 997)) + Array((stream.count - 100)...stream.count)
        var failures: [String] = []
        stream.withUnsafeBytes { s in
            for cut in cuts {
                let r = driver.run(s, cuts: [cut], expected: [[b("PING")]])
                let reply = r.error.map { String(decoding: $0, as: UTF8.self) }
                if r.mismatch != nil || r.commands.count != 1 || reply != c.reply {
                    failures.append("cut \(cut): \(reply.debugDescription) commands \(r.commands.count) \(r.mismatch ?? "")")
                    if failures.count > 3 { return }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// Limits that are not errors: Redis waits for more bytes (the connection stays open).
    @Test(arguments: [b("*2147483647\r\n"), b("*1\r\n$536870912\r\n"), [UInt8](repeating: UInt8(ascii: "a"), count: 65536)])
    func atTheLimitWaitsForMore(_ wire: [UInt8]) {
        let r = wire.withUnsafeBytes { ParserDriver(ringCapacity: 4096).run($0, cuts: []) }
        #expect(r.error == nil)
        #expect(r.mismatch == nil)
        #expect(r.commands.isEmpty)
    }

    /// A configured proto-max-bulk-len is honoured.
    @Test func smallerMaxBulkLength() {
        let ok = multibulk([b("ECHO"), [UInt8](repeating: 1, count: 10)])
        let tooBig = multibulk([b("ECHO"), [UInt8](repeating: 1, count: 11)])
        let r1 = ok.withUnsafeBytes { ParserDriver(ringCapacity: 4096, maxBulkLength: 10).run($0, cuts: []) }
        #expect(r1.commands.count == 1 && r1.error == nil)
        let r2 = tooBig.withUnsafeBytes { ParserDriver(ringCapacity: 4096, maxBulkLength: 10).run($0, cuts: []) }
        #expect(r2.error.map { String(decoding: $0, as: UTF8.self) } == "-ERR Protocol error: invalid bulk length\r\n")
    }

    /// redis-server 7.0.15 replies "expected '$', got ' '" when the byte in place of '$' is
    /// CR or LF: addReplyErrorFormat turns CR/LF in the message into spaces, so the reply
    /// stays one line (a raw CR would break RESP framing).
    @Test(arguments: [b("*1\r\n\r\n"), b("*1\r\n\n\r\n")])
    func crOrLfInPlaceOfDollar(_ wire: [UInt8]) {
        let r = wire.withUnsafeBytes { ParserDriver(ringCapacity: 4096).run($0, cuts: []) }
        #expect(r.error.map { String(decoding: $0, as: UTF8.self) } == "-ERR Protocol error: expected '$', got ' '\r\n")
    }
}
