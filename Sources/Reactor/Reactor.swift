import CURing
import Glibc
import Logging
import Synchronization

/// Tuning of a reactor's ring and receive buffers.
public struct ReactorOptions: Sendable {
    public var ringEntries: UInt32 = 4096
    /// Size and count of the provided receive buffers (count must be a power of two).
    public var bufferSize = 16 * 1024
    public var bufferCount = 256
    /// Unparsed input per connection above which reading pauses while the request ring is
    /// full, so a client pipelining faster than the engine executes is held back by TCP.
    public var pauseReadingAbove = 1 << 20
    /// Unsent output above which a connection's input is no longer framed (and the engine
    /// holds its queued requests), so a client that sends but never reads cannot fill the
    /// request ring ahead of everybody else; framing resumes below `congestionClearsBelow`.
    public var congestedOutputAbove = 1 << 20
    public var congestionClearsBelow = 256 << 10
    public init() {}
}

/// One reactor thread: owns an io_uring ring and the connections handed to it, frames their
/// requests into its request ring and writes the replies the engine puts in its reply ring.
///
/// A loop turn is: one io_uring_enter (submit everything queued, wait only when idle), harvest
/// the completion batch, dispatch it, move replies into connection buffers, publish every
/// request framed in this turn with one release store, then queue sends and re-arm receives
/// for the next enter.
///
/// Stored properties marked `@exclusivity(unchecked)` are used by the reactor's thread
/// alone and never passed inout across a call that could reach them again; the runtime
/// check Swift would otherwise make on each access (~150 instructions) is skipped.
public final class Reactor: @unchecked Sendable {
    public let channel: ReactorChannel
    let settings: ReactorSettings
    let engineDoorbell: Doorbell
    let parserFactory: RequestParserFactory
    let options: ReactorOptions
    let logger: Logger
    let io: IOUring
    /// Listening sockets: only the accepting reactor (index 0) has any.
    var listeners: [Int32] = []
    /// Ring fds of every reactor, for handing accepted connections round-robin.
    var peerRingFDs: [Int32] = []
    var group: ReactorGroup?

    private let conns: UnsafeMutablePointer<Connection>
    private let slotCapacity: Int
    private var freeHead: Int32 = -1
    @exclusivity(unchecked) private var dirty: [Int32] = []
    @exclusivity(unchecked) private var stalled: [Int32] = []
    @exclusivity(unchecked) private var stalledScratch: [Int32] = []
    @exclusivity(unchecked) private var rearm: [Int32] = []
    /// The last value stored in `channel.wantsRequestSpace` (stored only when it changes).
    private var announcedWaitForSpace = false
    /// Control records (open/close/protocol error) that found the request ring full. While
    /// any wait, nothing else is framed, so per-connection order is kept.
    @exclusivity(unchecked) private var controlBacklog: [(kind: UInt32, token: UInt64, bytes: [UInt8])] = []
    private var buffersToReturn: Int32 = 0
    private var nextTarget = 0
    private var acceptPaused = false
    private let wakeBuffer = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    private let cqeBatch = UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>.allocate(capacity: 512)
    private let events = UnsafeMutablePointer<(UInt64, Int32, UInt32)>.allocate(capacity: 512)
    private var netIn = 0
    private var netOut = 0

    /// Creates the reactor and its ring (on the calling thread, disabled until `run`).
    init(channel: ReactorChannel, settings: ReactorSettings, engineDoorbell: Doorbell,
         parserFactory: RequestParserFactory, options: ReactorOptions, logger: Logger) throws {
        self.channel = channel
        self.settings = settings
        self.engineDoorbell = engineDoorbell
        self.parserFactory = parserFactory
        self.options = options
        self.logger = logger
        io = try IOUring(entries: options.ringEntries, bufferSize: options.bufferSize, bufferCount: options.bufferCount)
        slotCapacity = channel.slotCapacity
        conns = .allocate(capacity: slotCapacity)
        conns.initialize(repeating: Connection(), count: slotCapacity)
        for i in stride(from: slotCapacity - 1, through: 0, by: -1) {
            conns[i].nextFree = freeHead
            freeHead = Int32(i)
        }
        dirty.reserveCapacity(1024)
        stalled.reserveCapacity(1024)
        stalledScratch.reserveCapacity(1024)
        rearm.reserveCapacity(1024)
    }

    public var features: [String] { io.features }
    var ringFD: Int32 { io.fd }

    @inline(__always) private func token(_ slot: Int) -> UInt64 {
        ConnectionToken(slot: UInt32(slot), generation: conns[slot].generation).raw
    }

    // MARK: the loop

    func run() {
        do { try io.enable() } catch { fatalError("reactor \(channel.index): \(error)") }
        armWakeRead()
        if let group { group.reactorEnabled() }
        if !listeners.isEmpty {
            group?.waitUntilAllEnabled()
            for (i, fd) in listeners.enumerated() { armAccept(listener: i, fd: fd) }
        }
        while true {
            var wait: UInt32 = 1
            if !hasWorkWithoutCompletions() {
                let waiting = !stalled.isEmpty || !controlBacklog.isEmpty
                if waiting != announcedWaitForSpace {
                    announcedWaitForSpace = waiting
                    channel.wantsRequestSpace.store(waiting, ordering: .relaxed)
                }
                channel.reactorDoorbell.prepareToSleep()
                // Re-check after announcing sleep: the engine may have published meanwhile.
                if hasWorkWithoutCompletions() { wait = 0 }
            } else {
                wait = 0
            }
            let r = wait == 1 ? io_uring_submit_and_wait(io.ring, 1) : io_uring_submit_and_get_events(io.ring)
            channel.reactorDoorbell.awake()
            if r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN && r != -ETIME {
                logger.critical("io_uring_enter failed: \(String(cString: strerror(-r)))")
                abort()
            }
            harvestAndDispatch()
            drainReplies()
            retryStalled()
            publishRequests()
            flushSends()
            if buffersToReturn > 0 {
                io.advanceBuffers(buffersToReturn)
                buffersToReturn = 0
            }
            rearmReceives()
            publishTrafficCounters()
        }
    }

    /// Work this thread can do now without a new completion: replies to deliver, or stalled
    /// input that fits in the request ring again.
    @inline(__always) private func hasWorkWithoutCompletions() -> Bool {
        if channel.replies.hasPublishedRecords { return true }
        if (!stalled.isEmpty || !controlBacklog.isEmpty) && channel.requests.producerFreeSpace >= 4096 { return true }
        return false
    }

    /// Copies a batch of CQEs out, advances the completion queue, then dispatches, so no
    /// handler runs while the ring's completion queue is being read.
    private func harvestAndDispatch() {
        while true {
            let n = Int(io_uring_peek_batch_cqe(io.ring, cqeBatch, 512))
            if n == 0 { return }
            for i in 0..<n {
                let c = cqeBatch[i]!.pointee
                events[i] = (c.user_data, c.res, c.flags)
            }
            io_uring_cq_advance(io.ring, UInt32(n))
            for i in 0..<n {
                let (userData, res, flags) = events[i]
                dispatch(userData: userData, res: res, flags: flags)
            }
            if n < 512 { return }
        }
    }

    @inline(__always)
    private func dispatch(userData: UInt64, res: Int32, flags: UInt32) {
        guard let op = operation(of: userData) else { return }
        switch op {
        case .recv: onReceive(slot: slot(of: userData), res: res, flags: flags)
        case .send: onSend(slot: slot(of: userData), res: res)
        case .accept: onAccept(listener: slot(of: userData), res: res, flags: flags)
        case .adopt: adopt(fd: res)
        case .close: onClosed(slot: slot(of: userData))
        case .wake: armWakeRead()
        case .messageSent:
            // Handing a connection to another reactor failed: nobody owns the fd but us.
            if res < 0 { Glibc.close(Int32(slot(of: userData))) }
        case .connect: onConnect(slot: slot(of: userData), res: res)
        case .cancel, .connectTimeout: break
        }
    }

    // MARK: accepting

    private func armAccept(listener: Int, fd: Int32) {
        let s = io.sqe()
        io_uring_prep_multishot_accept(s, fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(s, packUserData(.accept, slot: listener, generation: 0))
    }

    /// One listener per address, accepted on reactor 0 only, with connections handed out
    /// round-robin over IORING_OP_MSG_RING. A SO_REUSEPORT listener per reactor would avoid
    /// the hand-off but lets a second server bind the same port silently and spreads
    /// connections by hash, unevenly for a few clients; the hand-off is one SQE, no syscall.
    private func onAccept(listener: Int, res: Int32, flags: UInt32) {
        if flags & curing_cqe_f_more == 0 {
            if res == -EMFILE || res == -ENFILE {
                logger.warning("Accepting client connection: accept: \(String(cString: strerror(-res)))")
                acceptPaused = true   // re-armed when a connection closes
            } else {
                armAccept(listener: listener, fd: listeners[listener])
            }
        }
        guard res >= 0 else { return }
        _ = settings.totalConnectionsReceived.add(1, ordering: .relaxed)
        let count = peerRingFDs.count
        let target = nextTarget
        nextTarget = (nextTarget + 1) % Swift.max(count, 1)
        if count <= 1 || target == channel.index {
            adopt(fd: res)
        } else {
            let s = io.sqe()
            io_uring_prep_msg_ring(s, peerRingFDs[target], UInt32(res), packUserData(.adopt, slot: 0, generation: 0), 0)
            io_uring_sqe_set_data64(s, packUserData(.messageSent, slot: Int(res), generation: 0))
        }
    }

    /// Takes ownership of an accepted socket: a slot, a parser, an open record for the
    /// engine and a multishot receive.
    private func adopt(fd: Int32) {
        guard fd >= 0 else { return }
        let connected = settings.connectedClients.add(1, ordering: .relaxed).newValue
        if connected > settings.maxClients.load(ordering: .relaxed) || freeHead < 0 {
            settings.rejectReply.withUnsafeBytes { _ = Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            Glibc.close(fd)
            _ = settings.connectedClients.subtract(1, ordering: .relaxed)
            _ = settings.rejectedConnections.add(1, ordering: .relaxed)
            return
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let slot = Int(freeHead)
        freeHead = conns[slot].nextFree
        let c = conns + slot
        c.pointee.fd = fd
        c.pointee.state = .open
        c.pointee.parser = parserFactory.makeParser()
        let peer = Array(formatAddress(fd: fd, peer: true).utf8)
        let local = Array(formatAddress(fd: fd, peer: false).utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + peer.count + local.count)
        withUnsafeBytes(of: fd.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(peer.count).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(local.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: peer)
        bytes.append(contentsOf: local)
        emitControl(kind: RequestRecord.open, token: token(slot), bytes: bytes)
        armReceive(slot: slot)
    }

    // MARK: receiving

    private func armReceive(slot: Int) {
        let s = io.sqe()
        io_uring_prep_recv_multishot(s, conns[slot].fd, nil, 0, 0)
        s.pointee.flags |= UInt8(curing_sqe_buffer_select)
        s.pointee.buf_group = IOUring.bufferGroup
        io_uring_sqe_set_data64(s, packUserData(.recv, slot: slot, generation: conns[slot].generation))
        conns[slot].recvArmed = true
    }

    private func onReceive(slot: Int, res: Int32, flags: UInt32) {
        let c = conns + slot
        let more = flags & curing_cqe_f_more != 0
        if !more { c.pointee.recvArmed = false }
        if flags & curing_cqe_f_buffer != 0 {
            let id = Int(flags >> curing_cqe_buffer_shift)
            if res > 0 && c.pointee.state == .open && !c.pointee.readClosed {
                c.pointee.input.append(io.buffer(id), count: Int(res))
            }
            io.recycleBuffer(id, offset: buffersToReturn)
            buffersToReturn += 1
        }
        if res > 0 {
            netIn &+= Int(res)
            if c.pointee.state == .open && !c.pointee.readClosed { frameInput(slot: slot) }
        } else if res == 0 {
            beginClose(slot: slot)           // the peer closed its side
        } else if res != -ENOBUFS && res != -ECANCELED {
            beginClose(slot: slot)           // ECONNRESET and other errors
        }
        if c.pointee.state == .closing {
            finishCloseIfIdle(slot: slot)
        } else if !c.pointee.recvArmed && !c.pointee.recvPaused && !c.pointee.readClosed && !c.pointee.needsRecv {
            // The multishot ended (ENOBUFS, or the kernel chose to): re-arm after buffers return.
            c.pointee.needsRecv = true
            rearm.append(Int32(slot))
        }
    }

    /// Frames every complete request in the connection's input into the request ring.
    private func frameInput(slot: Int) {
        let c = conns + slot
        if c.pointee.stalled { return }
        if c.pointee.outputCongested {
            // Keep reading, and keep the bytes unframed: a client may send the rest of a long
            // pipeline before it reads any reply, and pausing its input would leave both
            // sides waiting for the other. The input is held up to the query buffer limit,
            // as Redis holds a query buffer.
            if c.pointee.input.readable > settings.queryBufferLimit.load(ordering: .relaxed) {
                logger.warning("Closing client that reached max query buffer length (qbuf=\(c.pointee.input.readable))")
                beginClose(slot: slot)
            }
            return
        }
        if !controlBacklog.isEmpty {
            stall(slot: slot)
            return
        }
        if c.pointee.raw {
            forwardRaw(slot: slot)
            return
        }
        guard c.pointee.input.readable > 0, let parser = c.pointee.parser else { return }
        var sink = RequestSink(ring: channel.requests, token: token(slot))
        let outcome = parser.parse(c.pointee.input.readableBytes, into: &sink)
        c.pointee.input.consume(outcome.consumed)
        switch outcome.status {
        case .needMore:
            if c.pointee.input.readable > settings.queryBufferLimit.load(ordering: .relaxed) {
                logger.warning("Closing client that reached max query buffer length (qbuf=\(c.pointee.input.readable))")
                beginClose(slot: slot)
                return
            }
        case .sinkFull:
            stall(slot: slot)
        case .protocolError(let reply):
            c.pointee.readClosed = true
            c.pointee.input.clear()
            emitControl(kind: RequestRecord.protocolError, token: token(slot), bytes: reply)
            if c.pointee.recvArmed { cancel(slot: slot) }
        }
        channel.slotStats[slot].inputBuffered.store(c.pointee.input.readable, ordering: .relaxed)
        channel.slotStats[slot].inputCapacity.store(c.pointee.input.capacity, ordering: .relaxed)
    }

    private func stall(slot: Int) {
        let c = conns + slot
        c.pointee.stalled = true
        stalled.append(Int32(slot))
        if c.pointee.input.readable > options.pauseReadingAbove && c.pointee.recvArmed && !c.pointee.recvPaused {
            c.pointee.recvPaused = true
            cancel(slot: slot)
        }
    }

    /// Frames the input of stalled connections, oldest first, while the ring has room.
    private func retryStalled() {
        if !controlBacklog.isEmpty && !flushControlBacklog() { return }
        if stalled.isEmpty { return }
        swap(&stalled, &stalledScratch)
        for i in 0..<stalledScratch.count {
            let slot = Int(stalledScratch[i])
            let c = conns + slot
            guard c.pointee.state == .open, c.pointee.stalled else { continue }
            if !stalled.isEmpty {
                stalled.append(Int32(slot))   // an earlier one is still stuck: keep the order
                continue
            }
            c.pointee.stalled = false
            frameInput(slot: slot)
            if !c.pointee.stalled && c.pointee.recvPaused && c.pointee.state == .open {
                c.pointee.recvPaused = false
                if !c.pointee.recvArmed && !c.pointee.needsRecv {
                    c.pointee.needsRecv = true
                    rearm.append(Int32(slot))
                }
            }
        }
        stalledScratch.removeAll(keepingCapacity: true)
    }

    private func rearmReceives() {
        for s in rearm {
            let slot = Int(s)
            let c = conns + slot
            c.pointee.needsRecv = false
            if c.pointee.state == .open && !c.pointee.recvArmed && !c.pointee.recvPaused && !c.pointee.readClosed {
                armReceive(slot: slot)
            }
        }
        rearm.removeAll(keepingCapacity: true)
    }

    // MARK: outbound connections

    /// Opens the TCP connection a `ReplyRecord.connect` asks for: a slot, a non-blocking
    /// socket, and an io_uring connect linked to a timeout, so an unanswered SYN costs the
    /// engine nothing but a `connectFailed` record later.
    private func startConnect(_ payload: UnsafeRawBufferPointer) {
        let request = payload.load(as: UInt64.self)
        let family = Int32(payload.load(fromByteOffset: 8, as: UInt16.self))
        let port = payload.load(fromByteOffset: 10, as: UInt16.self)
        let timeoutMs = payload.load(fromByteOffset: 12, as: UInt32.self)
        guard freeHead >= 0 else {
            connectFailed(request: request, errno: EMFILE)
            return
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            connectFailed(request: request, errno: errno)
            return
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let slot = Int(freeHead)
        freeHead = conns[slot].nextFree
        let c = conns + slot
        c.pointee.fd = fd
        c.pointee.state = .connecting
        c.pointee.raw = true
        c.pointee.connectRequest = request
        // sockaddr_in6 is large enough for either family; the kernel reads it after the
        // SQE is queued, so it lives in the connection.
        c.pointee.connectAddress = sockaddr_in6()
        let addressLength: Int
        if family == AF_INET6 {
            c.pointee.connectAddress.sin6_family = sa_family_t(AF_INET6)
            c.pointee.connectAddress.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &c.pointee.connectAddress.sin6_addr) {
                $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[16..<32]))
            }
            addressLength = MemoryLayout<sockaddr_in6>.size
        } else {
            withUnsafeMutablePointer(to: &c.pointee.connectAddress) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    sin.pointee.sin_family = sa_family_t(AF_INET)
                    sin.pointee.sin_port = port.bigEndian
                    sin.pointee.sin_addr.s_addr = payload.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
                }
            }
            addressLength = MemoryLayout<sockaddr_in>.size
        }
        c.pointee.connectTimeout = __kernel_timespec(tv_sec: Int64(timeoutMs / 1000), tv_nsec: Int64(timeoutMs % 1000) * 1_000_000)
        // The connect and its timeout must be adjacent in one submission to stay linked.
        if io_uring_sq_space_left(io.ring) < 2 { _ = io_uring_submit(io.ring) }
        let s = io.sqe()
        withUnsafeMutablePointer(to: &c.pointee.connectAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                io_uring_prep_connect(s, fd, $0, socklen_t(addressLength))
            }
        }
        s.pointee.flags |= curing_sqe_io_link
        io_uring_sqe_set_data64(s, packUserData(.connect, slot: slot, generation: c.pointee.generation))
        let t = io.sqe()
        io_uring_prep_link_timeout(t, &c.pointee.connectTimeout, 0)
        io_uring_sqe_set_data64(t, packUserData(.connectTimeout, slot: slot, generation: 0))
    }

    /// The connect finished: report the connection like an accepted one (it counts in
    /// connected clients) and start receiving, or report the failure and free the slot.
    private func onConnect(slot: Int, res: Int32) {
        let c = conns + slot
        guard c.pointee.state == .connecting else { return }
        let request = c.pointee.connectRequest
        if res < 0 {
            connectFailed(request: request, errno: res == -ECANCELED ? ETIMEDOUT : -res)
            Glibc.close(c.pointee.fd)
            let nextGeneration = (c.pointee.generation &+ 1) & 0xFF_FFFF
            c.pointee = Connection()
            c.pointee.generation = nextGeneration == 0 ? 1 : nextGeneration
            c.pointee.nextFree = freeHead
            freeHead = Int32(slot)
            return
        }
        _ = settings.connectedClients.add(1, ordering: .relaxed)
        c.pointee.state = .open
        let fd = c.pointee.fd
        let peer = Array(formatAddress(fd: fd, peer: true).utf8)
        let local = Array(formatAddress(fd: fd, peer: false).utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: request.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: fd.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(peer.count).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(local.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: peer)
        bytes.append(contentsOf: local)
        emitControl(kind: RequestRecord.connected, token: token(slot), bytes: bytes)
        armReceive(slot: slot)
    }

    private func connectFailed(request: UInt64, errno code: Int32) {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: code.littleEndian) { bytes.append(contentsOf: $0) }
        emitControl(kind: RequestRecord.connectFailed, token: request, bytes: bytes)
    }

    /// Hands an outbound connection's input to the engine as it came, in record-sized
    /// chunks; stalls like a parsed connection when the request ring is full.
    private func forwardRaw(slot: Int) {
        let c = conns + slot
        let chunkMax = channel.requests.maxPayload - 8
        while c.pointee.input.readable > 0 {
            let n = Swift.min(c.pointee.input.readable, chunkMax)
            guard let p = channel.requests.reserve(kind: RequestRecord.rawInput, payloadLength: 8 + n) else {
                stall(slot: slot)
                break
            }
            p.storeBytes(of: token(slot), as: UInt64.self)
            (p + 8).copyMemory(from: c.pointee.input.readPointer, byteCount: n)
            c.pointee.input.consume(n)
        }
        channel.slotStats[slot].inputBuffered.store(c.pointee.input.readable, ordering: .relaxed)
    }

    // MARK: the request ring

    /// Sends an open/close/error record, or queues it when the ring is full.
    private func emitControl(kind: UInt32, token: UInt64, bytes: [UInt8]) {
        if controlBacklog.isEmpty && writeControl(kind: kind, token: token, bytes: bytes) { return }
        controlBacklog.append((kind, token, bytes))
    }

    private func writeControl(kind: UInt32, token: UInt64, bytes: [UInt8]) -> Bool {
        guard let p = channel.requests.reserve(kind: kind, payloadLength: 8 + bytes.count) else { return false }
        p.storeBytes(of: token, as: UInt64.self)
        bytes.withUnsafeBytes { if $0.count > 0 { (p + 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return true
    }

    private func flushControlBacklog() -> Bool {
        var sent = 0
        for item in controlBacklog {
            if !writeControl(kind: item.kind, token: item.token, bytes: item.bytes) { break }
            sent += 1
        }
        controlBacklog.removeFirst(sent)
        return controlBacklog.isEmpty
    }

    private func publishRequests() {
        if channel.requests.publish() { engineDoorbell.ring() }
    }

    // MARK: replies and sending

    /// Moves every published reply into its connection's output buffer.
    private func drainReplies() {
        let ring = channel.replies
        var consumed = false
        let congestion = options.congestedOutputAbove
        while let (kind, payload) = ring.peek() {
            consumed = true
            if kind == ReplyRecord.connect {
                startConnect(payload)
                ring.advance()
                continue
            }
            let tok = ConnectionToken(raw: payload.load(as: UInt64.self))
            let slot = tok.slot
            if slot < slotCapacity && conns[slot].state == .open && conns[slot].generation == tok.generation {
                let c = conns + slot
                switch kind {
                case ReplyRecord.data:
                    if c.pointee.sendInFlight {
                        c.pointee.pending.append(payload.baseAddress! + 8, count: payload.count - 8)
                        // A send that does not complete (a peer that stopped reading) must
                        // not freeze the gauge the engine checks replicas' limits with.
                        channel.slotStats[slot].outputBuffered.store(c.pointee.outputBytes, ordering: .relaxed)
                    } else {
                        c.pointee.out.append(payload.baseAddress! + 8, count: payload.count - 8)
                    }
                    let limit = settings.outputLimits[Int(c.pointee.limitClass.rawValue)]
                    let hard = limit.hard.load(ordering: .relaxed)
                    let soft = limit.soft.load(ordering: .relaxed)
                    if hard > 0 || soft > 0 { checkOutputLimits(slot: slot, hard: hard, soft: soft, limit: limit) }
                    if !c.pointee.outputCongested && c.pointee.outputBytes > congestion && c.pointee.state == .open {
                        c.pointee.outputCongested = true
                        channel.outputCongested[slot].store(true, ordering: .relaxed)
                    }
                case ReplyRecord.limitClassNormal:
                    c.pointee.limitClass = .normal
                    c.pointee.softLimitSince = 0
                case ReplyRecord.limitClassReplica:
                    c.pointee.limitClass = .replica
                    c.pointee.softLimitSince = 0
                case ReplyRecord.limitClassPubSub:
                    c.pointee.limitClass = .pubsub
                    c.pointee.softLimitSince = 0
                case ReplyRecord.closeAfterWrite:
                    c.pointee.closeAfterWrite = true
                case ReplyRecord.closeNow:
                    beginClose(slot: slot)
                default:
                    break
                }
                if c.pointee.state == .open && !c.pointee.dirty {
                    c.pointee.dirty = true
                    dirty.append(Int32(slot))
                }
            }
            ring.advance()
        }
        if consumed {
            ring.release()
            // Pairs with the fence in the engine's prepareToSleep: it announces that it
            // waits for reply space, then re-checks the space; we free it, then load this.
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            if channel.engineWantsReplySpace.load(ordering: .relaxed) { engineDoorbell.ring() }
        }
    }

    /// client-output-buffer-limit: close a connection whose unsent output passed the hard
    /// limit, or stayed above the soft limit for longer than allowed.
    private func checkOutputLimits(slot: Int, hard: Int, soft: Int, limit: OutputBufferLimit) {
        let c = conns + slot
        let size = c.pointee.outputBytes
        var over = hard > 0 && size >= hard
        if !over && soft > 0 && size >= soft {
            let now = monotonicMilliseconds()
            if c.pointee.softLimitSince == 0 {
                c.pointee.softLimitSince = now
            } else if now - c.pointee.softLimitSince > Int64(limit.softSeconds.load(ordering: .relaxed)) * 1000 {
                over = true
            }
        } else if soft > 0 && size < soft {
            c.pointee.softLimitSince = 0
        }
        if over {
            logger.warning("Client fd=\(c.pointee.fd) closed for overcoming of output buffer limits.")
            _ = settings.clientsClosedForOutputLimit.add(1, ordering: .relaxed)
            beginClose(slot: slot)
        }
    }

    private func flushSends() {
        for s in dirty {
            let slot = Int(s)
            conns[slot].dirty = false
            if conns[slot].state == .open && !conns[slot].sendInFlight { startSend(slot: slot) }
        }
        dirty.removeAll(keepingCapacity: true)
    }

    private func startSend(slot: Int) {
        let c = conns + slot
        if c.pointee.out.isEmpty && !c.pointee.pending.isEmpty { swap(&c.pointee.out, &c.pointee.pending) }
        channel.slotStats[slot].outputBuffered.store(c.pointee.outputBytes, ordering: .relaxed)
        if !c.pointee.out.isEmpty {
            let s = io.sqe()
            io_uring_prep_send(s, c.pointee.fd, c.pointee.out.readPointer, c.pointee.out.readable, Int32(MSG_NOSIGNAL))
            io_uring_sqe_set_data64(s, packUserData(.send, slot: slot, generation: c.pointee.generation))
            c.pointee.sendInFlight = true
        } else if c.pointee.closeAfterWrite {
            beginClose(slot: slot)
        } else {
            // Idle again: give back memory a big reply left behind.
            c.pointee.out.shrinkIfIdle(keep: 64 * 1024)
            c.pointee.pending.shrinkIfIdle(keep: 64 * 1024)
        }
    }

    private func onSend(slot: Int, res: Int32) {
        let c = conns + slot
        c.pointee.sendInFlight = false
        if c.pointee.state != .open {
            finishCloseIfIdle(slot: slot)
            return
        }
        if res < 0 {
            beginClose(slot: slot)
            return
        }
        netOut &+= Int(res)
        c.pointee.out.consume(Int(res))
        startSend(slot: slot)
        if c.pointee.outputCongested && c.pointee.state == .open && c.pointee.outputBytes < options.congestionClearsBelow {
            endCongestion(slot: slot)
        }
    }

    /// The connection's output drained: tell the engine (which resumes the requests it held)
    /// and frame the input that waited.
    private func endCongestion(slot: Int) {
        let c = conns + slot
        c.pointee.outputCongested = false
        channel.outputCongested[slot].store(false, ordering: .relaxed)
        emitControl(kind: RequestRecord.outputDrained, token: token(slot), bytes: [])
        if !c.pointee.readClosed { frameInput(slot: slot) }
    }

    // MARK: closing

    private func cancel(slot: Int) {
        let s = io.sqe()
        io_uring_prep_cancel64(s, packUserData(.recv, slot: slot, generation: conns[slot].generation), 0)
        io_uring_sqe_set_data64(s, packUserData(.cancel, slot: slot, generation: 0))
    }

    /// Starts closing: tells the engine, cancels what is in flight, closes once idle.
    private func beginClose(slot: Int) {
        let c = conns + slot
        guard c.pointee.state == .open else { return }
        c.pointee.state = .closing
        emitControl(kind: RequestRecord.close, token: token(slot), bytes: [])
        if c.pointee.recvArmed || c.pointee.sendInFlight {
            let s = io.sqe()
            io_uring_prep_cancel_fd(s, c.pointee.fd, curing_async_cancel_all)
            io_uring_sqe_set_data64(s, packUserData(.cancel, slot: slot, generation: 0))
        }
        finishCloseIfIdle(slot: slot)
    }

    private func finishCloseIfIdle(slot: Int) {
        let c = conns + slot
        guard c.pointee.state == .closing, !c.pointee.recvArmed, !c.pointee.sendInFlight, !c.pointee.closeIssued else { return }
        c.pointee.closeIssued = true
        let s = io.sqe()
        io_uring_prep_close(s, c.pointee.fd)
        io_uring_sqe_set_data64(s, packUserData(.close, slot: slot, generation: c.pointee.generation))
    }

    /// The fd is closed and no operation refers to the slot: recycle it.
    private func onClosed(slot: Int) {
        let c = conns + slot
        c.pointee.input.free()
        c.pointee.out.free()
        c.pointee.pending.free()
        let nextGeneration = (c.pointee.generation &+ 1) & 0xFF_FFFF
        c.pointee = Connection()
        c.pointee.generation = nextGeneration == 0 ? 1 : nextGeneration
        c.pointee.nextFree = freeHead
        freeHead = Int32(slot)
        channel.slotStats[slot].inputBuffered.store(0, ordering: .relaxed)
        channel.slotStats[slot].inputCapacity.store(0, ordering: .relaxed)
        channel.slotStats[slot].outputBuffered.store(0, ordering: .relaxed)
        channel.outputCongested[slot].store(false, ordering: .relaxed)
        _ = settings.connectedClients.subtract(1, ordering: .relaxed)
        if acceptPaused {
            acceptPaused = false
            for (i, fd) in listeners.enumerated() { armAccept(listener: i, fd: fd) }
        }
    }

    // MARK: misc

    private func armWakeRead() {
        let s = io.sqe()
        io_uring_prep_read(s, channel.reactorDoorbell.fd, wakeBuffer, 8, 0)
        io_uring_sqe_set_data64(s, packUserData(.wake, slot: 0, generation: 0))
    }

    private func publishTrafficCounters() {
        if netIn != 0 { _ = channel.netInputBytes.add(netIn, ordering: .relaxed); netIn = 0 }
        if netOut != 0 { _ = channel.netOutputBytes.add(netOut, ordering: .relaxed); netOut = 0 }
    }
}

/// "ip:port" of a socket's peer or local end, "[ip]:port" for IPv6, as Redis formats them.
func formatAddress(fd: Int32, peer: Bool) -> String {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let r = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length)
        }
    }
    if r != 0 { return "?:0" }
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    switch Int32(storage.ss_family) {
    case AF_INET:
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var addr = sin.pointee.sin_addr
                inet_ntop(AF_INET, &addr, &text, socklen_t(text.count))
                return "\(String(cString: text)):\(UInt16(bigEndian: sin.pointee.sin_port))"
            }
        }
    case AF_INET6:
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                var addr = sin.pointee.sin6_addr
                inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count))
                return "[\(String(cString: text))]:\(UInt16(bigEndian: sin.pointee.sin6_port))"
            }
        }
    default:
        return "?:0"
    }
}

/// Milliseconds from CLOCK_MONOTONIC (vDSO: no syscall).
@inline(__always)
public func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
