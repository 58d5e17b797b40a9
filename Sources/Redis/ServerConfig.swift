import Glibc
import Reactor

/// The server's configuration, named by redis.conf directives. Filled from a config file,
/// then the command line; read and changed at run time by CONFIG GET / CONFIG SET on the
/// keyspace thread. Settings the reactors need live in `ReactorSettings` atomics too.
public final class ServerConfig: @unchecked Sendable {
    public var port = 6379
    public var bind = ["127.0.0.1", "-::1"]
    public var databases = 16
    public var loglevel = "notice"
    public var logfile = ""
    public var reactors = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) - 1)
    public var replicaof: (host: String, port: Int)?
    @exclusivity(unchecked) public var replicaReadOnly = true
    public var replicaPriority = 100
    public var replicaAnnounced = true
    /// Redis 7.0's default save points; `save ""` (or `--save ''`) turns them off.
    public var save = "3600 1 300 100 60 10000"
    public var rdbcompression = true
    public var rdbchecksum = true
    public var stopWritesOnBgsaveError = true
    public var appendonly = false
    public var dir = ""
    public var dbfilename = "dump.rdb"
    public var maxclients = 10000
    public var protoMaxBulkLength = 512 * 1024 * 1024
    public var clientQueryBufferLimit = 1024 * 1024 * 1024
    /// client-output-buffer-limit as Redis prints it: class hard soft seconds, per class.
    public var clientOutputBufferLimit = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    public var hz = 10
    /// busy-reply-threshold (lua-time-limit): ms a script runs before others get -BUSY.
    public var busyReplyThreshold = 5000
    public var tcpBacklog = 511
    public var timeout = 0
    public var daemonize = false
    public var pidfile = ""
    /// The default user's password; empty: no authentication (Redis's nopass default user).
    @exclusivity(unchecked) public var requirepass = ""
    /// Credentials this server sends with AUTH when it connects to its master.
    public var masterauth = ""
    public var masteruser = ""
    @exclusivity(unchecked) public var maxmemory = 0
    var evictionPolicy = EvictionPolicy.noeviction
    public var maxmemoryPolicy: String { evictionPolicy.name }
    public var maxmemorySamples = 5
    public var maxmemoryEvictionTenacity = 10
    public var lfuLogFactor = 10
    public var lfuDecayTime = 1
    public var replicaIgnoreMaxmemory = true
    /// Replication, master side: backlog size and how long it outlives the last replica,
    /// the PING period, when a silent replica is dropped, and min-replicas for writes.
    public var replBacklogSize = 1024 * 1024
    public var replBacklogTTL = 3600
    public var replPingReplicaPeriod = 10
    public var replTimeout = 60
    @exclusivity(unchecked) public var minReplicasToWrite = 0
    public var minReplicasMaxLag = 10
    /// Observability (SlowLog.swift, LatencyMonitor.swift): microseconds (negative: off),
    /// entries kept, milliseconds (0: off), per-command histograms and INFO's percentiles.
    public var slowlogLogSlowerThan = 10000
    public var slowlogMaxLen = 128
    public var latencyMonitorThreshold = 0
    public var latencyTracking = true
    public var latencyTrackingInfoPercentiles: [Double] = [50, 99, 99.9]
    /// notify-keyspace-events as NotifyClass bits; 0 (the default) sends nothing.
    @exclusivity(unchecked) public var notifyKeyspaceEvents = 0

    /// Read live by every connection's parser.
    public let protocolLimits = ProtocolLimits(maxBulkLength: 512 * 1024 * 1024)
    /// Set once the server runs, for CONFIG SET of settings the reactors read.
    var reactorSettings: ReactorSettings?

    public init() {}

    /// Applies one directive (a config-file line or a command-line option). Returns an
    /// error text in Redis's words, or nil.
    public func apply(_ name: String, _ args: [String]) -> String? {
        guard let p = ConfigParameter.find(name.lowercased()) else {
            return "Bad directive or wrong number of arguments"
        }
        if let error = p.set(self, args) { return error }
        return nil
    }

    /// Reads a redis.conf-style file: one directive per line, '#' comments, quoted args.
    public func load(file path: String) throws {
        guard let f = fopen(path, "r") else {
            throw ConfigError("Fatal error, can't open config file '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var lineNumber = 0
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0 {
            lineNumber += 1
            let text = String(cString: line!)
            let trimmed = text.trimmingWhitespace
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            // Split inside the closure: the buffer pointer is valid only there.
            guard let parts = Array(trimmed.utf8).withUnsafeBufferPointer({ splitInlineArguments($0) }) else {
                throw ConfigError(configErrorText(lineNumber, trimmed, "Unbalanced quotes in configuration line"))
            }
            let words = parts.map { String(decoding: $0, as: UTF8.self) }
            if let err = apply(words[0], Array(words.dropFirst())) {
                throw ConfigError(configErrorText(lineNumber, trimmed, err))
            }
        }
    }

    private func configErrorText(_ n: Int, _ line: String, _ err: String) -> String {
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line \(n)\n>>> '\(line)'\n\(err)"
    }

    /// client-output-buffer-limit's numbers for one class: (hard, soft, seconds).
    func outputLimits(forClass name: String) -> (Int, Int, Int) {
        let words = clientOutputBufferLimit.split(separator: " ").map(String.init)
        var i = 0
        while i + 3 < words.count {
            if words[i] == name { return (Int(words[i + 1]) ?? 0, Int(words[i + 2]) ?? 0, Int(words[i + 3]) ?? 0) }
            i += 4
        }
        return (0, 0, 0)
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// One CONFIG parameter: its name, how to print it and how to set it.
struct ConfigParameter {
    let name: String
    let alias: String?
    /// Settable with CONFIG SET (the rest only at start-up).
    let mutable: Bool
    let get: (ServerConfig) -> String
    /// Applies new arguments; returns an error text, or nil.
    let set: (ServerConfig, [String]) -> String?
    /// Redis 7's protected configs (dir, dbfilename): refused by CONFIG SET while
    /// enable-protected-configs is at its default, no.
    var protected = false

    static func find(_ name: String) -> ConfigParameter? {
        all.first { $0.name == name || $0.alias == name }
    }

    static func integer(_ name: String, alias: String? = nil, mutable: Bool = true, min: Int = 0, max: Int = Int.max,
                        memory: Bool = false, _ key: ReferenceWritableKeyPath<ServerConfig, Int>) -> ConfigParameter {
        ConfigParameter(name: name, alias: alias, mutable: mutable, get: { String($0[keyPath: key]) }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            guard let v = memory ? parseMemory(args[0]) : Int(args[0]) else {
                return memory ? "argument must be a memory value" : "argument couldn't be parsed into an integer"
            }
            if v < min || v > max { return "argument must be between \(min) and \(max) inclusive" }
            c[keyPath: key] = v
            c.syncReactorSettings()
            return nil
        })
    }

    static func string(_ name: String, mutable: Bool = true, _ key: ReferenceWritableKeyPath<ServerConfig, String>) -> ConfigParameter {
        ConfigParameter(name: name, alias: nil, mutable: mutable, get: { $0[keyPath: key] }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            c[keyPath: key] = args[0]
            return nil
        })
    }

    static func boolean(_ name: String, alias: String? = nil, mutable: Bool = true,
                        _ key: ReferenceWritableKeyPath<ServerConfig, Bool>) -> ConfigParameter {
        ConfigParameter(name: name, alias: alias, mutable: mutable, get: { $0[keyPath: key] ? "yes" : "no" }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            switch args[0].lowercased() {
            case "yes": c[keyPath: key] = true
            case "no": c[keyPath: key] = false
            default: return "argument must be 'yes' or 'no'"
            }
            return nil
        })
    }

    /// An encoding threshold, kept in `encodingLimits` where the value types read it.
    /// Parsed as Redis's numeric configs are: a `memory` one with memtoull (digits and an
    /// optional unit, no sign), any other with string2ll (strict integer); then the bounds,
    /// compared as unsigned for Redis's size_t settings (min 0), so a negative number gets
    /// the "between" message too.
    static func limit(_ name: String, alias: String? = nil, min: Int = 0, max: Int = Int.max, memory: Bool = false,
                      _ key: WritableKeyPath<EncodingLimits, Int>) -> ConfigParameter {
        ConfigParameter(name: name, alias: alias, mutable: true, get: { _ in String(encodingLimits[keyPath: key]) },
                        set: { _, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            let value: Int
            if memory {
                guard let v = parseMemtoull(args[0]) else { return "argument must be a memory value" }
                value = Int(truncatingIfNeeded: v)
            } else {
                guard let v = Array(args[0].utf8).withUnsafeBytes({ parseInteger($0) }) else {
                    return "argument couldn't be parsed into an integer"
                }
                value = v
            }
            let outside = min == 0 ? UInt(bitPattern: value) > UInt(max) : (value < min || value > max)
            if outside { return "argument must be between \(min) and \(max) inclusive" }
            encodingLimits[keyPath: key] = value
            return nil
        })
    }

    static let all: [ConfigParameter] = [
        integer("port", mutable: false, max: 65535, \.port),
        ConfigParameter(name: "bind", alias: nil, mutable: false, get: { $0.bind.joined(separator: " ") }, set: { c, args in
            guard !args.isEmpty else { return "wrong number of arguments" }
            c.bind = args.flatMap { $0.split(separator: " ").map(String.init) }
            return nil
        }),
        integer("databases", mutable: false, min: 1, max: Int(Int32.max), \.databases),
        ConfigParameter(name: "loglevel", alias: nil, mutable: true, get: { $0.loglevel }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            let v = args[0].lowercased()
            guard ["debug", "verbose", "notice", "warning", "nothing"].contains(v) else {
                return "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"
            }
            c.loglevel = v
            return nil
        }),
        string("logfile", mutable: false, \.logfile),
        integer("reactors", mutable: false, min: 1, max: 64, \.reactors),
        ConfigParameter(name: "replicaof", alias: "slaveof", mutable: false, get: { c in
            c.replicaof.map { "\($0.host) \($0.port)" } ?? ""
 }, set: { c, args in
            // "--replicaof 'host port'" arrives as one argument.
            let args = args.count == 1 ? args[0].split(separator: " ").map(String.init) : args
            guard args.count == 2 else { return "wrong number of arguments" }
            if args[0].lowercased() == "no" && args[1].lowercased() == "one" { c.replicaof = nil; return nil }
            guard let p = Int(args[1]), p > 0, p < 65536 else { return "Invalid master port" }
            c.replicaof = (args[0], p)
            return nil
        }),
        ConfigParameter(name: "save", alias: nil, mutable: true, get: { $0.save }, set: { c, args in
            let text = args.joined(separator: " ").split(separator: " ").joined(separator: " ")
            guard parseSavePoints(text) != nil else { return "Invalid save parameters" }
            c.save = text
            return nil
        }),
        boolean("rdbcompression", \.rdbcompression),
        boolean("rdbchecksum", mutable: false, \.rdbchecksum),
        boolean("stop-writes-on-bgsave-error", \.stopWritesOnBgsaveError),
        boolean("appendonly", \.appendonly),
        ConfigParameter(name: "dir", alias: nil, mutable: true, get: { c in
            var buf = [CChar](repeating: 0, count: 4096)
            return c.dir.isEmpty ? (getcwd(&buf, buf.count).map { String(cString: $0) } ?? "") : c.dir
        }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            if chdir(args[0]) != 0 { return "No such file or directory" }
            c.dir = args[0]
            return nil
        }, protected: true),
        ConfigParameter(name: "dbfilename", alias: nil, mutable: true, get: { $0.dbfilename }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            if args[0].contains("/") { return "dbfilename can't be a path, just a filename" }
            c.dbfilename = args[0]
            return nil
        }, protected: true),
        integer("maxclients", min: 1, \.maxclients),
        integer("proto-max-bulk-len", min: 1024 * 1024, memory: true, \.protoMaxBulkLength),
        integer("client-query-buffer-limit", min: 1024 * 1024, memory: true, \.clientQueryBufferLimit),
        ConfigParameter(name: "client-output-buffer-limit", alias: nil, mutable: true, get: { $0.clientOutputBufferLimit },
                        set: { c, args in
            let words = args.flatMap { $0.split(separator: " ").map(String.init) }
            guard words.count % 4 == 0, !words.isEmpty else { return "Wrong number of arguments in buffer limit configuration." }
            var current = c.clientOutputBufferLimit.split(separator: " ").map(String.init)
            var i = 0
            while i < words.count {
                var cls = words[i].lowercased()
                if cls == "replica" { cls = "slave" }
                guard ["normal", "slave", "pubsub"].contains(cls) else { return "Invalid client class specified in buffer limit configuration." }
                guard let hard = parseMemory(words[i + 1]), let soft = parseMemory(words[i + 2]), let secs = Int(words[i + 3]),
                      hard >= 0, soft >= 0, secs >= 0 else {
                    return "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                }
                if let at = current.firstIndex(of: cls) {
                    current[at + 1] = String(hard); current[at + 2] = String(soft); current[at + 3] = String(secs)
                }
                i += 4
            }
            c.clientOutputBufferLimit = current.joined(separator: " ")
            c.syncReactorSettings()
            return nil
        }),
        integer("hz", min: 1, max: 500, \.hz),
        integer("busy-reply-threshold", alias: "lua-time-limit", max: Int(Int64.max / 2), \.busyReplyThreshold),
        integer("tcp-backlog", mutable: false, \.tcpBacklog),
        integer("timeout", \.timeout),
        boolean("daemonize", mutable: false, \.daemonize),
        string("pidfile", mutable: false, \.pidfile),
        // Changing the password keeps authenticated connections authenticated, as in Redis;
        // the parsers read whether there is one for their limits before authentication.
        ConfigParameter(name: "requirepass", alias: nil, mutable: true, get: { $0.requirepass }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            c.requirepass = args[0]
            c.protocolLimits.passwordRequired.store(!args[0].isEmpty, ordering: .relaxed)
            return nil
        }),
        string("masterauth", \.masterauth),
        string("masteruser", \.masteruser),
        // Eviction (Eviction.swift); the engine mirrors these after CONFIG SET.
        ConfigParameter(name: "maxmemory", alias: nil, mutable: true, get: { String($0.maxmemory) }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            guard let v = parseMemtoull(args[0]) else { return "argument must be a memory value" }
            c.maxmemory = Int(truncatingIfNeeded: v)
            return nil
        }),
        ConfigParameter(name: "maxmemory-policy", alias: nil, mutable: true, get: { $0.evictionPolicy.name }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            guard let p = EvictionPolicy.named(args[0]) else {
                return "argument(s) must be one of the following: "
                    + EvictionPolicy.allCases.map(\.name).joined(separator: ", ")
            }
            c.evictionPolicy = p
            return nil
        }),
        integer("maxmemory-samples", min: 1, max: Int(Int32.max), \.maxmemorySamples),
        integer("maxmemory-eviction-tenacity", max: 100, \.maxmemoryEvictionTenacity),
        integer("lfu-log-factor", max: Int(Int32.max), \.lfuLogFactor),
        integer("lfu-decay-time", max: Int(Int32.max), \.lfuDecayTime),
        boolean("replica-ignore-maxmemory", alias: "slave-ignore-maxmemory", \.replicaIgnoreMaxmemory),
        // Redis raises a smaller backlog to its 16 KB minimum when it applies the setting.
        ConfigParameter(name: "repl-backlog-size", alias: nil, mutable: true, get: { String($0.replBacklogSize) }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            guard let v = parseMemory(args[0]) else { return "argument must be a memory value" }
            if v < 1 { return "argument must be between 1 and 9223372036854775807 inclusive" }
            c.replBacklogSize = max(v, 16 * 1024)
            return nil
        }),
        integer("repl-backlog-ttl", \.replBacklogTTL),
        integer("slowlog-log-slower-than", min: -1, \.slowlogLogSlowerThan),
        integer("slowlog-max-len", max: Int.max, \.slowlogMaxLen),
        integer("latency-monitor-threshold", \.latencyMonitorThreshold),
        boolean("latency-tracking", \.latencyTracking),
        // Redis prints each with %f and trims the zeros ("50 99 99.9").
        ConfigParameter(name: "latency-tracking-info-percentiles", alias: nil, mutable: true, get: { c in
            c.latencyTrackingInfoPercentiles.map { formatPercentile($0) }.joined(separator: " ")
        }, set: { c, args in
            let words = args.flatMap { $0.split(separator: " ").map(String.init) }
            var values: [Double] = []
            for w in words {
                guard let v = Double(w), v >= 0, v <= 100 else {
                    return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                }
                values.append(v)
            }
            c.latencyTrackingInfoPercentiles = values
            return nil
        }),
        integer("repl-ping-replica-period", alias: "repl-ping-slave-period", min: 1, max: Int(Int32.max), \.replPingReplicaPeriod),
        integer("repl-timeout", min: 1, max: Int(Int32.max), \.replTimeout),
        integer("min-replicas-to-write", alias: "min-slaves-to-write", max: Int(Int32.max), \.minReplicasToWrite),
        integer("min-replicas-max-lag", alias: "min-slaves-max-lag", max: Int(Int32.max), \.minReplicasMaxLag),
        boolean("replica-read-only", alias: "slave-read-only", \.replicaReadOnly),
        integer("replica-priority", alias: "slave-priority", max: Int(Int32.max), \.replicaPriority),
        boolean("replica-announced", \.replicaAnnounced),
        ConfigParameter(name: "notify-keyspace-events", alias: nil, mutable: true,
                        get: { NotifyClass.format($0.notifyKeyspaceEvents) }, set: { c, args in
            guard args.count == 1 else { return "wrong number of arguments" }
            guard let flags = NotifyClass.parse(args[0]) else { return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'." }
            c.notifyKeyspaceEvents = flags
            return nil
        }),
        // Encoding thresholds, with redis-server 7.0's names, aliases, bounds and parsing.
        limit("hash-max-listpack-entries", alias: "hash-max-ziplist-entries", \.hashMaxListpackEntries),
        limit("hash-max-listpack-value", alias: "hash-max-ziplist-value", memory: true, \.hashMaxListpackValue),
        limit("set-max-intset-entries", \.setMaxIntsetEntries),
        limit("zset-max-listpack-entries", alias: "zset-max-ziplist-entries", \.zsetMaxListpackEntries),
        limit("zset-max-listpack-value", alias: "zset-max-ziplist-value", memory: true, \.zsetMaxListpackValue),
        limit("list-max-listpack-size", alias: "list-max-ziplist-size", min: Int(Int32.min), max: Int(Int32.max),
              \.listMaxListpackSize),
        limit("list-compress-depth", max: Int(Int32.max), \.listCompressDepth),
        limit("stream-node-max-bytes", memory: true, \.streamNodeMaxBytes),
        limit("stream-node-max-entries", \.streamNodeMaxEntries),
        limit("hll-sparse-max-bytes", memory: true, \.hllSparseMaxBytes),
    ]
}

extension ConfigParameter {
    /// Every name and alias matching a CONFIG GET pattern, with its parameter.
    static func matchingNames(_ pattern: UnsafeRawBufferPointer) -> [(String, ConfigParameter)] {
        var out: [(String, ConfigParameter)] = []
        for p in all {
            for n in [p.name] + (p.alias.map { [$0] } ?? [])
            where Array(n.utf8).withUnsafeBytes({ stringMatch(pattern, $0, nocase: true) }) {
                out.append((n, p))
            }
        }
        return out
    }
}

extension ServerConfig {
    /// Copies settings the reactors enforce into their atomics.
    func syncReactorSettings() {
        protocolLimits.maxBulkLength.store(protoMaxBulkLength, ordering: .relaxed)
        guard let s = reactorSettings else { return }
        s.maxClients.store(maxclients, ordering: .relaxed)
        s.queryBufferLimit.store(clientQueryBufferLimit, ordering: .relaxed)
        for (name, cls) in [("normal", OutputLimitClass.normal), ("slave", .replica), ("pubsub", .pubsub)] {
            let (hard, soft, secs) = outputLimits(forClass: name)
            let limit = s.outputLimits[Int(cls.rawValue)]
            limit.hard.store(hard, ordering: .relaxed)
            limit.soft.store(soft, ordering: .relaxed)
            limit.softSeconds.store(secs, ordering: .relaxed)
        }
    }
}

/// Redis's memtoll: "1gb", "512mb", "100k", "42".
func parseMemory(_ text: String) -> Int? {
    let lower = text.lowercased()
    let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1_000_000_000),
                                   ("m", 1_000_000), ("k", 1000), ("b", 1)]
    for (suffix, mul) in units where lower.hasSuffix(suffix) {
        guard let n = Int(lower.dropLast(suffix.count)) else { return nil }
        return n * mul
    }
    return Int(lower)
}

/// Redis's memtoull: decimal digits then an optional unit (b, k, kb, m, mb, g, gb, any
/// case); no sign, no spaces. Digits alone may be empty (0). Like strtoull the digits
/// saturate at UInt64.max, and like Redis the unit multiplies with wrap-around.
func parseMemtoull(_ text: String) -> UInt64? {
    let b = Array(text.utf8)
    var i = 0
    while i < b.count && b[i] >= UInt8(ascii: "0") && b[i] <= UInt8(ascii: "9") { i += 1 }
    let multiplier: UInt64
    switch String(decoding: b[i...], as: UTF8.self).lowercased() {
    case "", "b": multiplier = 1
    case "k": multiplier = 1000
    case "kb": multiplier = 1024
    case "m": multiplier = 1_000_000
    case "mb": multiplier = 1 << 20
    case "g": multiplier = 1_000_000_000
    case "gb": multiplier = 1 << 30
    default: return nil
    }
    if i >= 128 { return nil }
    var v: UInt64 = 0
    for d in b[0..<i] {
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.addingReportingOverflow(UInt64(d - UInt8(ascii: "0")))
        if o1 || o2 { v = UInt64.max; break }
        v = s
    }
    return v &* multiplier
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s.removeLast() }
        return String(s)
    }
}
