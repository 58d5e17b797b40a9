import Glibc
import Reactor

/// One of the numbered databases (SELECT): its key table plus the expiry rules on top.
final class Database {
    let index: Int
    var table = KeyTable()
    /// Told of every key deleted because it expired, before it goes (propagation as DEL,
    /// WATCH). Set by the engine that owns this database.
    var onExpired: (UnsafeRawBufferPointer, Int) -> Void = { _, _ in }
    /// What a lookup does with an expired key. A replica never deletes one itself: its
    /// clients see it missing, the master's stream still sees it, until the master's DEL.
    var expiredKeys = ExpiredKeyPolicy.delete

    init(index: Int) { self.index = index }

    /// Finds a live key: an expired one is deleted on the spot (lazy expiry) and reported
    /// missing. The returned link is valid until the table next changes.
    /// The table is used through an unretained reference: it is only replaced by FLUSHDB /
    /// FLUSHALL, never during a lookup, and this runs once or more per command.
    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> KeyTable.Link? {
        guard let link = Unmanaged.passUnretained(table)._withUnsafeGuaranteedRef({ $0.find(key, hash: hash) })
        else { return nil }
        let e = Entry(link.pointee!)
        if e.isVolatile && e.expireAt < now {   // Redis: expired once now > when
            if expiredKeys != .delete { return expiredKeys == .keep ? link : nil }
            onExpired(e.key, index)
            table.remove(at: link)
            return nil
        }
        return link
    }

    /// Empties the database (FLUSHDB, FLUSHALL). A snapshot in progress keeps the old table,
    /// whose keys it still needs, and the database goes on with a fresh one.
    func removeAllKeys() {
        if table.snapshot != nil { table = KeyTable() } else { table.removeAll() }
    }

    /// Deletes an entry the active expire cycle found expired.
    func deleteExpired(_ e: Entry, hasher: KeyHasher) {
        let key = e.key
        let hash = hasher.hash(key)
        if let link = table.find(key, hash: hash) {
            onExpired(key, index)
            table.remove(at: link)
        }
    }

    /// Keys with an expiry, and their average remaining TTL (INFO keyspace).
    func expiryStats(now: Int64) -> (expires: Int, averageTTL: Int64) {
        let n = table.volatileCount
        if n == 0 { return (0, 0) }
        // Sample like Redis's estimate rather than walking millions of keys.
        let sample = min(n, 1000)
        var sum: Int64 = 0
        var live = 0
        for i in 0..<sample {
            let e = table.volatileEntry(i * n / sample)
            let ttl = e.expireAt - now
            if ttl > 0 { sum += ttl; live += 1 }
        }
        return (n, live > 0 ? sum / Int64(live) : 0)
    }
}

/// How `Database.lookup` treats an expired key (see `Database.expiredKeys`).
enum ExpiredKeyPolicy: UInt8 {
    /// A master: delete it and report it missing.
    case delete
    /// A replica serving its clients: report it missing, keep it.
    case hide
    /// A replica applying its master's stream: the key is still there.
    case keep
}

/// Counters behind INFO stats.
struct ServerStats {
    var totalCommands = 0
    var errorReplies = 0
    var errorsByPrefix: [String: Int] = [:]
    var expiredKeys = 0
    var expireCycleTimeouts = 0
    var keyspaceHits = 0
    var keyspaceMisses = 0
    var rejectedCalls = 0
    var failedCalls = 0

    /// Ring of (ms, commands) samples for instantaneous_ops_per_sec.
    var opsSamples = [Int](repeating: 0, count: 16)
    var opsSampleIndex = 0
    var lastSampleTime: Int64 = 0
    var lastSampleCommands = 0

    mutating func countError(prefix: String) {
        errorsByPrefix[prefix, default: 0] += 1
    }

    /// Records the command rate since the previous sample (Redis's trackInstantaneousMetric).
    mutating func sampleOps(now: Int64) {
        let elapsed = now - lastSampleTime
        if elapsed <= 0 { return }
        if lastSampleTime > 0 {
            opsSamples[opsSampleIndex] = (totalCommands - lastSampleCommands) * 1000 / Int(elapsed)
            opsSampleIndex = (opsSampleIndex + 1) % opsSamples.count
        }
        lastSampleTime = now
        lastSampleCommands = totalCommands
    }

    var instantaneousOps: Int { opsSamples.reduce(0, +) / opsSamples.count }
}

extension ByteBuffer {
    @inline(__always)
    mutating func append(_ s: StaticString) {
        append(s.utf8Start, count: s.utf8CodeUnitCount)
    }
}
