import ArgumentParser
import Glibc
import Logging
import Redis

/// Command line in redis-server's shape: an optional redis.conf-style file first, then
/// options named as its directives. Command-line options override the file.
struct SwiftRedis: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swift-redis",
        abstract: "A Redis-compatible in-memory data server on io_uring.")

    @Argument(help: "A redis.conf-style configuration file.")
    var configFile: String?

    @Option(help: "TCP port to listen on.") var port: Int?
    @Option(parsing: .upToNextOption, help: "Addresses to listen on (default 127.0.0.1 -::1).") var bind: [String] = []
    @Option(help: "Number of databases.") var databases: Int?
    @Option(help: "debug, verbose, notice, warning or nothing.") var loglevel: String?
    @Option(help: "Log file; empty for standard output.") var logfile: String?
    @Option(help: "Reactor (network) threads; default: cores minus one, at least 1.") var reactors: Int?
    @Option(parsing: .upToNextOption, help: "Replicate from <host> <port>.") var replicaof: [String] = []
    @Option(parsing: .upToNextOption, help: "Snapshot rules, as redis.conf's save.") var save: [String] = []
    @Option(help: "yes or no.") var appendonly: String?
    @Option(help: "Working directory.") var dir: String?
    @Option(help: "Snapshot file name.") var dbfilename: String?
    @Option(help: "Compress snapshot strings with LZF: yes or no.") var rdbcompression: String?
    @Option(help: "Checksum snapshots: yes or no.") var rdbchecksum: String?
    @Option(help: "Maximum connected clients.") var maxclients: Int?
    @Option(name: .customLong("proto-max-bulk-len"), help: "Largest bulk string accepted.") var protoMaxBulkLen: String?
    @Option(name: .customLong("client-query-buffer-limit"), help: "Largest query buffer per client.") var clientQueryBufferLimit: String?
    @Option(name: .customLong("client-output-buffer-limit"), parsing: .upToNextOption,
            help: "class hard soft seconds") var clientOutputBufferLimit: [String] = []
    @Option(help: "Background task frequency.") var hz: Int?
    @Option(name: .customLong("tcp-backlog")) var tcpBacklog: Int?
    @Option var timeout: Int?
    @Option var daemonize: String?
    @Option var pidfile: String?
    @Option var maxmemory: String?
    @Option(name: .customLong("maxmemory-policy")) var maxmemoryPolicy: String?

    /// Every given option as a directive with its arguments, in a fixed order.
    private var directives: [(String, [String])] {
        var d: [(String, [String])] = []
        func one(_ name: String, _ v: CustomStringConvertible?) { if let v { d.append((name, [v.description])) } }
        func many(_ name: String, _ v: [String]) { if !v.isEmpty { d.append((name, v)) } }
        one("port", port); many("bind", bind); one("databases", databases); one("loglevel", loglevel)
        one("logfile", logfile); one("reactors", reactors); many("replicaof", replicaof)
        if !save.isEmpty { d.append(("save", save.filter { !$0.isEmpty })) }
        one("appendonly", appendonly); one("dir", dir); one("dbfilename", dbfilename)
        one("rdbcompression", rdbcompression); one("rdbchecksum", rdbchecksum)
        one("maxclients", maxclients); one("proto-max-bulk-len", protoMaxBulkLen)
        one("client-query-buffer-limit", clientQueryBufferLimit)
        many("client-output-buffer-limit", clientOutputBufferLimit); one("hz", hz); one("tcp-backlog", tcpBacklog)
        one("timeout", timeout); one("daemonize", daemonize); one("pidfile", pidfile); one("maxmemory", maxmemory)
        one("maxmemory-policy", maxmemoryPolicy)
        var current: (String, [String])?
        for word in otherDirectiveWords {
            if word.hasPrefix("--") {
                if let c = current { d.append(c) }
                current = (String(word.dropFirst(2)), [])
            } else if current != nil {
                current!.1.append(word)
            }
        }
        if let c = current { d.append(c) }
        return d
    }

    func run() throws {
        let config = ServerConfig()
        do {
            if let configFile { try config.load(file: configFile) }
            for (name, args) in directives {
                if let err = config.apply(name, args) {
                    throw ConfigError("Invalid --\(name) \(args.joined(separator: " ")): \(err)")
                }
            }
        } catch {
            fputs("\(error)\n", stderr)
            throw ExitCode(1)
        }
        let sink: LogSink
        do { sink = try LogSink(path: config.logfile) } catch {
            fputs("\(error)\n", stderr)
            throw ExitCode(1)
        }
        var logger = Logger(label: "swift-redis") { _ in RedisLogHandler(sink: sink) }
        logger.logLevel = logLevel(forRedisName: config.loglevel)
        do {
            try Server.run(config: config, configFile: configFile.map(absolutePath) ?? "", logger: logger)
        } catch {
            logger.warning("\(error)")
            if !config.logfile.isEmpty { fputs("\(error)\n", stderr) }
            throw ExitCode(1)
        }
    }
}

private func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, buf.count) != nil else { return path }
    return String(cString: buf) + "/" + path
}

/// Long options the parser above declares; any other `--name value...` is a directive for
/// ServerConfig, as redis-server accepts every redis.conf directive on its command line.
private let declaredOptions: Set<String> = [
    "port", "bind", "databases", "loglevel", "logfile", "reactors", "replicaof", "save", "appendonly", "dir",
    "dbfilename", "rdbcompression", "rdbchecksum", "maxclients", "proto-max-bulk-len", "client-query-buffer-limit",
    "client-output-buffer-limit", "hz", "tcp-backlog", "timeout", "daemonize", "pidfile", "maxmemory",
    "maxmemory-policy", "help", "version",
]

/// The command line split into what the parser declares and the other directives' words.
private func splitArguments(_ argv: [String]) -> (declared: [String], directives: [String]) {
    var declared: [String] = []
    var directives: [String] = []
    var inDirective = false
    for word in argv {
        if word.hasPrefix("--") && word.count > 2 {
            inDirective = !declaredOptions.contains(String(word.dropFirst(2)))
        } else if word == "-h" {
            inDirective = false
        }
        if inDirective { directives.append(word) } else { declared.append(word) }
    }
    return (declared, directives)
}

private let split = splitArguments(Array(CommandLine.arguments.dropFirst()))
nonisolated(unsafe) var otherDirectiveWords = split.directives
SwiftRedis.main(split.declared)
