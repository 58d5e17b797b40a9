import CLua
import Glibc
import Reactor

/// The engine's Lua interpreter (Redis's lctx): one lua_State, made on the first script so
/// that servers that never script pay nothing, with Redis 7.0's libraries, `redis` API
/// and protections. Touched only on the keyspace thread.
final class ScriptingState {
    let L: OpaquePointer
    /// Registry reference of the real globals table (scripts see a read-only proxy).
    let globalsRef: Int32
    /// Registry reference of __redis__err__handler.
    let errorHandlerRef: Int32
    /// EVAL scripts by lowercase SHA-1 (SCRIPT LOAD, EVAL): the body and shebang flags.
    var scripts: [[UInt8]: EvalScript] = [:]
    /// Bytes of the cached script bodies and names (used_memory_scripts_eval).
    var scriptsMemory = 0
    /// The client that scripts' redis.call commands run as (Redis's lua_client).
    let caller: Client
    /// Where those commands' replies go before they are read back into Lua.
    let scratch: UnsafeMutablePointer<ReplyStaging>

    // The run in progress (Redis's scriptRunCtx).
    var running = false
    var resp = 2
    var readOnly = false
    /// A write command ran: later writes cannot be refused on server state.
    var wrote = false
    /// The script declared allow-oom: its calls ignore maxmemory (Eviction.swift).
    var allowOOM = false
    /// redis.set_repl: whether the script's writes reach replicas.
    var replicate = true
    /// The SHA (EVAL) or function name of the run, for error messages.
    var runName: [UInt8] = []
    var startedMonotonic: Int64 = 0
    /// The run went past busy-reply-threshold and was logged.
    var reportedSlow = false
    /// SCRIPT KILL or FUNCTION KILL stopped the run.
    var killed = false
    /// A function library being loaded: redis.register_function adds to it.
    var loadingLibrary: FunctionLibrary?
    /// Function libraries in load order, and functions by name.
    var libraries: [FunctionLibrary] = []
    var functions: [[UInt8]: (library: FunctionLibrary, function: ScriptFunction)] = [:]
    var isFunctionRun = false
    /// When the library being loaded started (its code may run 500 ms).
    var loadStartedMonotonic: Int64 = 0
    /// Registry references of the globals proxy's two __index closures: the full
    /// globals, and FUNCTION LOAD's load-time API.
    var runIndexRef: Int32 = 0
    var loadIndexRef: Int32 = 0
    /// Runs since Lua's collector last took a step.
    var runsSinceGC = 0

    init(engine: Engine) {
        L = luaL_newstate()!
        caller = Client(id: 0, token: UInt64.max, reactor: 0, fd: -1, peer: "", local: "", now: engine.now)
        caller.authenticated = true
        scratch = .allocate(capacity: 1)
        scratch.initialize(to: ReplyStaging())
        lua_pushlightuserdata(L, Unmanaged.passUnretained(engine).toOpaque())
        lua_setfield(L, LUA_REGISTRYINDEX, "swiftredis_engine")
        (globalsRef, errorHandlerRef) = ScriptingState.setUp(L)
        (runIndexRef, loadIndexRef) = ScriptingState.setUpLoadGlobals(L)
    }

    /// The globals FUNCTION LOAD's code sees: only `redis` with register_function, log,
    /// the log levels and the version; any other name raises, as in Redis.
    private static func setUpLoadGlobals(_ L: OpaquePointer) -> (Int32, Int32) {
        _ = lua_getmetatable(L, LUA_GLOBALSINDEX)
        lua_getfield(L, -1, "__index")
        let runIndex = luaL_ref(L, LUA_REGISTRYINDEX)
        luaPop(L, 1)
        lua_createtable(L, 0, 1)            // the load-time globals
        lua_createtable(L, 0, 8)            // their `redis`
        pushCallback(L, .registerFunction)
        lua_setfield(L, -2, "register_function")
        pushCallback(L, .log)
        lua_setfield(L, -2, "log")
        let numbers: [(String, Double)] = [
            ("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3),
            ("REDIS_VERSION_NUM", Double(0x07_00_0F)),
        ]
        for (name, value) in numbers {
            lua_pushnumber(L, value)
            lua_setfield(L, -2, name)
        }
        lua_pushstring(L, redisCompatibleVersion)
        lua_setfield(L, -2, "REDIS_VERSION")
        swiftredis_protect(L, 1)
        lua_setfield(L, -2, "redis")
        swiftredis_push_globals_index(L)
        let loadIndex = luaL_ref(L, LUA_REGISTRYINDEX)
        return (runIndex, loadIndex)
    }

    /// Points the globals at FUNCTION LOAD's API (true) or back at the full globals.
    func useLoadGlobals(_ load: Bool) {
        _ = lua_getmetatable(L, LUA_GLOBALSINDEX)
        lua_pushstring(L, "__index")
        lua_rawgeti(L, LUA_REGISTRYINDEX, load ? loadIndexRef : runIndexRef)
        lua_rawset(L, -3)
        luaPop(L, 1)
    }

    deinit {
        lua_close(L)
        scratch.deinitialize(count: 1)
        scratch.deallocate()
    }

    /// Loads the libraries and the `redis` table, installs the error handler, then hides
    /// the globals behind read-only proxies. Returns the registry references of the real
    /// globals table and of the error handler.
    private static func setUp(_ L: OpaquePointer) -> (Int32, Int32) {
        // Redis 7.0's libraries; struct and cmsgpack are not packaged by Debian.
        loadLibrary(L, "", luaopen_base)
        loadLibrary(L, "table", luaopen_table)
        loadLibrary(L, "string", luaopen_string)
        loadLibrary(L, "math", luaopen_math)
        loadLibrary(L, "debug", luaopen_debug)
        loadLibrary(L, "cjson", luaopen_cjson)
        loadLibrary(L, "bit", luaopen_bit)
        // Globals Redis 7.0.15 scripts do not see.
        for name in ["dofile", "loadfile", "print", "getfenv", "setfenv", "newproxy"] {
            lua_pushnil(L)
            lua_setfield(L, LUA_GLOBALSINDEX, name)
        }
        lua_pushcclosure(L, swiftredis_rawset, 0)
        lua_setfield(L, LUA_GLOBALSINDEX, "rawset")
        lua_pushcclosure(L, swiftredis_setmetatable, 0)
        lua_setfield(L, LUA_GLOBALSINDEX, "setmetatable")
        pushCallback(L, .pcall)
        lua_setfield(L, LUA_GLOBALSINDEX, "pcall")

        lua_createtable(L, 0, 32)
        let api: [(String, ScriptCallbackMode)] = [
            ("call", .call), ("pcall", .redisPcall), ("log", .log), ("setresp", .setresp),
            ("sha1hex", .sha1hex), ("error_reply", .errorReply), ("status_reply", .statusReply),
            ("set_repl", .setRepl), ("replicate_commands", .replicateCommands),
            ("breakpoint", .breakpoint), ("debug", .debug), ("acl_check_cmd", .aclCheckCommand),
        ]
        for (name, mode) in api {
            pushCallback(L, mode)
            lua_setfield(L, -2, name)
        }
        let numbers: [(String, Double)] = [
            ("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3),
            ("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3),
            ("REDIS_VERSION_NUM", Double(0x07_00_0F)),
        ]
        for (name, value) in numbers {
            lua_pushnumber(L, value)
            lua_setfield(L, -2, name)
        }
        lua_pushstring(L, redisCompatibleVersion)
        lua_setfield(L, -2, "REDIS_VERSION")
        lua_setfield(L, LUA_GLOBALSINDEX, "redis")

        lua_getfield(L, LUA_GLOBALSINDEX, "math")
        lua_pushcclosure(L, swiftredis_math_random, 0)
        lua_setfield(L, -2, "random")
        lua_pushcclosure(L, swiftredis_math_randomseed, 0)
        lua_setfield(L, -2, "randomseed")
        lua_settop(L, 0)

        // Redis 7.0's error handler: errors become {err=..., source=..., line=...}
        // naming the script's line (the caller's when a C function raised).
        let handler = """
            local dbg = debug
            debug = nil
            function __redis__err__handler(err)
              local i = dbg.getinfo(2,'nSl')
              if i and i.what == 'C' then
                i = dbg.getinfo(3,'nSl')
              end
              if type(err) ~= 'table' then
                err = {err='ERR ' .. tostring(err)}  end  if i then
                err['source'] = i.source
                err['line'] = i.currentline
              end  return err
            end

            """
        _ = handler.withCString { luaL_loadbuffer(L, $0, strlen($0), "@err_handler_def") }
        _ = lua_pcall(L, 0, 0, 0)
        lua_getfield(L, LUA_GLOBALSINDEX, "__redis__err__handler")
        let handlerRef = luaL_ref(L, LUA_REGISTRYINDEX)

        // Read-only libraries: each global table is replaced by a proxy whose writes
        // raise "Attempt to modify a readonly table".
        for name in ["redis", "string", "math", "table", "cjson", "bit", "coroutine"] {
            lua_getfield(L, LUA_GLOBALSINDEX, name)
            if lua_type(L, -1) == LUA_TTABLE {
                swiftredis_protect(L, 0)
                lua_setfield(L, LUA_GLOBALSINDEX, name)
            } else {
                lua_settop(L, -2)
            }
        }
        // Strings' methods go through the string proxy too (getmetatable('').__index is
        // `string`, and cannot be used to change the library).
        lua_pushstring(L, "")
        _ = lua_getmetatable(L, -1)
        lua_getfield(L, LUA_GLOBALSINDEX, "string")
        lua_setfield(L, -2, "__index")
        lua_settop(L, 0)
        lua_pushvalue(L, LUA_GLOBALSINDEX)
        swiftredis_install_proxy_aware(L)
        lua_settop(L, 0)
        // The globals: reads of missing names raise, writes raise; `_G` is the proxy.
        lua_pushvalue(L, LUA_GLOBALSINDEX)
        lua_pushvalue(L, -1)
        let globals = luaL_ref(L, LUA_REGISTRYINDEX)
        swiftredis_protect(L, 1)
        lua_pushvalue(L, -1)
        lua_setfield(L, LUA_GLOBALSINDEX, "_G")
        lua_replace(L, LUA_GLOBALSINDEX)
        lua_settop(L, 0)
        return (globals, handlerRef)
    }

    /// Opens a library; one that only returns its table (Debian's cjson, built without
    /// its global) is set as the global `name`, as Redis's bundled copy does itself.
    private static func loadLibrary(_ L: OpaquePointer, _ name: String, _ open: lua_CFunction) {
        lua_pushcclosure(L, open, 0)
        lua_pushstring(L, name)
        lua_call(L, 1, 1)
        if !name.isEmpty && lua_type(L, -1) == LUA_TTABLE {
            lua_getfield(L, LUA_GLOBALSINDEX, name)
            let missing = lua_type(L, -1) == LUA_TNIL
            luaPop(L, 1)
            if missing {
                lua_setfield(L, LUA_GLOBALSINDEX, name)
                return
            }
        }
        luaPop(L, 1)
    }

    /// Removes KEYS and ARGV: functions get theirs as arguments, and in Redis (which
    /// runs them in an interpreter of their own) never see an EVAL's.
    func clearEvalGlobals() {
        lua_rawgeti(L, LUA_REGISTRYINDEX, globalsRef)
        lua_pushnil(L)
        lua_setfield(L, -2, "KEYS")
        lua_pushnil(L)
        lua_setfield(L, -2, "ARGV")
        lua_settop(L, -2)
    }

    /// Sets KEYS or ARGV in the real globals (scripts cannot, the proxy refuses).
    func setGlobalArray(_ name: String, _ args: Arguments, from: Int, count: Int) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, globalsRef)
        lua_createtable(L, Int32(count), 0)
        for j in 0..<count {
            let a = args[from + j]
            lua_pushlstring(L, a.baseAddress?.assumingMemoryBound(to: CChar.self), a.count)
            lua_rawseti(L, -2, Int32(j + 1))
        }
        lua_setfield(L, -2, name)
        lua_settop(L, -2)
    }
}

/// A cached EVAL script.
struct EvalScript {
    let body: [UInt8]
    let flags: ScriptFlags
}

/// Shebang flags of a script or function (Redis's SCRIPT_FLAG_*).
struct ScriptFlags: OptionSet {
    let rawValue: Int
    static let noWrites = ScriptFlags(rawValue: 1 << 0)
    static let allowOOM = ScriptFlags(rawValue: 1 << 1)
    static let allowStale = ScriptFlags(rawValue: 1 << 2)
    static let noCluster = ScriptFlags(rawValue: 1 << 3)
    /// No shebang: EVAL's pre-7.0 behaviour.
    static let evalCompat = ScriptFlags(rawValue: 1 << 4)
    static let allowCrossSlotKeys = ScriptFlags(rawValue: 1 << 5)

    /// Flag names in Redis's scripts_flags_def order.
    static let names: [(String, ScriptFlags)] = [
        ("no-writes", .noWrites), ("allow-oom", .allowOOM), ("allow-stale", .allowStale),
        ("no-cluster", .noCluster), ("allow-cross-slot-keys", .allowCrossSlotKeys),
    ]
}

/// What a Lua-callable Swift function does (the trampoline's upvalue).
enum ScriptCallbackMode: Int32 {
    case call, redisPcall, pcall, log, setresp, sha1hex, errorReply, statusReply, setRepl
    case replicateCommands, breakpoint, debug, aclCheckCommand, registerFunction
}

/// Pushes a Lua C closure running `mode` of `scriptCallback`.
func pushCallback(_ L: OpaquePointer, _ mode: ScriptCallbackMode) {
    swiftredis_pushcallback(L, scriptCallback, mode.rawValue)
}

/// Entry from Lua into Swift. Never raises: it returns the number of results, or -1 with
/// an error value on the stack for the C trampoline to raise.
let scriptCallback: @convention(c) (OpaquePointer?, Int32) -> Int32 = { L, mode in
    let L = L!
    lua_getfield(L, LUA_REGISTRYINDEX, "swiftredis_engine")
    let engine = Unmanaged<Engine>.fromOpaque(lua_touserdata(L, -1)!).takeUnretainedValue()
    lua_settop(L, -2)
    return engine.scriptCallback(L, ScriptCallbackMode(rawValue: mode)!)
}

// MARK: small Lua helpers (the C API's macros)

@inline(__always) func luaPop(_ L: OpaquePointer, _ n: Int32) { lua_settop(L, -n - 1) }

/// Pushes field `name` of the table on top without metamethods: outside a protected call
/// an error from a script's __index would abort the process (redis-server 7.0.15 crashes
/// on `error(setmetatable({}, {__index = function() error() end}))`).
func luaRawField(_ L: OpaquePointer, _ name: String) {
    lua_pushstring(L, name)
    lua_rawget(L, -2)
}

func luaPushBytes(_ L: OpaquePointer, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
}

func luaPushBytes(_ L: OpaquePointer, _ bytes: UnsafeRawBufferPointer) {
    lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
}

/// The string (or number, converted in place) at `index`, or nil.
func luaBytes(_ L: OpaquePointer, _ index: Int32) -> [UInt8]? {
    var len = 0
    guard let p = lua_tolstring(L, index, &len) else { return nil }
    return Array(UnsafeRawBufferPointer(start: p, count: len))
}

/// The bytes up to the first NUL, as Redis's sdsnew(lua_tostring(...)) keeps.
func luaCString(_ L: OpaquePointer, _ index: Int32) -> [UInt8]? {
    guard let p = lua_tolstring(L, index, nil) else { return nil }
    return Array(UnsafeRawBufferPointer(start: p, count: strlen(p)))
}

/// Redis's luaPushErrorBuff: "-CODE msg" or "msg" (then code ERR) becomes the table
/// {err="CODE msg"}, trailing CR/LF trimmed.
func luaPushError(_ L: OpaquePointer, _ error: [UInt8]) {
    var code = Array("ERR".utf8)
    var msg = error
    if error.first == UInt8(ascii: "-") {
        if let space = error.firstIndex(of: 32) {
            code = Array(error[1..<space])
            msg = Array(error[(space + 1)...])
        } else {
            msg = Array(error[1...])
        }
    }
    // sdstrim(msg, "\r\n"): both ends.
    while let f = msg.first, f == 13 || f == 10 { msg.removeFirst() }
    while let l = msg.last, l == 13 || l == 10 { msg.removeLast() }
    // lua_pushstring stops at a NUL.
    var text = code + [32] + msg
    if let nul = text.firstIndex(of: 0) { text = Array(text[..<nul]) }
    lua_createtable(L, 0, 1)
    luaPushBytes(L, text)
    lua_setfield(L, -2, "err")
}

func luaPushError(_ L: OpaquePointer, _ error: String) { luaPushError(L, Array(error.utf8)) }
