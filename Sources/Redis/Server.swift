import Glibc
import Logging
import Reactor
import Synchronization

/// Set from the SIGTERM/SIGINT handler; the keyspace thread polls it between batches.
let terminationSignal = Atomic<Int32>(0)
/// The engine's doorbell fd, written from the signal handler (write is async-signal-safe).
nonisolated(unsafe) var engineDoorbellFD: Int32 = -1

/// Wires listeners, reactors and the keyspace thread together and runs them.
public enum Server {
    /// Starts the server and runs the keyspace loop on the calling thread. Returns when
    /// the server shut down; throws a message for a person when it cannot start.
    public static func run(config: ServerConfig, configFile: String, logger: Logger) throws {
        signal(SIGPIPE, SIG_IGN)
        raiseOpenFileLimit(for: config.maxclients, logger: logger)

        var listeners: [Int32] = []
        for address in config.bind {
            do {
                listeners.append(try openListener(address: address, port: config.port, backlog: Int32(config.tcpBacklog)))
            } catch {
                if address.hasPrefix("-") { continue }   // optional address ("-::1") not available here
                listeners.forEach { close($0) }
                throw error
            }
        }
        guard !listeners.isEmpty else {
            throw ConfigError("Failed listening on port \(config.port) (tcp), aborting.")
        }

        let settings = ReactorSettings(rejectReply: Array("-ERR max number of clients reached\r\n".utf8))
        config.reactorSettings = settings
        config.syncReactorSettings()
        let slots = config.maxclients + 64
        let channels = (0..<config.reactors).map {
            ReactorChannel(index: $0, ringBytes: 4 << 20, slotCapacity: slots)
        }
        let doorbell = Doorbell(nonBlocking: true)
        engineDoorbellFD = doorbell.fd
        let group: ReactorGroup
        do {
            group = try ReactorGroup(channels: channels, settings: settings, engineDoorbell: doorbell,
                                     parserFactory: RESPParserFactory(limits: config.protocolLimits),
                                     options: ReactorOptions(), listeners: listeners, logger: logger)
        } catch {
            listeners.forEach { close($0) }
            throw error
        }
        let engine = Engine(channels: channels, doorbell: doorbell, settings: settings, config: config, logger: logger)
        engine.configFile = configFile
        engine.executablePath = (try? readLink("/proc/self/exe")) ?? ""

        logger.notice("oO0OoO0OoO0Oo swift-redis is starting oO0OoO0OoO0Oo")
        logger.notice("swift-redis version=\(swiftRedisVersion), redis compatibility=\(redisCompatibleVersion), bits=64, pid=\(getpid()) just started")
        logger.notice("Running mode=standalone, port=\(config.port), reactors=\(config.reactors), io_uring features: \(group.features.joined(separator: " "))")
        try engine.loadDataAtStartup()
        group.start()
        installSignalHandlers()
        logger.notice("Ready to accept connections tcp")
        engine.startReplicationFromConfig()
        engine.run()
    }

    private static func installSignalHandlers() {
        let handler: @convention(c) (Int32) -> Void = { sig in
            terminationSignal.store(sig, ordering: .relaxed)
            var one: UInt64 = 1
            _ = write(engineDoorbellFD, &one, 8)
        }
        signal(SIGTERM, handler)
        signal(SIGINT, handler)
    }

    /// Raises the soft RLIMIT_NOFILE so maxclients connections fit, like Redis's
    /// adjustOpenFilesLimit, and lowers maxclients if the hard limit does not allow it.
    private static func raiseOpenFileLimit(for maxclients: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = rlim_t(maxclients + 32)
        if limit.rlim_cur >= wanted { return }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 || limit.rlim_cur < wanted {
            logger.warning("You requested maxclients of \(maxclients) requiring at least \(wanted) max file descriptors; the limit allows \(limit.rlim_cur).")
        }
    }
}

extension Engine {
    /// SIGTERM/SIGINT: leave the loop the way SHUTDOWN does.
    func checkTerminationSignal() {
        let sig = terminationSignal.load(ordering: .relaxed)
        guard sig != 0 else { return }
        logger.warning("Received \(sig == SIGINT ? "SIGINT" : "SIGTERM") scheduling shutdown...")
        now = wallClockMilliseconds()
        if !saveBeforeShutdown(force: false, skip: false) {
            terminationSignal.store(0, ordering: .relaxed)
            return
        }
        logger.notice("Redis is now ready to exit, bye bye...")
        requestShutdown()
    }
}

func readLink(_ path: String) throws -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buf, buf.count - 1)
    guard n > 0 else { throw ConfigError("readlink failed") }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
