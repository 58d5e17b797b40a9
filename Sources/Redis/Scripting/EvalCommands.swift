import CLua
import Glibc

/// EVAL, EVALSHA, their _RO forms and SCRIPT (Redis 7.0's eval.c).
let scriptingCommands: [(String, CommandHandler)] = [
    ("eval", { e, a in e.evalCommand(a, bySha: false, readOnly: false) }),
    ("evalsha", { e, a in e.evalCommand(a, bySha: true, readOnly: false) }),
    ("eval_ro", { e, a in e.evalCommand(a, bySha: false, readOnly: true) }),
    ("evalsha_ro", { e, a in e.evalCommand(a, bySha: true, readOnly: true) }),
    ("script|load", { e, a in
        if let sha = e.createEvalScript(a[2]) { e.replyBulk(sha) }
    }),
    ("script|exists", { e, a in
        e.replyArrayHeader(a.count - 2)
        for i in 2..<a.count {
            let known = e.scripting.map { $0.scripts[lowercasedSha(a[i])] != nil } ?? false
            e.replyInteger(known ? 1 : 0)
        }
    }),
    ("script|flush", { e, a in
        if a.count > 3 || (a.count == 3 && !a[2].equalsIgnoringCase("sync") && !a[2].equalsIgnoringCase("async")) {
            e.replyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            return
        }
        e.flushEvalScripts()
        e.replyOK()
    }),
    ("script|kill", { e, _ in
        // Scripts run to the end on the keyspace thread: none is ever running when a
        // command is read.
        e.replyError("NOTBUSY No scripts in execution right now.")
    }),
    ("script|help", { e, _ in
        e.replyHelp([
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ])
    }),
]

/// A SHA-1 argument as the scripts table keys it (the table compares case-insensitively).
func lowercasedSha(_ b: UnsafeRawBufferPointer) -> [UInt8] {
    b.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
}

extension Engine {
    /// "+text" lines as Redis's addReplyHelp writes them (status strings in an array).
    func replyHelp(_ lines: [String]) {
        replyArrayHeader(lines.count)
        for l in lines { replyStatus(l) }
    }

    /// EVAL / EVALSHA (and _RO): Redis's evalGenericCommand.
    func evalCommand(_ a: Arguments, bySha: Bool, readOnly: Bool) {
        if bySha && a[1].count != 40 {
            replyError("NOSCRIPT No matching script. Please use EVAL.")
            return
        }
        guard let numkeys = integerArgument(a[2]) else { return }
        if numkeys > a.count - 3 {
            replyError("ERR Number of keys can't be greater than number of args")
            return
        } else if numkeys < 0 {
            replyError("ERR Number of keys can't be negative")
            return
        }
        let sha: [UInt8]
        if bySha {
            sha = lowercasedSha(a[1])
            if scripting?.scripts[sha] == nil {
                replyError("NOSCRIPT No matching script. Please use EVAL.")
                return
            }
        } else {
            guard let made = createEvalScript(a[1]) else { return }
            sha = made
        }
        let s = scriptingState
        let script = s.scripts[sha]!
        let L = s.L
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.errorHandlerRef)
        lua_getfield(L, LUA_REGISTRYINDEX, "f_" + String(decoding: sha, as: UTF8.self))
        guard prepareScriptRun(s, flags: script.flags, readOnlyCommand: readOnly, name: sha) else {
            luaPop(L, 2)
            return
        }
        s.isFunctionRun = false
        s.setGlobalArray("KEYS", a, from: 3, count: numkeys)
        s.setGlobalArray("ARGV", a, from: 3 + numkeys, count: a.count - 3 - numkeys)
        runScriptFunction(s, nargs: 0)
        luaPop(L, 1)   // the error handler
    }

    /// Compiles and caches a script body unless cached already (Redis's
    /// luaCreateFunction). Returns its SHA, or nil after replying the error.
    func createEvalScript(_ body: UnsafeRawBufferPointer) -> [UInt8]? {
        let sha = sha1Hex(body)
        let s = scriptingState
        if s.scripts[sha] != nil { return sha }
        var flags: ScriptFlags = []
        var skip = 0
        switch parseShebang(body) {
        case .failure(let message):
            replyError(message)
            return nil
        case .success(let (f, length)):
            flags = f
            skip = length
        }
        let L = s.L
        let code = UnsafeRawBufferPointer(rebasing: body[skip...])
        if luaL_loadbuffer(L, code.baseAddress?.assumingMemoryBound(to: CChar.self), code.count, "@user_script") != 0 {
            let message = luaCString(L, -1) ?? []
            luaPop(L, 1)
            replyError(bytes: Array("ERR Error compiling script (new function): ".utf8) + message)
            return nil
        }
        lua_setfield(L, LUA_REGISTRYINDEX, "f_" + String(decoding: sha, as: UTF8.self))
        s.scripts[sha] = EvalScript(body: Array(body), flags: flags)
        s.scriptsMemory += body.count + 40
        return sha
    }

    /// SCRIPT FLUSH: the cache goes with the interpreter, as in Redis (a new one is made
    /// on the next script; functions are loaded into it again).
    func flushEvalScripts() {
        guard scripting != nil else { return }
        let libraries = functionLibraries
        scripting = nil
        if !libraries.isEmpty { reloadFunctionLibraries(libraries) }
    }
}

/// A shebang's flags and length (Redis's evalExtractShebangFlags). No shebang: the
/// EVAL compatibility flag and 0.
func parseShebang(_ body: UnsafeRawBufferPointer) -> Result<(ScriptFlags, Int), ShebangError> {
    guard body.count >= 2, body[0] == UInt8(ascii: "#"), body[1] == UInt8(ascii: "!") else {
        return .success((.evalCompat, 0))
    }
    guard let newline = body.firstIndex(of: 10) else { return .failure(ShebangError("ERR Invalid script shebang")) }
    guard let parts = splitShebangArgs(ArraySlice(body[0..<newline])), let engineName = parts.first else {
        return .failure(ShebangError("ERR Invalid engine in script shebang"))
    }
    if engineName != Array("#!lua".utf8) {
        return .failure(ShebangError("ERR Unexpected engine in script shebang: " + String(decoding: engineName, as: UTF8.self)))
    }
    var flags: ScriptFlags = []
    for part in parts.dropFirst() {
        guard part.starts(with: Array("flags=".utf8)) else {
            return .failure(ShebangError("ERR Unknown lua shebang option: " + String(decoding: part, as: UTF8.self)))
        }
        let list = Array(part.dropFirst(6))
        if list.isEmpty { continue }
        for name in list.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            guard let f = ScriptFlags.names.first(where: { Array($0.0.utf8) == Array(name) }) else {
                return .failure(ShebangError("ERR Unexpected flag in script shebang: " + String(decoding: name, as: UTF8.self)))
            }
            flags.insert(f.1)
        }
    }
    return .success((flags, newline))
}

struct ShebangError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

extension Engine {
    func replyError(_ e: ShebangError) { replyError(e.message) }
}

/// A shebang line's words, split as Redis splits them (sdssplitargs, the inline-command
/// splitter); nil for unbalanced quotes.
func splitShebangArgs(_ line: ArraySlice<UInt8>) -> [[UInt8]]? {
    line.withUnsafeBufferPointer { splitInlineArguments($0) }
}
