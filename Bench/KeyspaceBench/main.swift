// The keyspace thread's ceiling, without network or reactors: pre-parsed GET and SET
// requests are copied into a request ring in batches, the engine executes them, and the
// replies are drained from the reply ring, all on one thread.
//
//     swift run -c release keyspace-bench [requests] [keys] [batch] [WORKLOAD,...]
//
// Under valgrind --tool=callgrind it gives instructions per request that machine noise
// does not move (the server itself cannot run under valgrind: io_uring_enter blocks
// with valgrind's lock held).
import Glibc
import Logging
import Reactor
import Redis

let args = CommandLine.arguments
let total = args.count > 1 ? Int(args[1])! : 5_000_000
let keyCount = args.count > 2 ? Int(args[2])! : 100_000
let batch = args.count > 3 ? Int(args[3])! : 64

/// Encodes one command with the server's own parser, as a reactor would.
func encode(_ words: [String]) -> [UInt8] {
    var resp = "*\(words.count)\r\n"
    for w in words { resp += "$\(w.utf8.count)\r\n\(w)\r\n" }
    let scratch = SPSCByteRing(capacity: 1 << 16)
    var sink = RequestSink(ring: scratch, token: 0)
    let parser = RESPParserFactory(maxBulkLength: 1 << 29).makeParser()
    _ = Array(resp.utf8).withUnsafeBytes { parser.parse($0, into: &sink) }
    scratch.publish()
    let (_, payload) = scratch.peek()!
    return Array(payload[8...])
}

func run(_ name: String, _ commands: [[UInt8]], setup: [[UInt8]] = []) {
    let channel = ReactorChannel(index: 0, ringBytes: 8 << 20, slotCapacity: 16)
    let config = ServerConfig()
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let engine = Engine(channels: [channel], doorbell: Doorbell(nonBlocking: true),
                        settings: ReactorSettings(rejectReply: []), config: config, logger: logger)
    let token = ConnectionToken(slot: 0, generation: 1).raw
    // Announce the connection like a reactor does: token, fd, address lengths, addresses.
    let open = channel.requests.reserve(kind: RequestRecord.open, payloadLength: 16)!
    open.storeBytes(of: token, as: UInt64.self)
    open.storeBytes(of: Int32(-1), toByteOffset: 8, as: Int32.self)
    open.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
    channel.requests.publish()
    _ = engine.runBatch()
    for enc in setup {
        let p = channel.requests.reserve(kind: RequestRecord.request, payloadLength: 8 + enc.count)!
        p.storeBytes(of: token, as: UInt64.self)
        enc.withUnsafeBytes { (p + 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        channel.requests.publish()
        _ = engine.runBatch()
        while channel.replies.peek() != nil { channel.replies.advance() }
        channel.replies.release()
    }

    var replyBytes = 0
    let start = monotonicMilliseconds()
    var done = 0
    var next = 0
    while done < total {
        for _ in 0..<batch {
            let enc = commands[next]
            next = next + 1 == commands.count ? 0 : next + 1
            let p = channel.requests.reserve(kind: RequestRecord.request, payloadLength: 8 + enc.count)!
            p.storeBytes(of: token, as: UInt64.self)
            enc.withUnsafeBytes { (p + 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        channel.requests.publish()
        _ = engine.runBatch()
        while let (_, payload) = channel.replies.peek() {
            replyBytes += payload.count - 8
            channel.replies.advance()
        }
        channel.replies.release()
        done += batch
    }
    let ms = max(1, monotonicMilliseconds() - start)
    print("\(name): \(done * 1000 / Int(ms)) requests/s (\(done) requests, batch \(batch), \(replyBytes) reply bytes)")
}

/// redis-benchmark's default suite as the keyspace thread sees it: the same commands with
/// the same argument shapes (random keys from `keyCount`, 3-byte values). LRANGE_* run
/// against a list that LPUSH filled first, as redis-benchmark's own run does.
func workload(_ name: String) -> [[UInt8]] {
    let n = min(keyCount, 100_000)
    switch name {
    case "PING": return [encode(["PING"])]
    case "SET": return (0..<n).map { encode(["SET", "key:\($0)", "xxx"]) }
    case "GET": return (0..<n).map { encode(["GET", "key:\($0)"]) }
    case "SET+GET": return (0..<n).flatMap { [encode(["SET", "key:\($0)", "xxx"]), encode(["GET", "key:\($0)"])] }
    case "INCR": return (0..<n).map { encode(["INCR", "counter:\($0)"]) }
    case "LPUSH": return [encode(["LPUSH", "mylist", "xxx"])]
    case "RPUSH": return [encode(["RPUSH", "mylist", "xxx"])]
    case "LPOP": return [encode(["LPUSH", "mylist", "xxx"]), encode(["LPOP", "mylist"])]
    case "RPOP": return [encode(["RPUSH", "mylist", "xxx"]), encode(["RPOP", "mylist"])]
    case "SADD": return (0..<n).map { encode(["SADD", "myset", "element:\($0)"]) }
    case "HSET": return (0..<n).map { encode(["HSET", "myhash", "element:\($0)", "xxx"]) }
    case "SPOP": return [encode(["SADD", "myset", "a", "b", "c"]), encode(["SPOP", "myset"])]
    case "ZADD": return (0..<n).map { encode(["ZADD", "myzset", "\($0 % 1000)", "element:\($0)"]) }
    case "ZPOPMIN": return [encode(["ZADD", "myzset", "1", "a", "2", "b"]), encode(["ZPOPMIN", "myzset"])]
    case "LRANGE_100": return [encode(["LRANGE", "mylist", "0", "99"])]
    case "LRANGE_600": return [encode(["LRANGE", "mylist", "0", "599"])]
    case "MSET": return [encode(["MSET"] + (0..<10).flatMap { ["key:\($0)", "xxx"] })]
    default: fatalError("unknown workload \(name)")
    }
}

let names = args.count > 4 ? args[4].split(separator: ",").map(String.init) : ["SET", "SET+GET"]
for name in names {
    let fill = name.hasPrefix("LRANGE") ? (0..<600).map { _ in encode(["LPUSH", "mylist", "xxx"]) } : []
    run(name, workload(name), setup: fill)
}
