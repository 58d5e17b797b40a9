import Glibc

/// MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP. Texts, field names and
/// errors are Redis 7.0's; the numbers are this server's own accounting (the one behind
/// INFO's used_memory), not imitations of Redis's allocator figures.
let memoryCommands: [(String, CommandHandler)] = [
    ("memory|usage", { $0.memoryUsage($1) }),
    ("memory|stats", { e, _ in e.memoryStats() }),
    ("memory|doctor", { e, _ in e.replyVerbatim(e.memoryDoctorReport()) }),
    // We run on glibc malloc, so this is what a redis-server built with libc answers.
    ("memory|malloc-stats", { e, _ in e.replyBulk("Stats not supported for the current allocator") }),
    ("memory|purge", { e, _ in
        _ = malloc_trim(0)
        e.replyOK()
    }),
    ("memory|help", { e, _ in
        e.replyHelp("MEMORY", [
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ])
    }),
]

/// glibc's malloc_trim, from <malloc.h> (not exported by the Glibc module): returns freed
/// memory at the top of the heap and in free chunks to the system, as jemalloc's purge does.
@_silgen_name("malloc_trim")
func malloc_trim(_ pad: Int) -> Int32

/// The figures MEMORY STATS and MEMORY DOCTOR report (Redis's struct redisMemOverhead),
/// from this server's own accounting.
struct MemoryOverview {
    var total = 0, peak = 0, startup = 0, backlog = 0
    var clientsReplicas = 0, clientsNormal = 0
    var replicaCount = 0, normalClientCount = 0
    /// Per non-empty database: index, key-table overhead, expiry-bookkeeping overhead.
    var databases: [(index: Int, main: Int, expires: Int)] = []
    var overheadTotal = 0, keys = 0, dataset = 0
    var rss = 0
}

extension Engine {
    /// MEMORY USAGE key [SAMPLES n]: bytes of the key's entry block (header, expiry, key,
    /// string value or object reference), its bucket slot, and for aggregates the heap
    /// the value's contents hold. SAMPLES is validated as Redis does; the contents are
    /// measured whole (on a copy, through the same counter as used_memory), not sampled.
    func memoryUsage(_ a: Arguments) {
        var j = 3
        while j < a.count {
            if a[j].equalsIgnoringCase("samples") && j + 1 < a.count {
                guard let n = integerArgument(a[j + 1]) else { return }
                if n < 0 { replySyntaxError(); return }
                j += 2
            } else {
                replySyntaxError()
                return
            }
        }
        guard let link = db.lookup(a[2], hash: hashKey(a[2]), now: now) else { replyNull(); return }
        let e = Entry(link.pointee!)
        var usage = e.allocatedSize + MemoryLayout<UnsafeRawPointer>.size
        if e.type != .string {
            usage += valueContentBytes(e.object)
        }
        replyInteger(usage)
    }

    /// Heap bytes the contents of a list, hash, set, sorted set or stream hold: a copy is
    /// made and what it adds to the value memory counter is its size.
    private func valueContentBytes(_ object: AnyObject) -> Int {
        guard let value = object as? KeyspaceObject else { return 0 }
        let before = valueMemoryCounter.load(ordering: .relaxed)
        var copy: AnyObject? = value.duplicate()
        let bytes = valueMemoryCounter.load(ordering: .relaxed) - before
        copy = nil
        _ = copy
        return max(0, bytes)
    }

    /// What start-up allocates before any data: the request and reply rings plus the
    /// fixed baseline INFO's used_memory counts.
    private func startupBytes() -> Int {
        var rings = 0
        for ch in channels { rings += ch.requests.capacity + ch.replies.capacity }
        return rings + 900 * 1024
    }

    func memoryOverview() -> MemoryOverview {
        var m = MemoryOverview()
        m.backlog = replication.backlog?.capacity ?? 0
        let used = usedMemory()
        m.total = used + m.backlog
        // INFO's peak is of used_memory, which leaves the backlog out.
        peakMemory = max(peakMemory, used)
        m.peak = max(peakMemory + m.backlog, m.total)
        m.startup = startupBytes()
        for c in clientsByID.values {
            let s = channels[c.reactor].slotStats + c.slot
            let bytes = s.pointee.inputCapacity.load(ordering: .relaxed) + s.pointee.outputBuffered.load(ordering: .relaxed)
            if c.replicaLink != nil {
                m.clientsReplicas += bytes
                m.replicaCount += 1
            } else {
                m.clientsNormal += bytes
                m.normalClientCount += 1
            }
        }
        var overhead = m.startup + m.backlog + m.clientsReplicas + m.clientsNormal
        for d in databases where d.table.count > 0 {
            let t = d.table
            // Bucket slots and each entry's header; the expiry fields and the volatile list.
            let main = t.bucketCount * 8 + t.count * Entry.headerSize
            let expires = t.volatileCount * (Entry.expirySize + 8)
            m.databases.append((d.index, main, expires))
            overhead += main + expires
            m.keys += t.count
        }
        m.overheadTotal = overhead
        m.dataset = m.total - overhead
        m.rss = residentSetBytes()
        return m
    }

    /// MEMORY STATS: Redis 7.0's fields in its order. With glibc malloc there are no
    /// allocator-internal figures, so, as a libc-built Redis does, allocator.allocated is
    /// the total and allocator.active / allocator.resident are the process RSS.
    func memoryStats() {
        let m = memoryOverview()
        let netUsage = m.total > m.startup ? m.total - m.startup : 1
        replyMapHeader(27 + m.databases.count)
        func field(_ name: String, _ n: Int) {
            replyBulk(name)
            replyInteger(n)
        }
        // Redis computes these ratios in single precision.
        func ratio(_ name: String, _ v: Float) {
            replyBulk(name)
            replyScore(Double(v))
        }
        field("peak.allocated", m.peak)
        field("total.allocated", m.total)
        field("startup.allocated", m.startup)
        field("replication.backlog", m.backlog)
        field("clients.slaves", m.clientsReplicas)
        field("clients.normal", m.clientsNormal)
        field("cluster.links", 0)
        field("aof.buffer", 0)
        field("lua.caches", 0)
        field("functions.caches", 0)
        for d in m.databases {
            replyBulk("db.\(d.index)")
            replyMapHeader(3)
            field("overhead.hashtable.main", d.main)
            field("overhead.hashtable.expires", d.expires)
            field("overhead.hashtable.slot-to-keys", 0)
        }
        field("overhead.total", m.overheadTotal)
        field("keys.count", m.keys)
        field("keys.bytes-per-key", m.keys > 0 ? netUsage / m.keys : 0)
        field("dataset.bytes", m.dataset)
        ratio("dataset.percentage", Float(m.dataset) * 100 / Float(netUsage))
        ratio("peak.percentage", Float(m.total) * 100 / Float(max(1, m.peak)))
        field("allocator.allocated", m.total)
        field("allocator.active", m.rss)
        field("allocator.resident", m.rss)
        ratio("allocator-fragmentation.ratio", Float(m.rss) / Float(max(1, m.total)))
        field("allocator-fragmentation.bytes", m.rss - m.total)
        ratio("allocator-rss.ratio", 1)
        field("allocator-rss.bytes", 0)
        ratio("rss-overhead.ratio", 1)
        field("rss-overhead.bytes", 0)
        ratio("fragmentation", Float(m.rss) / Float(max(1, m.total)))
        field("fragmentation.bytes", m.rss - m.total)
    }

    /// MEMORY DOCTOR: Redis 7.0's checks and texts over our figures. "Very little memory"
    /// is judged on what is allocated beyond start-up (Redis's 5 MB threshold was set for
    /// its ~1 MB start-up; our reply rings alone take more).
    func memoryDoctorReport() -> String {
        let m = memoryOverview()
        var reports = 0
        var empty = false, bigPeak = false, highFragmentation = false, highAllocatorFragmentation = false
        var bigReplicaBuffers = false, bigClientBuffers = false
        if m.total - m.startup < 5 * 1024 * 1024 {
            empty = true
            reports += 1
        } else {
            if Float(m.peak) / Float(m.total) > 1.5 {
                bigPeak = true
                reports += 1
            }
            // Without allocator figures, total and allocator fragmentation are the same
            // RSS-to-allocated ratio (as in a libc-built Redis).
            let fragmentation = Float(m.rss) / Float(m.total)
            if fragmentation > 1.4 && m.rss - m.total > 10 << 20 {
                highFragmentation = true
                reports += 1
            }
            if fragmentation > 1.1 && m.rss - m.total > 10 << 20 {
                highAllocatorFragmentation = true
                reports += 1
            }
            if m.normalClientCount > 0 && m.clientsNormal / m.normalClientCount > 1024 * 200 {
                bigClientBuffers = true
                reports += 1
            }
            if m.replicaCount > 0 && m.clientsReplicas / m.replicaCount > 1024 * 1024 * 10 {
                bigReplicaBuffers = true
                reports += 1
            }
        }
        if reports == 0 {
            return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
        }
        if empty {
            return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
        }
        var s = "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
        if bigPeak {
            s += " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n"
        }
        if highFragmentation {
            s += " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n"
        }
        if highAllocatorFragmentation {
            s += " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n"
        }
        if bigReplicaBuffers {
            s += " * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n"
        }
        if bigClientBuffers {
            s += " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n"
        }
        s += "I'm here to keep you safe, Sam. I want to help you.\n"
        return s
    }
}
