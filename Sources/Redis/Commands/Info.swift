import Glibc
import Synchronization
import Reactor

/// INFO, with redis-server 7.0's section names, field names and formats.
extension Engine {
    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                                  "modules", "errorstats", "cluster", "keyspace"]

    /// Every section, in the order redis-server 7.0 prints them.
    static let sectionOrder = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
                               "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]

    func info(_ a: Arguments) {
        var wanted: [String] = []
        if a.count == 1 {
            wanted = Engine.defaultSections
        } else {
            for i in 1..<a.count {
                switch a[i].string.lowercased() {
                case "default": wanted += Engine.defaultSections
                case "all", "everything": wanted += Engine.defaultSections + ["commandstats", "latencystats"]
                case let s: wanted.append(s)
                }
            }
        }
        var text = ""
        var seen = Set<String>()
        // Sections come out in Redis's order, whatever order they were asked in.
        for name in Engine.sectionOrder where wanted.contains(name) && !seen.contains(name) {
            seen.insert(name)
            if !text.isEmpty { text += "\r\n" }
            text += infoSection(name)
        }
        replyVerbatim(text)
    }

    private func infoSection(_ name: String) -> String {
        var lines: [String] = []
        func add(_ k: String, _ v: Any) { lines.append("\(k):\(v)") }
        switch name {
        case "server":
            lines.append("# Server")
            var u = utsname()
            uname(&u)
            let sys = withUnsafeBytes(of: u.sysname) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let rel = withUnsafeBytes(of: u.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let mach = withUnsafeBytes(of: u.machine) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let uptime = (monotonicMilliseconds() - startedMonotonic) / 1000
            add("redis_version", redisCompatibleVersion)
            add("swift_redis_version", swiftRedisVersion)
            add("redis_git_sha1", "00000000")
            add("redis_git_dirty", 0)
            add("redis_build_id", "0")
            add("redis_mode", "standalone")
            add("os", "\(sys) \(rel) \(mach)")
            add("arch_bits", MemoryLayout<Int>.size * 8)
            add("monotonic_clock", "POSIX clock_gettime")
            add("multiplexing_api", "io_uring")
            add("atomicvar_api", "c11-builtin")
            add("process_id", getpid())
            add("process_supervised", "no")
            add("run_id", runID)
            add("tcp_port", config.port)
            add("server_time_usec", wallClockMicroseconds())
            add("uptime_in_seconds", uptime)
            add("uptime_in_days", uptime / 86400)
            add("hz", config.hz)
            add("configured_hz", config.hz)
            add("lru_clock", (now / 1000) & ((1 << 24) - 1))
            add("executable", executablePath)
            add("config_file", configFile)
            add("io_threads_active", 0)
            add("reactor_threads", channels.count)
        case "clients":
            lines.append("# Clients")
            var maxIn = 0, maxOut = 0
            for c in clientsByID.values {
                let s = channels[c.reactor].slotStats + c.slot
                maxIn = max(maxIn, s.pointee.inputCapacity.load(ordering: .relaxed))
                maxOut = max(maxOut, s.pointee.outputBuffered.load(ordering: .relaxed))
            }
            add("connected_clients", clientsByID.count)
            add("cluster_connections", 0)
            add("maxclients", config.maxclients)
            add("client_recent_max_input_buffer", maxIn)
            add("client_recent_max_output_buffer", maxOut)
            add("blocked_clients", blocking.blockedClientCount + pause.waiting.count)
            add("tracking_clients", 0)
            add("clients_in_timeout_table", 0)
        case "memory":
            lines.append("# Memory")
            let used = usedMemory()
            let rss = residentSetBytes()
            peakMemory = max(peakMemory, used)
            let total = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
            add("used_memory", used)
            add("used_memory_human", humanBytes(used))
            add("used_memory_rss", rss)
            add("used_memory_rss_human", humanBytes(rss))
            add("used_memory_peak", peakMemory)
            add("used_memory_peak_human", humanBytes(peakMemory))
            add("used_memory_peak_perc", String(format2: Double(used) * 100 / Double(max(1, peakMemory))) + "%")
            add("used_memory_overhead", used - dataBytes())
            add("used_memory_startup", 0)
            add("used_memory_dataset", dataBytes())
            add("total_system_memory", total)
            add("total_system_memory_human", humanBytes(total))
            for (name, value) in scriptingMemoryInfo() { add(name, value) }
            add("maxmemory", config.maxmemory)
            add("maxmemory_human", humanBytes(config.maxmemory))
            add("maxmemory_policy", config.maxmemoryPolicy)
            add("mem_fragmentation_ratio", String(format2: Double(rss) / Double(max(1, used))))
            add("mem_not_counted_for_evict", memoryNotCountedForEviction())
            add("mem_clients_normal", clientMemory())
            add("mem_allocator", "libc")
        case "persistence":
            lines.append("# Persistence")
            add("loading", 0)
            add("async_loading", 0)
            add("current_cow_peak", 0)
            add("current_cow_size", 0)
            add("current_cow_size_age", 0)
            add("current_fork_perc", "0.00")
            add("current_save_keys_processed", snapshotJob?.keysWritten ?? 0)
            add("current_save_keys_total", snapshotJob?.sections.reduce(0) { $0 + $1.keys } ?? 0)
            add("rdb_changes_since_last_save", dirty - persistence.dirtyAtLastSave)
            add("rdb_bgsave_in_progress", snapshotInProgress ? 1 : 0)
            add("rdb_last_save_time", persistence.lastSave)
            add("rdb_last_bgsave_status", persistence.lastBackgroundSaveOK ? "ok" : "err")
            add("rdb_last_bgsave_time_sec", persistence.lastBackgroundSeconds)
            add("rdb_current_bgsave_time_sec", persistence.background.map { Int((now - $0.startedAt) / 1000) } ?? -1)
            add("rdb_saves", persistence.saves)
            add("rdb_last_cow_size", 0)
            add("rdb_last_load_keys_expired", persistence.lastLoadKeysExpired)
            add("rdb_last_load_keys_loaded", persistence.lastLoadKeysLoaded)
            add("aof_enabled", config.appendonly ? 1 : 0)
            add("aof_rewrite_in_progress", 0)
        case "stats":
            lines.append("# Stats")
            var netIn = 0, netOut = 0
            for ch in channels {
                netIn += ch.netInputBytes.load(ordering: .relaxed)
                netOut += ch.netOutputBytes.load(ordering: .relaxed)
            }
            add("total_connections_received", settings.totalConnectionsReceived.load(ordering: .relaxed))
            add("total_commands_processed", stats.totalCommands)
            add("instantaneous_ops_per_sec", stats.instantaneousOps)
            add("total_net_input_bytes", netIn)
            add("total_net_output_bytes", netOut)
            add("rejected_connections", settings.rejectedConnections.load(ordering: .relaxed))
            add("sync_full", replication.syncFull)
            add("sync_partial_ok", replication.syncPartialOK)
            add("sync_partial_err", replication.syncPartialErr)
            add("expired_keys", stats.expiredKeys)
            add("expired_time_cap_reached_count", stats.expireCycleTimeouts)
            add("evicted_keys", eviction.evictedKeys)
            add("evicted_clients", 0)
            let exceeding = eviction.exceededSince == 0 ? 0 : monotonicMicroseconds() - eviction.exceededSince
            add("total_eviction_exceeded_time", (eviction.totalExceededMicros + exceeding) / 1000)
            add("current_eviction_exceeded_time", exceeding / 1000)
            add("keyspace_hits", stats.keyspaceHits)
            add("keyspace_misses", stats.keyspaceMisses)
            add("pubsub_channels", pubsub.channels.count)
            add("pubsub_patterns", pubsub.patterns.count)
            add("pubsubshard_channels", pubsub.shardChannels.count)
            add("total_error_replies", stats.errorReplies)
            add("client_output_buffer_limit_disconnections", settings.clientsClosedForOutputLimit.load(ordering: .relaxed))
        case "replication":
            lines.append("# Replication")
            lines += replicationRoleLines()
            lines += replicationMasterLines()
        case "cpu":
            lines.append("# CPU")
            var self_ = rusage(), children = rusage(), thread = rusage()
            getrusage(RUSAGE_SELF.rawValue, &self_)
            getrusage(RUSAGE_CHILDREN.rawValue, &children)
            getrusage(1, &thread)   // RUSAGE_THREAD
            func secs(_ t: timeval) -> String { String(format6: Double(t.tv_sec) + Double(t.tv_usec) / 1e6) }
            add("used_cpu_sys", secs(self_.ru_stime))
            add("used_cpu_user", secs(self_.ru_utime))
            add("used_cpu_sys_children", secs(children.ru_stime))
            add("used_cpu_user_children", secs(children.ru_utime))
            add("used_cpu_sys_main_thread", secs(thread.ru_stime))
            add("used_cpu_user_main_thread", secs(thread.ru_utime))
        case "modules":
            lines.append("# Modules")
        case "errorstats":
            lines.append("# Errorstats")
            for (prefix, n) in stats.errorsByPrefix.sorted(by: { $0.key < $1.key }) {
                lines.append("errorstat_\(prefix):count=\(n)")
            }
        case "cluster":
            lines.append("# Cluster")
            add("cluster_enabled", 0)
        case "keyspace":
            lines.append("# Keyspace")
            for d in databases where d.table.count > 0 {
                let (expires, avg) = d.expiryStats(now: now)
                lines.append("db\(d.index):keys=\(d.table.count),expires=\(expires),avg_ttl=\(avg)")
            }
        case "commandstats":
            lines.append("# Commandstats")
            var all: [Command] = []
            for c in commands.all { all.append(c); all += c.subcommands }
            for c in all where c.calls > 0 || c.rejectedCalls > 0 || c.failedCalls > 0 {
                let perCall = c.calls == 0 ? 0 : Double(c.microseconds) / Double(c.calls)
                lines.append("cmdstat_\(c.name):calls=\(c.calls),usec=\(c.microseconds),usec_per_call=\(String(format2: perCall)),rejected_calls=\(c.rejectedCalls),failed_calls=\(c.failedCalls)")
            }
        case "latencystats":
            lines.append("# Latencystats")
            if config.latencyTracking {
                var all: [Command] = []
                for c in commands.all { all.append(c); all += c.subcommands }
                for c in all where c.histogramTotal > 0 {
                    let parts = config.latencyTrackingInfoPercentiles.map {
                        "p\(formatPercentile($0))=\(formatFixed(c.latencyAtPercentile($0), "%.3f"))"
                    }
                    lines.append("latency_percentiles_usec_\(c.name):" + parts.joined(separator: ","))
                }
            }
        default:
            break
        }
        return lines.map { $0 + "\r\n" }.joined()
    }

    /// Heap bytes the keyspace holds: entry blocks and bucket arrays, plus the contents of
    /// lists, hashes, sets, sorted sets and streams (`valueMemoryCounter`, a running total the
    /// value types keep as they allocate and free, so this never walks the dataset).
    func dataBytes() -> Int {
        var n = valueMemoryCounter.load(ordering: .relaxed)
        for d in databases { n += d.table.entryBytes + d.table.bucketCount * 8 }
        return n
    }

    /// Input and output buffers of every client, as the reactors report them.
    func clientMemory() -> Int {
        var n = 0
        for c in clientsByID.values {
            let s = channels[c.reactor].slotStats + c.slot
            n += s.pointee.inputCapacity.load(ordering: .relaxed) + s.pointee.outputBuffered.load(ordering: .relaxed)
        }
        return n
    }

    /// used_memory: what the data, clients and rings hold, plus a start-up baseline.
    func usedMemory() -> Int {
        var rings = 0
        for ch in channels { rings += ch.requests.capacity + ch.replies.capacity }
        return dataBytes() + clientMemory() + rings + 900 * 1024
    }
}

/// VmRSS of this process, in bytes.
func residentSetBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0, resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Redis's bytesToHuman: "1.50K", "2.00M", plain bytes below 1 KiB.
func humanBytes(_ n: Int) -> String {
    let d = Double(n)
    if n < 1024 { return "\(n)B" }
    if n < 1 << 20 { return String(format2: d / 1024) + "K" }
    if n < 1 << 30 { return String(format2: d / 1048576) + "M" }
    if n < 1 << 40 { return String(format2: d / 1073741824) + "G" }
    return String(format2: d / 1099511627776) + "T"
}

extension String {
    /// "%.2f" without Foundation.
    init(format2 v: Double) { self = formatFixed(v, "%.2f") }
    /// "%.6f" without Foundation.
    init(format6 v: Double) { self = formatFixed(v, "%.6f") }
}

func formatFixed(_ v: Double, _ format: String) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([v]) { vsnprintf(&buf, 64, format, $0) }
    return String(cString: buf)
}
