import Glibc

/// The access clock a new entry starts with: the LRU clock (seconds, 24 bits) or, under an
/// LFU policy, the current minutes and LFU_INIT_VAL. Refreshed once per batch; a plain
/// global so that `Entry.allocate` needs no engine.
@exclusivity(unchecked) nonisolated(unsafe) var newEntryAccessClock: UInt32 = 0

/// maxmemory-policy values, in Redis's enum order (its CONFIG SET error lists them so).
enum EvictionPolicy: UInt8, CaseIterable {
    case volatileLRU, volatileLFU, volatileRandom, volatileTTL, allkeysLRU, allkeysLFU, allkeysRandom, noeviction

    var name: String {
        switch self {
        case .volatileLRU: "volatile-lru"
        case .volatileLFU: "volatile-lfu"
        case .volatileRandom: "volatile-random"
        case .volatileTTL: "volatile-ttl"
        case .allkeysLRU: "allkeys-lru"
        case .allkeysLFU: "allkeys-lfu"
        case .allkeysRandom: "allkeys-random"
        case .noeviction: "noeviction"
        }
    }

    static func named(_ s: String) -> EvictionPolicy? {
        let lower = s.lowercased()
        return allCases.first { $0.name == lower }
    }

    var isLFU: Bool { self == .volatileLFU || self == .allkeysLFU }
    /// Only keys with an expiry may be evicted.
    var volatileOnly: Bool { self == .volatileLRU || self == .volatileLFU || self == .volatileRandom || self == .volatileTTL }
    var isRandom: Bool { self == .volatileRandom || self == .allkeysRandom }
    /// Redis's MAXMEMORY_FLAG_NO_SHARED_INTEGERS: values need their own access clock.
    var tracksPerValue: Bool { self != .noeviction && !isRandom && self != .volatileTTL }
}

/// Redis's LRU_CLOCK_MAX and LFU constants.
let lruClockMax: UInt32 = (1 << 24) - 1
let lfuInitialCounter: UInt32 = 5

/// One candidate in the eviction pool (Redis's evictionPoolEntry): kept sorted by `idle`
/// ascending, the best candidate last.
struct EvictionCandidate {
    var idle: UInt64
    var key: [UInt8]
    var database: Int
}

/// maxmemory enforcement state (Redis's evict.c globals and stats).
struct EvictionState {
    /// maxmemory, mirrored from the config so the per-command test is one load.
    var limit = 0
    var policy = EvictionPolicy.noeviction
    var usesLFU = false
    var pool: [EvictionCandidate] = []
    var evictedKeys = 0
    /// Monotonic µs when used memory first stayed over the limit (0: it is not).
    var exceededSince = 0
    var totalExceededMicros = 0
    /// Memory outside the key tables counted against maxmemory (clients, rings,
    /// baseline), taken once per batch while a limit is set.
    var otherBytes = 0
    /// Eviction stopped at its time limit: the loop and cron go on with it (Redis's
    /// evictionTimeProc).
    var unfinished = false
    /// Memory was over the limit when the running script started (Redis's script_oom).
    var scriptOutOfMemory = false
    /// Where the random policies look next (Redis's static next_db).
    var nextRandomDatabase = 0
    /// The `now` of the last `otherBytes` refresh: at most one per millisecond, since it
    /// walks every client.
    var overheadRefreshedAt: Int64 = -1
    /// Sampling and LFU increments draw from this, not from the system generator (a
    /// getrandom call each), as Redis uses rand().
    var random = FastRandom(seed: UInt64(truncatingIfNeeded: wallClockMicroseconds()))
}

/// The value types' wyrand generator already has `next()`; eviction samples with it
/// through the standard `random(in:using:)`.
extension FastRandom: RandomNumberGenerator {}

/// The outcome of `performEvictions` (Redis's EVICT_OK / EVICT_RUNNING / EVICT_FAIL).
enum EvictionResult { case ok, running, fail }

extension Engine {
    // MARK: access clock

    /// Recomputes the clock new and accessed entries get, from the batch's `now`.
    @inline(__always)
    func refreshAccessClock() {
        if eviction.usesLFU {
            newEntryAccessClock = lfuMinutes() << 8 | lfuInitialCounter
        } else {
            newEntryAccessClock = UInt32(truncatingIfNeeded: now / 1000) & lruClockMax
        }
    }

    /// Redis's lookupKey side effect: an accessed key's LRU clock, or its LFU counter.
    @inline(__always)
    func touchAccess(_ e: Entry) {
        if eviction.usesLFU { updateLFU(e) } else { e.accessClock = newEntryAccessClock }
    }

    /// LRU_CLOCK(): seconds, 24 bits.
    var lruClock: UInt32 { UInt32(truncatingIfNeeded: now / 1000) & lruClockMax }

    /// LFUGetTimeInMinutes.
    func lfuMinutes() -> UInt32 { UInt32(truncatingIfNeeded: now / 60_000) & 0xFFFF }

    /// LFUDecrAndReturn: the counter less one per `lfu-decay-time` minutes since the last
    /// decrement.
    func lfuDecayedCounter(_ e: Entry) -> UInt32 {
        let clock = e.accessClock
        let lastMinutes = clock >> 8
        var counter = clock & 255
        let current = lfuMinutes()
        let elapsed = current >= lastMinutes ? current - lastMinutes : 65535 - lastMinutes + current
        let periods = config.lfuDecayTime > 0 ? Int(elapsed) / config.lfuDecayTime : 0
        if periods > 0 { counter = periods > Int(counter) ? 0 : counter - UInt32(periods) }
        return counter
    }

    /// updateLFU: decay, then LFULogIncr (the more hits, the less likely the next one counts).
    func updateLFU(_ e: Entry) {
        var counter = lfuDecayedCounter(e)
        if counter < 255 {
            let r = Double(UInt32.random(in: 0...UInt32.max, using: &eviction.random)) / Double(UInt32.max)
            let base = max(0, Double(counter) - Double(lfuInitialCounter))
            if r < 1.0 / (base * Double(config.lfuLogFactor) + 1) { counter += 1 }
        }
        e.accessClock = lfuMinutes() << 8 | counter
    }

    /// estimateObjectIdleTime, in milliseconds.
    func idleMilliseconds(_ e: Entry) -> Int {
        let clock = lruClock, lru = e.accessClock
        let seconds = clock >= lru ? clock - lru : clock + (lruClockMax - lru)
        return Int(seconds) * 1000
    }

    /// RESTORE's IDLETIME / FREQ and an RDB's IDLE / FREQ opcodes (Redis's
    /// objectSetLRUOrLFU): the one that fits the policy takes effect. `time` is the
    /// wall clock in ms (loading a replica's snapshot moves `now` out of the way).
    func setAccessClock(_ e: Entry, idleSeconds: Int, frequency: Int, time: Int64? = nil) {
        let ms = time ?? now
        if eviction.usesLFU {
            let minutes = UInt32(truncatingIfNeeded: ms / 60_000) & 0xFFFF
            if frequency >= 0 { e.accessClock = minutes << 8 | UInt32(frequency) }
        } else if idleSeconds >= 0 {
            let clock = Int(UInt32(truncatingIfNeeded: ms / 1000) & lruClockMax)
            var abs = clock - idleSeconds
            if abs < 0 { abs = (clock + Int(lruClockMax) / 2) % Int(lruClockMax) }
            e.accessClock = UInt32(abs)
        }
    }

    // MARK: configuration

    /// Mirrors maxmemory and the policy after start-up and CONFIG SET. A policy switch
    /// between LRU and LFU leaves the clocks to adjust, as in Redis.
    func applyEvictionConfig() {
        eviction.limit = config.maxmemory
        eviction.policy = config.evictionPolicy
        eviction.usesLFU = config.evictionPolicy.isLFU
        refreshAccessClock()
    }

    // MARK: memory accounting

    /// Replica output buffers: not counted against maxmemory, since evicting keys to make
    /// room for the stream that carries the evictions would feed itself (Redis's
    /// freeMemoryGetNotCountedMemory). Our used_memory already leaves out the backlog.
    func memoryNotCountedForEviction() -> Int {
        guard !replication.replicas.isEmpty else { return 0 }
        var n = 0
        for c in replication.replicas {
            let s = channels[c.reactor].slotStats + c.slot
            n += s.pointee.outputBuffered.load(ordering: .relaxed)
        }
        return n
    }

    /// Refreshes the part of used memory outside the key tables (at most once per
    /// millisecond: it walks every client), so the per-command test reads only the tables.
    func refreshEvictionOverhead(force: Bool = false) {
        if !force && eviction.overheadRefreshedAt == now { return }
        eviction.overheadRefreshedAt = now
        eviction.otherBytes = usedMemory() - dataBytes() - memoryNotCountedForEviction()
    }

    /// What maxmemory is compared with.
    @inline(__always)
    func memoryCountedForEviction() -> Int { dataBytes() + eviction.otherBytes }

    // MARK: admission

    /// processCommand's maxmemory step, for a command about to run with a limit set:
    /// evicts what the policy allows, and rejects with -OOM what may grow memory (a
    /// `denyoom` command, EXEC of a queue holding one, anything queued inside MULTI) when
    /// the limit could not be met. Returns whether the command may go on.
    func admitUnderMaxmemory(_ cmd: Command) -> Bool {
        let outOfMemory = performEvictions() == .fail
        // A script's denyoom calls are refused by the state at its start (server.script_oom).
        if cmd.startsScript { eviction.scriptOutOfMemory = outOfMemory }
        if !outOfMemory { return true }
        var reject = cmd.flags.contains(.denyoom)
        if let m = client.multiState, m.active {
            if cmd.isExec {
                reject = reject || m.queued.contains { $0.command.flags.contains(.denyoom) }
            } else if !["discard", "quit", "reset"].contains(cmd.name) {
                reject = true
            }
        }
        // A replica applies its master's stream whatever its own memory.
        if !reject || (replication.master != nil && replication.master?.client === client) { return true }
        rejectCommand(cmd, oomError, isExec: cmd.isExec)
        return false
    }

    // MARK: eviction

    /// Whether eviction may run now (isSafeToPerformEvictions): not while loading, not on a
    /// replica that ignores maxmemory (it follows its master's DELs), not while paused.
    private var evictionAllowed: Bool {
        if replication.master != nil && config.replicaIgnoreMaxmemory { return false }
        if pause.kind != .off { return false }
        return true
    }

    /// Redis's performEvictions: frees keys by the policy until used memory is within
    /// maxmemory, within the time budget `maxmemory-eviction-tenacity` gives (the rest
    /// continues from the loop's cron). Each eviction goes to replicas as DEL and touches
    /// the key for WATCH and blocked clients.
    @discardableResult
    func performEvictions() -> EvictionResult {
        guard evictionAllowed, eviction.limit > 0 else { return .ok }
        var result = EvictionResult.fail
        var used = memoryCountedForEviction()
        if used <= eviction.limit {
            result = .ok
        } else if eviction.policy != .noeviction {
            let start = monotonicMicroseconds()
            let budget = evictionTimeLimitMicros()
            var freed = 0
            eviction.unfinished = false
            result = .ok
            while used > eviction.limit {
                guard let (key, database) = selectEvictionVictim() else { result = .fail; break }
                evictKey(key, database: database)
                freed += 1
                used = memoryCountedForEviction()
                if freed % 16 == 0 && monotonicMicroseconds() - start > budget {
                    if used > eviction.limit {
                        eviction.unfinished = true
                        result = .running
                    }
                    break
                }
            }
        }
        if result == .ok {
            if eviction.exceededSince != 0 {
                eviction.totalExceededMicros += monotonicMicroseconds() - eviction.exceededSince
                eviction.exceededSince = 0
            }
        } else if eviction.exceededSince == 0 {
            eviction.exceededSince = monotonicMicroseconds()
        }
        return result
    }

    /// evictionTimeLimitUs: 50 µs per tenacity step up to 10, then a 15% geometric
    /// progression, unlimited at 100.
    private func evictionTimeLimitMicros() -> Int {
        let t = config.maxmemoryEvictionTenacity
        if t <= 10 { return 50 * t }
        if t < 100 { return Int(500.0 * pow(1.15, Double(t) - 10.0)) }
        return Int.max
    }

    /// The key the policy evicts next and its database, or nil when none qualifies.
    private func selectEvictionVictim() -> ([UInt8], Int)? {
        let policy = eviction.policy
        if policy.isRandom {
            // Round-robin over the databases, as Redis's next_db.
            for _ in 0..<databases.count {
                let d = databases[eviction.nextRandomDatabase % databases.count]
                eviction.nextRandomDatabase += 1
                if policy.volatileOnly {
                    let n = d.table.volatileCount
                    if n == 0 { continue }
                    return (Array(d.table.volatileEntry(Int.random(in: 0..<n, using: &eviction.random)).key), d.index)
                }
                if let e = d.table.randomEntry(using: &eviction.random) { return (Array(e.key), d.index) }
            }
            return nil
        }
        // The pool: sample each database, then take the best candidate that still exists.
        while true {
            var total = 0
            for d in databases {
                let keys = policy.volatileOnly ? d.table.volatileCount : d.table.count
                if keys == 0 { continue }
                total += keys
                populateEvictionPool(d)
            }
            if total == 0 { return nil }
            while let best = eviction.pool.popLast() {
                let found = best.key.withUnsafeBytes { databases[best.database].table.find($0, hash: hashKey($0)) }
                if found != nil { return (best.key, best.database) }
                // Ghost: deleted since it was sampled.
            }
        }
    }

    /// evictionPoolPopulate: `maxmemory-samples` keys of `d`, each kept if it is a better
    /// candidate than the pool's worst or the pool has room (16 entries).
    private func populateEvictionPool(_ d: Database) {
        let policy = eviction.policy
        let samples = config.maxmemorySamples
        let table = d.table
        for _ in 0..<samples {
            let e: Entry
            if policy.volatileOnly {
                let n = table.volatileCount
                if n == 0 { return }
                e = table.volatileEntry(Int.random(in: 0..<n, using: &eviction.random))
            } else {
                guard let r = table.randomEntry(using: &eviction.random) else { return }
                e = r
            }
            let idle: UInt64
            switch policy {
            case .allkeysLRU, .volatileLRU: idle = UInt64(idleMilliseconds(e))
            case .allkeysLFU, .volatileLFU: idle = 255 - UInt64(lfuDecayedCounter(e))
            case .volatileTTL: idle = UInt64.max - UInt64(bitPattern: e.expireAt)
            default: idle = 0
            }
            let key = e.key
            // Already pooled (sampled twice): keep the fresher score.
            if let at = eviction.pool.firstIndex(where: { $0.database == d.index && $0.key.elementsEqual(key) }) {
                eviction.pool.remove(at: at)
            }
            var i = 0
            while i < eviction.pool.count && eviction.pool[i].idle < idle { i += 1 }
            if eviction.pool.count >= evictionPoolSize {
                if i == 0 { continue }   // worse than every pooled candidate
                eviction.pool.removeFirst()
                i -= 1
            }
            eviction.pool.insert(EvictionCandidate(idle: idle, key: Array(key), database: d.index), at: i)
        }
    }

    /// Deletes one key chosen for eviction: WATCH and blocked clients touched, the
    /// "evicted" event, DEL to replicas, evicted_keys counted (evict.c's order).
    private func evictKey(_ key: [UInt8], database: Int) {
        key.withUnsafeBytes { k in
            let table = databases[database].table
            guard let link = table.find(k, hash: hashKey(k)) else { return }
            table.remove(at: link)
            touchKey(k, database: database)
            keyEvicted(k, database: database)
            if replication.feedsWrites {
                OwnedArguments([Array("DEL".utf8), key]).withArguments { feedReplication($0, database: database) }
            }
            eviction.evictedKeys += 1
        }
    }

    /// Between batches: eviction that stopped at its time limit goes on.
    func continueEvictions() {
        if eviction.unfinished && eviction.limit > 0 {
            refreshEvictionOverhead(force: true)
            performEvictions()
        }
    }
}

/// EVPOOL_SIZE.
let evictionPoolSize = 16

/// shared.oomerr.
let oomError = Array("OOM command not allowed when used memory > 'maxmemory'.".utf8)

extension Engine {
    // MARK: OBJECT IDLETIME / FREQ / REFCOUNT

    /// Redis's objectCommandLookup: no access recorded, no keymiss event, hits and misses
    /// counted.
    func objectLookup(_ key: UnsafeRawBufferPointer) -> Entry? {
        guard let link = db.lookup(key, hash: hashKey(key), now: now) else {
            stats.keyspaceMisses += 1
            return nil
        }
        stats.keyspaceHits += 1
        return Entry(link.pointee!)
    }

    /// OBJECT IDLETIME key: seconds since the last access; refused under an LFU policy.
    func objectIdletime(_ a: Arguments) {
        guard let e = objectLookup(a[2]) else { replyNull(); return }
        if eviction.usesLFU {
            replyError("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
            return
        }
        replyInteger(idleMilliseconds(e) / 1000)
    }

    /// OBJECT FREQ key: the decayed LFU counter; refused unless an LFU policy is selected.
    func objectFreq(_ a: Arguments) {
        guard let e = objectLookup(a[2]) else { replyNull(); return }
        if !eviction.usesLFU {
            replyError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
            return
        }
        replyInteger(Int(lfuDecayedCounter(e)))
    }

    /// OBJECT REFCOUNT key: Redis shares the integers 0..9999 (refcount INT_MAX) unless an
    /// LRU/LFU policy with maxmemory needs each value's own clock; every other value has
    /// one reference.
    func objectRefcount(_ a: Arguments) {
        guard let e = objectLookup(a[2]) else { replyNull(); return }
        if e.type == .string && e.stringEncoding == .int && e.intValue >= 0 && e.intValue < 10000
            && !(eviction.limit > 0 && eviction.policy.tracksPerValue) {
            replyInteger(Int(Int32.max))
        } else {
            replyInteger(1)
        }
    }
}

/// What a snapshot needs to write access clocks: the policy's kind and the clocks at the
/// snapshot's start.
struct RDBAccessClocks {
    let lfu: Bool
    let lruClock: UInt32
    let lfuMinutes: UInt32
    let decayTime: Int

    /// estimateObjectIdleTime / 1000.
    func idleSeconds(_ lru: UInt32) -> Int {
        Int(lruClock >= lru ? lruClock - lru : lruClock + (lruClockMax - lru))
    }

    /// LFUDecrAndReturn.
    func decayedCounter(_ clock: UInt32) -> UInt32 {
        let last = clock >> 8
        let counter = clock & 255
        let elapsed = lfuMinutes >= last ? lfuMinutes - last : 65535 - last + lfuMinutes
        let periods = decayTime > 0 ? Int(elapsed) / decayTime : 0
        return periods > Int(counter) ? 0 : counter - UInt32(periods)
    }
}

extension Engine {
    /// Redis saves idle times under an LRU policy and counters under an LFU one.
    func rdbAccessClocks() -> RDBAccessClocks? {
        switch eviction.policy {
        case .allkeysLRU, .volatileLRU:
            return RDBAccessClocks(lfu: false, lruClock: lruClock, lfuMinutes: 0, decayTime: 0)
        case .allkeysLFU, .volatileLFU:
            return RDBAccessClocks(lfu: true, lruClock: 0, lfuMinutes: lfuMinutes(), decayTime: config.lfuDecayTime)
        default:
            return nil
        }
    }
}

extension Command {
    /// EVAL, EVALSHA, FCALL and their _RO forms: processCommand records whether memory
    /// was over the limit when they start.
    var startsScript: Bool {
        switch name {
        case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro": return true
        default: return false
        }
    }
}

extension Engine {
    /// Redis's scriptVerifyOOM: until a script has written, a `denyoom` command it calls is
    /// refused when memory was over maxmemory at the script's start, unless the script
    /// declared allow-oom or the caller is our master.
    func scriptCallOutOfMemory(_ cmd: Command, wrote: Bool, allowOOM: Bool) -> Bool {
        eviction.limit > 0 && !allowOOM && !wrote && eviction.scriptOutOfMemory && cmd.flags.contains(.denyoom)
            && !(replication.master != nil && replication.master?.client === client)
    }
}
