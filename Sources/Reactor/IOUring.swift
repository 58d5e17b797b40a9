import CURing
import Glibc

/// Why the server cannot use io_uring here; the message is meant for a person.
public struct ReactorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One io_uring instance with a provided-buffer ring for receives.
///
/// Made on the main thread with IORING_SETUP_R_DISABLED so that set-up errors surface before
/// any thread starts; the owning reactor thread enables it, which makes that thread the
/// single issuer (IORING_SETUP_SINGLE_ISSUER) for the ring's whole life.
final class IOUring {
    let ring: UnsafeMutablePointer<io_uring>
    let features: [String]
    let bufferRing: UnsafeMutablePointer<io_uring_buf_ring>
    let bufferMemory: UnsafeMutableRawPointer
    let bufferSize: Int
    let bufferCount: Int
    let bufferMask: Int32
    private let bufferRingBytes: Int
    static let bufferGroup: UInt16 = 0

    /// Creates the ring, trying the cheapest completion model the kernel offers first:
    /// DEFER_TASKRUN runs completion work only when this thread enters the kernel (no
    /// interrupts of a busy reactor), COOP_TASKRUN is the fallback for older kernels.
    init(entries: UInt32, bufferSize: Int, bufferCount: Int) throws {
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        let common = curing_setup_submit_all | curing_setup_cqsize | UInt32(IORING_SETUP_R_DISABLED)
        let attempts: [(UInt32, [String])] = [
            (common | curing_setup_single_issuer | curing_setup_defer_taskrun, ["SINGLE_ISSUER", "DEFER_TASKRUN"]),
            (common | curing_setup_single_issuer | curing_setup_coop_taskrun | UInt32(IORING_SETUP_TASKRUN_FLAG), ["SINGLE_ISSUER", "COOP_TASKRUN"]),
            (common, []),
        ]
        var lastError: Int32 = 0
        var chosen: [String]?
        for (flags, names) in attempts {
            var params = io_uring_params()
            params.flags = flags
            params.cq_entries = entries * 4
            let r = io_uring_queue_init_params(entries, ring, &params)
            if r == 0 {
                var f = names
                if params.features & curing_feat_nodrop != 0 { f.append("NODROP") }
                if params.features & curing_feat_fast_poll != 0 { f.append("FAST_POLL") }
                chosen = f
                break
            }
            lastError = -r
        }
        guard let chosenFeatures = chosen else {
            ring.deallocate()
            let reason = String(cString: strerror(lastError))
            throw ReactorError("io_uring is not usable here (io_uring_setup: \(reason)). swift-redis needs Linux 6.0 or later with io_uring enabled (check the sysctl kernel.io_uring_disabled).")
        }

        self.bufferSize = bufferSize
        self.bufferCount = bufferCount
        bufferRingBytes = Int(curing_buf_ring_entry_size()) * bufferCount
        guard let ringMemory = mmap(nil, bufferRingBytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0),
              ringMemory != MAP_FAILED else {
            io_uring_queue_exit(ring)
            throw ReactorError("cannot map the receive buffer ring: \(String(cString: strerror(errno)))")
        }
        bufferRing = ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self)
        var reg = io_uring_buf_reg()
        reg.ring_addr = UInt64(UInt(bitPattern: ringMemory))
        reg.ring_entries = UInt32(bufferCount)
        reg.bgid = IOUring.bufferGroup
        let r = io_uring_register_buf_ring(ring, &reg, 0)
        if r != 0 {
            io_uring_queue_exit(ring)
            throw ReactorError("io_uring provided buffer rings are not supported (\(String(cString: strerror(-r)))): swift-redis needs Linux 6.0 or later.")
        }
        bufferMemory = UnsafeMutableRawPointer.allocate(byteCount: bufferSize * bufferCount, alignment: 4096)
        bufferMask = io_uring_buf_ring_mask(UInt32(bufferCount))
        io_uring_buf_ring_init(bufferRing)
        for i in 0..<bufferCount {
            io_uring_buf_ring_add(bufferRing, bufferMemory + i * bufferSize, UInt32(bufferSize), UInt16(i), bufferMask, Int32(i))
        }
        io_uring_buf_ring_advance(bufferRing, Int32(bufferCount))
        features = chosenFeatures + ["BUF_RING", "RECV_MULTISHOT", "ACCEPT_MULTISHOT", "MSG_RING"]
    }

    var fd: Int32 { ring.pointee.ring_fd }

    /// Called on the owning thread before its first submission.
    func enable() throws {
        let r = curing_enable_rings(ring)
        if r != 0 { throw ReactorError("io_uring_enable_rings: \(String(cString: strerror(-r)))") }
    }

    /// The next free submission entry. A full submission queue is not an error: the batch
    /// so far is handed to the kernel and an entry is taken from the emptied queue.
    @inline(__always)
    func sqe() -> UnsafeMutablePointer<io_uring_sqe> {
        if let s = io_uring_get_sqe(ring) { return s }
        _ = io_uring_submit(ring)
        guard let s = io_uring_get_sqe(ring) else { fatalError("io_uring submission queue stuck full") }
        return s
    }

    @inline(__always)
    func buffer(_ id: Int) -> UnsafeMutableRawPointer { bufferMemory + id * bufferSize }

    /// Puts buffer `id` back into the provided-buffer ring at `offset` past the tail; the
    /// kernel sees the batch after `advanceBuffers`.
    @inline(__always)
    func recycleBuffer(_ id: Int, offset: Int32) {
        io_uring_buf_ring_add(bufferRing, buffer(id), UInt32(bufferSize), UInt16(id), bufferMask, offset)
    }

    @inline(__always)
    func advanceBuffers(_ count: Int32) { io_uring_buf_ring_advance(bufferRing, count) }
}
