import Glibc
import Reactor

/// Role, replication ids and offsets, backlog, attached replicas, link to a master.
///
/// The replication stream is encoded once per write into `pending`; at the end of each
/// engine batch (and before anything that reads offsets or the backlog) those bytes go to
/// the backlog and to every online replica's connection, one record per replica per batch.
final class ReplicationState {
    /// Our replication id (master_replid): 40 hex characters, new at start, when the
    /// backlog is created from scratch and on promotion.
    var replid: String = newReplicationID()
    /// The previous id, valid up to `secondReplOffset` (after a promotion).
    var replid2: String = String(repeating: "0", count: 40)
    /// Bytes of replication stream produced (or, on a replica, received) so far.
    var masterReplOffset: Int64 = 0
    /// Last offset + 1 up to which `replid2` may be continued; -1 when there is none.
    var secondReplOffset: Int64 = -1
    /// Exists once a replica attached (Redis creates it lazily); nil means nothing is fed.
    var backlog: ReplicationBacklog?
    /// Database the stream last selected (Redis's slaveseldb); -1 forces a SELECT.
    var streamDatabase = -1
    /// Stream bytes encoded this batch, not yet in the backlog or sent to replicas.
    @exclusivity(unchecked) var pending = ByteBuffer(capacity: 16 * 1024)
    /// Set while this server replicates a master: its command execution is not fed, the
    /// master's bytes are forwarded as received through `feedRawStream` instead.
    var followsMaster = false
    /// While following a master: whether its link is up (sub-replicas may sync only then).
    var masterLinkUp = false
    /// Our link to the master we replicate, nil while we are a master (ReplicaSide.swift).
    var master: MasterLink?

    /// Connections that asked for SYNC/PSYNC, in the order they attached.
    @exclusivity(unchecked) var replicas: [Client] = []
    /// FAILOVER's state machine (Failover.swift).
    var failover = FailoverState()
    /// Monotonic ms when the last replica went away (backlog TTL); 0 while replicas exist.
    var noReplicasSince: Int64 = 0
    /// INFO stats: sync_full, sync_partial_ok, sync_partial_err.
    var syncFull = 0
    var syncPartialOK = 0
    var syncPartialErr = 0

    /// Clients blocked in WAIT, oldest first.
    @exclusivity(unchecked) var waiting: [WaitRequest] = []
    /// A WAIT asked for fresh ACKs: REPLCONF GETACK * goes out at the end of the batch.
    /// When a batch end last checked the replicas' output limits (wall-clock ms).
    var lastOutputLimitCheck: Int64 = 0
    var ackRequested = false
    /// An ACK arrived: waiting clients are checked at the end of the batch.
    var acksChanged = false
    /// Replication offset right after each client's last propagated write (Redis's
    /// c->woff), for WAIT. The latest writer is kept outside the dictionary so a run of
    /// writes by one connection costs no hashing.
    var lastWriterID = 0
    var lastWriterOffset: Int64 = 0
    @exclusivity(unchecked) var writeOffsets: [Int: Int64] = [:]

    /// The last full-sync snapshot, reused by replicas asking before anything changed.
    var snapshot: (bytes: [UInt8], dirty: Int, offset: Int64, id: String)?
    /// Replicas that asked for a full sync while a snapshot job could not take them: they
    /// get the next one.
    var waitingNextSnapshot: [Client] = []
    /// Replicas whose snapshot file is being sent piece by piece.
    @exclusivity(unchecked) var sendingSnapshots: [Client] = []
    /// Monotonic ms of the last once-a-second replication cron, and of the last PING fed.
    var lastCron: Int64 = 0
    var lastPing: Int64 = 0

    deinit { pending.free() }

    /// Whether writes are being fed (a backlog exists and we are not a replica).
    @inline(__always) var feedsWrites: Bool { backlog != nil && !followsMaster }

    /// Offset after `clientID`'s last propagated write (0 if it never wrote while fed).
    func writeOffset(of clientID: Int) -> Int64 {
        clientID == lastWriterID ? lastWriterOffset : writeOffsets[clientID] ?? 0
    }
}

/// 40 random hex characters (Redis's getRandomHexChars for replication ids).
func newReplicationID() -> String {
    var g = SystemRandomNumberGenerator()
    return String((0..<40).map { _ in "0123456789abcdef".randomElement(using: &g)! })
}

/// What the master knows of a connection that is (or is about to become, after REPLCONF
/// listening-port) one of its replicas.
final class ReplicaLink {
    enum State {
        /// REPLCONF seen, no SYNC/PSYNC yet: still an ordinary client.
        case handshake
        /// Told +FULLRESYNC; the snapshot job it waits for is running (Redis's
        /// wait_bgsave). Its stream accumulates in `pendingStream`.
        case waitingSnapshot
        /// Waits for a snapshot job to start (one that it could not join was running).
        case waitingNextSnapshot
        /// Snapshot or backlog sent; the stream flows to it.
        case online
    }
    var state = State.handshake
    /// REPLCONF listening-port (0 when not told) and ip-address.
    var listeningPort = 0
    var announcedIP: String?
    /// REPLCONF capa eof / psync2.
    var capaEOF = false
    var capaPSYNC2 = false
    /// Attached with the old SYNC: it sends no ACKs, so it never times out on them.
    var prePSYNC = false
    /// Highest offset it acknowledged (REPLCONF ACK), and when (unix ms).
    var ackOffset: Int64 = 0
    var ackTime: Int64 = 0
    /// An ACK came after the snapshot: it loaded it, so its output is stream, not snapshot,
    /// and output limits apply.
    var ackedSinceSync = false
    /// Size of the snapshot sent to it, not counted against output limits until it ACKs.
    var snapshotBytes = 0
    /// While waiting for its snapshot: the stream since the snapshot's offset, sent right
    /// after the file.
    @exclusivity(unchecked) var pendingStream: [UInt8] = []
    /// The file being sent to it, and how much of it is staged already. After a streamed
    /// transfer whose start the job no longer holds, `snapshotToSend` is the file's end
    /// from offset `snapshotBase` on.
    var snapshotToSend: [UInt8]?
    var snapshotSent = 0
    var snapshotBase = 0
    /// Unix ms since its connection has been too congested to take more of the file, or 0.
    var snapshotStalledSince: Int64 = 0
    /// A replica that announced `capa eof` gets the file as the snapshot job makes it:
    /// "$EOF:<mark>", the bytes, the mark (Redis's diskless form). The job it follows.
    var streamingJob: SnapshotJob?
    var eofMark: [UInt8]?
    /// The file went out in the EOF form: the stream follows its first ACK, as a Redis
    /// replica only finds the mark at the end of what it reads.
    var onlineOnAck = false

    /// Told to expect a file, none of which has been sent yet: only then may a keepalive
    /// newline go out (once the length line or EOF mark is out, it would corrupt the file).
    var awaitsFile: Bool {
        (state == .waitingSnapshot || state == .waitingNextSnapshot)
            && snapshotToSend == nil && streamingJob == nil && !onlineOnAck
    }
    /// Monotonic ms since its output has been above the soft limit, or 0.
    var softLimitSince: Int64 = 0
}

/// Size of the pieces a snapshot file is staged in, and the staged output of a reactor
/// below which the next piece goes.
let snapshotPieceBytes = 256 << 10

/// A client blocked in WAIT: done when `numReplicas` replicas acknowledged `offset`.
struct WaitRequest {
    let client: Client
    let offset: Int64
    let numReplicas: Int
    /// Unix ms; 0 waits forever.
    let deadline: Int64
}

extension Engine {
    /// Appends a write to the replication stream (backlog and every online replica),
    /// preceded by SELECT when the database differs from the stream's. Costs one branch
    /// until a replica has attached.
    @inline(__always)
    func replicationFeed(_ args: Arguments, database: Int) {
        guard replication.feedsWrites else { return }
        replicationEncode(args, database: database)
    }

    /// Encodes `args` (and a SELECT if needed) once into the batch's stream bytes.
    func replicationEncode(_ args: Arguments, database: Int) {
        let r = replication
        let before = r.pending.readable
        if database != r.streamDatabase && database >= 0 {
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
            withUnsafeMutableBytes(of: &digits) { d in
                let n = formatDecimal(Int64(database), into: d.baseAddress!)
                encodeMultibulk(into: &r.pending, count: 2) { put in
                    put(UnsafeRawBufferPointer(start: selectWord, count: 6))
                    put(UnsafeRawBufferPointer(rebasing: d[0..<n]))
                }
            }
            r.streamDatabase = database
        }
        encodeMultibulk(into: &r.pending, count: args.count) { put in
            for i in 0..<args.count { put(args[i]) }
        }
        r.masterReplOffset += Int64(r.pending.readable - before)
        if let c = client {
            if c.id != r.lastWriterID {
                if r.lastWriterID != 0 { r.writeOffsets[r.lastWriterID] = r.lastWriterOffset }
                r.lastWriterID = c.id
            }
            r.lastWriterOffset = r.masterReplOffset
        }
    }

    /// Feeds a command built from text parts (PING, REPLCONF GETACK *) to the stream in
    /// the stream's current database, without a SELECT, like replicationFeedSlaves with
    /// slaveseldb.
    func replicationFeedInternal(_ parts: [String]) {
        guard replication.feedsWrites else { return }
        let r = replication
        let before = r.pending.readable
        encodeMultibulk(into: &r.pending, count: parts.count) { put in
            for p in parts {
                var s = p
                s.withUTF8 { put(UnsafeRawBufferPointer($0)) }
            }
        }
        r.masterReplOffset += Int64(r.pending.readable - before)
    }

    /// Moves the batch's stream bytes into the backlog and to every online replica. Called
    /// at the end of each batch and before anything reads the backlog or offsets.
    func replicationFlushStream() {
        let r = replication
        guard r.pending.readable > 0 else { return }
        let bytes = r.pending.readableBytes
        r.backlog?.append(bytes)
        for c in r.replicas where !c.closing {
            guard let link = c.replicaLink else { continue }
            switch link.state {
            case .online: withReplies(to: c) { replyRaw(bytes) }
            case .waitingSnapshot: link.pendingStream.append(contentsOf: bytes)
            case .handshake, .waitingNextSnapshot: break
            }
        }
        r.pending.clear()
        // A huge write (a big MSET) grew the buffer: give the memory back once sent.
        if r.pending.capacity > 16 << 20 {
            r.pending.free()
            r.pending.reserveCapacity(16 * 1024)
        }
    }

    /// End of an engine batch: send pending stream bytes, ask replicas for ACKs if a WAIT
    /// needs them, and answer WAITs that are satisfied.
    func replicationBatchEnd() {
        let r = replication
        // Answered WAITs run the requests they held first, so their writes go out now too.
        if r.acksChanged {
            r.acksChanged = false
            replicationServeWaiters(timedOutBefore: 0)
        }
        if r.ackRequested {
            r.ackRequested = false
            replicationFeedInternal(["REPLCONF", "GETACK", "*"])
        }
        replicationFlushStream()
        // The stream just grew: a replica past its output limit is cut within ~10 ms of
        // stream (Redis checks on every append), not only at the next cron.
        if now - r.lastOutputLimitCheck >= 10 && !r.replicas.isEmpty {
            r.lastOutputLimitCheck = now
            enforceReplicaOutputLimits()
        }
    }

    /// Whether the batch end has replication work (checked on every batch: cheap).
    @inline(__always)
    var replicationHasBatchWork: Bool {
        replication.pending.readable > 0 || replication.ackRequested || replication.acksChanged
    }

    /// A replica's, or a would-be replica's, connection is gone.
    func replicationClientClosed(_ c: Client) {
        let r = replication
        if let i = r.replicas.firstIndex(where: { $0 === c }) {
            r.replicas.remove(at: i)
            logger.notice("Connection with replica \(replicaName(c)) lost.")
            if r.replicas.isEmpty { r.noReplicasSince = monotonicMilliseconds() }
        }
        if let job = snapshotJob { job.replicas.removeAll { $0 === c } }
        r.waitingNextSnapshot.removeAll { $0 === c }
        r.sendingSnapshots.removeAll { $0 === c }
        c.replicaLink = nil
        replicationForgetClient(c)
    }

    /// Drops WAIT state of a client that is going away.
    func replicationForgetClient(_ c: Client) {
        let r = replication
        if !r.waiting.isEmpty { r.waiting.removeAll { $0.client === c } }
        if r.lastWriterID == c.id { r.lastWriterID = 0 } else if !r.writeOffsets.isEmpty { r.writeOffsets[c.id] = nil }
    }

    // MARK: API for the replica side

    /// REPLICAOF NO ONE: the current id becomes the secondary one, valid up to the current
    /// offset, so replicas of our old master can continue with us; a new id starts
    /// (Redis's shiftReplicationId). The next fed write selects its database again.
    func shiftReplicationID() {
        replicationFlushStream()
        let r = replication
        r.replid2 = r.replid
        r.secondReplOffset = r.masterReplOffset + 1
        r.replid = newReplicationID()
        r.streamDatabase = -1
        logger.notice("Setting secondary replication ID to \(r.replid2), valid up to offset: \(r.secondReplOffset). New replication ID is \(r.replid)")
    }

    /// After a full sync from a master: adopt its id and offset, forget the secondary id,
    /// start an empty backlog at that offset, and drop our own replicas, whose data came
    /// from the history we just replaced (they resync with us).
    func setReplicationID(_ id: String, offset: Int64) {
        let r = replication
        r.pending.clear()
        r.replid = id
        r.masterReplOffset = offset
        r.replid2 = String(repeating: "0", count: 40)
        r.secondReplOffset = -1
        r.backlog = ReplicationBacklog(capacity: config.replBacklogSize, nextOffset: offset + 1)
        r.streamDatabase = -1
        r.snapshot = nil
        disconnectReplicas()
    }

    /// Chained replication: the exact bytes our master sent (after the snapshot) go to our
    /// backlog and sub-replicas, and advance our offset, so sub-replicas see the master's
    /// ids and offsets.
    func feedRawStream(_ bytes: UnsafeRawBufferPointer) {
        let r = replication
        if r.backlog == nil {
            r.backlog = ReplicationBacklog(capacity: config.replBacklogSize, nextOffset: r.masterReplOffset + 1)
        }
        r.pending.append(bytes)
        r.masterReplOffset += Int64(bytes.count)
    }

    /// Closes every replica's connection (they will reconnect and resync).
    func disconnectReplicas() {
        for c in replication.replicas where !c.closing {
            c.closing = true
            staging[c.reactor].control(kind: ReplyRecord.closeNow, token: c.token)
        }
    }

    /// "ip:port" of a replica as Redis's replicationGetSlaveName prints it.
    func replicaName(_ c: Client) -> String {
        let (ip, port) = replicaAddress(c)
        return port > 0 ? "\(ip):\(port)" : "\(ip):<unknown-replica-port>"
    }

    /// The address a replica is known by: REPLCONF ip-address, else the peer's IP; and its
    /// REPLCONF listening-port.
    func replicaAddress(_ c: Client) -> (String, Int) {
        let link = c.replicaLink
        if let ip = link?.announcedIP { return (ip, link?.listeningPort ?? 0) }
        var ip = c.peerAddress
        if let colon = ip.lastIndex(of: ":") { ip = String(ip[..<colon]) }
        if ip.hasPrefix("[") && ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
        return (ip, link?.listeningPort ?? 0)
    }
}

private let selectWord: UnsafeRawPointer = UnsafeRawPointer(("SELECT" as StaticString).utf8Start)

/// Writes "*<count>\r\n" then each part as "$<len>\r\n<bytes>\r\n" into `buffer`. `parts`
/// calls `put` once per argument.
@inline(__always)
func encodeMultibulk(into buffer: inout ByteBuffer, count: Int,
                     _ parts: ((UnsafeRawBufferPointer) -> Void) -> Void) {
    putLength(&buffer, UInt8(ascii: "*"), count)
    parts { arg in
        buffer.ensureWritable(arg.count + 26)
        putLength(&buffer, UInt8(ascii: "$"), arg.count)
        if arg.count > 0 { buffer.append(arg.baseAddress!, count: arg.count) }
        buffer.writePointer.storeBytes(of: 0x0A0D as UInt16, as: UInt16.self)
        buffer.commitWritten(2)
    }
}

@inline(__always)
private func putLength(_ buffer: inout ByteBuffer, _ prefix: UInt8, _ n: Int) {
    buffer.ensureWritable(24)
    let p = buffer.writePointer
    p.storeBytes(of: prefix, as: UInt8.self)
    let len = formatDecimal(Int64(n), into: p + 1)
    (p + 1 + len).storeBytes(of: 0x0A0D as UInt16, as: UInt16.self)
    buffer.commitWritten(len + 3)
}

extension ReplicationState {
    /// Whether a closing client may appear in WAIT state (waiters or write offsets).
    var tracksClients: Bool { !waiting.isEmpty || lastWriterID != 0 || !writeOffsets.isEmpty }
}

extension Engine {
    /// min-replicas-to-write is met (or min-replicas-max-lag is 0, which disables it, or we
    /// follow a master), like Redis's checkGoodReplicasStatus.
    var hasEnoughGoodReplicas: Bool {
        replication.followsMaster || config.minReplicasMaxLag == 0 || goodReplicaCount() >= config.minReplicasToWrite
    }
}
