import Glibc

/// Frames requests out of a connection's input bytes. One instance per connection, made by
/// a `RequestParserFactory`; it may keep state between calls (a partly received request).
/// The reactor calls it once per received chunk, never per request.
public protocol RequestParser: AnyObject {
    /// Frames as many complete requests as `input` holds, writing each into `sink`, and
    /// says how many bytes it consumed. It stops early when the sink is full.
    func parse(_ input: UnsafeRawBufferPointer, into sink: inout RequestSink) -> ParseOutcome
}

public protocol RequestParserFactory: Sendable {
    func makeParser() -> RequestParser
}

public struct ParseOutcome {
    public enum Status {
        /// Everything complete was framed; the rest (if any) needs more bytes.
        case needMore
        /// The request ring is full: retry with the unconsumed bytes once it drains.
        case sinkFull
        /// The input violates the protocol: these reply bytes go out after every earlier
        /// reply, then the connection closes.
        case protocolError([UInt8])
    }
    public var consumed: Int
    public var status: Status

    @inlinable public init(consumed: Int, status: Status) {
        self.consumed = consumed
        self.status = status
    }
}

/// Where a parser puts framed requests: a record in the reactor's request ring, or, for a
/// request larger than a ring record may be, a malloc'd block passed by pointer.
public struct RequestSink {
    @usableFromInline let ring: SPSCByteRing
    @usableFromInline let token: UInt64

    @inlinable public init(ring: SPSCByteRing, token: UInt64) {
        self.ring = ring
        self.token = token
    }

    /// Returns `length` writable bytes for one request, or nil when the ring is full. The
    /// caller fills them before returning from `parse`.
    @inlinable
    public mutating func reserve(length: Int) -> UnsafeMutableRawPointer? {
        if length + 8 <= ring.maxPayload {
            guard let p = ring.reserve(kind: RequestRecord.request, payloadLength: 8 + length) else { return nil }
            p.storeBytes(of: token, as: UInt64.self)
            return p + 8
        }
        guard let p = ring.reserve(kind: RequestRecord.requestOutOfLine, payloadLength: 24) else { return nil }
        guard let block = malloc(length) else { fatalError("out of memory for a \(length)-byte request") }
        p.storeBytes(of: token, as: UInt64.self)
        p.storeBytes(of: UInt64(UInt(bitPattern: block)), toByteOffset: 8, as: UInt64.self)
        p.storeBytes(of: UInt64(length), toByteOffset: 16, as: UInt64.self)
        return block
    }
}
