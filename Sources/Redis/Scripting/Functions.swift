import CLua
import Glibc
import Reactor

/// A library loaded by FUNCTION LOAD: its code and the functions it registered.
final class FunctionLibrary {
    let name: [UInt8]
    let code: [UInt8]
    var functions: [ScriptFunction] = []

    init(name: [UInt8], code: [UInt8]) {
        self.name = name
        self.code = code
    }
}

/// One function of a library: name, flags, description, and its Lua callback.
struct ScriptFunction {
    let name: [UInt8]
    let description: [UInt8]?
    let flags: ScriptFlags
    /// Registry reference of the callback in the interpreter that loaded it.
    let ref: Int32
}

/// Names of libraries and functions are compared without case, as Redis's dicts do.
func lowercasedName(_ b: [UInt8]) -> [UInt8] { b.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 } }

/// Letters, digits and underscores, at least one (functionsVerifyName).
func isValidFunctionName(_ b: [UInt8]) -> Bool {
    !b.isEmpty && b.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
}

let invalidLibraryName = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

extension Engine {
    /// Loaded libraries in load order (kept across SCRIPT FLUSH, which rebuilds the
    /// interpreter).
    var functionLibraries: [FunctionLibrary] { scripting?.libraries ?? [] }

    /// Loads `libraries` into a fresh interpreter (after SCRIPT FLUSH).
    func reloadFunctionLibraries(_ libraries: [FunctionLibrary]) {
        for lib in libraries {
            _ = createFunctionLibrary(lib.code, replace: true, into: scriptingState)
        }
    }

    /// Compiles `code` ("#!lua name=lib" then Lua registering functions) and links the
    /// library (Redis's functionsCreateWithLibraryCtx). Returns the library name, or
    /// the error text (without "ERR").
    func createFunctionLibrary(_ code: [UInt8], replace: Bool, into s: ScriptingState) -> Result<[UInt8], ShebangError> {
        guard code.starts(with: Array("#!".utf8)) else { return .failure(ShebangError("Missing library metadata")) }
        guard let newline = code.firstIndex(of: 10) else { return .failure(ShebangError("Invalid library metadata")) }
        guard let parts = splitShebangArgs(code[0..<newline]), let first = parts.first else {
            return .failure(ShebangError("Invalid library metadata"))
        }
        let engineName = Array(first.dropFirst(2))
        var name: [UInt8]?
        for part in parts.dropFirst() {
            if part.count >= 5 && lowercasedName(Array(part[0..<5])) == Array("name=".utf8) {
                if name != nil {
                    return .failure(ShebangError("Invalid metadata value, name argument was given multiple times"))
                }
                name = Array(part.dropFirst(5))
                continue
            }
            return .failure(ShebangError("Invalid metadata value given: " + String(decoding: part, as: UTF8.self)))
        }
        guard let name else { return .failure(ShebangError("Library name was not given")) }
        guard isValidFunctionName(name) else { return .failure(ShebangError(invalidLibraryName)) }
        guard lowercasedName(engineName) == Array("lua".utf8) else {
            return .failure(ShebangError("Engine '" + String(decoding: engineName, as: UTF8.self) + "' not found"))
        }
        let old = s.libraries.first { $0.name == name }   // library names keep their case
        if old != nil && !replace {
            return .failure(ShebangError("Library '" + String(decoding: name, as: UTF8.self) + "' already exists"))
        }
        let lib = FunctionLibrary(name: name, code: code)
        if let failure = runLibraryCode(lib, body: Array(code[newline...]), s) {
            releaseFunctions(of: lib, s)
            return .failure(ShebangError(failure))
        }
        if lib.functions.isEmpty { return .failure(ShebangError("No functions registered")) }
        for f in lib.functions {
            if let owner = s.functions[lowercasedName(f.name)], owner.library !== old {
                releaseFunctions(of: lib, s)
                return .failure(ShebangError("Function " + String(decoding: f.name, as: UTF8.self) + " already exists"))
            }
        }
        if let old { unlinkLibrary(old, s) }
        linkLibrary(lib, s)
        return .success(name)
    }

    private func linkLibrary(_ lib: FunctionLibrary, _ s: ScriptingState) {
        s.libraries.append(lib)
        for f in lib.functions { s.functions[lowercasedName(f.name)] = (lib, f) }
    }

    /// Drops a library and its functions' Lua callbacks.
    func unlinkLibrary(_ lib: FunctionLibrary, _ s: ScriptingState) {
        s.libraries.removeAll { $0 === lib }
        for f in lib.functions where s.functions[lowercasedName(f.name)]?.library === lib {
            s.functions[lowercasedName(f.name)] = nil
        }
        releaseFunctions(of: lib, s)
    }

    private func releaseFunctions(of lib: FunctionLibrary, _ s: ScriptingState) {
        for f in lib.functions { luaL_unref(s.L, LUA_REGISTRYINDEX, f.ref) }
        lib.functions.removeAll()
    }

    /// Runs a library's code with the load-time globals (only `redis.register_function`,
    /// `redis.log` and the version fields), as Redis's luaEngineCreate does. Returns the
    /// error text on failure.
    private func runLibraryCode(_ lib: FunctionLibrary, body: [UInt8], _ s: ScriptingState) -> String? {
        let L = s.L
        let loaded = body.withUnsafeBytes {
            luaL_loadbuffer(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count, "@user_function")
        }
        if loaded != 0 {
            let message = luaCString(L, -1) ?? []
            luaPop(L, 1)
            return "Error compiling function: " + String(decoding: message, as: UTF8.self)
        }
        s.useLoadGlobals(true)
        s.loadingLibrary = lib
        let started = monotonicMilliseconds()
        lua_sethook(L, functionLoadTimeoutHook, LUA_MASKCOUNT, 100_000)
        s.loadStartedMonotonic = started
        let failed = lua_pcall(L, 0, 0, 0) != 0
        lua_sethook(L, nil, 0, 0)
        s.loadingLibrary = nil
        s.useLoadGlobals(false)
        guard failed else { return nil }
        var message: [UInt8] = []
        if lua_isstring(L, -1) != 0 {
            message = Array("ERR ".utf8) + (luaCString(L, -1) ?? [])
        } else if lua_type(L, -1) == LUA_TTABLE {
            luaRawField(L, "err")
            if lua_isstring(L, -1) != 0 { message = luaCString(L, -1) ?? [] }
            luaPop(L, 1)
        }
        luaPop(L, 1)
        return "Error registering functions: " + String(decoding: message, as: UTF8.self)
    }

    /// redis.register_function(name, callback) or redis.register_function{function_name=,
    /// callback=, flags=, description=} (Redis's luaRegisterFunction).
    func registerFunctionCallback(_ L: OpaquePointer, _ s: ScriptingState) -> Int32 {
        guard let lib = s.loadingLibrary else {
            luaPushError(L, "redis.register_function can only be called on FUNCTION LOAD command")
            return -1
        }
        let argc = lua_gettop(L)
        if argc < 1 || argc > 2 {
            luaPushError(L, "wrong number of arguments to redis.register_function")
            return -1
        }
        var name: [UInt8]?
        var description: [UInt8]?
        var flags: ScriptFlags = []
        var ref: Int32?
        func fail(_ message: String) -> Int32 {
            if let ref { luaL_unref(L, LUA_REGISTRYINDEX, ref) }
            luaPushError(L, message)
            return -1
        }
        if argc == 2 {
            guard lua_isstring(L, 1) != 0, let n = luaBytes(L, 1) else {
                return fail("first argument to redis.register_function must be a string")
            }
            name = n
            guard lua_type(L, 2) == LUA_TFUNCTION else {
                return fail("second argument to redis.register_function must be a function")
            }
            lua_pushvalue(L, 2)
            ref = luaL_ref(L, LUA_REGISTRYINDEX)
        } else {
            guard lua_type(L, 1) == LUA_TTABLE else {
                return fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
            }
            lua_pushnil(L)
            while lua_next(L, 1) != 0 {
                guard lua_type(L, -2) == LUA_TSTRING || lua_type(L, -2) == LUA_TNUMBER else {
                    return fail("named argument key given to redis.register_function is not a string")
                }
                lua_pushvalue(L, -2)
                let key = lowercasedName(luaCString(L, -1) ?? [])
                luaPop(L, 1)
                switch String(decoding: key, as: UTF8.self) {
                case "function_name":
                    guard lua_isstring(L, -1) != 0 else {
                        return fail("function_name argument given to redis.register_function must be a string")
                    }
                    lua_pushvalue(L, -1)
                    name = luaBytes(L, -1)
                    luaPop(L, 1)
                case "description":
                    guard lua_isstring(L, -1) != 0 else {
                        return fail("description argument given to redis.register_function must be a string")
                    }
                    lua_pushvalue(L, -1)
                    description = luaBytes(L, -1)
                    luaPop(L, 1)
                case "callback":
                    guard lua_type(L, -1) == LUA_TFUNCTION else {
                        return fail("callback argument given to redis.register_function must be a function")
                    }
                    if let old = ref { luaL_unref(L, LUA_REGISTRYINDEX, old) }
                    ref = luaL_ref(L, LUA_REGISTRYINDEX)
                    continue   // luaL_ref popped the value
                case "flags":
                    guard lua_type(L, -1) == LUA_TTABLE else {
                        return fail("flags argument to redis.register_function must be a table representing function flags")
                    }
                    guard let f = readFunctionFlags(L) else { return fail("unknown flag given") }
                    flags = f
                default:
                    return fail("unknown argument given to redis.register_function")
                }
                luaPop(L, 1)
            }
            guard name != nil else { return fail("redis.register_function must get a function name argument") }
            guard ref != nil else { return fail("redis.register_function must get a callback argument") }
        }
        guard let fname = name, let fref = ref else { return fail("redis.register_function must get a callback argument") }
        guard isValidFunctionName(fname) else { return fail(invalidLibraryName) }
        if lib.functions.contains(where: { lowercasedName($0.name) == lowercasedName(fname) }) {
            return fail("Function already exists in the library")
        }
        lib.functions.append(ScriptFunction(name: fname, description: description, flags: flags, ref: fref))
        return 0
    }

    /// The flags table at the top of the stack: an array of flag names.
    private func readFunctionFlags(_ L: OpaquePointer) -> ScriptFlags? {
        var flags: ScriptFlags = []
        var j: Int32 = 1
        while true {
            lua_rawgeti(L, -1, j)
            j += 1
            if lua_type(L, -1) == LUA_TNIL {
                luaPop(L, 1)
                return flags
            }
            guard lua_type(L, -1) == LUA_TSTRING, let b = luaBytes(L, -1),
                  let f = ScriptFlags.names.first(where: { Array($0.0.utf8) == b }) else {
                luaPop(L, 1)
                return nil
            }
            flags.insert(f.1)
            luaPop(L, 1)
        }
    }

    /// FCALL / FCALL_RO (Redis's fcallCommandGeneric).
    func fcallCommand(_ a: Arguments, readOnly: Bool) {
        guard let s = scripting, let found = s.functions[lowercasedName(Array(a[1]))] else {
            replyError("ERR Function not found")
            return
        }
        guard let numkeys = parseInteger(a[2]) else {
            replyError("ERR Bad number of keys provided")
            return
        }
        if numkeys > a.count - 3 {
            replyError("ERR Number of keys can't be greater than number of args")
            return
        } else if numkeys < 0 {
            replyError("ERR Number of keys can't be negative")
            return
        }
        let f = found.function
        guard prepareScriptRun(s, flags: f.flags, readOnlyCommand: readOnly, name: f.name) else { return }
        s.isFunctionRun = true
        s.clearEvalGlobals()
        let L = s.L
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.errorHandlerRef)
        lua_rawgeti(L, LUA_REGISTRYINDEX, f.ref)
        pushArray(L, a, from: 3, count: numkeys)
        pushArray(L, a, from: 3 + numkeys, count: a.count - 3 - numkeys)
        runScriptFunction(s, nargs: 2)
        luaPop(L, 1)   // the error handler
    }

    private func pushArray(_ L: OpaquePointer, _ a: Arguments, from: Int, count: Int) {
        lua_createtable(L, Int32(count), 0)
        for j in 0..<count {
            luaPushBytes(L, a[from + j])
            lua_rawseti(L, -2, Int32(j + 1))
        }
    }

    /// Every library goes (FUNCTION FLUSH, FUNCTION RESTORE FLUSH, loading an RDB file).
    func flushFunctions() {
        guard let s = scripting else { return }
        for lib in s.libraries { unlinkLibrary(lib, s) }
    }

    /// Replaces every library by those in `codes` (an RDB file's), all or nothing.
    /// Returns the error text of the first library that does not load.
    func replaceFunctionLibraries(_ codes: [[UInt8]]) -> String? {
        if codes.isEmpty && (scripting?.libraries.isEmpty ?? true) { return nil }
        let s = scriptingState
        let previous = s.libraries
        flushFunctions()
        for code in codes {
            if case .failure(let e) = createFunctionLibrary(code, replace: false, into: s) {
                flushFunctions()
                reloadFunctionLibraries(previous)
                return e.message
            }
        }
        return nil
    }
}

/// A library's load-time code may run at most 500 ms (Redis's load timeout).
let functionLoadTimeoutHook: @convention(c) (OpaquePointer?, UnsafeMutablePointer<lua_Debug>?) -> Void = { L, _ in
    let L = L!
    lua_getfield(L, LUA_REGISTRYINDEX, "swiftredis_engine")
    let engine = Unmanaged<Engine>.fromOpaque(lua_touserdata(L, -1)!).takeUnretainedValue()
    lua_settop(L, -2)
    guard let s = engine.scripting, s.loadingLibrary != nil else { return }
    if monotonicMilliseconds() - s.loadStartedMonotonic > 500 {
        // Raising needs a longjmp from C: the hook swaps in a raising one.
        lua_sethook(L, swiftredis_timeout_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1)
    }
}
