import Glibc

let connectionCommands: [(String, CommandHandler)] = [
    ("ping", { e, a in
        if a.count > 2 { e.replyError("ERR wrong number of arguments for 'ping' command"); return }
        if e.client.subscriptions != nil && !e.resp3 {
            // A subscribed RESP2 connection reads pushes only: the reply is a message-shaped array.
            e.replyRaw("*2\r\n$4\r\npong\r\n")
            if a.count == 2 { e.replyBulk(a[1]) } else { e.replyRaw("$0\r\n\r\n") }
            return
        }
        if a.count == 2 { e.replyBulk(a[1]) } else { e.replyRaw("+PONG\r\n") }
    }),
    ("echo", { e, a in e.replyBulk(a[1]) }),
    ("quit", { e, _ in
        e.replyOK()
        e.closeAfterReply(e.client)
    }),
    ("select", { e, a in
        guard let n = parseInteger(a[1]) else { e.replyNotInteger(); return }
        guard n >= Int(Int32.min), n <= Int(Int32.max) else {
            e.replyError("ERR value is out of range, value must between -2147483648 and 2147483647")
            return
        }
        guard n >= 0 && n < e.databases.count else { e.replyError("ERR DB index is out of range"); return }
        e.client.db = n
        e.db = e.databases[n]
        e.replyOK()
    }),
    ("hello", { $0.hello($1) }),
    ("reset", { e, _ in e.resetConnection() }),
]

extension Engine {
    /// HELLO [protover [AUTH user pass] [SETNAME name]]: switches the connection to RESP2
    /// or RESP3 and describes the server.
    func hello(_ a: Arguments) {
        var version = client.protocolVersion
        if a.count >= 2 {
            guard let v = parseInteger(a[1]) else {
                replyError("ERR Protocol version is not an integer or out of range")
                return
            }
            if v < 2 || v > 3 {
                replyError("NOPROTO unsupported protocol version")
                return
            }
            version = v
        }
        var newName: UnsafeRawBufferPointer?
        var j = 2
        while j < a.count {
            let more = a.count - j - 1
            if a[j].equalsIgnoringCase("auth") && more >= 2 {
                // Redis 7.0 authenticates as it reads the option: a later bad option is
                // reported with the authentication already done.
                if !authenticate(user: a[j + 1], password: a[j + 2]) {
                    replyError(wrongPassError)
                    return
                }
                j += 3
            } else if a[j].equalsIgnoringCase("setname") && more >= 1 {
                newName = a[j + 1]
                j += 2
            } else {
                replyError(bytes: Array("ERR Syntax error in HELLO option '".utf8) + truncatedForError(a[j], 128) + "'")
                return
            }
        }
        // The name is taken only once authenticated (a bad one is refused after a successful
        // AUTH option, which stays done).
        if !client.authenticated {
            replyError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
            return
        }
        if let newName {
            guard validClientName(newName) else { return }
            client.name = Array(newName)
        }
        client.protocolVersion = version
        resp3 = version == 3
        replyMapHeader(7)
        replyBulk("server"); replyBulk("redis")
        replyBulk("version"); replyBulk(redisCompatibleVersion)
        replyBulk("proto"); replyInteger(version)
        replyBulk("id"); replyInteger(client.id)
        replyBulk("mode"); replyBulk("standalone")
        replyBulk("role"); replyBulk(config.replicaof == nil ? "master" : "replica")
        replyBulk("modules"); replyEmptyArray()
    }

    /// RESET: the connection becomes as if just opened (Redis's clearClientConnectionState):
    /// MULTI discarded, keys unwatched, every subscription dropped without confirmations,
    /// database 0, RESP2, no name, authenticated only if no password is set now.
    /// Replica and master links are refused.
    func resetConnection() {
        let c = client!
        // Redis's CLIENT_SLAVE (set by SYNC/PSYNC, not by an earlier REPLCONF) or CLIENT_MASTER.
        if replication.master?.client === c || replication.replicas.contains(where: { $0 === c }) {
            replyError("ERR can only reset normal client connections")
            return
        }
        discardTransaction(c)
        if c.subscriptions != nil { leavePubSub(c) }
        if c.isMonitor { monitorClosed(c) }
        c.replyMode = .on
        c.db = 0
        db = databases[0]
        c.protocolVersion = 2
        resp3 = false
        c.name = []
        c.authenticated = config.requirepass.isEmpty
        replyRaw("+RESET\r\n")
    }

    /// Redis's validateClientName: printable ASCII without spaces; replies the error.
    func validClientName(_ name: UnsafeRawBufferPointer) -> Bool {
        for c in name where c < 33 || c > 126 {
            replyError("ERR Client names cannot contain spaces, newlines or special characters.")
            return false
        }
        return true
    }
}

/// The redis-server version whose behaviour this server reproduces (redis_version).
let redisCompatibleVersion = "7.0.15"
/// This server's own version (swift_redis_version in INFO).
public let swiftRedisVersion = "0.1.0"
