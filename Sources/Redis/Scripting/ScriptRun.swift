import CLua
import Glibc
import Logging
import Reactor

/// Running scripts: preparing a run (Redis's scriptPrepareForRun), calling the Lua
/// function, turning its result or error into the reply, and the `redis.*` functions.
extension Engine {
    /// The interpreter, made on first use.
    var scriptingState: ScriptingState {
        if let s = scripting { return s }
        let s = ScriptingState(engine: self)
        scripting = s
        return s
    }

    /// A running script called redis.set_repl without REPL_REPLICA: its writes stay here.
    var scriptReplicationOff: Bool {
        guard let s = scripting else { return false }
        return s.running && !s.replicate
    }

    /// Whether a script is running now (blocking commands then reply as on timeout).
    var scriptRunning: Bool { scripting?.running ?? false }

    /// Redis's scriptPrepareForRun checks for a script with a shebang (or a function), then
    /// the run's flags. (A read-only replica answers as processCommand does for the
    /// write flag such scripts get.) Replies the error and returns false when the script may not run.
    func prepareScriptRun(_ s: ScriptingState, flags: ScriptFlags, readOnlyCommand: Bool, name: [UInt8]) -> Bool {
        if !flags.contains(.evalCompat) {
            if !flags.contains(.noWrites) {
                if replication.master != nil && config.replicaReadOnly && replication.master?.client !== client {
                    replyError("READONLY You can't write against a read only replica.")
                    return false
                }
                if !persistence.lastBackgroundSaveOK && config.stopWritesOnBgsaveError {
                    replyError("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.")
                    return false
                }
                if readOnlyCommand {
                    replyError("ERR Can not execute a script with write flag using *_ro command.")
                    return false
                }
                if config.minReplicasToWrite > 0 && !hasEnoughGoodReplicas {
                    replyError("NOREPLICAS Not enough good replicas to write.")
                    return false
                }
            }
        }
        s.running = true
        s.resp = 2
        s.readOnly = readOnlyCommand || (!flags.contains(.evalCompat) && flags.contains(.noWrites))
        s.wrote = false
        s.allowOOM = flags.contains(.allowOOM)
        s.replicate = true
        s.runName = name
        s.caller.db = client.db
        s.startedMonotonic = monotonicMilliseconds()
        s.reportedSlow = false
        s.killed = false
        return true
    }

    /// Calls the function on top of the stack (above the error handler) with `nargs`
    /// arguments and replies its result or error to the running client.
    func runScriptFunction(_ s: ScriptingState, nargs: Int32) {
        let L = s.L
        let threshold = config.busyReplyThreshold
        if threshold > 0 { lua_sethook(L, scriptSlowHook, LUA_MASKCOUNT, 100_000) }
        let err = lua_pcall(L, nargs, 1, -Int32(nargs) - 2)
        lua_sethook(L, nil, 0, 0)
        s.running = false
        s.killed = false
        if s.reportedSlow {
            logger.warning("Slow script detected: it ran for \(monotonicMilliseconds() - s.startedMonotonic) ms and has now finished.")
        }
        var reply = RESPWriter(resp3: resp3)
        if err != 0 {
            if lua_type(L, -1) != LUA_TTABLE {
                let msg = luaCString(L, -1) ?? Array("execution failure".utf8)
                reply.error(Array("ERR Error running script ".utf8) + s.runName + Array(", ".utf8) + Array(msg.prefix(100)) + [10])
            } else {
                var text: [UInt8] = []
                luaRawField(L, "err")
                if lua_isstring(L, -1) != 0 { text = luaCString(L, -1) ?? [] }
                luaPop(L, 1)
                luaRawField(L, "source")
                let source = lua_isstring(L, -1) != 0 ? luaCString(L, -1) : nil
                luaPop(L, 1)
                luaRawField(L, "line")
                let line = lua_isstring(L, -1) != 0 ? luaCString(L, -1) : nil
                luaPop(L, 1)
                luaRawField(L, "ignore_error_stats_update")
                reply.ignoreErrorStats = lua_toboolean(L, -1) != 0
                luaPop(L, 1)
                var message = [UInt8(ascii: "-")] + text
                if let source, let line {
                    message += Array(" script: ".utf8) + s.runName + Array(", on ".utf8) + source + [58] + line + [46]
                }
                reply.error(message)
            }
            luaPop(L, 1)
        } else {
            luaToRESP(L, &reply, scriptResp: s.resp)
        }
        // Lua's collector in small steps, as Redis does every 50 runs.
        s.runsSinceGC += 1
        if s.runsSinceGC == 50 {
            lua_gc(L, LUA_GCSTEP, 50)
            s.runsSinceGC = 0
        }
        reply.bytes.withUnsafeBytes { replyRaw($0) }
        // An error a command already counted (redis.call's) is not counted again.
        if reply.isError {
            if reply.ignoreErrorStats { client?.commandFailed = true } else { countScriptError(reply.bytes) }
        }
        // The script's writes went out one by one (wrapped in MULTI ... EXEC when several);
        // EVAL / FCALL itself never reaches replicas.
        propagationReplaced = true
    }

    /// An error reply built outside replyError: counted in errorstats and failed calls.
    private func countScriptError(_ bytes: [UInt8]) {
        stats.errorReplies += 1
        var end = 1
        while end < bytes.count && bytes[end] != 32 && bytes[end] != 13 { end += 1 }
        stats.countError(prefix: String(decoding: bytes[1..<end], as: UTF8.self))
        client?.commandFailed = true
    }

    /// A `redis.*` function (or the pcall replacement) called from Lua.
    func scriptCallback(_ L: OpaquePointer, _ mode: ScriptCallbackMode) -> Int32 {
        let s = scriptingState
        switch mode {
        case .call, .redisPcall:
            let raise = mode == .call
            guard s.running else {
                luaPushError(L, "redis.call/pcall can only be called inside a script invocation")
                return -1
            }
            return scriptRedisCall(L, s, raise: raise)
        case .pcall:
            let argc = lua_gettop(L)
            if argc == 0 {
                lua_pushstring(L, "bad argument #1 to 'pcall' (value expected)")
                return -1
            }
            lua_pushboolean(L, 1)
            lua_insert(L, 1)
            if lua_pcall(L, argc - 1, LUA_MULTRET, 0) != 0 {
                lua_remove(L, 1)
                if lua_type(L, -1) == LUA_TTABLE {
                    luaRawField(L, "err")
                    if lua_isstring(L, -1) != 0 { lua_replace(L, -2) }
                }
                lua_pushboolean(L, 0)
                lua_insert(L, 1)
            }
            return lua_gettop(L)
        case .sha1hex:
            if lua_gettop(L) != 1 {
                luaPushError(L, "wrong number of arguments")
                return -1
            }
            var len = 0
            let p = lua_tolstring(L, 1, &len)
            luaPushBytes(L, sha1Hex(UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : len)))
            return 1
        case .errorReply:
            if lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING {
                luaPushError(L, "wrong number or type of arguments")
                return 1
            }
            let e = luaCString(L, -1) ?? []
            luaPushError(L, e.first == UInt8(ascii: "-") ? e : [UInt8(ascii: "-")] + e)
            return 1
        case .statusReply:
            if lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING {
                luaPushError(L, "wrong number or type of arguments")
                return 1
            }
            lua_createtable(L, 0, 1)
            lua_pushvalue(L, -2)
            lua_setfield(L, -2, "ok")
            return 1
        case .log:
            let argc = lua_gettop(L)
            if argc < 2 {
                luaPushError(L, "redis.log() requires two arguments or more.")
                return -1
            }
            if lua_isnumber(L, -argc) == 0 {
                luaPushError(L, "First argument must be a number (log level).")
                return -1
            }
            let level = Int(lua_tonumber(L, -argc))
            if level < 0 || level > 3 {
                luaPushError(L, "Invalid debug level.")
                return -1
            }
            var text: [UInt8] = []
            for j in 1..<argc {
                var len = 0
                if let p = lua_tolstring(L, -argc + j, &len) {
                    if j != 1 { text.append(32) }
                    text += UnsafeRawBufferPointer(start: p, count: len)
                }
            }
            let message = Logger.Message(stringLiteral: String(decoding: text, as: UTF8.self))
            switch level {
            case 0: logger.debug(message)
            case 1: logger.info(message)
            case 2: logger.notice(message)
            default: logger.warning(message)
            }
            return 0
        case .setresp:
            guard s.running else {
                luaPushError(L, "redis.setresp can only be called inside a script invocation")
                return -1
            }
            if lua_gettop(L) != 1 {
                luaPushError(L, "redis.setresp() requires one argument.")
                return -1
            }
            let v = lua_tonumber(L, 1)
            if v != 2 && v != 3 && !(Int32(exactly: v.rounded(.towardZero)).map { $0 == 2 || $0 == 3 } ?? false) {
                luaPushError(L, "RESP version must be 2 or 3.")
                return -1
            }
            s.resp = Int(v.rounded(.towardZero))
            return 0
        case .setRepl:
            guard s.running else {
                luaPushError(L, "redis.set_repl can only be called inside a script invocation")
                return -1
            }
            if lua_gettop(L) != 1 {
                luaPushError(L, "redis.set_repl() requires two arguments.")
                return -1
            }
            let flags = Int(Int32(truncatingIfNeeded: Int64(lua_tonumber(L, -1).rounded(.towardZero))))
            if flags & ~3 != 0 {
                luaPushError(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
                return -1
            }
            s.replicate = flags & 2 != 0
            return 0
        case .replicateCommands:
            lua_pushboolean(L, 1)
            return 1
        case .breakpoint:
            lua_pushboolean(L, 0)
            return 1
        case .debug:
            return 0
        case .aclCheckCommand:
            guard s.running else {
                luaPushError(L, "redis.acl_check_cmd can only be called inside a script invocation")
                return -1
            }
            guard let parts = scriptArguments(L) else { return -1 }
            if scriptCommandLookup(parts) == nil {
                luaPushError(L, "Invalid command passed to redis.acl_check_cmd()")
                return -1
            }
            lua_pushboolean(L, 1)   // one user, allowed everything
            return 1
        case .registerFunction:
            return registerFunctionCallback(L, s)
        }
    }

    /// The arguments of redis.call as bytes: strings as they are, numbers as "%.17g".
    /// Pops them. Nil (with the error pushed) when there are none or one is neither.
    private func scriptArguments(_ L: OpaquePointer) -> [[UInt8]]? {
        let argc = lua_gettop(L)
        if argc == 0 {
            luaPushError(L, "Please specify at least one argument for this redis lib call")
            return nil
        }
        var parts: [[UInt8]] = []
        parts.reserveCapacity(Int(argc))
        for j in 1...argc {
            if lua_type(L, j) == LUA_TNUMBER {
                parts.append(formatDouble(lua_tonumber(L, j)))
            } else if let b = luaBytes(L, j), lua_type(L, j) == LUA_TSTRING {
                parts.append(b)
            } else {
                break
            }
        }
        luaPop(L, argc)
        if parts.count != Int(argc) {
            luaPushError(L, "Lua redis lib command arguments must be strings or integers")
            return nil
        }
        return parts
    }

    /// The command for a script's arguments, as Redis's lookupCommand finds it (an unknown
    /// subcommand is an unknown command).
    private func scriptCommandLookup(_ parts: [[UInt8]]) -> Command? {
        guard var cmd = parts[0].withUnsafeBytes({ commands.find($0) }) else { return nil }
        if cmd.isContainer && parts.count >= 2 {
            guard let sub = parts[1].withUnsafeBytes({ cmd.subcommandLookup!.find($0) }) else { return nil }
            cmd = sub
        }
        return cmd
    }

    /// redis.call / redis.pcall: runs the command as the script's client, its reply read
    /// back into a Lua value (Redis's luaRedisGenericCommand and scriptCall).
    private func scriptRedisCall(_ L: OpaquePointer, _ s: ScriptingState, raise: Bool) -> Int32 {
        guard let parts = scriptArguments(L) else { return raise ? -1 : 1 }
        if let failure = scriptCallRefusal(parts, s) {
            // Counted here, as Redis's scriptCall does; the script's reply is not counted.
            stats.errorReplies += 1
            var code = "ERR"
            if failure.first == UInt8(ascii: "-") {
                code = String(decoding: failure.dropFirst().prefix { $0 != 32 }, as: UTF8.self)
            }
            stats.countError(prefix: code)
            if let cmd = scriptCommandLookup(parts) {
                cmd.rejectedCalls += 1
                stats.rejectedCalls += 1
            }
            luaPushError(L, failure)
            lua_pushboolean(L, 1)
            lua_setfield(L, -2, "ignore_error_stats_update")
            return raise ? -1 : 1
        }
        let savedClient = client
        let savedDb = db
        let savedOut = out
        let savedResp3 = resp3
        let savedReplaced = propagationReplaced
        client = s.caller
        db = databases[s.caller.db]
        resp3 = s.resp == 3
        s.scratch.pointee.buffer.clear()
        s.scratch.pointee.openRecord = -1
        s.scratch.pointee.open(token: s.caller.token)
        out = s.scratch
        OwnedArguments(parts).withArguments { commands.dispatch(self, s.caller, $0) }
        client = savedClient
        db = savedDb
        out = savedOut
        resp3 = savedResp3
        propagationReplaced = savedReplaced
        // A command that wrote to other clients (PUBLISH) left another record open.
        if let c = savedClient, !c.closing { out.pointee.open(token: c.token) }
        let buffer = s.scratch.pointee.buffer
        let reply = UnsafeRawBufferPointer(start: buffer.readPointer + ReplyStaging.headerSize,
                                           count: buffer.readable - ReplyStaging.headerSize)
        let isError = reply.first == UInt8(ascii: "-")
        var at = 0
        pushRESPAsLua(L, reply, &at)
        // A huge reply grew the scratch buffer: give the memory back.
        if s.scratch.pointee.buffer.capacity > 16 << 20 {
            s.scratch.pointee.buffer.free()
            s.scratch.pointee.buffer.reserveCapacity(64 * 1024)
        }
        s.scratch.pointee.openRecord = -1
        return raise && isError ? -1 : 1
    }

    /// Why a script may not run this command now (Redis's scriptCall checks), or nil.
    private func scriptCallRefusal(_ parts: [[UInt8]], _ s: ScriptingState) -> [UInt8]? {
        guard let cmd = scriptCommandLookup(parts) else { return Array("Unknown Redis command called from script".utf8) }
        let arity = cmd.arity
        if (arity > 0 && parts.count != arity) || parts.count < -arity {
            return Array("Wrong number of args calling Redis command from script".utf8)
        }
        if cmd.flags.contains(.noscript) { return Array("This Redis command is not allowed from script".utf8) }
        let isWrite = cmd.flags.contains(.write)
        if s.readOnly && (isWrite || cmd.pausedByWrites) {
            return Array("Write commands are not allowed from read-only scripts.".utf8)
        }
        if isWrite && !s.wrote {
            if replication.master != nil && config.replicaReadOnly && replication.master?.client !== client {
                return Array("-READONLY You can't write against a read only replica.".utf8)
            }
            if !persistence.lastBackgroundSaveOK && deniedBySaveError(cmd) {
                return [UInt8(ascii: "-")] + misconfError
            }
            if config.minReplicasToWrite > 0 && !hasEnoughGoodReplicas {
                return Array("-NOREPLICAS Not enough good replicas to write.".utf8)
            }
        }
        if scriptCallOutOfMemory(cmd, wrote: s.wrote, allowOOM: s.allowOOM) {
            return [UInt8(ascii: "-")] + oomError
        }
        if isWrite { s.wrote = true }
        return nil
    }
}

/// Every 100,000 Lua instructions: once a script has run past busy-reply-threshold, the
/// engine answers other clients (-BUSY, SCRIPT KILL, FUNCTION KILL) from here, as Redis
/// does from its Lua hook; the first time, the slow script is logged.
let scriptSlowHook: @convention(c) (OpaquePointer?, UnsafeMutablePointer<lua_Debug>?) -> Void = { L, _ in
    let L = L!
    lua_getfield(L, LUA_REGISTRYINDEX, "swiftredis_engine")
    let engine = Unmanaged<Engine>.fromOpaque(lua_touserdata(L, -1)!).takeUnretainedValue()
    lua_settop(L, -2)
    guard let s = engine.scripting, s.running else { return }
    let elapsed = monotonicMilliseconds() - s.startedMonotonic
    guard elapsed >= Int64(engine.config.busyReplyThreshold) else { return }
    if !s.reportedSlow {
        s.reportedSlow = true
        engine.logger.warning("Slow script detected: still in execution after \(elapsed) milliseconds. You can try killing the script using the SCRIPT KILL command.")
    }
    engine.serveClientsWhileBusy()
    if s.killed {
        engine.logger.warning("Lua script killed by user with SCRIPT KILL.")
        lua_sethook(L, swiftredis_kill_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1)
    }
}
