/// Record kinds exchanged between a reactor and the engine thread over its two
/// `SPSCByteRing`s. Every payload starts with the 8-byte connection token.
///
/// The reactor knows nothing of what a request means: it forwards whatever its
/// `RequestParser` framed, and writes whatever bytes come back.
public enum RequestRecord {
    /// token, then the parser's encoding of one request.
    public static let request: UInt32 = 1
    /// token, pointer, length: a request too large for the ring, in a malloc'd block that
    /// the consumer frees with `free()` after use.
    public static let requestOutOfLine: UInt32 = 2
    /// token, fd (Int32), peer-address length (UInt16), local-address length (UInt16),
    /// then both addresses as text ("ip:port").
    public static let open: UInt32 = 3
    /// token: the connection is gone; drop its state.
    public static let close: UInt32 = 4
    /// token, then reply bytes the parser produced for a protocol error: the engine sends
    /// them after every earlier reply of that connection, then closes it.
    public static let protocolError: UInt32 = 5
    /// token: the connection's unsent output, which had passed `ReactorOptions`'s
    /// congestion threshold, drained: requests the engine held back for it may run.
    public static let outputDrained: UInt32 = 6
    /// token, request id (UInt64), then the `open` payload (fd, address lengths,
    /// addresses): an outbound connection asked for with `ReplyRecord.connect` is up. Its
    /// input arrives as `rawInput` records, never parsed.
    public static let connected: UInt32 = 7
    /// request id (UInt64, where the token would be), errno (Int32): the outbound
    /// connection could not be made (refused, unreachable, timed out, no free slot).
    public static let connectFailed: UInt32 = 8
    /// token, then bytes received on an outbound connection, as they came.
    public static let rawInput: UInt32 = 9
}

public enum ReplyRecord {
    /// token, then bytes to append to the connection's output.
    public static let data: UInt32 = 1
    /// token: close the connection once its output is written.
    public static let closeAfterWrite: UInt32 = 2
    /// token: close the connection now, dropping unsent output.
    public static let closeNow: UInt32 = 3
    /// token: from now on the connection's output is held to client-output-buffer-limit's
    /// normal, replica or pubsub class (Redis's getClientType).
    public static let limitClassNormal: UInt32 = 4
    public static let limitClassReplica: UInt32 = 5
    public static let limitClassPubSub: UInt32 = 6
    /// request id (UInt64, where the token would be), address family (UInt16, AF_INET or
    /// AF_INET6), port (UInt16), timeout in ms (UInt32), then the address in network order
    /// (4 or 16 bytes): open an outbound TCP connection; answered by
    /// `RequestRecord.connected` or `connectFailed`.
    public static let connect: UInt32 = 7
}

/// Identifies one connection: the reactor-local slot and its generation, so that replies
/// for a closed connection are never delivered to the next one using the same slot.
public struct ConnectionToken: Hashable, Sendable {
    public var raw: UInt64
    @inlinable public init(raw: UInt64) { self.raw = raw }
    @inlinable public init(slot: UInt32, generation: UInt32) {
        raw = UInt64(generation) << 32 | UInt64(slot)
    }
    @inlinable public var slot: Int { Int(truncatingIfNeeded: raw & 0xFFFF_FFFF) }
    @inlinable public var generation: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) }
}
