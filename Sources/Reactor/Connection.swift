import CURing
import Glibc

/// The state a reactor keeps per client connection. Lives in the reactor's slot table and
/// is touched only by that reactor's thread.
struct Connection {
    enum State: UInt8 { case free, connecting, open, closing }

    var fd: Int32 = -1
    var generation: UInt32 = 1
    var state: State = .free
    /// A multishot recv is in flight (its last CQE had IORING_CQE_F_MORE).
    var recvArmed = false
    /// Reading is paused: the request ring is full and this connection has a backlog.
    var recvPaused = false
    var sendInFlight = false
    var cancelIssued = false
    var closeIssued = false
    /// Close once every queued reply is written (QUIT, protocol error).
    var closeAfterWrite = false
    /// Input is ignored from now on (after a protocol error).
    var readClosed = false
    /// Unparsed input waits for space in the request ring.
    var stalled = false
    /// Queued in the dirty list: has output to send.
    var dirty = false
    /// Queued in the re-arm list: needs a new multishot recv.
    var needsRecv = false
    var input = ByteBuffer()
    /// Bytes handed to the kernel by the send in flight; untouched until it completes.
    var out = ByteBuffer()
    /// Replies that arrived while a send was in flight.
    var pending = ByteBuffer()
    var parser: RequestParser?
    /// An outbound connection: input goes to the engine as raw bytes, not parsed requests.
    var raw = false
    /// While connecting: the engine's request id, the peer address and the connect timeout,
    /// kept here because the kernel reads the last two after the SQE is queued.
    var connectRequest: UInt64 = 0
    var connectAddress = sockaddr_in6()
    var connectTimeout = __kernel_timespec()
    /// When the output first exceeded the soft limit (ms), or 0.
    var softLimitSince: Int64 = 0
    /// Which client-output-buffer-limit class applies (`OutputLimitClass`).
    var limitClass = OutputLimitClass.normal
    /// Unsent output passed `ReactorOptions.congestedOutputAbove`: input is not framed
    /// (and the engine holds requests already framed) until it drains.
    var outputCongested = false
    var nextFree: Int32 = -1

    var outputBytes: Int { out.readable + pending.readable }
}

/// What a reactor's io_uring operations are; packed into the top byte of `user_data`.
enum Operation: UInt8 {
    case accept = 1, recv, send, cancel, close, wake, adopt, messageSent, connect, connectTimeout
}

/// `user_data` layout: operation (8 bits) | generation (24 bits) | slot (32 bits).
@inline(__always)
func packUserData(_ op: Operation, slot: Int, generation: UInt32) -> UInt64 {
    UInt64(op.rawValue) << 56 | UInt64(generation & 0xFF_FFFF) << 32 | UInt64(UInt32(truncatingIfNeeded: slot))
}

@inline(__always) func operation(of userData: UInt64) -> Operation? { Operation(rawValue: UInt8(userData >> 56)) }
@inline(__always) func slot(of userData: UInt64) -> Int { Int(userData & 0xFFFF_FFFF) }
@inline(__always) func generation24(of userData: UInt64) -> UInt32 { UInt32((userData >> 32) & 0xFF_FFFF) }
