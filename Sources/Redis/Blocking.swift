import Glibc

/// A key in a database, as a blocked client names it.
struct BlockKey: Hashable {
    let database: Int
    let key: [UInt8]
}

/// Clients blocked on keys (BLPOP, BZPOPMIN, XREAD BLOCK, ...).
///
/// A blocking command that finds nothing to serve calls `blockClient`, which parks the
/// client with a copy of its command. When a write touches one of its keys, the command is
/// run again from the start for that client, first-blocked first-served: it either serves
/// (and replies, and propagates what it did, like any command) or blocks again, keeping its
/// place. Re-running the command instead of per-type "serve" code keeps every blocking
/// command's rules in one handler.
struct BlockingState {
    var blockedClientCount = 0
    /// Clients waiting on each key, in the order they blocked.
    var waiters: [BlockKey: [Client]] = [:]
    /// Keys touched since the last serve that have waiters, in touch order.
    var readyKeys: [BlockKey] = []
    var readySet: Set<BlockKey> = []
    /// Earliest deadline among blocked clients (ms), or Int64.max when none.
    var earliestDeadline = Int64.max
    /// Blocked clients by id, for timeouts.
    var blockedByID: [Int: Client] = [:]
    /// Set while blocked clients are being served, so that serving does not recurse.
    var serving = false
    /// Set by `blockClient` when a re-run command blocks again.
    var reblocked = false
    /// The key whose change re-runs the command now, or nil outside a re-run: Redis serves
    /// a client blocked on several keys from the key that became ready (BLPOP k1 k2 after
    /// MULTI RPUSH k2 .. RPUSH k1 .. EXEC pops from k2), so re-run handlers look there only.
    var servingKey: BlockKey?
}

/// What one blocked client waits for, and until when.
final class BlockState {
    let keys: [BlockKey]
    /// Absolute ms, or 0 for no timeout.
    let deadline: Int64
    /// The command to run again when a key is touched.
    let command: OwnedArguments

    init(keys: [BlockKey], deadline: Int64, command: OwnedArguments) {
        self.keys = keys
        self.deadline = deadline
        self.command = command
    }
}

extension Engine {
    /// Whether the running command may block: not inside MULTI/EXEC, where Redis answers
    /// as if the timeout had passed.
    var canBlock: Bool { !transactions.executingTransaction && !scriptRunning }

    /// A blocking command's timeout argument as an absolute deadline in ms (0 = forever),
    /// parsed like Redis's getTimeoutFromObjectOrReply: seconds as a float for B*POP and
    /// friends, integer milliseconds for XREAD/XREADGROUP BLOCK. Replies the error and
    /// returns nil on a bad value.
    func blockingTimeoutArgument(_ bytes: UnsafeRawBufferPointer, milliseconds: Bool = false) -> Int64? {
        var ms: Int64
        if milliseconds {
            guard let n = parseInteger(bytes) else {
                replyError("ERR timeout is not an integer or out of range")
                return nil
            }
            ms = Int64(n)
        } else {
            guard let seconds = parseLongDouble(bytes), !seconds.isNaN else {
                replyError("ERR timeout is not a float or out of range")
                return nil
            }
            // C's (long long) cast: out-of-range values become LLONG_MIN on x86, which
            // Redis then reports as negative.
            let v = seconds * 1000
            ms = (v >= 9.223372036854775807e18 || v < -9.223372036854775807e18) ? Int64.min : Int64(v)
        }
        if ms < 0 {
            replyError("ERR timeout is negative")
            return nil
        }
        if ms > 0 {
            if ms > Int64.max - now {
                replyError("ERR timeout is out of range")
                return nil
            }
            ms += now
        }
        return ms
    }

    /// Parks the running client until one of `keys` (in the current database) is touched or
    /// `deadline` passes (0 = never); the command in `args` runs again on a touch. Called by
    /// a blocking command instead of replying. A command re-run for a client that is already
    /// blocked just keeps it blocked, in its place.
    func blockClient(on keys: [UnsafeRawBufferPointer], deadline: Int64, args: Arguments) {
        let c = client!
        if c.blockState != nil {
            blocking.reblocked = true
            return
        }
        let index = db.index
        var unique: [BlockKey] = []
        for k in keys {
            let bk = BlockKey(database: index, key: Array(k))
            if !unique.contains(bk) { unique.append(bk) }
        }
        let state = BlockState(keys: unique, deadline: deadline, command: OwnedArguments(args))
        c.blockState = state
        for bk in unique { blocking.waiters[bk, default: []].append(c) }
        blocking.blockedClientCount += 1
        blocking.blockedByID[c.id] = c
        if deadline > 0 && deadline < blocking.earliestDeadline { blocking.earliestDeadline = deadline }
    }

    /// A key changed: if clients wait on it, it is served after the running command.
    func blockingKeyTouched(_ key: UnsafeRawBufferPointer, database: Int) {
        let bk = BlockKey(database: database, key: Array(key))
        guard blocking.waiters[bk] != nil, !blocking.readySet.contains(bk) else { return }
        blocking.readySet.insert(bk)
        blocking.readyKeys.append(bk)
    }

    /// Runs the commands of clients blocked on keys touched by the last command(s), in the
    /// order the keys were touched and, per key, the order the clients blocked. Serving can
    /// touch further keys (BLMOVE pushes onto another list); the loop serves those too.
    func serveBlockedClients() {
        if blocking.serving { return }
        blocking.serving = true
        defer { blocking.serving = false }
        var i = 0
        while i < blocking.readyKeys.count {
            let bk = blocking.readyKeys[i]
            i += 1
            blocking.readySet.remove(bk)
            guard let waiting = blocking.waiters[bk] else { continue }
            for c in waiting {
                guard c.blockState != nil, !c.closing else { continue }
                // Only a key that exists can serve anybody (a DEL touches too).
                let d = databases[bk.database]
                let exists = bk.key.withUnsafeBytes { d.lookup($0, hash: hashKey($0), now: now) != nil }
                // A deleted key serves nobody, but releases XREADGROUP readers with an error.
                if !exists && !c.blockState!.command.isCommand("xreadgroup") { continue }
                blocking.servingKey = bk
                rerunBlockedCommand(c)
            }
        }
        blocking.readyKeys.removeAll(keepingCapacity: true)
    }

    /// Runs a blocked client's command again; if it did not block again, the client is
    /// unblocked and its held-back requests run.
    private func rerunBlockedCommand(_ c: Client) {
        guard let state = c.blockState else { return }
        blocking.reblocked = false
        runCommand(of: c, state.command)
        blocking.servingKey = nil   // the held requests below are no re-run
        if !blocking.reblocked {
            unblock(c)
            runHeldRequests(of: c)
        }
    }

    /// Runs `command` as client `c`'s, its replies going to `c`, then restores the state of
    /// the command that was running.
    func runCommand(of c: Client, _ command: OwnedArguments) {
        let savedClient = client, savedOut = out, savedDB = db, savedResp3 = resp3
        let savedReplaced = propagationReplaced
        out = staging + c.reactor
        out.pointee.open(token: c.token)
        command.withArguments { execute(c, $0) }
        client = savedClient
        out = savedOut
        db = savedDB
        resp3 = savedResp3
        propagationReplaced = savedReplaced
        if let s = savedClient, !s.closing { out.pointee.open(token: s.token) }
    }

    /// Requests that arrived while `c` was blocked, run in order until it blocks again.
    func runHeldRequests(of c: Client) {
        while c.blockState == nil && c.pausedRequest == nil && !c.closing && !c.heldRequests.isEmpty {
            let next = c.heldRequests.removeFirst()
            runCommand(of: c, next)
        }
    }

    /// Removes `c` from every wait list.
    func unblock(_ c: Client) {
        guard let state = c.blockState else { return }
        for bk in state.keys {
            if var list = blocking.waiters[bk] {
                list.removeAll { $0 === c }
                blocking.waiters[bk] = list.isEmpty ? nil : list
            }
        }
        c.blockState = nil
        blocking.blockedClientCount -= 1
        blocking.blockedByID[c.id] = nil
    }

    /// Replies the null array to clients whose deadline passed, then runs what they held.
    func expireBlockedClients() {
        guard blocking.blockedClientCount > 0, now >= blocking.earliestDeadline else { return }
        var next = Int64.max
        var expired: [Client] = []
        for c in blocking.blockedByID.values {
            guard let s = c.blockState, s.deadline > 0 else { continue }
            if s.deadline <= now { expired.append(c) } else if s.deadline < next { next = s.deadline }
        }
        blocking.earliestDeadline = next
        expired.sort { $0.id < $1.id }
        for c in expired {
            unblock(c)
            withReplies(to: c) { replyNullArray() }
            runHeldRequests(of: c)
        }
        if !blocking.readyKeys.isEmpty { serveBlockedClients() }
    }

    /// Milliseconds until the next blocked client times out (for the engine's sleep).
    var millisecondsToNextBlockingDeadline: Int64 {
        blocking.earliestDeadline == Int64.max ? Int64.max : max(0, blocking.earliestDeadline - wallClockMilliseconds())
    }

    func blockingClientClosed(_ c: Client) {
        unblock(c)
    }
}
