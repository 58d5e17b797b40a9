/// REPLICAOF / SLAVEOF: switching between master and replica. (ROLE is registered with
/// the master side's commands and asks `replyReplicaRole` first.)
let replicaofCommands: [(String, CommandHandler)] = [
    ("replicaof", { e, a in e.replicaof(a) }),
    ("slaveof", { e, a in e.replicaof(a) }),
]

extension Engine {
    /// REPLICAOF host port | NO ONE, as Redis 7.0's replicaofCommand.
    func replicaof(_ a: Arguments) {
        if replication.failover.phase != .none {
            replyError("ERR REPLICAOF not allowed while failing over.")
            return
        }
        if a[1].equalsIgnoringCase("no") && a[2].equalsIgnoringCase("one") {
            if replication.master != nil {
                stopReplication()
                config.replicaof = nil
                logger.notice("MASTER MODE enabled (user request from '\(String(decoding: clientInfoLine(client, args: a), as: UTF8.self))')")
            }
            replyOK()
            return
        }
        if client.replicaLink != nil {
            replyError("ERR Command is not valid when client is a replica.")
            return
        }
        guard let port = parseInteger(a[2]), port >= 0, port <= 65535 else {
            replyError("ERR Invalid master port")
            return
        }
        let host = a[1].string
        if let link = replication.master, link.host.lowercased() == host.lowercased(), link.port == port {
            logger.notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
            replyRaw("+OK Already connected to specified master\r\n")
            return
        }
        startReplication(host: host, port: port)
        config.replicaof = (host, port)
        logger.notice("REPLICAOF \(host):\(port) enabled (user request from '\(String(decoding: clientInfoLine(client, args: a), as: UTF8.self))')")
        replyOK()
    }

    /// ROLE on a replica: ["slave", host, port, state, offset] (offset -1 until the link
    /// is up). Returns false on a master, which answers with its own form.
    func replyReplicaRole() -> Bool {
        guard let link = replication.master else { return false }
        replyArrayHeader(5)
        replyBulk("slave")
        replyBulk(link.host)
        replyInteger(link.port)
        replyBulk(link.stateName)
        replyInteger(link.client != nil && link.state == .connected ? Int(link.offset) : -1)
        return true
    }

    /// INFO replication's first lines: role, and for a replica the link's state, as
    /// Redis 7.0's genRedisInfoString.
    func replicationRoleLines() -> [String] {
        guard let link = replication.master else { return ["role:master"] }
        let linkUp = link.state == .connected
        var lines = ["role:slave",
                     "master_host:\(link.host)",
                     "master_port:\(link.port)",
                     "master_link_status:\(linkUp ? "up" : "down")",
                     "master_last_io_seconds_ago:\(link.client != nil && linkUp ? Int((now - link.lastIOUnix) / 1000) : -1)",
                     "master_sync_in_progress:\(link.state == .transfer ? 1 : 0)"]
        // Redis reports 1 before anything was ever synced.
        let applied = link.offset >= 0 ? link.offset : 1
        let read = link.offset >= 0 ? max(link.readOffset, link.offset) : 1
        lines.append("slave_read_repl_offset:\(read)")
        lines.append("slave_repl_offset:\(applied)")
        if link.state == .transfer {
            let total = link.payloadSize >= 0 ? link.payloadSize : -1
            let got = link.payload.count
            let percent = total > 0 ? Double(got) * 100 / Double(total) : 0
            lines.append("master_sync_total_bytes:\(total)")
            lines.append("master_sync_read_bytes:\(got)")
            lines.append("master_sync_left_bytes:\(total >= 0 ? total - got : -1)")
            lines.append("master_sync_perc:\(String(format2: percent))")
            lines.append("master_sync_last_io_seconds_ago:\(Int((now - link.lastIOUnix) / 1000))")
        }
        if !linkUp {
            lines.append("master_link_down_since_seconds:\(link.downSince > 0 ? now / 1000 - link.downSince : -1)")
        }
        lines.append("slave_priority:\(config.replicaPriority)")
        lines.append("slave_read_only:\(config.replicaReadOnly ? 1 : 0)")
        lines.append("replica_announced:\(config.replicaAnnounced ? 1 : 0)")
        return lines
    }
}
