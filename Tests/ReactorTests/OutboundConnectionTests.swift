import Glibc
import Logging
import Testing
@testable import Reactor

/// Outbound connections through a real reactor thread and io_uring, with this test playing
/// the engine: a connect record out, `connected` / `connectFailed` back, raw bytes both
/// ways, and a close.
struct OutboundConnectionTests {
    /// Outbound connections are never parsed; a factory is still required.
    struct NoParser: RequestParserFactory {
        func makeParser() -> RequestParser { fatalError("outbound connections are not parsed") }
    }

    let channel = ReactorChannel(index: 0, ringBytes: 1 << 16, slotCapacity: 8)

    init() throws {
        let settings = ReactorSettings(rejectReply: [])
        let group = try ReactorGroup(channels: [channel], settings: settings, engineDoorbell: Doorbell(nonBlocking: true),
                                     parserFactory: NoParser(), options: ReactorOptions(), listeners: [],
                                     logger: Logger(label: "test"))
        group.start()
    }

    /// A loopback listener on a free port.
    func listener() throws -> (fd: Int32, port: UInt16) {
        let fd = try openListener(address: "127.0.0.1", port: 0, backlog: 4)
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    func sendConnect(request: UInt64, port: UInt16, timeoutMs: UInt32 = 2000) {
        var loopback = in_addr()
        inet_pton(AF_INET, "127.0.0.1", &loopback)
        // request id, family, port, timeout, then the IPv4 address (Records.swift).
        let p = channel.replies.reserve(kind: ReplyRecord.connect, payloadLength: 20)!
        p.storeBytes(of: request, as: UInt64.self)
        p.storeBytes(of: UInt16(AF_INET), toByteOffset: 8, as: UInt16.self)
        p.storeBytes(of: port, toByteOffset: 10, as: UInt16.self)
        p.storeBytes(of: timeoutMs, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: loopback.s_addr, toByteOffset: 16, as: UInt32.self)
        publishReplies()
    }

    func sendReply(kind: UInt32, token: UInt64, _ bytes: [UInt8] = []) {
        let p = channel.replies.reserve(kind: kind, payloadLength: 8 + bytes.count)!
        p.storeBytes(of: token, as: UInt64.self)
        bytes.withUnsafeBytes { if $0.count > 0 { (p + 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        publishReplies()
    }

    func publishReplies() {
        _ = channel.replies.publish()
        channel.reactorDoorbell.ring()
    }

    /// The next request record (kind, payload copy), waiting up to 5 s.
    func nextRecord() -> (UInt32, [UInt8])? {
        let deadline = monotonicMilliseconds() + 5000
        while monotonicMilliseconds() < deadline {
            if let (kind, payload) = channel.requests.peek() {
                let copy = Array(payload)
                channel.requests.advance()
                channel.requests.release()
                return (kind, copy)
            }
            usleep(1000)
        }
        return nil
    }

    func acceptOne(_ fd: Int32) -> Int32 {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 5000) == 1 else { return -1 }
        return accept(fd, nil, nil)
    }

    func receive(_ fd: Int32, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while out.count < count && poll(&pfd, 1, 5000) == 1 {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    @Test func connectsForwardsRawBytesBothWaysAndCloses() throws {
        let (lfd, port) = try listener()
        defer { close(lfd) }
        sendConnect(request: 42, port: port)
        let peer = acceptOne(lfd)
        #expect(peer >= 0)
        defer { close(peer) }

        let connected = try #require(nextRecord())
        #expect(connected.0 == RequestRecord.connected)
        let token = connected.1.withUnsafeBytes { $0.load(as: UInt64.self) }
        #expect(connected.1.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt64.self) } == 42)
        let peerLength = Int(connected.1.withUnsafeBytes { $0.load(fromByteOffset: 20, as: UInt16.self) })
        let peerText = String(decoding: connected.1[24..<(24 + peerLength)], as: UTF8.self)
        #expect(peerText == "127.0.0.1:\(port)")

        // Bytes that are not RESP at all arrive untouched.
        let sent: [UInt8] = Array("+FULLRESYNC x 0\r\n$3\r\n\u{0}\u{1}\u{2}".utf8)
        _ = sent.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, 0) }
        var got: [UInt8] = []
        while got.count < sent.count, let (kind, payload) = nextRecord() {
            #expect(kind == RequestRecord.rawInput)
            #expect(payload.withUnsafeBytes { $0.load(as: UInt64.self) } == token)
            got += payload[8...]
        }
        #expect(got == sent)

        sendReply(kind: ReplyRecord.data, token: token, Array("PING\r\n".utf8))
        #expect(receive(peer, count: 6) == Array("PING\r\n".utf8))

        sendReply(kind: ReplyRecord.closeNow, token: token)
        let closed = try #require(nextRecord())
        #expect(closed.0 == RequestRecord.close)
        #expect(receive(peer, count: 1).isEmpty)   // EOF on the master's side
    }

    @Test func reportsARefusedConnection() throws {
        let (lfd, port) = try listener()
        close(lfd)                                 // nothing listens there now
        sendConnect(request: 7, port: port)
        let failed = try #require(nextRecord())
        #expect(failed.0 == RequestRecord.connectFailed)
        #expect(failed.1.withUnsafeBytes { $0.load(as: UInt64.self) } == 7)
        #expect(failed.1.withUnsafeBytes { $0.load(fromByteOffset: 8, as: Int32.self) } == ECONNREFUSED)
    }
}
