import Synchronization

/// Everything a reactor and the engine thread share: the two rings, the reactor's doorbell,
/// and counters the engine reads for CLIENT LIST and INFO. The reactor produces into
/// `requests` and consumes `replies`; the engine does the opposite.
public final class ReactorChannel: @unchecked Sendable {
    public let index: Int
    public let requests: SPSCByteRing
    public let replies: SPSCByteRing
    /// Rung by the engine after it published replies or freed request space.
    public let reactorDoorbell = Doorbell(nonBlocking: false)
    /// Set by the reactor before it sleeps while input waits for room in `requests` (a
    /// stalled connection or control record); the engine then rings the doorbell when it
    /// frees request space. Without it a reactor whose only traffic is input with no reply
    /// (a replica reading its master's stream) would sleep until an unrelated completion.
    /// The reactor's store is ordered before its re-check of free space by the fence in
    /// `Doorbell.prepareToSleep`; the engine fences between freeing space and loading this,
    /// so either the reactor sees the space or the engine sees the flag (Dekker).
    public let wantsRequestSpace = Atomic<Bool>(false)
    /// The same the other way: set by the engine before it sleeps with replies for this
    /// reactor that did not fit in `replies`; the reactor rings the engine's doorbell after
    /// draining replies only then. (Ringing after every drain woke a sleeping engine with
    /// nothing to do once per round trip.) Same fence pairing as `wantsRequestSpace`.
    public let engineWantsReplySpace = Atomic<Bool>(false)
    public let slotCapacity: Int
    /// Per-slot gauges written by the reactor (relaxed) and read by the engine.
    public let slotStats: UnsafeMutablePointer<SlotStats>
    public let netInputBytes = Atomic<Int>(0)
    public let netOutputBytes = Atomic<Int>(0)
    /// Per slot: the connection's unsent output is above the congestion threshold, so the
    /// engine holds back its requests instead of adding to it. Written by the reactor only
    /// when the state flips, read by the engine per request (relaxed: a late view only
    /// lets one more request through or holds one a moment longer; the `outputDrained`
    /// record that follows every clearing is what resumes held requests).
    public let outputCongested: UnsafeMutablePointer<Atomic<Bool>>

    public init(index: Int, ringBytes: Int, slotCapacity: Int) {
        self.index = index
        requests = SPSCByteRing(capacity: ringBytes)
        replies = SPSCByteRing(capacity: ringBytes)
        self.slotCapacity = slotCapacity
        slotStats = .allocate(capacity: slotCapacity)
        for i in 0..<slotCapacity { (slotStats + i).initialize(to: SlotStats()) }
        outputCongested = .allocate(capacity: slotCapacity)
        for i in 0..<slotCapacity { (outputCongested + i).initialize(to: Atomic<Bool>(false)) }
    }

    deinit {
        slotStats.deinitialize(count: slotCapacity)
        slotStats.deallocate()
        outputCongested.deinitialize(count: slotCapacity)
        outputCongested.deallocate()
    }
}

/// Gauges of one connection slot, readable from other threads.
public struct SlotStats: ~Copyable {
    /// Bytes received and not yet framed into requests (CLIENT LIST qbuf).
    public let inputBuffered = Atomic<Int>(0)
    /// Allocated size of the input buffer.
    public let inputCapacity = Atomic<Int>(0)
    /// Reply bytes queued and not yet written (CLIENT LIST omem/obl).
    public let outputBuffered = Atomic<Int>(0)
    public init() {}
}

/// Settings the reactors read on every connection and the engine may change at run time
/// (CONFIG SET). All accesses are relaxed: each value is independent and a stale read for a
/// moment is harmless.
public final class ReactorSettings: @unchecked Sendable {
    public let maxClients = Atomic<Int>(10000)
    /// Connections open across all reactors.
    public let connectedClients = Atomic<Int>(0)
    public let totalConnectionsReceived = Atomic<Int>(0)
    public let rejectedConnections = Atomic<Int>(0)
    /// Input a connection may hold unparsed before it is closed (client-query-buffer-limit).
    public let queryBufferLimit = Atomic<Int>(1 << 30)
    /// client-output-buffer-limit, indexed by `OutputLimitClass`.
    public let outputLimits = [OutputBufferLimit(), OutputBufferLimit(), OutputBufferLimit()]
    public let clientsClosedForOutputLimit = Atomic<Int>(0)
    /// Bytes sent to a connection refused because of maxclients.
    public let rejectReply: [UInt8]

    public init(rejectReply: [UInt8]) { self.rejectReply = rejectReply }
}

/// The client classes of client-output-buffer-limit; a connection starts as `normal` and
/// the engine moves it with a `ReplyRecord.limitClass*` record.
public enum OutputLimitClass: UInt8 {
    case normal = 0, replica = 1, pubsub = 2
}

/// One class's client-output-buffer-limit: 0 means no limit.
public final class OutputBufferLimit: Sendable {
    public let hard = Atomic<Int>(0)
    public let soft = Atomic<Int>(0)
    public let softSeconds = Atomic<Int>(0)
    public init() {}
}
