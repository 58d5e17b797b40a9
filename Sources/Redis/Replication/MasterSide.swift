import Glibc
import Reactor

/// The master's half of replication (Redis's replication.c, master parts): serving
/// SYNC/PSYNC with a snapshot or the backlog, replica ACKs, WAIT, and the once-a-second
/// work (PING in the stream, dead replicas, backlog TTL, replica output limits).
///
/// The snapshot is made on the keyspace thread when a replica asks, so the replica's
/// stream starts at exactly the snapshot's offset with no copy-on-write child: the
/// replica's connection gets "+FULLRESYNC <id> <offset>", "$<len>\r\n<rdb>", then the
/// stream from that offset, all in order on one connection.
extension Engine {
    /// SYNC (`psync` false) and PSYNC <replid> <offset>.
    func syncCommand(_ a: Arguments, psync: Bool) {
        let c = client!
        let r = replication
        // A connection that is already a replica ignores SYNC, as Redis does.
        if let link = c.replicaLink, link.state == .online { return }
        // PSYNC <replid> <offset> FAILOVER from our master: it hands the role over, so we
        // become a master and continue it below from our previous history.
        if psync && a.count > 3 && a[3].equalsIgnoringCase("failover") {
            guard a[1].string.lowercased() == r.replid else {
                replyError("ERR PSYNC FAILOVER replid must match my replid.")
                return
            }
            config.replicaof = nil
            stopReplication()
            logger.notice("MASTER MODE enabled (failover request from '\(String(decoding: clientInfoLine(c, args: a), as: UTF8.self))')")
        }
        // Replicas do not sync with us while we hand our role over.
        if r.failover.phase != .none {
            replyError("NOMASTERLINK Can't SYNC while failing over")
            return
        }
        if r.followsMaster && !r.masterLinkUp {
            replyError("NOMASTERLINK Can't SYNC while not connected with my master")
            return
        }
        logger.notice("Replica \(replicaName(c)) asks for synchronization")
        let link = replicaLink(of: c)
        if psync {
            guard let offset = parseInteger(a[2]) else {
                logger.warning("Replica \(replicaName(c)) asks for synchronization but with a wrong offset")
                replyNotInteger()
                return
            }
            let id = a[1].string
            if tryPartialResync(c, link, id: id, offset: Int64(offset)) {
                r.syncPartialOK += 1
                return
            }
            if !id.hasPrefix("?") { r.syncPartialErr += 1 }
        } else {
            link.prePSYNC = true
        }
        fullResync(c, link, psync: psync)
    }

    /// Continues a replica from the backlog when it asks for our id (or our previous id,
    /// up to where it is valid) and an offset the backlog still holds.
    private func tryPartialResync(_ c: Client, _ link: ReplicaLink, id: String, offset: Int64) -> Bool {
        let r = replication
        replicationFlushStream()
        let asked = id.lowercased()
        if asked != r.replid && (asked != r.replid2 || offset > r.secondReplOffset) {
            if id.hasPrefix("?") {
                logger.notice("Full resync requested by replica \(replicaName(c))")
            } else if asked != r.replid && asked != r.replid2 {
                logger.notice("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '\(id)', my replication IDs are '\(r.replid)' and '\(r.replid2)')")
            } else {
                logger.notice("Partial resynchronization not accepted: Requested offset for second ID was \(offset), but I can reply up to \(r.secondReplOffset)")
            }
            return false
        }
        guard let backlog = r.backlog, backlog.contains(offset: offset) else {
            logger.notice("Unable to partial resync with replica \(replicaName(c)) for lack of backlog (Replica request was: \(offset)).")
            if offset > r.masterReplOffset {
                logger.warning("Warning: replica \(replicaName(c)) tried to PSYNC with an offset that is greater than the master replication offset.")
            }
            return false
        }
        attach(c, link)
        replyRaw(link.capaPSYNC2 ? Array("+CONTINUE \(r.replid)\r\n".utf8) : Array("+CONTINUE\r\n".utf8))
        let length = backlog.nextOffset - offset
        backlog.forEachPiece(from: offset) { replyRaw($0) }
        logger.notice("Partial resynchronization request from \(replicaName(c)) accepted. Sending \(length) bytes of backlog starting from offset \(offset).")
        return true
    }

    /// Serves a full resynchronization. The snapshot is taken by a SnapshotJob while
    /// clients are served: the replica gets "+FULLRESYNC <id> <offset>" at once, then,
    /// when the job is done, the file and the stream produced since that offset. A replica
    /// arriving while a job runs joins it when it can get the same stream (nothing was fed
    /// since the start, or another waiting replica's stream is copied), like Redis's
    /// attaching to a running BGSAVE; otherwise it waits for the next job.
    private func fullResync(_ c: Client, _ link: ReplicaLink, psync: Bool) {
        let r = replication
        replicationFlushStream()
        if r.backlog == nil {
            // A backlog created from scratch has no past history: new id, no secondary id.
            r.replid = newReplicationID()
            r.replid2 = String(repeating: "0", count: 40)
            r.secondReplOffset = -1
            r.backlog = ReplicationBacklog(capacity: config.replBacklogSize, nextOffset: r.masterReplOffset + 1)
            logger.notice("Replication backlog created, my new replication IDs are '\(r.replid)' and '\(r.replid2)'")
        }
        r.syncFull += 1
        if !r.replicas.contains(where: { $0 === c }) { r.replicas.append(c) }
        r.noReplicasSince = 0
        // Nothing changed since the last snapshot was made: send it again right away.
        if let s = r.snapshot, s.dirty == dirty, s.offset == r.masterReplOffset, s.id == r.replid {
            announceFullResync(c, link, offset: s.offset)
            sendSnapshot(s.bytes, to: c, link)
            return
        }
        if let job = snapshotJob {
            let companion = job.replicas.first { !$0.closing && $0.replicaLink?.state == .waitingSnapshot }
            if job.joinable && job.replicationID == r.replid
                && (r.masterReplOffset == job.replicationOffset || companion != nil) {
                announceFullResync(c, link, offset: job.replicationOffset)
                link.state = .waitingSnapshot
                link.pendingStream = companion?.replicaLink?.pendingStream ?? []
                job.replicas.append(c)
                if link.capaEOF { startStreaming(job, to: c, link) }
                logger.notice("Waiting for end of the snapshot in progress for SYNC")
            } else {
                link.state = .waitingNextSnapshot
                r.waitingNextSnapshot.append(c)
                logger.notice("Can't attach the replica to the current snapshot. Waiting for next snapshot for SYNC")
            }
            return
        }
        startReplicationSnapshot(for: [c])
    }

    /// Starts a snapshot job for `clients`, each told the offset it will continue from.
    private func startReplicationSnapshot(for clients: [Client]) {
        let r = replication
        replicationFlushStream()
        let job = startSnapshotJob(replication: (r.replid, r.masterReplOffset, max(0, r.streamDatabase)))
        // The stream after the snapshot selects its database again: the replica starts in db 0.
        r.streamDatabase = -1
        for c in clients {
            guard let link = c.replicaLink else { continue }
            announceFullResync(c, link, offset: job.replicationOffset)
            link.state = .waitingSnapshot
            link.pendingStream = []
            job.replicas.append(c)
            if link.capaEOF { startStreaming(job, to: c, link) }
        }
        logger.notice("Starting a snapshot for replication of \(job.sections.reduce(0) { $0 + $1.keys }) keys at offset \(job.replicationOffset), clients served meanwhile")
    }

    /// "+FULLRESYNC <id> <offset>" (PSYNC only; SYNC gets the file alone).
    private func announceFullResync(_ c: Client, _ link: ReplicaLink, offset: Int64) {
        guard !link.prePSYNC else { return }
        withReplies(to: c) { replyRaw(Array("+FULLRESYNC \(replication.replid) \(offset)\r\n".utf8)) }
    }

    /// Starts sending "$<len>\r\n<rdb>": the file goes out in pieces between batches
    /// (`replicationPumpSnapshots`), so the other clients of the replica's reactor are not
    /// held behind a file's worth of staged output. The stream keeps accumulating meanwhile.
    private func sendSnapshot(_ rdb: [UInt8], to c: Client, _ link: ReplicaLink) {
        logger.notice("Sending a snapshot of \(rdb.count) bytes to replica \(replicaName(c))")
        withReplies(to: c) { replyRaw(Array("$\(rdb.count)\r\n".utf8)) }
        link.state = .waitingSnapshot
        link.snapshotToSend = rdb
        link.snapshotSent = 0
        link.snapshotBase = 0
        replication.sendingSnapshots.append(c)
    }

    /// Starts sending `job`'s file to a replica that reads the EOF form while the job is
    /// still making it: "$EOF:<40 random characters>", then the bytes as they come.
    private func startStreaming(_ job: SnapshotJob, to c: Client, _ link: ReplicaLink) {
        let mark = Array(newReplicationID().utf8)
        withReplies(to: c) { replyRaw(Array("$EOF:".utf8) + mark + Array("\r\n".utf8)) }
        link.eofMark = mark
        link.streamingJob = job
        link.snapshotSent = 0
        link.snapshotBase = 0
        replication.sendingSnapshots.append(c)
        logger.notice("Streaming the snapshot to replica \(replicaName(c)) as it is made (EOF form)")
    }

    /// Moves the next pieces of the snapshots being sent into reply staging, as long as
    /// the replica's reactor has little output staged; a replica whose file is all out
    /// gets the stream it missed and goes online. Returns whether anything was moved.
    @discardableResult
    func replicationPumpSnapshots() -> Bool {
        let r = replication
        var moved = false
        var i = 0
        while i < r.sendingSnapshots.count {
            let c = r.sendingSnapshots[i]
            guard !c.closing, let link = c.replicaLink, link.snapshotToSend != nil || link.streamingJob != nil else {
                r.sendingSnapshots.remove(at: i)
                continue
            }
            // The finished file, or as much as the running job has made.
            let available = link.snapshotToSend?.count ?? link.streamingJob!.bytesWritten
            // A replica that does not read as fast as the file comes is fed when its
            // connection drains (the reactor's outputDrained record wakes us), so the file
            // waits here, not in the reactor's output buffer.
            let congested = channels[c.reactor].outputCongested[c.slot].load(ordering: .relaxed)
            if congested && link.snapshotSent < available {
                if link.snapshotStalledSince == 0 { link.snapshotStalledSince = now }
            } else {
                link.snapshotStalledSince = 0
            }
            var budget = congested ? 0 : snapshotPieceBytes * 4
            while link.snapshotSent < available && budget > 0
                && staging[c.reactor].pendingBytes < snapshotPieceBytes {
                let range = link.snapshotSent..<min(available, link.snapshotSent + snapshotPieceBytes)
                withReplies(to: c) {
                    if let rdb = link.snapshotToSend {
                        rdb.withUnsafeBytes { replyRaw(UnsafeRawBufferPointer(rebasing: $0[range])) }
                    } else {
                        link.streamingJob!.withBytes(range) { replyRaw($0) }
                    }
                }
                link.snapshotSent = range.upperBound
                budget -= range.count
                moved = true
                flushReplies(reactor: c.reactor)
            }
            guard let rdb = link.snapshotToSend, link.snapshotSent == rdb.count else {
                i += 1
                continue
            }
            link.snapshotToSend = nil
            r.sendingSnapshots.remove(at: i)
            moved = true
            if let mark = link.eofMark {
                withReplies(to: c) { replyRaw(mark) }
                link.eofMark = nil
                link.onlineOnAck = true
                link.snapshotBytes = link.snapshotBase + rdb.count
                logger.notice("Streamed transfer with replica \(replicaName(c)) succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming")
                continue
            }
            streamAfterSnapshot(c, link, fileBytes: link.snapshotBase + rdb.count)
        }
        return moved
    }

    /// How much of `job`'s file every replica waiting for it has been sent, when they all
    /// receive it as it is made (EOF form); nil when one needs the whole file at the end
    /// or none waits. The job need not hold the bytes before that.
    func replicationStreamedSnapshotBytes(_ job: SnapshotJob) -> Int? {
        if job.discarding { return nil }
        var low = Int.max
        for c in job.replicas where !c.closing {
            guard let link = c.replicaLink, link.streamingJob === job else { return nil }
            low = min(low, link.snapshotSent)
        }
        return low == Int.max ? nil : low
    }

    /// The replica has its file (sent whole, or in the EOF form and acknowledged): the
    /// stream it missed follows and it is online.
    private func streamAfterSnapshot(_ c: Client, _ link: ReplicaLink, fileBytes: Int) {
        link.onlineOnAck = false
        replicationFlushStream()   // the stream so far, into its pending buffer
        if !link.pendingStream.isEmpty {
            withReplies(to: c) { link.pendingStream.withUnsafeBytes { replyRaw($0) } }
        }
        attach(c, link)
        link.snapshotBytes = fileBytes
        logger.notice("Synchronization with replica \(replicaName(c)) succeeded")
    }

    /// A snapshot job is complete: every replica waiting for it gets it, and the file is
    /// kept for replicas asking before anything changes.
    func replicationSnapshotReady(_ job: SnapshotJob, _ bytes: [UInt8]) {
        let r = replication
        replicationFlushStream()   // the stream so far goes into the waiting replicas' buffers
        for c in job.replicas where !c.closing {
            guard let link = c.replicaLink, link.state == .waitingSnapshot else { continue }
            if link.streamingJob === job {
                link.streamingJob = nil
                link.snapshotToSend = bytes   // the rest, then the mark
                link.snapshotBase = job.spilledBytes
                link.snapshotSent -= job.spilledBytes
            } else if job.spilledBytes == 0 {
                sendSnapshot(bytes, to: c, link)
            } else {
                // Not reached: the job keeps its whole file while such a replica waits.
                link.state = .waitingNextSnapshot
                r.waitingNextSnapshot.append(c)
            }
        }
        // A file whose start was dropped along the way cannot be sent again.
        if job.spilledBytes == 0 {
            r.snapshot = (bytes, job.dirtyAtStart, job.replicationOffset, job.replicationID)
        }
    }

    /// Replicas that could not join the last snapshot job get a new one, once none runs.
    func replicationStartWaitingSyncs() {
        let r = replication
        r.waitingNextSnapshot.removeAll { $0.closing || $0.replicaLink?.state != .waitingNextSnapshot }
        guard snapshotJob == nil, !r.waitingNextSnapshot.isEmpty else { return }
        let clients = r.waitingNextSnapshot
        r.waitingNextSnapshot = []
        startReplicationSnapshot(for: clients)
    }

    /// Makes `c` an online replica: the stream flows to it from now on.
    private func attach(_ c: Client, _ link: ReplicaLink) {
        let r = replication
        link.state = .online
        link.ackTime = now
        link.ackedSinceSync = false
        link.snapshotBytes = 0
        link.pendingStream = []
        if !r.replicas.contains(where: { $0 === c }) { r.replicas.append(c) }
        r.noReplicasSince = 0
    }

    /// The ReplicaLink of `c`, created on first use (REPLCONF before SYNC).
    func replicaLink(of c: Client) -> ReplicaLink {
        if let l = c.replicaLink { return l }
        let l = ReplicaLink()
        c.replicaLink = l
        return l
    }

    /// Whether `c` is an attached replica (CLIENT_SLAVE).
    func isReplica(_ c: Client) -> Bool { c.replicaLink?.state == .online }

    // MARK: ACKs and WAIT

    /// REPLCONF ACK <offset> from a replica: no reply, like Redis.
    func replicaAcknowledged(_ c: Client, _ offset: UnsafeRawBufferPointer) {
        guard let link = c.replicaLink else { return }
        if link.onlineOnAck && link.state == .waitingSnapshot { streamAfterSnapshot(c, link, fileBytes: link.snapshotBytes) }
        guard link.state == .online, let n = parseInteger(offset) else { return }
        if Int64(n) > link.ackOffset { link.ackOffset = Int64(n) }
        link.ackTime = now
        link.ackedSinceSync = true
        replication.acksChanged = true
    }

    /// Replicas that acknowledged at least `offset`.
    func replicasAcknowledging(_ offset: Int64) -> Int {
        var n = 0
        for c in replication.replicas where c.replicaLink?.state == .online && c.replicaLink!.ackOffset >= offset { n += 1 }
        return n
    }

    /// WAIT numreplicas timeout: the number of replicas that acknowledged this client's
    /// last write, once `numreplicas` did or the timeout (ms, 0 = forever) passed. Only the
    /// caller waits: its later requests are held until the reply.
    func waitCommand(_ a: Arguments) {
        let r = replication
        if r.followsMaster {
            replyError("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
            return
        }
        guard let wanted = integerArgument(a[1]) else { return }
        guard let timeout = parseInteger(a[2]) else {
            replyError("ERR timeout is not an integer or out of range")
            return
        }
        if timeout < 0 {
            replyError("ERR timeout is negative")
            return
        }
        let c = client!
        let offset = r.writeOffset(of: c.id)
        let acks = replicasAcknowledging(offset)
        if acks >= wanted || !canBlock {
            replyInteger(acks)
            return
        }
        let deadline: Int64 = timeout > 0 ? now + Int64(timeout) : 0
        r.waiting.append(WaitRequest(client: c, offset: offset, numReplicas: wanted, deadline: deadline))
        // Blocked on no key and with no deadline of its own: only ACKs and the WAIT
        // timeout here end it, with the count as the reply (not a null on timeout).
        blockClient(on: [], deadline: 0, args: a)
        r.ackRequested = true
    }

    /// Answers the WAITs that have enough ACKs, or whose deadline is before `timedOutBefore`
    /// (0: only satisfied ones), then runs the requests each one held back.
    func replicationServeWaiters(timedOutBefore limit: Int64) {
        let r = replication
        var i = 0
        while i < r.waiting.count {
            let w = r.waiting[i]
            if w.client.closing {
                r.waiting.remove(at: i)
                continue
            }
            let acks = replicasAcknowledging(w.offset)
            let expired = limit > 0 && w.deadline != 0 && w.deadline <= limit
            if acks < w.numReplicas && !expired {
                i += 1
                continue
            }
            r.waiting.remove(at: i)
            let c = w.client
            withReplies(to: c) { replyInteger(acks) }
            unblock(c)
            runHeldRequests(of: c)
        }
    }

    // MARK: periodic work

    /// Called from the engine's cron (hz times a second): WAIT timeouts and replica output
    /// limits at every call, the rest once a second like Redis's replicationCron.
    func replicationCron() {
        let r = replication
        if !r.waiting.isEmpty { replicationServeWaiters(timedOutBefore: now) }
        if !r.replicas.isEmpty { enforceReplicaOutputLimits() }
        if let b = r.backlog, b.capacity != config.replBacklogSize {
            replicationFlushStream()   // CONFIG SET repl-backlog-size
            b.resize(to: config.replBacklogSize)
        }
        let mono = monotonicMilliseconds()
        if mono - r.lastCron >= 1000 {
            r.lastCron = mono
            if !r.replicas.isEmpty && !failoverHoldsPings && mono - r.lastPing >= Int64(config.replPingReplicaPeriod) * 1000 {
                r.lastPing = mono
                replicationFeedInternal(["ping"])   // lowercase, as Redis's shared.ping
            }
            // Replicas waiting for a snapshot get a newline a second, so they know we are
            // alive (they skip newlines before the snapshot's length line).
            for c in r.replicas where !c.closing && c.replicaLink?.awaitsFile == true {
                withReplies(to: c) { replyRaw(Array("\n".utf8)) }
            }
            disconnectTimedOutReplicas()
            if r.replicas.isEmpty, r.backlog != nil, !r.followsMaster, config.replBacklogTTL > 0,
               r.noReplicasSince > 0, mono - r.noReplicasSince >= Int64(config.replBacklogTTL) * 1000 {
                // With no replica for that long nobody can continue from the backlog: free
                // it, and start a new history so nobody continues from stale offsets.
                r.backlog = nil
                r.pending.clear()
                r.replid = newReplicationID()
                r.replid2 = String(repeating: "0", count: 40)
                r.secondReplOffset = -1
                logger.notice("Replication backlog freed after \(config.replBacklogTTL) seconds without connected replicas.")
            }
            if let s = r.snapshot, s.dirty != dirty || s.offset != r.masterReplOffset { r.snapshot = nil }
        }
        replicationBatchEnd()
    }

    /// Replicas silent for longer than repl-timeout are dropped (SYNC-only ones never ACK),
    /// and so are replicas that took none of their file for that long.
    private func disconnectTimedOutReplicas() {
        let limit = Int64(config.replTimeout) * 1000
        for c in replication.sendingSnapshots where !c.closing {
            guard let link = c.replicaLink, link.snapshotStalledSince > 0, now - link.snapshotStalledSince > limit else { continue }
            logger.warning("Disconnecting timedout replica (full sync): \(replicaName(c))")
            c.closing = true
            staging[c.reactor].control(kind: ReplyRecord.closeNow, token: c.token)
        }
        for c in replication.replicas where !c.closing {
            guard let link = c.replicaLink, link.state == .online, !link.prePSYNC else { continue }
            if now - link.ackTime > limit {
                logger.warning("Disconnecting timedout replica (streaming sync): \(replicaName(c))")
                c.closing = true
                staging[c.reactor].control(kind: ReplyRecord.closeNow, token: c.token)
            }
        }
    }

    /// client-output-buffer-limit replica: a replica whose unsent stream passed the hard
    /// limit, or stayed above the soft one too long, is disconnected (it will resync).
    /// Until it acknowledges, the snapshot it may still be receiving sits in the same
    /// output and is not counted.
    func enforceReplicaOutputLimits() {
        let (hard, soft, seconds) = config.outputLimits(forClass: "slave")
        if hard == 0 && soft == 0 { return }
        let mono = monotonicMilliseconds()
        for c in replication.replicas where !c.closing {
            guard let link = c.replicaLink else { continue }
            let size: Int
            switch link.state {
            case .waitingSnapshot:
                size = link.pendingStream.count   // the stream held back until the file is sent
            case .online:
                let buffered = channels[c.reactor].slotStats[c.slot].outputBuffered.load(ordering: .relaxed)
                size = link.ackedSinceSync ? buffered : max(0, buffered - link.snapshotBytes)
            case .handshake, .waitingNextSnapshot:
                continue
            }
            var over = hard > 0 && size >= hard
            if !over && soft > 0 && size >= soft {
                if link.softLimitSince == 0 {
                    link.softLimitSince = mono
                } else if mono - link.softLimitSince > Int64(seconds) * 1000 {
                    over = true
                }
            } else {
                link.softLimitSince = 0
            }
            if over {
                logger.warning("Client id=\(c.id) addr=\(c.peerAddress) (replica \(replicaName(c))) closed for overcoming of output buffer limits.")
                _ = settings.clientsClosedForOutputLimit.add(1, ordering: .relaxed)
                c.closing = true
                staging[c.reactor].control(kind: ReplyRecord.closeNow, token: c.token)
            }
        }
    }
}
