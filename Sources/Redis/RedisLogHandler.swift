import Glibc
import Logging
import Synchronization

/// Log lines in redis-server's format, so existing log tooling reads them:
///
///     1234:M 22 Nov 2026 10:15:02.123 * Ready to accept connections
///
/// Marks by level as Redis: '.' debug, '-' verbose (info), '*' notice, '#' warning and
/// worse. Writes to the logfile when one is configured, else standard output.
public struct RedisLogHandler: LogHandler {
    public var logLevel: Logger.Level = .notice
    public var metadata: Logger.Metadata = [:]
    let sink: LogSink

    public init(sink: LogSink) { self.sink = sink }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        let mark: Character
        switch level {
        case .trace, .debug: mark = "."
        case .info: mark = "-"
        case .notice: mark = "*"
        default: mark = "#"
        }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var seconds = ts.tv_sec
        localtime_r(&seconds, &t)
        var buf = [CChar](repeating: 0, count: 64)
        strftime(&buf, 64, "%d %b %Y %H:%M:%S", &t)
        let ms = ts.tv_nsec / 1_000_000
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        sink.write("\(getpid()):\(Character(Unicode.Scalar(logRoleCharacter.load(ordering: .relaxed)))) \(String(cString: buf)).\(msText) \(mark) \(message)\n")
    }
}

/// Where log lines go; shared by every thread's logger.
public final class LogSink: @unchecked Sendable {
    private let file: Mutex<UnsafeMutablePointer<FILE>?>

    /// `path` empty means standard output.
    public init(path: String) throws {
        if path.isEmpty {
            file = Mutex(nil)
        } else {
            guard let f = fopen(path, "a") else {
                throw ConfigError("Can't open the log file: \(String(cString: strerror(errno)))")
            }
            file = Mutex(f)
        }
    }

    func write(_ line: String) {
        file.withLock { f in
            let target = f ?? stdout
            fputs(line, target)
            fflush(target)
        }
    }
}

/// redis.conf loglevel names to swift-log levels.
public func logLevel(forRedisName name: String) -> Logger.Level {
    switch name {
    case "debug": return .debug
    case "verbose": return .info
    case "warning": return .warning
    case "nothing": return .critical
    default: return .notice
    }
}
