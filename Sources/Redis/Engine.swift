import Glibc
import Logging
import Reactor
import Synchronization

/// The keyspace thread: owns every database and client record, executes commands in the
/// order each connection sent them, and stages replies for the reactors.
///
/// It makes no syscall per command: it reads whole batches from the request rings, runs
/// them, and publishes the replies of a batch with one release store per reactor. It
/// sleeps on its doorbell only after finding every ring empty.
///
/// Its hot state, and the value types' storage, is marked `@exclusivity(unchecked)`: one
/// thread uses it, and Swift's run-time exclusivity check (a thread-local access set,
/// ~150 instructions per access, about ten per request) was half the thread's
/// instructions. Nothing passes those properties inout across a call that could reach
/// them again; a change that would must drop the attribute.
public final class Engine: @unchecked Sendable {
    let channels: [ReactorChannel]
    let doorbell: Doorbell
    let settings: ReactorSettings
    let config: ServerConfig
    var logger: Logger
    let hasher = KeyHasher()
    var databases: [Database]

    /// Clients by reactor, then by connection slot.
    @exclusivity(unchecked) var clientsBySlot: [[Client?]]
    @exclusivity(unchecked) var clientsByID: [Int: Client] = [:]
    var nextClientID = 1
    /// Reply staging by reactor, at stable addresses so `out` can point into it.
    let staging: UnsafeMutablePointer<ReplyStaging>

    // State of the command being executed.
    /// The client whose command runs now. Unowned: setting it for every command would
    /// otherwise cost a retain and a release each; `closeClient` clears it.
    unowned(unsafe) var client: Client!
    /// Its database (owned by `databases`, which lives as long as the engine; replaced
    /// databases after a full sync are swapped in place).
    unowned(unsafe) var db: Database!
    /// Whether it speaks RESP3 (HELLO 3).
    var resp3 = false
    /// Where its replies go: the staging of its reactor.
    var out: UnsafeMutablePointer<ReplyStaging>
    /// Wall-clock milliseconds, read once per batch like Redis's cached mstime.
    var now: Int64 = 0
    /// Monotonic microseconds at the end of the last command (or the start of the batch):
    /// the next command's start, so timing a command costs one clock read.
    var clockMark = 0
    /// Commands that ran at least this long (µs) go through `commandObserved` (slow log,
    /// latency monitor, MONITOR); Int.min while a monitor is attached.
    var observeThreshold = Int.max
    var slowlog = SlowLog()
    var latency = LatencyMonitor()
    /// Clients in MONITOR mode, fed every command they may see (Monitor.swift).
    var monitors: [Client] = []
    var rng = SystemRandomNumberGenerator()

    let commands: CommandTable
    @exclusivity(unchecked) var stats = ServerStats()
    let startedAt: Int64
    let startedMonotonic: Int64
    public private(set) var shutdownRequested = false
    /// DEBUG SET-ACTIVE-EXPIRE: tests turn the active cycle off to observe lazy expiry.
    var activeExpireEnabled = true
    /// CLIENT PAUSE and the failover's write pause (ClientPause.swift).
    @exclusivity(unchecked) var pause = ClientPauseState()
    var peakMemory = 0
    /// 40 hex characters, new each start (run_id, and master_replid until replication).
    let runID: String
    public var executablePath = ""
    public var configFile = ""
    private var nextCron: Int64 = 0

    /// Changes to the dataset since start (Redis's server.dirty): save points and
    /// `commandChangedData` read it; handlers add to it (see WriteEffects.swift).
    var dirty = 0
    /// Set when the running command propagated a rewrite instead of its own arguments.
    var propagationReplaced = false
    /// What the running command fed to replicas so far (WriteEffects.swift).
    /// Touched twice per command: no dynamic exclusivity check (engine thread only).
    @exclusivity(unchecked) var propagationUnit = PropagationUnit()
    /// MULTI/EXEC and WATCH (Transactions.swift).
    @exclusivity(unchecked) var transactions = TransactionState()
    /// Clients blocked on keys (Blocking.swift).
    @exclusivity(unchecked) var blocking = BlockingState()
    /// maxmemory, the eviction pool and its stats (Eviction.swift). Read on every key
    /// lookup and command: no dynamic exclusivity check (engine thread only).
    @exclusivity(unchecked) var eviction = EvictionState()
    /// Channels and patterns (PubSub.swift).
    @exclusivity(unchecked) var pubsub = PubSubState()
    /// Clients whose requests were held while their output was congested and that still
    /// have some to run once reply staging has room (OutputCongestion.swift).
    @exclusivity(unchecked) var outputHeldClients: [Client] = []
    /// Role, backlog, replicas, link to a master (Replication/).
    var replication = ReplicationState()
    /// RDB snapshots: SAVE, BGSAVE, save points, loading (Persistence/).
    @exclusivity(unchecked) var persistence = PersistenceState()
    /// The snapshot being taken between batches (full sync, BGSAVE), if any.
    var snapshotJob: SnapshotJob?
    /// The Lua interpreter, scripts and functions (Scripting/), made on first use.
    var scripting: ScriptingState?
    /// Per reactor: the last value stored in its channel's `engineWantsReplySpace`.
    private lazy var replySpaceAnnounced = [Bool](repeating: false, count: channels.count)
    /// `clockMark` when replies were last moved to a reply ring in the middle of a batch.
    private var repliesFlushedAt = 0

    public init(channels: [ReactorChannel], doorbell: Doorbell, settings: ReactorSettings, config: ServerConfig,
                logger: Logger) {
        self.channels = channels
        self.doorbell = doorbell
        self.settings = settings
        self.config = config
        self.logger = logger
        databases = (0..<config.databases).map { Database(index: $0) }
        clientsBySlot = channels.map { [Client?](repeating: nil, count: $0.slotCapacity) }
        staging = .allocate(capacity: channels.count)
        // One ReplyStaging() each: copies of one value would share its buffer's memory.
        for i in 0..<channels.count { (staging + i).initialize(to: ReplyStaging()) }
        out = staging
        commands = CommandTable()
        now = wallClockMilliseconds()
        startedAt = now
        startedMonotonic = monotonicMilliseconds()
        var g = SystemRandomNumberGenerator()
        runID = (0..<40).map { _ in String(Int.random(in: 0..<16, using: &g), radix: 16) }.joined()
        applyLogLevel()
        for d in databases {
            d.onExpired = { [unowned self] key, index in self.keyExpired(key, database: index) }
        }
        applyEvictionConfig()
        refreshObserveThreshold()
        applyLatencyTracking()
    }

    /// Maps redis.conf's loglevel onto swift-log's levels.
    func applyLogLevel() {
        logger.logLevel = logLevel(forRedisName: config.loglevel)
    }

    /// Runs the keyspace loop on the calling thread until SHUTDOWN.
    public func run() {
        while !shutdownRequested {
            checkTerminationSignal()
            let worked = runBatch()
            let mono = Int64(clockMark / 1000)   // the last command's end: no clock read of its own
            if mono >= nextCron {
                cron()
                nextCron = mono + Int64(1000 / max(1, config.hz))
            }
            if let job = snapshotJob, advanceSnapshotJob(job) {
                continue   // busy with the snapshot: no sleep until it is done
            }
            if worked { continue }
            // Nothing to do: announce the sleep, then look once more, so that a request
            // published between the last look and the announcement is not missed (the
            // doorbell's fences pair with the reactor's publish-then-ring).
            announceReplySpaceWanted()
            doorbell.prepareToSleep()
            if hasWork() {
                doorbell.awake()
                continue
            }
            let wait = min(max(0, nextCron - monotonicMilliseconds()), millisecondsToNextBlockingDeadline)
            doorbell.wait(timeoutMs: Int32(clamping: wait))
            doorbell.awake()
        }
    }

    /// One turn of the loop's work: every reactor's published requests executed, their
    /// replies moved to the reply rings. Returns true if any request was taken. Public to
    /// the package so the keyspace microbenchmark can drive the engine without reactors.
    package func runBatch() -> Bool {
        now = wallClockMilliseconds()
        refreshAccessClock()
        if eviction.limit > 0 { refreshEvictionOverhead() }
        clockMark = monotonicMicroseconds()
        var worked = false
        for r in channels.indices {
            if processRequests(reactor: r) { worked = true }
        }
        if blocking.blockedClientCount > 0 {
            if !blocking.readyKeys.isEmpty { serveBlockedClients() }
            expireBlockedClients()
        }
        if replicationHasBatchWork { replicationBatchEnd() }
        if !replication.sendingSnapshots.isEmpty && replicationPumpSnapshots() { worked = true }
        for r in channels.indices where !staging[r].isEmpty {
            flushReplies(reactor: r)
        }
        return worked
    }

    /// Before sleeping: tells each reactor whether replies for it wait for ring space, so
    /// that it wakes us when it frees some, and only then.
    private func announceReplySpaceWanted() {
        for r in channels.indices {
            let waiting = !staging[r].isEmpty
            if waiting != replySpaceAnnounced[r] {
                replySpaceAnnounced[r] = waiting
                channels[r].engineWantsReplySpace.store(waiting, ordering: .relaxed)
            }
        }
    }

    /// Whether requests or reply space wait (the loop must not sleep; a snapshot yields).
    func hasWork() -> Bool {
        for r in channels.indices {
            if staging[r].isEmpty || staging[r].pendingBytes < ReplyStaging.backPressureBytes {
                if channels[r].requests.hasPublishedRecords { return true }
            }
            if !staging[r].isEmpty && channels[r].replies.producerFreeSpace > channels[r].replies.capacity / 2 {
                return true
            }
        }
        return false
    }

    /// Executes the published requests of one reactor. Returns true if any were taken.
    private func processRequests(reactor r: Int) -> Bool {
        let ring = channels[r].requests
        if staging[r].pendingBytes >= ReplyStaging.backPressureBytes { return false }
        var took = false
        let st = staging + r
        out = st
        let congested = channels[r].outputCongested
        if !outputHeldClients.isEmpty { resumeOutputHeld(reactor: r) }
        repliesFlushedAt = clockMark
        do {
            while let (kind, payload) = ring.peek() {
                took = true
                // Past the record before running it (its bytes stay until `release`): a
                // script running too long takes the records after it from this ring
                // (Scripting/BusyScript.swift).
                ring.advance()
                let base = payload.baseAddress!
                let token = base.load(as: UInt64.self)
                switch kind {
                // A replica's output is the stream and often congested; its REPLCONF ACKs
                // still run at once, or WAIT and repl-timeout would see it silent.
                case RequestRecord.request:
                    clientRecord(reactor: r, token: token)?._withUnsafeGuaranteedRef { c in
                        guard !c.closing else { return }
                        if c.isHoldingRequests || (congested[c.slot].load(ordering: .relaxed) && c.replicaLink == nil) {
                            c.heldRequests.append(OwnedArguments(Arguments(encoding: base + 8)))
                        } else {
                            st.pointee.open(token: token)
                            execute(c, Arguments(encoding: base + 8))
                        }
                    }
                case RequestRecord.requestOutOfLine:
                    let block = UnsafeMutableRawPointer(bitPattern: UInt(base.load(fromByteOffset: 8, as: UInt64.self)))!
                    if let c = clientsBySlot[r][ConnectionToken(raw: token).slot], c.token == token, !c.closing {
                        if c.isHoldingRequests || (congested[c.slot].load(ordering: .relaxed) && c.replicaLink == nil) {
                            c.heldRequests.append(OwnedArguments(Arguments(encoding: UnsafeRawPointer(block))))
                        } else {
                            st.pointee.open(token: token)
                            execute(c, Arguments(encoding: UnsafeRawPointer(block)))
                        }
                    }
                    free(block)
                case RequestRecord.open:
                    openClient(reactor: r, token: token, payload: UnsafeRawBufferPointer(rebasing: payload[8...]))
                case RequestRecord.close:
                    closeClient(reactor: r, token: token)
                case RequestRecord.outputDrained:
                    if let c = clientsBySlot[r][ConnectionToken(raw: token).slot], c.token == token {
                        resumeHeldRequests(c)
                    }
                case RequestRecord.rawInput:
                    if let c = clientsBySlot[r][ConnectionToken(raw: token).slot], c.token == token, !c.closing {
                        masterInput(c, UnsafeRawBufferPointer(rebasing: payload[8...]))
                        out = st
                    }
                case RequestRecord.connected:
                    masterConnected(reactor: r, token: token, payload: UnsafeRawBufferPointer(rebasing: payload[8...]))
                case RequestRecord.connectFailed:
                    masterConnectFailed(request: token, errno: base.load(fromByteOffset: 8, as: Int32.self))
                case RequestRecord.protocolError:
                    if let c = clientsBySlot[r][ConnectionToken(raw: token).slot], c.token == token {
                        st.pointee.open(token: token)
                        out.pointee.buffer.append(UnsafeRawBufferPointer(rebasing: payload[8...]))
                        stats.errorReplies += 1
                        stats.countError(prefix: "ERR")
                        c.closing = true
                        st.pointee.control(kind: ReplyRecord.closeAfterWrite, token: token)
                    }
                default:
                    break
                }
                if st.pointee.pendingBytes >= ReplyStaging.backPressureBytes { break }
                // A long batch (slow commands, deep pipelines) hands its replies over as it
                // goes, so the reactor sends them and the clients answer with their next
                // requests while the rest runs, instead of both sides taking turns idling.
                if clockMark &- repliesFlushedAt >= Engine.midBatchFlushMicroseconds {
                    repliesFlushedAt = clockMark
                    flushReplies(reactor: r)
                }
            }
            st.pointee.closeRecord()
        }
        if took {
            ring.release()   // frees request-ring space for the reactor
            // Pairs with the fence in the reactor's prepareToSleep: it re-checks the free
            // space after announcing that it waits for some, we load the flag after freeing.
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            if channels[r].wantsRequestSpace.load(ordering: .relaxed) { channels[r].reactorDoorbell.ring() }
        }
        return took
    }

    /// How long a batch runs before the replies staged so far go to the reactor: about a
    /// loopback round trip through the reactor and a client. Measured at -P 16 ZADD (1M
    /// requests, 50 clients): 100, 200 and 500 µs all gave 1.42x redis-server against 1.06x
    /// without mid-batch flushes; 50 µs woke the reactor so often that CPU per request rose.
    static let midBatchFlushMicroseconds = 200

    /// Moves staged replies into the reactor's ring and wakes it if it sleeps.
    func flushReplies(reactor r: Int) {
        let ring = channels[r].replies
        if staging[r].flush(into: ring) {
            ring.publish()
            channels[r].reactorDoorbell.ring()
        }
    }

    /// The record of the connection `token` on reactor `r`, if it is still open, without
    /// taking a reference: records are dropped only by `closeClient`, between commands, so
    /// counting references per request would only cost atomic operations.
    @inline(__always)
    private func clientRecord(reactor r: Int, token: UInt64) -> Unmanaged<Client>? {
        clientsBySlot[r].withUnsafeBufferPointer { slots in
            guard let c = slots[ConnectionToken(raw: token).slot], c.token == token else { return nil }
            return Unmanaged.passUnretained(c)
        }
    }

    /// Runs one command of `c` with its replies going to `c` (its reactor's staging).
    /// Also used for requests held back while `c` was blocked.
    @inline(__always)
    func execute(_ c: Client, _ args: Arguments) {
        if args.count == 0 { return }
        client = c
        resp3 = c.protocolVersion == 3
        db = databases[c.db]
        c.lastInteraction = now
        if c.replyMode == .on { commands.dispatch(self, c, args) } else { dispatchWithoutReply(c, args) }
        if !blocking.readyKeys.isEmpty { serveBlockedClients() }
        if pause.resumeDue { resumePausedClients() }
    }

    // MARK: clients

    private func openClient(reactor r: Int, token: UInt64, payload: UnsafeRawBufferPointer) {
        registerClient(reactor: r, token: token, connection: payload)
    }

    /// Creates the record of a connection a reactor reported open (accepted, or our
    /// outbound link to a master): `connection` is fd (Int32), peer and local address
    /// lengths (UInt16 each), then both addresses as text.
    @discardableResult
    func registerClient(reactor r: Int, token: UInt64, connection payload: UnsafeRawBufferPointer) -> Client {
        let fd = payload.load(as: Int32.self)
        let peerLength = Int(payload.load(fromByteOffset: 4, as: UInt16.self))
        let localLength = Int(payload.load(fromByteOffset: 6, as: UInt16.self))
        let peer = String(decoding: UnsafeRawBufferPointer(rebasing: payload[8..<(8 + peerLength)]), as: UTF8.self)
        let local = String(decoding: UnsafeRawBufferPointer(
            rebasing: payload[(8 + peerLength)..<(8 + peerLength + localLength)]), as: UTF8.self)
        let c = Client(id: nextClientID, token: token, reactor: r, fd: fd, peer: peer, local: local, now: now)
        nextClientID += 1
        c.authenticated = config.requirepass.isEmpty
        clientsBySlot[r][c.slot] = c
        clientsByID[c.id] = c
        return c
    }

    private func closeClient(reactor r: Int, token: UInt64) {
        let slot = ConnectionToken(raw: token).slot
        guard let c = clientsBySlot[r][slot], c.token == token else { return }
        clientWillClose(c)
        clientsBySlot[r][slot] = nil
        clientsByID[c.id] = nil
        // `client` does not own what it points at (no reference counting per command):
        // it must not outlive the record.
        if client === c { client = nil }
    }

    /// Runs `body` with replies going to `target` (a pub/sub message, an unblocked client's
    /// reply, a replica's stream), then points them back at the running command's client.
    func withReplies(to target: Client, _ body: () -> Void) {
        let savedOut = out
        let savedResp3 = resp3
        out = staging + target.reactor
        out.pointee.open(token: target.token)
        resp3 = target.protocolVersion == 3
        body()
        out = savedOut
        resp3 = savedResp3
        if let c = client, !c.closing { out.pointee.open(token: c.token) }
    }

    /// Drops what other subsystems hold for a client that is going away.
    func clientWillClose(_ c: Client) {
        if c.multiState != nil { transactionsClientClosed(c) }
        if c.blockState != nil { blockingClientClosed(c) }
        if c.pausedRequest != nil { pause.waiting.removeAll { $0 === c } }
        if c.subscriptions != nil { pubsubClientClosed(c) }
        if c.isMonitor { monitorClosed(c) }
        if c.replicaLink != nil {
            replicationClientClosed(c)
        } else if replication.tracksClients {
            replicationForgetClient(c)
        }
        if replication.master?.client === c { masterClientClosed(c) }
        c.heldRequests.removeAll()
    }

    /// Asks the client's reactor to close it once its pending replies are written.
    func closeAfterReply(_ c: Client) {
        c.closing = true
        staging[c.reactor].control(kind: ReplyRecord.closeAfterWrite, token: c.token)
    }

    /// A "POST" or "Host:" command is an HTTP request smuggled to this port (a browser
    /// made to talk to it): close without a reply, like Redis's securityWarningCommand.
    func rejectCrossProtocolAttack() {
        logger.warning("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.")
        client.closing = true
        staging[client.reactor].control(kind: ReplyRecord.closeNow, token: client.token)
    }

    /// Every connected client, ordered by id (CLIENT LIST).
    var allClients: [Client] { clientsByID.values.sorted { $0.id < $1.id } }

    // MARK: periodic work

    /// Redis's serverCron, at `hz`: active expiry, incremental rehashing, table shrinking
    /// and the instantaneous-ops samples.
    private func cron() {
        now = wallClockMilliseconds()
        refreshAccessClock()
        clockMark = monotonicMicroseconds()
        clientPauseCron()
        updateFailoverStatus()
        // A replica waits for DELs; a paused server expires nothing.
        if activeExpireEnabled && replication.master == nil && pause.kind == .off { activeExpireCycle() }
        persistenceCron()
        closeIdleClients()
        replicaCron()
        for d in databases {
            d.table.shrinkIfSparse()
            if d.table.isRehashing { d.table.rehashFor(microseconds: 1000) }
        }
        stats.sampleOps(now: monotonicMilliseconds())
        replicationCron()
        continueEvictions()
    }

    /// Samples keys with a TTL in each database and deletes the expired ones, repeating
    /// while more than 10% of a sample had expired, within a time budget of 25% of a cron
    /// period (Redis's ACTIVE_EXPIRE_CYCLE_SLOW defaults).
    func activeExpireCycle() {
        let budget = 250_000 / max(1, config.hz)       // microseconds
        let start = monotonicMicroseconds()
        // The latency monitor's "expire-cycle" event, as Redis records it.
        defer {
            if config.latencyMonitorThreshold > 0 {
                latencySample("expire-cycle", milliseconds: (monotonicMicroseconds() - start) / 1000)
            }
        }
        for d in databases where d.table.volatileCount > 0 {
            var iterations = 0
            while d.table.volatileCount > 0 {
                let sample = min(20, d.table.volatileCount)
                var expired = 0
                for _ in 0..<sample {
                    let n = d.table.volatileCount
                    if n == 0 { break }
                    let e = d.table.volatileEntry(Int.random(in: 0..<n, using: &rng))
                    if e.expireAt < now {
                        d.deleteExpired(e, hasher: hasher)
                        expired += 1
                    }
                }
                iterations += 1
                if expired * 10 <= sample { break }
                if iterations & 15 == 0 && monotonicMicroseconds() - start > budget {
                    stats.expireCycleTimeouts += 1
                    return
                }
            }
        }
    }

    /// Ends the engine loop; `Server` stops the process.
    func requestShutdown() { shutdownRequested = true }
}

/// Milliseconds since the Unix epoch (vDSO, no syscall).
@inline(__always)
func wallClockMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

@inline(__always)
func wallClockMicroseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}
