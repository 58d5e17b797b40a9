import CLua
import Glibc

/// FUNCTION and FCALL (Redis 7.0's functions.c).
let functionCommands: [(String, CommandHandler)] = [
    ("fcall", { e, a in e.fcallCommand(a, readOnly: false) }),
    ("fcall_ro", { e, a in e.fcallCommand(a, readOnly: true) }),
    ("function|load", { e, a in
        var replace = false
        var at = 2
        while at < a.count - 1 {
            let option = a[at]
            at += 1
            if option.equalsIgnoringCase("replace") {
                replace = true
                continue
            }
            e.replyError(bytes: Array("ERR Unknown option given: ".utf8) + truncatedForError(option, option.count))
            return
        }
        if at >= a.count {
            e.replyError("ERR Function code is missing")
            return
        }
        switch e.createFunctionLibrary(Array(a[at]), replace: replace, into: e.scriptingState) {
        case .failure(let err):
            e.replyError("ERR " + err.message)
        case .success(let name):
            e.dirty += 1   // propagated and saved as itself
            e.replyBulk(name)
        }
    }),
    ("function|delete", { e, a in
        let name = Array(a[2])
        guard let s = e.scripting, let lib = s.libraries.first(where: { $0.name == name }) else {
            e.replyError("ERR Library not found")
            return
        }
        e.unlinkLibrary(lib, s)
        e.dirty += 1
        e.replyOK()
    }),
    ("function|flush", { e, a in
        if a.count > 3 || (a.count == 3 && !a[2].equalsIgnoringCase("sync") && !a[2].equalsIgnoringCase("async")) {
            e.replyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            return
        }
        e.flushFunctions()
        e.dirty += 1
        e.replyOK()
    }),
    ("function|list", { e, a in e.functionList(a) }),
    ("function|dump", { e, _ in e.replyBulk(e.functionDumpPayload()) }),
    ("function|restore", { e, a in e.functionRestore(a) }),
    ("function|stats", { e, _ in
        let libraries = e.functionLibraries
        e.replyMapHeader(2)
        e.replyBulk("running_script")
        e.replyNull()   // scripts run to the end before any other command is read
        e.replyBulk("engines")
        e.replyMapHeader(1)
        e.replyBulk("LUA")
        e.replyMapHeader(2)
        e.replyBulk("libraries_count")
        e.replyInteger(libraries.count)
        e.replyBulk("functions_count")
        e.replyInteger(libraries.reduce(0) { $0 + $1.functions.count })
    }),
    ("function|kill", { e, _ in e.replyError("NOTBUSY No scripts in execution right now.") }),
    ("function|help", { e, _ in
        e.replyHelp([
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Prints this help.",
        ])
    }),
]

extension Engine {
    /// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
    func functionList(_ a: Arguments) {
        var withCode = false
        var pattern: [UInt8]?
        var i = 2
        while i < a.count {
            if !withCode && a[i].equalsIgnoringCase("withcode") {
                withCode = true
            } else if pattern == nil && a[i].equalsIgnoringCase("libraryname") {
                if i >= a.count - 1 {
                    replyError("ERR library name argument was not given")
                    return
                }
                i += 1
                pattern = Array(a[i])
            } else {
                replyError(bytes: Array("ERR Unknown argument ".utf8) + truncatedForError(a[i], a[i].count))
                return
            }
            i += 1
        }
        let libraries = functionLibraries.filter { lib in
            guard let pattern else { return true }
            return pattern.withUnsafeBytes { p in lib.name.withUnsafeBytes { stringMatch(p, $0, nocase: true) } }
        }
        replyArrayHeader(libraries.count)
        for lib in libraries {
            replyMapHeader(withCode ? 4 : 3)
            replyBulk("library_name")
            replyBulk(lib.name)
            replyBulk("engine")
            replyBulk("LUA")
            replyBulk("functions")
            replyArrayHeader(lib.functions.count)
            for f in lib.functions {
                replyMapHeader(3)
                replyBulk("name")
                replyBulk(f.name)
                replyBulk("description")
                if let d = f.description { replyBulk(d) } else { replyNull() }
                replyBulk("flags")
                let names = ScriptFlags.names.filter { f.flags.contains($0.1) }
                if resp3 { replyRaw("~"); replyRaw(Array(String(names.count).utf8)); replyRaw("\r\n") } else { replyArrayHeader(names.count) }
                for n in names { replyStatus(n.0) }
            }
            if withCode {
                replyBulk("library_code")
                replyBulk(lib.code)
            }
        }
    }

    /// FUNCTION DUMP: each library as RDB_OPCODE_FUNCTION2 and its code, then the RDB
    /// version and a CRC64, like a DUMP payload.
    func functionDumpPayload() -> [UInt8] {
        var w = RDBWriter(compression: config.rdbcompression)
        var payload = w.functionLibrariesSection(functionLibraries.map { $0.code })
        payload.append(UInt8(rdbVersionWritten & 0xff))
        payload.append(UInt8((rdbVersionWritten >> 8) & 0xff))
        let crc = CRC64.checksum(payload)
        for i in 0..<8 { payload.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt64(i)))) }
        return payload
    }

    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
    func functionRestore(_ a: Arguments) {
        if a.count > 4 {
            replyError(bytes: Array("ERR unknown subcommand or wrong number of arguments for '".utf8)
                + truncatedForError(a[1], 128) + "'. Try FUNCTION HELP.")
            return
        }
        enum Policy { case append, replace, flush }
        var policy = Policy.append
        if a.count == 4 {
            if a[3].equalsIgnoringCase("append") {
                policy = .append
            } else if a[3].equalsIgnoringCase("replace") {
                policy = .replace
            } else if a[3].equalsIgnoringCase("flush") {
                policy = .flush
            } else {
                replyError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
                return
            }
        }
        guard dumpPayloadIsValid(a[2]) else {
            replyError("ERR DUMP payload version or checksum are wrong")
            return
        }
        let codes: [[UInt8]]
        switch readFunctionLibrariesSection(Array(a[2].dropLast(10))) {
        case .failure(let e):
            replyError("ERR " + e.message)
            return
        case .success(let c):
            codes = c
        }
        let s = scriptingState
        // Load into a scratch set first: nothing changes unless all of it loads.
        let previous = s.libraries
        let previousFunctions = s.functions
        if policy == .flush {
            s.libraries = []
            s.functions = [:]
        }
        var failure: String?
        var added: [FunctionLibrary] = []
        for code in codes {
            if policy == .append {
                // Name collisions are errors (libraryJoin without replace).
                if let name = libraryName(of: code),
                   s.libraries.contains(where: { $0.name == name }) {
                    failure = "Library " + String(decoding: name, as: UTF8.self) + " already exists"
                    break
                }
            }
            switch createFunctionLibrary(code, replace: policy != .append, into: s) {
            case .failure(let e):
                failure = e.message
            case .success:
                if let lib = s.libraries.last { added.append(lib) }
            }
            if failure != nil { break }
        }
        if let failure {
            for lib in added { unlinkLibrary(lib, s) }
            s.libraries = previous
            s.functions = previousFunctions
            reloadMissingCallbacks(s)
            replyError("ERR " + failure)
            return
        }
        if policy == .flush {
            for lib in previous { for f in lib.functions { luaL_unref(s.L, LUA_REGISTRYINDEX, f.ref) } }
        }
        dirty += 1
        replyOK()
    }

    /// After a failed RESTORE that replaced libraries: those it unlinked lost their
    /// callbacks; they are loaded again from their code.
    private func reloadMissingCallbacks(_ s: ScriptingState) {
        let broken = s.libraries.filter { $0.functions.isEmpty }
        for lib in broken {
            s.libraries.removeAll { $0 === lib }
            _ = createFunctionLibrary(lib.code, replace: true, into: s)
        }
    }

    /// INFO memory's scripting fields, in Redis 7.0's order. Scripts and functions share
    /// one interpreter here: its memory is reported as the EVAL VM's.
    func scriptingMemoryInfo() -> [(String, String)] {
        let vm = scripting.map { Int(lua_gc($0.L, LUA_GCCOUNT, 0)) * 1024 + Int(lua_gc($0.L, LUA_GCCOUNTB, 0)) } ?? 0
        let scriptsBytes = scripting?.scriptsMemory ?? 0
        let libraries = functionLibraries
        let functionsBytes = libraries.reduce(0) { $0 + $1.code.count + $1.name.count + $1.functions.count * 64 }
        return [
            ("used_memory_lua", String(vm)),
            ("used_memory_vm_eval", String(vm)),
            ("used_memory_lua_human", humanBytes(vm)),
            ("used_memory_scripts_eval", String(scriptsBytes)),
            ("number_of_cached_scripts", String(scripting?.scripts.count ?? 0)),
            ("number_of_functions", String(libraries.reduce(0) { $0 + $1.functions.count })),
            ("number_of_libraries", String(libraries.count)),
            ("used_memory_vm_functions", "0"),
            ("used_memory_vm_total", String(vm)),
            ("used_memory_vm_total_human", humanBytes(vm)),
            ("used_memory_functions", String(functionsBytes)),
            ("used_memory_scripts", String(scriptsBytes + functionsBytes)),
            ("used_memory_scripts_human", humanBytes(scriptsBytes + functionsBytes)),
        ]
    }

    /// The name= of a library's shebang, if it has one.
    private func libraryName(of code: [UInt8]) -> [UInt8]? {
        guard let newline = code.firstIndex(of: 10) else { return nil }
        for part in code[0..<newline].split(separator: 32) where part.count > 5 {
            if lowercasedName(Array(part.prefix(5))) == Array("name=".utf8) { return Array(part.dropFirst(5)) }
        }
        return nil
    }
}

/// Library codes from a FUNCTION DUMP body (the payload without version and CRC).
func readFunctionLibrariesSection(_ body: [UInt8]) -> Result<[[UInt8]], ShebangError> {
    var reader = RDBReader(body, raw: true)
    var codes: [[UInt8]] = []
    while reader.hasMoreRaw {
        guard let type = try? reader.rawByte() else { return .failure(ShebangError("can not read data type")) }
        if type == RDBOpcode.functionPreGA { return .failure(ShebangError("Pre-GA function format not supported")) }
        if type != RDBOpcode.function2 { return .failure(ShebangError("given type is not a function")) }
        guard let code = try? reader.rawString() else {
            return .failure(ShebangError("failed loading the given functions payload"))
        }
        codes.append(code)
    }
    return .success(codes)
}
