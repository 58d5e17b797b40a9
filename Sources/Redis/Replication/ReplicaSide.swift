import Glibc
import Logging
import Reactor
import Synchronization

/// The role letter of log lines: M for a master, S for a replica, as Redis prints them.
let logRoleCharacter = Atomic<UInt8>(UInt8(ascii: "M"))

/// Our link to the master we replicate (REPLICAOF host port), and how far we got.
///
/// Everything here runs on the keyspace thread, driven by reactor records (`connected`,
/// `connectFailed`, `rawInput`, `close`) and by the cron: no blocking socket, no thread.
/// The states are Redis's (`ROLE` prints them): connect (waiting to dial), connecting,
/// handshake (PING, REPLCONF, PSYNC), sync (receiving the snapshot), connected.
final class MasterLink {
    enum State { case connect, connecting, handshake, transfer, connected }
    /// Which handshake reply is awaited.
    enum Step { case pong, auth, listeningPort, capa, psync }

    let host: String
    let port: Int
    var state = State.connect
    var step = Step.pong
    /// Matches the reactor's answer to our connect request; a late answer to a request
    /// given up on carries another id, and its connection is closed.
    var requestID: UInt64 = 0
    /// Keyspace thread only.
    nonisolated(unsafe) static var lastRequestID: UInt64 = 0
    /// The connection to the master once up. Its commands run as this client; its replies
    /// are dropped except REPLCONF ACK.
    var client: Client?
    /// Received bytes not used yet: part of a handshake line, or of a command.
    @exclusivity(unchecked) var input = ByteBuffer()
    /// Full resync: `payloadSize` is -2 until the `$` line, -1 for the EOF-mark form.
    @exclusivity(unchecked) var payload: [UInt8] = []
    var payloadSize = -2
    var eofMark: [UInt8] = []
    /// What +FULLRESYNC announced, adopted once the snapshot loads.
    var pendingReplID = ""
    var pendingOffset: Int64 = 0
    /// The master's replication id we follow and the offset of the last byte applied
    /// (PSYNC asks for offset + 1). Empty id: never synced, PSYNC ? -1.
    var replID = ""
    var offset: Int64 = -1
    /// The database the master's stream writes to at `offset`: a partial resync continues
    /// there without a SELECT, so a new connection starts in it.
    var streamDatabase = 0
    /// Stream bytes received (slave_read_repl_offset).
    var readOffset: Int64 = -1
    /// Monotonic ms of the last byte from the master, and unix ms for INFO.
    var lastIO: Int64 = 0
    var lastIOUnix: Int64 = 0
    var lastAck: Int64 = 0
    var nextAttempt: Int64 = 0
    /// Consecutive attempts that did not end in a working link, for the back-off.
    var failures = 0
    /// Unix seconds when the link went down (master_link_down_since_seconds), 0: never up.
    var downSince: Int64 = 0
    /// Snapshot size and bytes read so far, for INFO while syncing.
    var syncStartUnix: Int64 = 0
    /// Frames the command stream exactly like client requests, into a private ring.
    var parser: RESPParser
    let ring = SPSCByteRing(capacity: 1 << 20)
    /// Where replies of the master's commands go: nowhere.
    let discard: UnsafeMutablePointer<ReplyStaging>

    init(host: String, port: Int, limits: ProtocolLimits) {
        self.host = host
        self.port = port
        parser = RESPParser(limits: limits, authenticated: true)
        discard = .allocate(capacity: 1)
        discard.initialize(to: ReplyStaging())
    }

    deinit {
        input.free()
        discard.pointee.buffer.free()
        discard.deinitialize(count: 1)
        discard.deallocate()
    }

    /// Redis's name for the state, as ROLE prints it.
    var stateName: String {
        switch state {
        case .connect: return "connect"
        case .connecting: return "connecting"
        case .handshake: return "handshake"
        case .transfer: return "sync"
        case .connected: return "connected"
        }
    }
}

extension ReplyStaging {
    /// Forgets everything staged (the master's command replies).
    mutating func discardAll() {
        buffer.clear()
        openRecord = -1
        sentOfFirst = 0
    }
}

extension Engine {
    // MARK: becoming a replica, and a master again

    /// REPLICAOF host port: follow that master. The dataset is kept until a full sync
    /// replaces it; what we had synced from a previous master is offered for a partial
    /// resync (Redis caches the old master the same way).
    func startReplication(host: String, port: Int, fromConfig: Bool = false) {
        let previous = replication.master
        if let previous { dropMasterConnection(previous) }
        let link = MasterLink(host: host, port: port, limits: config.protocolLimits)
        if let previous {
            link.replID = previous.replID
            link.offset = previous.offset
        } else if !fromConfig {
            adoptOwnHistoryForPSYNC(link)
        }
        replication.master = link
        logRoleCharacter.store(UInt8(ascii: "S"), ordering: .relaxed)
        replicaFollowsMaster(true)
        for d in databases { d.expiredKeys = .hide }
        logger.notice("Connecting to MASTER \(host):\(port)")
        connectToMaster(link)
    }

    /// REPLICAOF NO ONE: stop following, keep the data, start a new replication history.
    func stopReplication() {
        guard let link = replication.master else { return }
        dropMasterConnection(link)
        replication.master = nil
        logRoleCharacter.store(UInt8(ascii: "M"), ordering: .relaxed)
        for d in databases { d.expiredKeys = .delete }
        replicaFollowsMaster(false)
        replicaPromoted()
    }

    /// --replicaof at start-up.
    public func startReplicationFromConfig() {
        guard let r = config.replicaof else { return }
        startReplication(host: r.host, port: r.port, fromConfig: true)
        // The snapshot saved at shutdown carries the master's id and our offset in it:
        // offer them, so a restart within the master's backlog resyncs partially
        // (Redis's replicationCacheMasterUsingMyself after loading).
        if let saved = persistence.loadedReplicationInfo, let link = replication.master {
            link.replID = saved.id
            link.offset = saved.offset
            link.streamDatabase = saved.streamDB
            logger.notice("Using the replication id and offset saved in the RDB file for a partial resynchronization: \(saved.id):\(saved.offset)")
        }
    }

    /// The replication aux fields for a snapshot saved to disk: a replica records its
    /// master's id, the offset it applied and the stream's database, so it can resync
    /// partially after a restart. Nil when there is no history to continue.
    func replicationInfoForSave() -> (id: String, offset: Int64, streamDB: Int)? {
        guard let link = replication.master, !link.replID.isEmpty, link.offset >= 0 else { return nil }
        return (link.replID, link.offset, link.client?.db ?? link.streamDatabase)
    }

    // MARK: the connection

    /// Asks reactor 0 for a TCP connection to the master (timeout: repl-timeout).
    private func connectToMaster(_ link: MasterLink) {
        guard let address = resolveMasterAddress(link.host) else {
            logger.warning("Unable to connect to MASTER: can't resolve '\(link.host)'")
            scheduleReconnect(link)
            return
        }
        MasterLink.lastRequestID += 1
        link.requestID = MasterLink.lastRequestID
        link.state = .connecting
        link.lastIO = monotonicMilliseconds()
        var payload: [UInt8] = []
        withUnsafeBytes(of: UInt16(address.family).littleEndian) { payload.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(link.port).littleEndian) { payload.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(clamping: config.replTimeout * 1000).littleEndian) { payload.append(contentsOf: $0) }
        payload += address.bytes
        staging[0].control(kind: ReplyRecord.connect, token: link.requestID, payload: payload)
        logger.notice("MASTER <-> REPLICA sync started")
    }

    /// An IPv4 or IPv6 literal, or a name looked up with getaddrinfo in any family (the
    /// first address it gives, as Redis's connect takes). The lookup blocks the keyspace
    /// thread, so it is done only for names that are not literals, and only when
    /// (re)connecting. "localhost" stays IPv4, where a default bind always listens.
    private func resolveMasterAddress(_ host: String) -> (family: Int32, bytes: [UInt8])? {
        let name = host == "localhost" ? "127.0.0.1" : host
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 { return (AF_INET, withUnsafeBytes(of: v4) { Array($0) }) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 { return (AF_INET6, withUnsafeBytes(of: v6) { Array($0) }) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &info) == 0 else { return nil }
        defer { freeaddrinfo(info) }
        var entry = info
        while let e = entry {
            if e.pointee.ai_family == AF_INET {
                let a = e.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                return (AF_INET, withUnsafeBytes(of: a) { Array($0) })
            }
            if e.pointee.ai_family == AF_INET6 {
                let a = e.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                return (AF_INET6, withUnsafeBytes(of: a) { Array($0) })
            }
            entry = e.pointee.ai_next
        }
        return nil
    }

    /// The reactor connected: the connection becomes the master client and the handshake
    /// starts. A connection nobody waits for any more is closed.
    func masterConnected(reactor r: Int, token: UInt64, payload: UnsafeRawBufferPointer) {
        let request = payload.load(as: UInt64.self)
        guard let link = replication.master, link.state == .connecting, link.requestID == request else {
            staging[r].control(kind: ReplyRecord.closeNow, token: token)
            return
        }
        let c = registerClient(reactor: r, token: token, connection: UnsafeRawBufferPointer(rebasing: payload[8...]))
        c.db = link.streamDatabase
        link.client = c
        // What the master sends runs whatever our own requirepass (Redis's master client
        // is authenticated from the start).
        c.authenticated = true
        link.state = .handshake
        link.step = .pong
        link.input.clear()
        link.lastIO = monotonicMilliseconds()
        link.lastIOUnix = now
        logger.notice("Non blocking connect for SYNC fired the event.")
        sendToMaster(link, ["PING"])
    }

    func masterConnectFailed(request: UInt64, errno code: Int32) {
        guard let link = replication.master, link.state == .connecting, link.requestID == request else { return }
        if code == ETIMEDOUT {
            logger.warning("Timeout connecting to the MASTER...")
        } else {
            logger.warning("Error condition on socket for SYNC: \(String(cString: strerror(code)))")
        }
        scheduleReconnect(link)
    }

    /// The master client's connection closed (by the master, an error, or CLIENT KILL).
    func masterClientClosed(_ c: Client) {
        if let link = replication.master, link.client === c { link.streamDatabase = c.db }
        guard let link = replication.master, link.client === c else { return }
        link.client = nil
        if link.state == .connected {
            logger.notice("Connection with master lost.")
            logger.notice("Caching the disconnected master state.")
        } else {
            logger.warning("Master closed the connection during the \(link.stateName == "sync" ? "synchronization" : "handshake")")
        }
        resetLink(link)
        scheduleReconnect(link)
    }

    /// Gives the link up (a bad reply, a bad snapshot, a timeout) and retries later.
    private func abandonLink(_ link: MasterLink) {
        dropMasterConnection(link)
        scheduleReconnect(link)
    }

    /// Closes the master connection now, dropping what it was in the middle of.
    private func dropMasterConnection(_ link: MasterLink) {
        if let c = link.client {
            c.closing = true
            staging[c.reactor].control(kind: ReplyRecord.closeNow, token: c.token)
            link.client = nil
        }
        link.requestID = 0   // a connect still in flight is closed when it completes
        resetLink(link)
    }

    private func resetLink(_ link: MasterLink) {
        if link.state == .connected { link.downSince = now / 1000 }
        replication.masterLinkUp = false
        link.state = .connect
        link.input.clear()
        link.payload = []
        link.payloadSize = -2
        link.parser = RESPParser(limits: config.protocolLimits, authenticated: true)
        link.readOffset = link.offset
    }

    /// Next attempt after 100 ms, doubling with each failure up to 5 s.
    private func scheduleReconnect(_ link: MasterLink) {
        link.state = .connect
        let delay = min(100 << min(link.failures, 6), 5000)
        link.failures += 1
        link.nextAttempt = monotonicMilliseconds() + Int64(delay)
    }

    /// Writes a command to the master.
    private func sendToMaster(_ link: MasterLink, _ parts: [String]) {
        guard let c = link.client else { return }
        var text = "*\(parts.count)\r\n"
        for p in parts { text += "$\(p.utf8.count)\r\n\(p)\r\n" }
        withReplies(to: c) { replyRaw(Array(text.utf8)) }
    }

    private func sendAck(_ link: MasterLink, offset: Int64) {
        sendToMaster(link, ["REPLCONF", "ACK", String(offset)])
        link.lastAck = monotonicMilliseconds()
    }

    // MARK: input from the master

    /// Bytes from the master, whatever the state.
    func masterInput(_ c: Client, _ bytes: UnsafeRawBufferPointer) {
        guard let link = replication.master, link.client === c else { return }
        link.lastIO = monotonicMilliseconds()
        link.lastIOUnix = now
        link.input.append(bytes)
        processMasterInput(link)
    }

    private func processMasterInput(_ link: MasterLink) {
        if link.state == .handshake { handshakeInput(link) }
        if link.state == .transfer { transferInput(link) }
        if link.state == .connected { applyStream(link) }
    }

    /// One reply line ("\r\n" or "\n" ended, without it), or nil until it is complete.
    private func takeLine(_ link: MasterLink) -> String? {
        let bytes = link.input.readableBytes
        guard let nl = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        var end = nl
        if end > 0 && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
        link.input.consume(nl + 1)
        return line
    }

    /// PING, REPLCONF listening-port, REPLCONF capa, PSYNC: one reply each, in order.
    private func handshakeInput(_ link: MasterLink) {
        while link.state == .handshake {
            guard let line = takeLine(link) else {
                if link.input.readable > 64 * 1024 {
                    logger.warning("Unexpected reply from MASTER during the handshake: no line end in 64 KB")
                    abandonLink(link)
                }
                return
            }
            let isError = line.hasPrefix("-")
            switch link.step {
            case .pong:
                // An authentication error still lets the handshake go on, as in Redis.
                if isError && !line.hasPrefix("-NOAUTH") && !line.hasPrefix("-NOPERM")
                    && !line.hasPrefix("-ERR operation not permitted") {
                    logger.warning("Error reply to PING from master: '\(line)'")
                    abandonLink(link)
                    return
                }
                logger.notice("Master replied to PING, replication can continue...")
                if config.masterauth.isEmpty {
                    sendListeningPort(link)
                } else {
                    // AUTH [masteruser] masterauth, as Redis sends it before any REPLCONF.
                    link.step = .auth
                    let user = config.masteruser
                    sendToMaster(link, user.isEmpty ? ["AUTH", config.masterauth] : ["AUTH", user, config.masterauth])
                }
            case .auth:
                if isError {
                    logger.warning("Unable to AUTH to MASTER: \(line)")
                    abandonLink(link)
                    return
                }
                sendListeningPort(link)
            case .listeningPort:
                if isError { logger.notice("(Non critical) Master does not understand REPLCONF listening-port: \(line)") }
                link.step = .capa
                sendToMaster(link, ["REPLCONF", "capa", "eof", "capa", "psync2"])
            case .capa:
                if isError { logger.notice("(Non critical) Master does not understand REPLCONF capa: \(line)") }
                link.step = .psync
                if link.replID.isEmpty || link.offset < 0 {
                    logger.notice("Partial resynchronization not possible (no cached master)")
                    sendToMaster(link, ["PSYNC", "?", "-1"])
                } else {
                    logger.notice("Trying a partial resynchronization (request \(link.replID):\(link.offset + 1)).")
                    // A failover hands the master role to the target along with this PSYNC.
                    sendToMaster(link, ["PSYNC", link.replID, String(link.offset + 1)]
                        + (replication.failover.phase == .inProgress ? ["FAILOVER"] : []))
                }
            case .psync:
                // The master may send empty lines before its reply to keep the link alive.
                if !line.isEmpty { psyncReply(link, line) }
            }
        }
    }

    /// REPLCONF listening-port, so the master's INFO lists the port replicas can be reached on.
    private func sendListeningPort(_ link: MasterLink) {
        link.step = .listeningPort
        sendToMaster(link, ["REPLCONF", "listening-port", String(config.port)])
    }

    /// +FULLRESYNC <replid> <offset>, +CONTINUE [<replid>], or an error.
    private func psyncReply(_ link: MasterLink, _ line: String) {
        let words = line.split(separator: " ").map(String.init)
        if words.first == "+FULLRESYNC" {
            guard words.count == 3, words[1].utf8.count == 40, let offset = Int64(words[2]) else {
                logger.warning("Master replied with wrong +FULLRESYNC syntax.")
                abandonLink(link)
                return
            }
            logger.notice("Full resync from master: \(words[1]):\(offset)")
            link.pendingReplID = words[1]
            link.pendingOffset = offset
            link.payload = []
            link.payloadSize = -2
            link.state = .transfer
            link.syncStartUnix = now
            failoverPSYNCAnswered(accepted: true)
            return
        }
        if words.first == "+CONTINUE" {
            logger.notice("Successful partial resynchronization with master.")
            if words.count >= 2 && words[1].utf8.count == 40 && words[1] != link.replID {
                logger.notice("Master replication ID changed to \(words[1])")
                link.replID = words[1]
            }
            logger.notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
            linkUp(link)
            replicaAdoptMasterID(link.replID, offset: link.offset, fullSync: false)
            failoverPSYNCAnswered(accepted: true)
            return
        }
        if line.hasPrefix("-NOMASTERLINK") || line.hasPrefix("-LOADING") {
            logger.notice("Master is currently unable to PSYNC but should be in the future: \(line)")
        } else {
            logger.warning("Unexpected reply to PSYNC from master: \(line)")
        }
        if replication.failover.phase == .inProgress {
            failoverPSYNCAnswered(accepted: false)
            return
        }
        abandonLink(link)
    }

    private func linkUp(_ link: MasterLink) {
        link.state = .connected
        link.failures = 0
        link.readOffset = link.offset
        link.parser = RESPParser(limits: config.protocolLimits, authenticated: true)
    }

    /// The snapshot: a `$<len>` or `$EOF:<mark>` line (newlines before it are the master's
    /// keep-alives while it prepares), then the payload.
    private func transferInput(_ link: MasterLink) {
        if link.payloadSize == -2 {
            while true {
                guard let line = takeLine(link) else {
                    if link.input.readable > 64 * 1024 {
                        logger.warning("Bad protocol from MASTER: no line end in 64 KB before the snapshot")
                        abandonLink(link)
                    }
                    return
                }
                if line.isEmpty { continue }
                if line.hasPrefix("-") {
                    logger.warning("MASTER aborted replication with an error: \(line.dropFirst())")
                    abandonLink(link)
                    return
                }
                guard line.hasPrefix("$") else {
                    logger.warning("Bad protocol from MASTER, the first byte is not '$' (we received '\(line)'), are you sure the host and port are right?")
                    abandonLink(link)
                    return
                }
                if line.hasPrefix("$EOF:") && line.utf8.count >= 45 {
                    link.eofMark = Array(line.utf8.dropFirst(5).prefix(40))
                    link.payloadSize = -1
                    logger.notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
                } else if let n = Int(line.dropFirst()), n >= 0 {
                    link.payloadSize = n
                    link.payload.reserveCapacity(min(n, 64 << 20))   // a lying length costs no memory up front
                    logger.notice("MASTER <-> REPLICA sync: receiving \(n) bytes from master to disk")
                } else {
                    logger.warning("Bad protocol from MASTER: invalid snapshot length line '\(line)'")
                    abandonLink(link)
                    return
                }
                break
            }
        }
        let available = link.input.readableBytes
        if link.payloadSize >= 0 {
            let take = min(available.count, link.payloadSize - link.payload.count)
            link.payload.append(contentsOf: available[0..<take])
            link.input.consume(take)
            if link.payload.count < link.payloadSize { return }
        } else {
            // The mark may end inside this chunk, with stream bytes after it.
            let searchFrom = max(0, link.payload.count - 39)
            link.payload.append(contentsOf: available)
            link.input.clear()
            guard let end = findMark(link.payload, link.eofMark, from: searchFrom) else { return }
            let after = Array(link.payload[(end + 40)...])
            link.payload.removeSubrange(end...)
            after.withUnsafeBytes { link.input.append($0) }
        }
        loadMasterSnapshot(link)
    }

    private func findMark(_ data: [UInt8], _ mark: [UInt8], from: Int) -> Int? {
        guard data.count >= 40 else { return nil }
        var i = from
        while i + 40 <= data.count {
            if data[i] == mark[0] && Array(data[i..<(i + 40)]) == mark { return i }
            i += 1
        }
        return nil
    }

    /// Loads the received snapshot; the dataset is replaced only when all of it is valid,
    /// otherwise the old data stays and the link is retried. Keys already expired are
    /// loaded too: on a replica they wait for the master's DEL.
    private func loadMasterSnapshot(_ link: MasterLink) {
        logger.notice("MASTER <-> REPLICA sync: Loading DB in memory")
        let loaded: Int
        do {
            loaded = try loadSnapshot(link.payload, keepExpired: true).loaded
        } catch {
            logger.warning("Failed trying to load the MASTER synchronization DB from socket: \(error). The current dataset is kept; retrying.")
            abandonLink(link)
            return
        }
        logger.notice("MASTER <-> REPLICA sync: Flushing old data")
        logger.notice("Done loading RDB, keys loaded: \(loaded), keys expired: 0.")
        link.payload = []
        link.payloadSize = -2
        link.replID = link.pendingReplID
        link.offset = link.pendingOffset
        linkUp(link)
        replicaAdoptMasterID(link.replID, offset: link.offset, fullSync: true)
        logger.notice("MASTER <-> REPLICA sync: Finished with success")
        // Tells a diskless master we are ready for the stream; an ACK is harmless otherwise.
        sendAck(link, offset: link.offset)
    }

    // MARK: the command stream

    /// Frames and runs every complete command received, as the master client, with its
    /// replies discarded; REPLCONF GETACK is answered with the offset before it. Only the
    /// bytes of complete commands count in the offset and go on to our own replicas.
    private func applyStream(_ link: MasterLink) {
        guard let c = link.client, link.input.readable > 0 else { return }
        link.readOffset = link.offset + Int64(link.input.readable)
        for d in databases { d.expiredKeys = .keep }
        let savedOut = out
        out = link.discard
        defer {
            out = savedOut
            for d in databases { d.expiredKeys = replication.master == nil ? .delete : .hide }
        }
        var sink = RequestSink(ring: link.ring, token: c.token)
        while replication.master === link && link.client === c && link.input.readable > 0 {
            let outcome = link.parser.parse(link.input.readableBytes, into: &sink)
            _ = link.ring.publish()
            var position = link.offset
            var paused = false
            while let (kind, payload) = link.ring.peek() {
                let base = payload.baseAddress!
                var block: UnsafeMutableRawPointer?
                if kind == RequestRecord.requestOutOfLine {
                    block = UnsafeMutableRawPointer(bitPattern: UInt(base.load(fromByteOffset: 8, as: UInt64.self)))
                }
                let args = Arguments(encoding: block.map { UnsafeRawPointer($0) } ?? base + 8)
                if !paused && pause.kind != .off && args.count > 0 && masterCommandPaused(c, args) { paused = true }
                if !paused {
                    let size = encodedSize(args)
                    applyMasterCommand(link, c, args, offsetBefore: position)
                    position += Int64(size)
                }
                if let block { free(block) }
                link.ring.advance()
            }
            link.ring.release()
            if paused {
                // CLIENT PAUSE holds the master's stream too (Redis blocks its client): keep
                // the bytes from the paused command on, and parse them again on resume.
                let applied = Int(position - link.offset)
                if applied > 0 {
                    replicaForward(UnsafeRawBufferPointer(rebasing: link.input.readableBytes[0..<applied]))
                    link.offset = position
                    link.input.consume(applied)
                }
                link.parser = RESPParser(limits: config.protocolLimits, authenticated: true)
                pause.holdsMasterStream = true
                return
            }
            if outcome.consumed > 0 {
                replicaForward(UnsafeRawBufferPointer(rebasing: link.input.readableBytes[0..<outcome.consumed]))
                link.offset += Int64(outcome.consumed)
                link.input.consume(outcome.consumed)
            }
            switch outcome.status {
            case .needMore:
                return
            case .sinkFull:
                continue
            case .protocolError(let reply):
                logger.warning("Protocol error from MASTER: \(String(decoding: reply, as: UTF8.self).trimmingWhitespace); dropping the link")
                abandonLink(link)
                return
            }
        }
    }

    /// The pause that stopped the master's stream ended: apply what waits.
    func resumeMasterStream() {
        guard let link = replication.master, link.state == .connected else { return }
        applyStream(link)
    }

    /// Runs one command of the stream as the master client.
    private func applyMasterCommand(_ link: MasterLink, _ c: Client, _ args: Arguments, offsetBefore: Int64) {
        if args.count == 0 { return }
        if args[0].equalsIgnoringCase("replconf") {
            if args.count >= 2 && args[1].equalsIgnoringCase("getack") { sendAck(link, offset: offsetBefore) }
            return
        }
        link.discard.pointee.open(token: c.token)
        execute(c, args)
        let replies = link.discard.pointee.buffer.readableBytes
        if replies.count > ReplyStaging.headerSize && replies[ReplyStaging.headerSize] == UInt8(ascii: "-") {
            // The master's data and ours now differ: say so loudly, as Redis does.
            let text = replies[(ReplyStaging.headerSize + 1)...].prefix { $0 != 13 }
            logger.warning("== CRITICAL == This replica is sending an error to its master: '\(String(decoding: text, as: UTF8.self))' after processing the command '\(args[0].string.lowercased())'")
        }
        link.discard.pointee.discardAll()
    }

    /// Bytes of `args` as the master encodes them: *<n>\r\n then $<len>\r\n<arg>\r\n each.
    private func encodedSize(_ args: Arguments) -> Int {
        func digits(_ n: Int) -> Int { n < 10 ? 1 : String(n).utf8.count }
        var size = 3 + digits(args.count)
        for i in 0..<args.count {
            let n = args[i].count
            size += 5 + digits(n) + n
        }
        return size
    }

    // MARK: cron

    /// Once per cron tick: dial when due, drop a link silent for repl-timeout, send the
    /// once-a-second REPLCONF ACK.
    func replicaCron() {
        guard let link = replication.master else { return }
        let mono = monotonicMilliseconds()
        let timeout = Int64(config.replTimeout) * 1000
        switch link.state {
        case .connect:
            if mono >= link.nextAttempt {
                logger.notice("Connecting to MASTER \(link.host):\(link.port)")
                connectToMaster(link)
            }
        case .connecting, .handshake:
            if mono - link.lastIO > timeout {
                logger.warning("Timeout connecting to the MASTER...")
                abandonLink(link)
            }
        case .transfer:
            if mono - link.lastIO > timeout {
                logger.warning("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.")
                abandonLink(link)
            }
        case .connected:
            if mono - link.lastIO > timeout {
                logger.warning("MASTER timeout: no data nor PING received...")
                abandonLink(link)
            } else if mono - link.lastAck >= 1000 {
                sendAck(link, offset: link.offset)
            }
        }
        for r in channels.indices where !staging[r].isEmpty { flushReplies(reactor: r) }
    }

    // MARK: the master side's replication state

    /// A master turning replica offers its own replication id and offset in PSYNC, so a
    /// master that continued our history can go on with a partial resync (Redis's
    /// replicationCacheMasterUsingMyself).
    private func adoptOwnHistoryForPSYNC(_ link: MasterLink) {
        replicationFlushStream()
        link.replID = replication.replid
        link.offset = replication.masterReplOffset
        logger.notice("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.")
    }

    /// While following a master, our own writes are not fed to sub-replicas: the master's
    /// bytes are forwarded instead.
    private func replicaFollowsMaster(_ follows: Bool) {
        replication.followsMaster = follows
        if !follows { replication.masterLinkUp = false }
    }

    /// After a sync, our replication id and offset are the master's. A partial resync that
    /// announced a new id keeps the old one as the secondary id, and our own replicas
    /// reconnect to learn the new one, as Redis does.
    private func replicaAdoptMasterID(_ id: String, offset: Int64, fullSync: Bool) {
        replication.masterLinkUp = true
        if fullSync {
            setReplicationID(id, offset: offset)
        } else if id != replication.replid {
            replicationFlushStream()
            replication.replid2 = replication.replid
            replication.secondReplOffset = replication.masterReplOffset + 1
            replication.replid = id
            disconnectReplicas()
        }
    }

    /// Chained replication: applied stream bytes go on to our backlog and sub-replicas.
    private func replicaForward(_ bytes: UnsafeRawBufferPointer) {
        feedRawStream(bytes)
    }

    /// REPLICAOF NO ONE: a new replication history starts; our replicas reconnect to learn
    /// its id and continue with a partial resync (Redis's replicationUnsetMaster).
    private func replicaPromoted() {
        shiftReplicationID()
        disconnectReplicas()
    }
}
