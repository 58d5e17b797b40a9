/// FAILOVER (Redis 7.0's coordinated failover, replication.c): the master pauses writes,
/// waits until a replica acknowledged its whole stream, then becomes that replica's
/// replica with `PSYNC <replid> <offset> FAILOVER`, which makes the replica promote
/// itself and continue us partially. The target side is in `syncCommand`.
struct FailoverState {
    enum Phase { case none, waitingForSync, inProgress }
    var phase = Phase.none
    /// Chosen by TO, or the first replica found caught up.
    var targetHost: String?
    var targetPort = 0
    /// Unix ms the wait gives up (or, with FORCE, fails over anyway); 0: no TIMEOUT.
    var endTime: Int64 = 0
    var force = false

    /// INFO replication's master_failover_state.
    var name: String {
        switch phase {
        case .none: return "no-failover"
        case .waitingForSync: return "waiting-for-sync"
        case .inProgress: return "failover-in-progress"
        }
    }
}

extension Engine {
    /// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], with Redis 7.0's checks in
    /// its order: syntax (and each number) first, then the state.
    func failoverCommand(_ a: Arguments) {
        if a.count == 2 && a[1].equalsIgnoringCase("abort") {
            if replication.failover.phase == .none {
                replyError("ERR No failover in progress.")
                return
            }
            abortFailover("Failover manually aborted")
            replyOK()
            return
        }
        var timeout = 0
        var force = false
        var host: String?
        var port = 0
        var j = 1
        while j < a.count {
            if a[j].equalsIgnoringCase("timeout") && j + 1 < a.count && timeout == 0 {
                guard let t = parseInteger(a[j + 1]) else {
                    replyNotInteger()
                    return
                }
                if t <= 0 {
                    replyError("ERR FAILOVER timeout must be greater than 0")
                    return
                }
                timeout = t
                j += 2
            } else if a[j].equalsIgnoringCase("to") && j + 2 < a.count && host == nil {
                guard let p = parseInteger(a[j + 2]) else {
                    replyNotInteger()
                    return
                }
                host = String(decoding: a[j + 1], as: UTF8.self)
                port = p
                j += 3
            } else if a[j].equalsIgnoringCase("force") && !force {
                force = true
                j += 1
            } else {
                replySyntaxError()
                return
            }
        }
        if replication.failover.phase != .none {
            replyError("ERR FAILOVER already in progress.")
            return
        }
        if replication.master != nil {
            replyError("ERR FAILOVER is not valid when server is a replica.")
            return
        }
        if replication.replicas.allSatisfy({ $0.closing }) {
            replyError("ERR FAILOVER requires connected replicas.")
            return
        }
        if force && (timeout == 0 || host == nil) {
            replyError("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
            return
        }
        if let host {
            guard let target = findReplica(host: host, port: port) else {
                replyError("ERR FAILOVER target HOST and PORT is not a replica.")
                return
            }
            if target.replicaLink?.state != .online {
                replyError("ERR FAILOVER target replica is not online.")
                return
            }
            logger.notice("FAILOVER requested to \(host):\(port).")
        } else {
            logger.notice("FAILOVER requested to any replica.")
        }
        replication.failover = FailoverState(phase: .waitingForSync, targetHost: host, targetPort: port,
                                             endTime: timeout > 0 ? now + Int64(timeout) : 0, force: force)
        pauseClients(.failover, end: Int64.max, kind: .write)
        replyOK()
    }

    /// The replica known by this address (REPLCONF ip-address or its peer IP, compared
    /// case-insensitively, and its listening port), as Redis's findReplica.
    private func findReplica(host: String, port: Int) -> Client? {
        for c in replication.replicas where !c.closing {
            let (ip, p) = replicaAddress(c)
            if ip.lowercased() == host.lowercased() && p == port { return c }
        }
        return nil
    }

    /// Cron while waiting: give up (or, with FORCE, go ahead) at the deadline, otherwise
    /// fail over as soon as the target, or any replica, acknowledged our whole stream.
    func updateFailoverStatus() {
        guard replication.failover.phase == .waitingForSync else { return }
        let f = replication.failover
        if f.endTime != 0 && f.endTime <= now {
            if f.force, let host = f.targetHost {
                logger.notice("FAILOVER to \(host):\(f.targetPort) time out exceeded, failing over.")
                beginFailover(to: host, port: f.targetPort)
            } else {
                abortFailover("Replica never caught up before timeout")
            }
            return
        }
        replicationFlushStream()
        let offset = replication.masterReplOffset
        var target: Client?
        if let host = f.targetHost {
            target = findReplica(host: host, port: f.targetPort)
        } else {
            for c in replication.replicas where !c.closing && c.replicaLink?.ackOffset == offset {
                let (ip, port) = replicaAddress(c)
                replication.failover.targetHost = ip
                replication.failover.targetPort = port
                target = c
                break
            }
        }
        if let target, target.replicaLink?.ackOffset == offset, let host = replication.failover.targetHost {
            logger.notice("Failover target \(host):\(replication.failover.targetPort) is synced, failing over.")
            beginFailover(to: host, port: replication.failover.targetPort)
        }
    }

    /// Becomes the target's replica; the handshake's PSYNC carries FAILOVER while the
    /// phase is in progress. Writes stay paused until the target answers.
    private func beginFailover(to host: String, port: Int) {
        replication.failover.phase = .inProgress
        config.replicaof = (host, port)
        startReplication(host: host, port: port)
    }

    /// The target answered our PSYNC FAILOVER: done when it continues us (or resyncs us
    /// fully), otherwise we are a master again.
    func failoverPSYNCAnswered(accepted: Bool) {
        guard replication.failover.phase == .inProgress else { return }
        if accepted {
            clearFailoverState()
        } else {
            abortFailover("Failover target rejected psync request")
        }
        if pause.resumeDue { resumePausedClients() }   // no command runs here to do it
    }

    /// Ends the failover; one in progress turns us back into a master.
    func abortFailover(_ reason: String) {
        let f = replication.failover
        if f.phase == .none { return }
        if let host = f.targetHost {
            logger.notice("FAILOVER to \(host):\(f.targetPort) aborted: \(reason)")
        } else {
            logger.notice("FAILOVER to any replica aborted: \(reason)")
        }
        if f.phase == .inProgress {
            config.replicaof = nil
            stopReplication()
        }
        clearFailoverState()
    }

    private func clearFailoverState() {
        replication.failover = FailoverState()
        unpauseClients(.failover)
    }

    /// While a failover with a TIMEOUT waits, the once-a-period PING is not fed: it would
    /// move the offset the replica must reach (Redis skips it the same way).
    var failoverHoldsPings: Bool {
        replication.failover.endTime != 0 && pause.kind != .off
    }
}
