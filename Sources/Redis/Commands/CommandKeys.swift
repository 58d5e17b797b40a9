import Glibc

/// COMMAND GETKEYS and COMMAND GETKEYSANDFLAGS: the key arguments of a command, found with
/// its key specs (read from the COMMAND INFO bytes redis-server 7.0 gave for it), as
/// Redis's getKeysUsingKeySpecs does, with Redis's own functions for the commands whose
/// specs are incomplete or whose flags depend on the arguments (SORT, SET, BITFIELD).
let commandKeysCommands: [(String, CommandHandler)] = [
    ("command|getkeys", { e, a in e.commandGetKeys(a, withFlags: false) }),
    ("command|getkeysandflags", { e, a in e.commandGetKeys(a, withFlags: true) }),
]

/// One key spec of a command.
struct KeySpec {
    enum Begin { case index(Int), keyword(String, Int), unknown }
    enum Find { case range(last: Int, step: Int, limit: Int), keynum(index: Int, first: Int, step: Int), unknown }
    var flags: [String]
    var begin: Begin
    var find: Find
}

/// A RESP2 value of the static COMMAND INFO bytes.
private indirect enum RespValue {
    case integer(Int)
    case text(String)
    case array([RespValue])

    var array: [RespValue] { if case .array(let a) = self { return a }; return [] }
    var text: String { if case .text(let s) = self { return s }; return "" }
    var integer: Int { if case .integer(let n) = self { return n }; return 0 }

    /// The value under `key` of a RESP2 map (a flat array of key, value pairs).
    subscript(key: String) -> RespValue? {
        let a = array
        var i = 0
        while i + 1 < a.count {
            if a[i].text == key { return a[i + 1] }
            i += 2
        }
        return nil
    }

    static func parse(_ b: UnsafeRawBufferPointer, _ i: inout Int) -> RespValue {
        let type = b[i]
        var j = i + 1
        while b[j] != 13 { j += 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: b[(i + 1)..<j]), as: UTF8.self)
        i = j + 2
        switch type {
        case UInt8(ascii: ":"): return .integer(Int(line) ?? 0)
        case UInt8(ascii: "+"): return .text(line)
        case UInt8(ascii: "$"):
            let n = Int(line) ?? 0
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: b[i..<(i + n)]), as: UTF8.self)
            i += n + 2
            return .text(s)
        case UInt8(ascii: "*"):
            let n = Int(line) ?? 0
            return .array((0..<max(0, n)).map { _ in parse(b, &i) })
        default:
            return .text(line)
        }
    }
}

extension Command {
    /// Its key specs, from the tenth element of its COMMAND INFO entry.
    var keySpecs: [KeySpec] {
        var i = 0
        let info = RespValue.parse(specInfo, &i).array
        guard info.count >= 9 else { return [] }
        return info[8].array.map { s in
            let flags = (s["flags"]?.array ?? []).map(\.text)
            var begin = KeySpec.Begin.unknown
            if let bs = s["begin_search"], let spec = bs["spec"] {
                switch bs["type"]?.text {
                case "index": begin = .index(spec["index"]?.integer ?? 0)
                case "keyword": begin = .keyword(spec["keyword"]?.text ?? "", spec["startfrom"]?.integer ?? 0)
                default: break
                }
            }
            var find = KeySpec.Find.unknown
            if let fk = s["find_keys"], let spec = fk["spec"] {
                switch fk["type"]?.text {
                case "range":
                    find = .range(last: spec["lastkey"]?.integer ?? 0, step: spec["keystep"]?.integer ?? 1,
                                  limit: spec["limit"]?.integer ?? 0)
                case "keynum":
                    find = .keynum(index: spec["keynumidx"]?.integer ?? 0, first: spec["firstkey"]?.integer ?? 0,
                                   step: spec["keystep"]?.integer ?? 1)
                default: break
                }
            }
            return KeySpec(flags: flags, begin: begin, find: find)
        }
    }
}

extension Engine {
    /// COMMAND GETKEYS[ANDFLAGS] command arg...: Redis's getKeysSubcommandImpl.
    func commandGetKeys(_ a: Arguments, withFlags: Bool) {
        var cmd = commands.find(a[2])
        if let c = cmd, c.isContainer && a.count >= 4 {
            cmd = c.subcommandLookup!.find(a[3])
        }
        guard let cmd else {
            replyError("ERR Invalid command specified")
            return
        }
        let specs = cmd.keySpecs
        let special = ["sort", "sort_ro", "set", "bitfield"].contains(cmd.name)
        if !special && (specs.isEmpty || specs.allSatisfy({ $0.flags.contains("not_key") })) {
            replyError("ERR The command has no key arguments")
            return
        }
        let argc = a.count - 2
        if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
            replyError("ERR Invalid number of arguments specified for command")
            return
        }
        let args = (2..<a.count).map { Array(a[$0]) }
        let keys = Engine.keyPositions(cmd, specs, args) ?? []
        if keys.isEmpty {
            if cmd.flags.contains(.noMandatoryKeys) { replyEmptyArray() } else {
                replyError("ERR Invalid arguments specified for command")
            }
            return
        }
        replyArrayHeader(keys.count)
        for (pos, flags) in keys {
            if withFlags { replyArrayHeader(2) }
            replyBulk(args[pos])
            if withFlags {
                if resp3 { replyRaw(Array("~\(flags.count)\r\n".utf8)) } else { replyArrayHeader(flags.count) }
                for f in flags { replyStatus(f) }
            }
        }
    }

    /// Positions (in `args`, the command name at 0) and flags of the keys; nil when the
    /// arguments do not fit the specs.
    static func keyPositions(_ cmd: Command, _ specs: [KeySpec], _ args: [[UInt8]]) -> [(Int, [String])]? {
        func isWord(_ i: Int, _ w: String) -> Bool {
            i < args.count && String(decoding: args[i], as: UTF8.self).lowercased() == w
        }
        switch cmd.name {
        case "sort":
            // Redis's sortGetKeys: the key, and the last STORE's destination.
            var keys: [(Int, [String])] = [(1, ["RO", "access"])]
            var store: Int?
            var i = 2
            while i < args.count {
                if isWord(i, "limit") { i += 2 } else if isWord(i, "get") || isWord(i, "by") { i += 1 }
                else if isWord(i, "store") && i + 1 < args.count { store = i + 1 }
                i += 1
            }
            if let store { keys.append((store, ["OW", "update"])) }
            return keys
        case "sort_ro":
            return [(1, ["RO", "access"])]
        case "set":
            let get = (3..<max(3, args.count)).contains { isWord($0, "get") }
            return [(1, get ? ["RW", "access", "update"] : ["OW", "update"])]
        case "bitfield":
            let writes = (2..<max(2, args.count)).contains { isWord($0, "set") || isWord($0, "incrby") }
            return [(1, writes ? ["RW", "access", "update"] : ["RO", "access"])]
        default:
            break
        }
        let argc = args.count
        var keys: [(Int, [String])] = []
        for spec in specs where !spec.flags.contains("not_key") {
            var first = 0
            switch spec.begin {
            case .index(let p):
                first = p
            case .keyword(let word, let startfrom):
                let start = startfrom > 0 ? startfrom : argc + startfrom
                let end = startfrom > 0 ? argc - 1 : 1
                var i = start
                while i != end {   // as Redis, the end position itself is not examined
                    if i >= argc || i < 1 { break }
                    if String(decoding: args[i], as: UTF8.self).lowercased() == word.lowercased() {
                        first = i + 1
                        break
                    }
                    i = start <= end ? i + 1 : i - 1
                }
                if first == 0 { continue }
            case .unknown:
                return nil
            }
            var last: Int, step: Int
            switch spec.find {
            case .range(let lastkey, let keystep, let limit):
                step = keystep
                if lastkey >= 0 { last = first + lastkey }
                else if limit == 0 { last = argc + lastkey }
                else { last = first + ((argc - first) / limit + lastkey) }
            case .keynum(let index, let firstkey, let keystep):
                step = keystep
                if index >= argc - first { return nil }
                guard let n = args[first + index].withUnsafeBytes({ parseInteger($0) }), n >= 0 else { return nil }
                first += firstkey
                last = first + n - 1
            case .unknown:
                return nil
            }
            if last >= argc || last < first || first >= argc { return nil }
            var i = first
            while i <= last {
                keys.append((i, spec.flags))
                i += max(1, step)
            }
            if spec.flags.contains("incomplete") { return nil }
        }
        return keys
    }
}
