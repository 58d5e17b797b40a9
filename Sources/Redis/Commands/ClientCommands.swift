import Glibc

let clientCommands: [(String, CommandHandler)] = [
    ("client|id", { e, _ in e.replyInteger(e.client.id) }),
    ("client|setname", { e, a in
        if a.count != 3 {
            e.replyError("ERR wrong number of arguments for 'client|setname' command")   // arity 3
            return
        }
        guard e.validClientName(a[2]) else { return }
        e.client.name = Array(a[2])
        e.replyOK()
    }),
    ("client|getname", { e, _ in
        if e.client.name.isEmpty { e.replyNull() } else { e.replyBulk(e.client.name) }
    }),
    ("client|list", { $0.clientList($1) }),
    ("client|info", { e, a in
        var line = e.clientInfoLine(e.client, args: a)
        line.append(10)
        e.replyBulk(line)
    }),
    ("client|kill", { $0.clientKill($1) }),
    ("client|pause", { $0.clientPause($1) }),
    ("client|unpause", { e, _ in
        e.unpauseClients(.clientCommand)
        e.replyOK()
    }),
    ("client|help", { e, _ in
        e.replyHelp("CLIENT", [
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
        ])
    }),
]

/// Redis's client types (getClientTypeByName).
enum ClientType {
    case normal, replica, pubsub, master

    init?(name: UnsafeRawBufferPointer) {
        if name.equalsIgnoringCase("normal") { self = .normal }
        else if name.equalsIgnoringCase("slave") || name.equalsIgnoringCase("replica") { self = .replica }
        else if name.equalsIgnoringCase("pubsub") { self = .pubsub }
        else if name.equalsIgnoringCase("master") { self = .master }
        else { return nil }
    }
}

extension Engine {
    /// Redis's getClientType: a connection that attached with SYNC/PSYNC is a replica, a
    /// subscribed one pubsub, the rest normal.
    func clientType(_ c: Client) -> ClientType {
        if replication.master?.client === c { return .master }
        if isReplica(c) { return .replica }
        return c.subscriptions != nil ? .pubsub : .normal
    }

    /// CLIENT LIST's flags= letters, in Redis's order (M our master, S replica, P pubsub, x MULTI, b blocked or paused, d dirty WATCH).
    func clientFlags(_ c: Client) -> String {
        var f = ""
        if replication.master?.client === c { f += "M" }
        if isReplica(c) { f += "S" }
        if c.isMonitor { f += "O" }
        if c.subscriptions != nil { f += "P" }
        if let m = c.multiState, m.active { f += "x" }
        if c.blockState != nil || c.pausedRequest != nil { f += "b" }   // paused: Redis blocks it too
        if let m = c.multiState, m.watchedKeyChanged { f += "d" }
        return f.isEmpty ? "N" : f
    }

    /// Clients a command can still see: a killed one lingers until its reactor closes it.
    var liveClients: [Client] { allClients.filter { !$0.closing || $0 === client } }

    /// One CLIENT LIST / CLIENT INFO line, fields in redis-server 7.0's order.
    /// `args` is the running command's, for the argv-mem of the calling client.
    func clientInfoLine(_ c: Client, args: Arguments) -> [UInt8] {
        let s = channels[c.reactor].slotStats + c.slot
        let qbuf = s.pointee.inputBuffered.load(ordering: .relaxed)
        let qcap = s.pointee.inputCapacity.load(ordering: .relaxed)
        let omem = s.pointee.outputBuffered.load(ordering: .relaxed)
        var argvMem = 0
        if c === client { for i in 0..<args.count { argvMem += args[i].count } }
        let seconds = now / 1000
        var line = "id=\(c.id) addr=\(c.peerAddress) laddr=\(c.localAddress) fd=\(c.fd) name="
        var bytes = Array(line.utf8)
        bytes.append(contentsOf: c.name)
        line = " age=\(seconds - c.createdAt / 1000) idle=\(seconds - c.lastInteraction / 1000) flags=\(clientFlags(c))"
        let multi = c.multiState.map { $0.active ? $0.queued.count : -1 } ?? -1
        let multiMem = c.multiState?.queuedBytes ?? 0
        line += " db=\(c.db) sub=\(c.subscriptions?.channels.count ?? 0) psub=\(c.subscriptions?.patterns.count ?? 0)"
        line += " ssub=\(c.subscriptions?.shardChannels.count ?? 0) multi=\(multi) qbuf=\(qbuf) qbuf-free=\(max(0, qcap - qbuf))"
        line += " argv-mem=\(argvMem) multi-mem=\(multiMem) rbs=0 rbp=0 obl=0 oll=0 omem=\(omem)"
        line += " tot-mem=\(qcap + omem + argvMem) events=\(omem > 0 ? "rw" : "r")"
        line += " cmd=\(c.lastCommand?.name ?? "NULL") user=default redir=-1 resp=\(c.protocolVersion)"
        bytes.append(contentsOf: line.utf8)
        return bytes
    }

    /// CLIENT LIST [TYPE type] | [ID id ...]
    func clientList(_ a: Arguments) {
        var type: ClientType?
        var text: [UInt8] = []
        if a.count == 4 && a[2].equalsIgnoringCase("type") {
            guard let t = ClientType(name: a[3]) else {
                replyError(bytes: Array("ERR Unknown client type '".utf8) + truncatedForError(a[3], Int.max) + "'")
                return
            }
            type = t
        } else if a.count > 3 && a[2].equalsIgnoringCase("id") {
            for j in 3..<a.count {
                guard let id = parseInteger(a[j]) else {
                    replyError("ERR Invalid client ID")
                    return
                }
                if let c = clientsByID[id], !c.closing || c === client {
                    text += clientInfoLine(c, args: a)
                    text.append(10)
                }
            }
            replyBulk(text)
            return
        } else if a.count != 2 {
            replySyntaxError()
            return
        }
        for c in liveClients where type == nil || clientType(c) == type {
            text += clientInfoLine(c, args: a)
            text.append(10)
        }
        replyBulk(text)
    }

    /// CLIENT KILL ip:port (old form: OK or "No such client", may kill the caller) or
    /// CLIENT KILL <filter> <value> ... (new form: the number killed, SKIPME yes by default).
    func clientKill(_ a: Arguments) {
        var addr: String?
        var laddr: String?
        var type: ClientType?
        var id = 0
        var skipMe = true
        if a.count == 3 {
            addr = String(decoding: truncatedForError(a[2], Int.max), as: UTF8.self)
            skipMe = false
        } else if a.count > 3 {
            var i = 2
            while i < a.count {
                let more = a.count > i + 1
                let o = a[i]
                if o.equalsIgnoringCase("id") && more {
                    guard let n = parseInteger(a[i + 1]), n >= 1 else {
                        replyError("ERR client-id should be greater than 0")
                        return
                    }
                    id = n
                } else if o.equalsIgnoringCase("type") && more {
                    guard let t = ClientType(name: a[i + 1]) else {
                        replyError(bytes: Array("ERR Unknown client type '".utf8) + truncatedForError(a[i + 1], Int.max) + "'")
                        return
                    }
                    type = t
                } else if o.equalsIgnoringCase("addr") && more {
                    addr = String(decoding: truncatedForError(a[i + 1], Int.max), as: UTF8.self)
                } else if o.equalsIgnoringCase("laddr") && more {
                    laddr = String(decoding: truncatedForError(a[i + 1], Int.max), as: UTF8.self)
                } else if o.equalsIgnoringCase("user") && more {
                    // Only the default user exists, and every client is authenticated as it.
                    if !(a[i + 1].count == 7 && memcmp(a[i + 1].baseAddress!, "default", 7) == 0) {
                        replyError(bytes: Array("ERR No such user '".utf8) + truncatedForError(a[i + 1], Int.max) + "'")
                        return
                    }
                } else if o.equalsIgnoringCase("skipme") && more {
                    if a[i + 1].equalsIgnoringCase("yes") {
                        skipMe = true
                    } else if a[i + 1].equalsIgnoringCase("no") {
                        skipMe = false
                    } else {
                        replySyntaxError()
                        return
                    }
                } else {
                    replySyntaxError()
                    return
                }
                i += 2
            }
        } else {
            replySyntaxError()
            return
        }

        let me = client!
        var killed = 0
        var killMe = false
        for c in liveClients {
            if let addr, c.peerAddress != addr { continue }
            if let laddr, c.localAddress != laddr { continue }
            if let type, clientType(c) != type { continue }
            if id != 0 && c.id != id { continue }
            if c === me {
                if skipMe { continue }
                killMe = true
            } else {
                closeAfterReply(c)
            }
            killed += 1
        }
        if a.count == 3 {
            if killed == 0 {
                replyError("ERR No such client")
                return
            }
            replyOK()
        } else {
            replyInteger(killed)
        }
        if killMe { closeAfterReply(me) }
    }
}
