import Reactor

/// CLIENT PAUSE and the failover's write pause (Redis's pauseClients).
///
/// Each purpose keeps its own kind and deadline; the pause in force is the most
/// restrictive kind of those not expired, until the furthest deadline among those of that
/// kind. A paused command is not refused: its client keeps it in `pausedRequest` (and
/// queues what follows in `heldRequests`, as a blocked client does) and runs it when the
/// pause ends. Replicas' connections are never paused; the master's stream is, as in
/// Redis 7.0, by stopping before the paused command (`holdsMasterStream`). While any
/// pause is in force keys are not expired (they read as missing but stay, so a replica
/// and its master agree) and the active expiry cycle does not run.
struct ClientPauseState {
    enum Kind: Int, Comparable {
        case off = 0, write = 1, all = 2
        static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }
    enum Purpose: Int, CaseIterable { case clientCommand = 0, failover = 1 }

    /// The pause in force: `.off` makes the dispatch check one comparison.
    var kind = Kind.off
    var end: Int64 = 0
    /// Per purpose: kind and end (unix ms), or nil.
    var purposes: [(kind: Kind, end: Int64)?] = [nil, nil]
    /// Clients holding a paused command, resumed in pause order.
    var waiting: [Client] = []
    /// The master's stream stopped before a paused command.
    var holdsMasterStream = false
    /// The pause eased while a command ran (CLIENT UNPAUSE, FAILOVER ABORT): the waiting
    /// clients run after it, so their writes are not counted as its own (and propagated
    /// with it), as blocked clients are served after the command that woke them.
    var resumeDue = false
}

extension Engine {
    /// CLIENT PAUSE timeout [WRITE|ALL], as Redis 7.0 parses it: the mode first, then the
    /// timeout (getTimeoutFromObjectOrReply in milliseconds).
    func clientPause(_ a: Arguments) {
        var kind = ClientPauseState.Kind.all
        if a.count == 4 {
            if a[3].equalsIgnoringCase("write") {
                kind = .write
            } else if a[3].equalsIgnoringCase("all") {
                kind = .all
            } else {
                replyError("ERR CLIENT PAUSE mode must be WRITE or ALL")
                return
            }
        } else if a.count != 3 {
            replyError("ERR unknown subcommand or wrong number of arguments for '\(String(decoding: a[1], as: UTF8.self))'. Try CLIENT HELP.")
            return
        }
        guard let timeout = parseInteger(a[2]) else {
            replyError("ERR timeout is not an integer or out of range")
            return
        }
        if timeout < 0 {
            replyError("ERR timeout is negative")
            return
        }
        // Redis 7.0 adds without an overflow check: a huge timeout wraps to a past deadline.
        pauseClients(.clientCommand, end: timeout > 0 ? now &+ Int64(timeout) : 0, kind: kind)
        replyOK()
    }

    /// Starts or extends a pause for `purpose`: the kind only grows more restrictive and
    /// the deadline only later while the purpose is in force.
    func pauseClients(_ purpose: ClientPauseState.Purpose, end: Int64, kind: ClientPauseState.Kind) {
        if let p = pause.purposes[purpose.rawValue] {
            pause.purposes[purpose.rawValue] = (max(p.kind, kind), max(p.end, end))
        } else {
            pause.purposes[purpose.rawValue] = (kind, end)
        }
        updateClientPause()
    }

    /// Ends `purpose`'s pause (CLIENT UNPAUSE, a failover that finished or aborted).
    func unpauseClients(_ purpose: ClientPauseState.Purpose) {
        pause.purposes[purpose.rawValue] = nil
        updateClientPause()
    }

    /// Recomputes the pause in force from the purposes (dropping expired ones); clients
    /// waiting run again when it became less restrictive (a write-paused GET inside
    /// an ALL pause runs, a SET pauses again), as Redis's updateClientPauseTypeAndEndTime:
    /// after the running command (`execute`), the cron, or the failover's PSYNC reply.
    func updateClientPause() {
        let old = pause.kind
        var kind = ClientPauseState.Kind.off
        for i in pause.purposes.indices {
            guard let p = pause.purposes[i] else { continue }
            if p.end < now {
                pause.purposes[i] = nil
            } else if p.kind > kind {
                kind = p.kind
            }
        }
        var end: Int64 = 0
        for p in pause.purposes {
            if let p, p.kind == kind, p.end > end { end = p.end }
        }
        pause.kind = kind
        pause.end = end
        if (old == .off) != (kind == .off) { applyExpiryPolicyForPause() }
        if kind < old { pause.resumeDue = true }
    }

    /// Cron: a pause past its deadline ends.
    func clientPauseCron() {
        if pause.kind != .off && pause.end < now { updateClientPause() }
        if pause.resumeDue { resumePausedClients() }
    }

    /// Whether dispatch must hold `cmd` for `c` now (Redis's processCommand check:
    /// everything under ALL; under WRITE, writes, may-replicate commands, and EXEC of a
    /// transaction that queued one). Never a replica's link; the master's stream is
    /// checked before it reaches dispatch (`masterCommandPaused`).
    func pausesCommand(_ c: Client, _ cmd: Command) -> Bool {
        if c.replicaLink != nil || replication.master?.client === c || c === scripting?.caller { return false }
        return pauseHolds(c, cmd)
    }

    /// Whether the master's next command must wait for the pause to end.
    func masterCommandPaused(_ c: Client, _ args: Arguments) -> Bool {
        guard var cmd = commands.find(args[0]) else { return pause.kind == .all }
        if cmd.isContainer && args.count >= 2, let sub = cmd.subcommandLookup?.find(args[1]) { cmd = sub }
        return pauseHolds(c, cmd)
    }

    private func pauseHolds(_ c: Client, _ cmd: Command) -> Bool {
        if pause.kind == .all { return true }
        if cmd.pausedByWrites { return true }
        if cmd.isExec, let m = c.multiState, m.active {
            return m.queued.contains { $0.command.pausedByWrites }
        }
        return false
    }

    /// Keeps the running command for when the pause ends.
    func holdPausedCommand(_ c: Client, _ args: Arguments) {
        c.pausedRequest = OwnedArguments(args)
        pause.waiting.append(c)
    }

    /// Runs the paused commands of the waiting clients (each may pause again), then
    /// what they queued behind them.
    func resumePausedClients() {
        pause.resumeDue = false
        let waiting = pause.waiting
        pause.waiting.removeAll()
        let savedClient = client
        let savedOut = out
        for c in waiting {
            guard clientsByID[c.id] === c, !c.closing, let request = c.pausedRequest else { continue }
            c.pausedRequest = nil
            out = staging + c.reactor
            out.pointee.open(token: c.token)
            request.withArguments { execute(c, $0) }
            if c.pausedRequest == nil && c.blockState == nil { resumeHeldRequests(c) }
        }
        if pause.holdsMasterStream {
            pause.holdsMasterStream = false
            resumeMasterStream()
        }
        client = savedClient
        out = savedOut
        if let s = savedClient, !s.closing { out.pointee.open(token: s.token) }
        if let s = savedClient { db = databases[s.db]; resp3 = s.protocolVersion == 3 }
    }

    /// No key expires while paused: lookups hide expired keys without deleting them.
    private func applyExpiryPolicyForPause() {
        guard replication.master == nil else { return }   // a replica hides them anyway
        for d in databases { d.expiredKeys = pause.kind == .off ? .delete : .hide }
    }
}
