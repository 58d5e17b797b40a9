/// SYNC, PSYNC, REPLCONF, WAIT and ROLE: the commands a master serves to replicas and to
/// clients asking about replication (REPLICAOF belongs to the replica side).
let replicationCommands: [(String, CommandHandler)] = [
    ("sync", { e, a in e.syncCommand(a, psync: false) }),
    ("psync", { e, a in e.syncCommand(a, psync: true) }),
    ("failover", { e, a in e.failoverCommand(a) }),
    ("replconf", { e, a in e.replconf(a) }),
    ("wait", { e, a in e.waitCommand(a) }),
    ("role", { e, _ in e.roleCommand() }),
]

extension Engine {
    /// REPLCONF <option> <value> ...: what a replica tells its master during the handshake
    /// (listening-port, ip-address, capa) and afterwards (ACK, which gets no reply).
    func replconf(_ a: Arguments) {
        if a.count % 2 == 0 {
            replySyntaxError()
            return
        }
        var j = 1
        while j < a.count {
            let option = a[j], value = a[j + 1]
            if option.equalsIgnoringCase("listening-port") {
                guard let port = integerArgument(value) else { return }
                replicaLink(of: client).listeningPort = port
            } else if option.equalsIgnoringCase("ip-address") {
                // NET_HOST_STR_LEN in Redis 7.0.
                if value.count >= 256 {
                    replyError("ERR REPLCONF ip-address provided by replica instance is too long: \(value.count) bytes")
                    return
                }
                replicaLink(of: client).announcedIP = value.string
            } else if option.equalsIgnoringCase("capa") {
                // Capabilities this master does not know are ignored.
                if value.equalsIgnoringCase("eof") {
                    replicaLink(of: client).capaEOF = true
                } else if value.equalsIgnoringCase("psync2") {
                    replicaLink(of: client).capaPSYNC2 = true
                }
            } else if option.equalsIgnoringCase("ack") {
                replicaAcknowledged(client, value)
                return
            } else if option.equalsIgnoringCase("getack") {
                // Sent by a master to its replicas; the replica side answers it from the
                // stream. A master receiving it has nothing to say.
                return
            } else if option.equalsIgnoringCase("rdb-only") {
                guard let n = parseInteger(value) else { replyNotInteger(); return }
                if n < 0 || n > 1 {
                    replyError("ERR value is out of range, value must between 0 and 1")
                    return
                }
            } else {
                replyError(bytes: Array("ERR Unrecognized REPLCONF option: ".utf8) + truncatedForError(option, Int.max))
                return
            }
            j += 2
        }
        replyOK()
    }

    /// ROLE, master form: ["master", offset, [[ip, port, acked offset] per online replica]].
    func roleCommand() {
        if replyReplicaRole() { return }
        replicationFlushStream()
        let r = replication
        let online = r.replicas.filter { !$0.closing && $0.replicaLink?.state == .online }
        replyArrayHeader(3)
        replyBulk("master")
        replyInteger(Int(r.masterReplOffset))
        replyArrayHeader(online.count)
        for c in online {
            let (ip, port) = replicaAddress(c)
            replyArrayHeader(3)
            replyBulk(ip)
            replyBulk(String(port))
            replyBulk(String(c.replicaLink!.ackOffset))
        }
    }

    /// INFO replication after the role lines: replicas, ids, offsets and backlog, with
    /// Redis 7.0's field names (genRedisInfoString).
    func replicationMasterLines() -> [String] {
        replicationFlushStream()
        let r = replication
        var lines: [String] = []
        let attached = r.replicas.filter { !$0.closing }
        lines.append("connected_slaves:\(attached.count)")
        if config.minReplicasToWrite > 0 && config.minReplicasMaxLag > 0 {
            lines.append("min_slaves_good_slaves:\(goodReplicaCount())")
        }
        for (i, c) in attached.enumerated() {
            let link = c.replicaLink!
            let (ip, port) = replicaAddress(c)
            let lag = (now - link.ackTime) / 1000
            lines.append("slave\(i):ip=\(ip),port=\(port),state=\(link.state == .online ? "online" : link.snapshotToSend != nil ? "send_bulk" : "wait_bgsave"),offset=\(link.ackOffset),lag=\(lag)")
        }
        lines.append("master_failover_state:\(r.failover.name)")
        lines.append("master_replid:\(r.replid)")
        lines.append("master_replid2:\(r.replid2)")
        lines.append("master_repl_offset:\(r.masterReplOffset)")
        lines.append("second_repl_offset:\(r.secondReplOffset)")
        lines.append("repl_backlog_active:\(r.backlog != nil ? 1 : 0)")
        lines.append("repl_backlog_size:\(config.replBacklogSize)")
        lines.append("repl_backlog_first_byte_offset:\(r.backlog?.firstByteOffset ?? 0)")
        lines.append("repl_backlog_histlen:\(r.backlog?.historyLength ?? 0)")
        return lines
    }

    /// Online replicas whose last ACK is at most min-replicas-max-lag seconds old.
    func goodReplicaCount() -> Int {
        var n = 0
        for c in replication.replicas where !c.closing {
            guard let link = c.replicaLink, link.state == .online else { continue }
            if (now - link.ackTime) / 1000 <= Int64(config.minReplicasMaxLag) { n += 1 }
        }
        return n
    }
}
