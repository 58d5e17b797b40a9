import CURing
import Glibc
import Logging
import Synchronization

/// The reactor threads of one server: made (rings included) on the calling thread so that
/// any set-up error is reported before a thread starts, then started together.
public final class ReactorGroup: @unchecked Sendable {
    public let reactors: [Reactor]
    private let enabledCount = Atomic<Int>(0)

    public init(channels: [ReactorChannel], settings: ReactorSettings, engineDoorbell: Doorbell,
                parserFactory: RequestParserFactory, options: ReactorOptions, listeners: [Int32],
                logger: Logger) throws {
        var made: [Reactor] = []
        for channel in channels {
            made.append(try Reactor(channel: channel, settings: settings, engineDoorbell: engineDoorbell,
                                    parserFactory: parserFactory, options: options, logger: logger))
        }
        reactors = made
        let fds = made.map(\.ringFD)
        for r in made {
            r.peerRingFDs = fds
            r.group = self
        }
        made.first?.listeners = listeners
    }

    /// io_uring features in use, for the start-up log line.
    public var features: [String] { reactors.first?.features ?? [] }

    /// Starts one thread per reactor and returns once every ring is enabled.
    public func start() {
        for r in reactors {
            spawnThread(name: "reactor-\(r.channel.index)") { r.run() }
        }
        waitUntilAllEnabled()
    }

    func reactorEnabled() { _ = enabledCount.add(1, ordering: .releasing) }

    /// Start-up only: sleeps in 1 ms steps until every reactor enabled its ring, so that
    /// the first hand-off of a connection never meets a disabled ring.
    func waitUntilAllEnabled() {
        // Acquire pairs with the release in `reactorEnabled`.
        while enabledCount.load(ordering: .acquiring) < reactors.count { usleep(1000) }
    }
}

/// Starts a detached, named POSIX thread running `body`.
public func spawnThread(name: String, _ body: @escaping () -> Void) {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    var thread = pthread_t()
    let named = Box { curing_name_this_thread(String(name.prefix(15))); body() }
    let r = pthread_create(&thread, nil, { arg in
        let b = Unmanaged<AnyObject>.fromOpaque(arg!).takeRetainedValue() as! Box
        b.body()
        return nil
    }, Unmanaged.passRetained(named).toOpaque())
    precondition(r == 0, "pthread_create failed: \(r)")
    pthread_detach(thread)
}

/// Opens a listening TCP socket bound to `address` ("127.0.0.1", "::1", "*", "0.0.0.0").
/// Errors carry Redis's wording for the log.
public func openListener(address: String, port: Int, backlog: Int32) throws -> Int32 {
    var host = address
    var optional = false
    if host.hasPrefix("-") { optional = true; host.removeFirst() }   // "-::1": skip if unavailable
    _ = optional
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_PASSIVE
    var info: UnsafeMutablePointer<addrinfo>?
    let node: String? = (host == "*" ) ? nil : host
    let rc = getaddrinfo(node, String(port), &hints, &info)
    guard rc == 0, let first = info else {
        throw ReactorError("Could not create server TCP listening socket \(address):\(port): \(String(cString: gai_strerror(rc)))")
    }
    defer { freeaddrinfo(info) }
    var lastError = "no address"
    var p: UnsafeMutablePointer<addrinfo>? = first
    while let ai = p {
        p = ai.pointee.ai_next
        let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { lastError = "socket: \(String(cString: strerror(errno)))"; continue }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if ai.pointee.ai_family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 {
            lastError = "bind: \(String(cString: strerror(errno)))"
            close(fd)
            continue
        }
        if listen(fd, backlog) != 0 {
            lastError = "listen: \(String(cString: strerror(errno)))"
            close(fd)
            continue
        }
        return fd
    }
    throw ReactorError("Could not create server TCP listening socket \(address):\(port): \(lastError)")
}
