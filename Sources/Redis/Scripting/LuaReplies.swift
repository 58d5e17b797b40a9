import CLua
import Glibc

/// A reply built in memory, for replies whose lengths are known only at the end (a Lua
/// table's array part ends at its first nil).
struct RESPWriter {
    var bytes: [UInt8] = []
    let resp3: Bool
    var isError = false
    /// The error came from a command's reply, already counted in errorstats.
    var ignoreErrorStats = false

    init(resp3: Bool) { self.resp3 = resp3 }

    mutating func header(_ prefix: UInt8, _ n: Int) {
        bytes.append(prefix)
        bytes += Array(String(n).utf8)
        bytes += [13, 10]
    }

    mutating func bulk(_ b: UnsafeRawBufferPointer) {
        header(UInt8(ascii: "$"), b.count)
        bytes += b
        bytes += [13, 10]
    }

    mutating func bulk(_ b: [UInt8]) { b.withUnsafeBytes { bulk($0) } }

    mutating func integer(_ n: Int64) { header(UInt8(ascii: ":"), Int(n)) }

    mutating func null() { bytes += resp3 ? Array("_\r\n".utf8) : Array("$-1\r\n".utf8) }

    /// addReplyErrorLength over a text that starts with '-' or gets "-ERR ": CR and LF
    /// become spaces.
    mutating func error(_ text: [UInt8]) {
        isError = bytes.isEmpty
        var t = text
        for i in t.indices where t[i] == 13 || t[i] == 10 { t[i] = 32 }
        if t.first != UInt8(ascii: "-") { bytes += Array("-ERR ".utf8) }
        bytes += t
        bytes += [13, 10]
    }

    mutating func double(_ d: Double) {
        let text = formatDouble(d)
        if resp3 {
            bytes.append(UInt8(ascii: ","))
            bytes += text
            bytes += [13, 10]
        } else {
            bulk(text)
        }
    }
}

/// Lua -> RESP, Redis's luaReplyToRedisReply: consumes the value on top of the stack.
/// `scriptResp` is the script's redis.setresp (it decides how booleans are sent).
func luaToRESP(_ L: OpaquePointer, _ w: inout RESPWriter, scriptResp: Int) {
    if lua_checkstack(L, 4) == 0 {
        w.error(Array("reached lua stack limit".utf8))
        luaPop(L, 1)
        return
    }
    switch lua_type(L, -1) {
    case LUA_TSTRING:
        var len = 0
        let p = lua_tolstring(L, -1, &len)
        w.bulk(UnsafeRawBufferPointer(start: p, count: len))
    case LUA_TBOOLEAN:
        let b = lua_toboolean(L, -1) != 0
        if scriptResp == 2 {
            if b { w.integer(1) } else { w.null() }
        } else if w.resp3 {
            w.bytes += b ? Array("#t\r\n".utf8) : Array("#f\r\n".utf8)
        } else {
            w.integer(b ? 1 : 0)
        }
    case LUA_TNUMBER:
        w.integer(truncatedToInteger(lua_tonumber(L, -1)))
    case LUA_TTABLE:
        tableToRESP(L, &w, scriptResp: scriptResp)
        return
    default:
        w.null()
    }
    luaPop(L, 1)
}

/// C's (long long) cast on x86-64: out of range and NaN give INT64_MIN.
func truncatedToInteger(_ d: Double) -> Int64 {
    if d.isNaN || d >= 9.2233720368547758e18 || d < -9.2233720368547758e18 { return Int64.min }
    return Int64(d)
}

/// A table: {err=}, {ok=}, {double=}, {big_number=}, {verbatim_string=}, {map=}, {set=},
/// else an array up to the first nil. Consumes the table.
private func tableToRESP(_ L: OpaquePointer, _ w: inout RESPWriter, scriptResp: Int) {
    lua_pushstring(L, "err")
    lua_rawget(L, -2)
    if lua_type(L, -1) == LUA_TSTRING {
        luaPop(L, 1)
        lua_getfield(L, -1, "err")
        let msg = luaCString(L, -1) ?? []
        luaPop(L, 1)
        luaRawField(L, "ignore_error_stats_update")
        if w.bytes.isEmpty && lua_toboolean(L, -1) != 0 { w.ignoreErrorStats = true }
        luaPop(L, 1)
        w.error([UInt8(ascii: "-")] + msg)
        luaPop(L, 1)
        return
    }
    luaPop(L, 1)

    lua_pushstring(L, "ok")
    lua_rawget(L, -2)
    if lua_type(L, -1) == LUA_TSTRING {
        var ok = luaCString(L, -1) ?? []
        for i in ok.indices where ok[i] == 13 || ok[i] == 10 { ok[i] = 32 }
        w.bytes.append(UInt8(ascii: "+"))
        w.bytes += ok
        w.bytes += [13, 10]
        luaPop(L, 2)
        return
    }
    luaPop(L, 1)

    lua_pushstring(L, "double")
    lua_rawget(L, -2)
    if lua_type(L, -1) == LUA_TNUMBER {
        w.double(lua_tonumber(L, -1))
        luaPop(L, 2)
        return
    }
    luaPop(L, 1)

    lua_pushstring(L, "big_number")
    lua_rawget(L, -2)
    if lua_type(L, -1) == LUA_TSTRING {
        var n = luaBytes(L, -1) ?? []
        for i in n.indices where n[i] == 13 || n[i] == 10 { n[i] = 32 }
        if w.resp3 {
            w.bytes.append(UInt8(ascii: "("))
            w.bytes += n
            w.bytes += [13, 10]
        } else {
            w.bulk(n)
        }
        luaPop(L, 2)
        return
    }
    luaPop(L, 1)

    lua_pushstring(L, "verbatim_string")
    lua_rawget(L, -2)
    if lua_type(L, -1) == LUA_TTABLE {
        lua_pushstring(L, "format")
        lua_rawget(L, -2)
        if lua_type(L, -1) == LUA_TSTRING {
            let format = luaCString(L, -1) ?? []
            lua_pushstring(L, "string")
            lua_rawget(L, -3)
            if lua_type(L, -1) == LUA_TSTRING {
                let text = luaBytes(L, -1) ?? []
                if w.resp3 {
                    w.header(UInt8(ascii: "="), text.count + 4)
                    var f = Array(format.prefix(3))
                    while f.count < 3 { f.append(0) }
                    w.bytes += f + [UInt8(ascii: ":")] + text + [13, 10]
                } else {
                    w.bulk(text)
                }
                luaPop(L, 4)
                return
            }
            luaPop(L, 1)
        }
        luaPop(L, 1)
    }
    luaPop(L, 1)

    lua_pushstring(L, "map")
    lua_rawget(L, -2)
    if lua_type(L, -1) == LUA_TTABLE {
        var inner = RESPWriter(resp3: w.resp3)
        var n = 0
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            lua_pushvalue(L, -2)
            luaToRESP(L, &inner, scriptResp: scriptResp)
            luaToRESP(L, &inner, scriptResp: scriptResp)
            n += 1
        }
        if w.resp3 { w.header(UInt8(ascii: "%"), n) } else { w.header(UInt8(ascii: "*"), 2 * n) }
        w.bytes += inner.bytes
        luaPop(L, 2)
        return
    }
    luaPop(L, 1)

    lua_pushstring(L, "set")
    lua_rawget(L, -2)
    if lua_type(L, -1) == LUA_TTABLE {
        var inner = RESPWriter(resp3: w.resp3)
        var n = 0
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            luaPop(L, 1)
            lua_pushvalue(L, -1)
            luaToRESP(L, &inner, scriptResp: scriptResp)
            n += 1
        }
        w.header(UInt8(ascii: w.resp3 ? "~" : "*"), n)
        w.bytes += inner.bytes
        luaPop(L, 2)
        return
    }
    luaPop(L, 1)

    var inner = RESPWriter(resp3: w.resp3)
    var n = 0
    var j: Int32 = 1
    while true {
        lua_rawgeti(L, -1, j)
        j += 1
        if lua_type(L, -1) == LUA_TNIL {
            luaPop(L, 1)
            break
        }
        luaToRESP(L, &inner, scriptResp: scriptResp)
        n += 1
    }
    w.header(UInt8(ascii: "*"), n)
    w.bytes += inner.bytes
    luaPop(L, 1)
}

/// RESP -> Lua, Redis's redisProtocolToLuaType: pushes the value of the reply at `at`
/// (a reply this server wrote, so well formed) and moves `at` past it. `push` false
/// skips a value (attributes).
func pushRESPAsLua(_ L: OpaquePointer, _ r: UnsafeRawBufferPointer, _ at: inout Int, push: Bool = true) {
    guard at < r.count else {
        if push { lua_pushnil(L) }
        return
    }
    _ = lua_checkstack(L, 5)
    let type = r[at]
    // The line after the type byte.
    var end = at + 1
    while end + 1 < r.count && !(r[end] == 13 && r[end + 1] == 10) { end += 1 }
    let line = UnsafeRawBufferPointer(rebasing: r[(at + 1)..<end])
    at = end + 2
    let number = { () -> Int in parseInteger(line) ?? 0 }
    switch type {
    case UInt8(ascii: "+"):
        guard push else { return }
        lua_createtable(L, 0, 1)
        luaPushBytes(L, line)
        lua_setfield(L, -2, "ok")
    case UInt8(ascii: "-"):
        guard push else { return }
        luaPushError(L, [UInt8(ascii: "-")] + Array(line))
        lua_pushboolean(L, 1)
        lua_setfield(L, -2, "ignore_error_stats_update")
    case UInt8(ascii: ":"):
        if push { lua_pushnumber(L, Double(number())) }
    case UInt8(ascii: "$"), UInt8(ascii: "="):
        let n = number()
        if n < 0 {
            if push { lua_pushboolean(L, 0) }
            return
        }
        let body = UnsafeRawBufferPointer(rebasing: r[at..<min(r.count, at + n)])
        at += n + 2
        guard push else { return }
        if type == UInt8(ascii: "$") {
            luaPushBytes(L, body)
        } else {
            lua_createtable(L, 0, 1)
            lua_createtable(L, 0, 2)
            luaPushBytes(L, UnsafeRawBufferPointer(rebasing: body[(body.startIndex + min(4, body.count))...]))
            lua_setfield(L, -2, "string")
            luaPushBytes(L, UnsafeRawBufferPointer(rebasing: body[body.startIndex..<(body.startIndex + min(3, body.count))]))
            lua_setfield(L, -2, "format")
            lua_setfield(L, -2, "verbatim_string")
        }
    case UInt8(ascii: "*"), UInt8(ascii: ">"):
        let n = number()
        if n < 0 {
            if push { lua_pushboolean(L, 0) }
            return
        }
        if push { lua_createtable(L, Int32(n), 0) }
        for j in 0..<n {
            pushRESPAsLua(L, r, &at, push: push)
            if push { lua_rawseti(L, -2, Int32(j + 1)) }
        }
    case UInt8(ascii: "%"):
        let n = number()
        if push {
            lua_createtable(L, 0, 1)
            lua_pushstring(L, "map")
            lua_createtable(L, 0, Int32(n))
        }
        for _ in 0..<n {
            pushRESPAsLua(L, r, &at, push: push)
            pushRESPAsLua(L, r, &at, push: push)
            if push { lua_settable(L, -3) }
        }
        if push { lua_settable(L, -3) }
    case UInt8(ascii: "~"):
        let n = number()
        if push {
            lua_createtable(L, 0, 1)
            lua_pushstring(L, "set")
            lua_createtable(L, 0, Int32(n))
        }
        for _ in 0..<n {
            pushRESPAsLua(L, r, &at, push: push)
            if push {
                lua_pushboolean(L, 1)
                lua_settable(L, -3)
            }
        }
        if push { lua_settable(L, -3) }
    case UInt8(ascii: "_"):
        if push { lua_pushnil(L) }
    case UInt8(ascii: "#"):
        if push { lua_pushboolean(L, line.first == UInt8(ascii: "t") ? 1 : 0) }
    case UInt8(ascii: ","):
        guard push else { return }
        var text = Array(line)
        text.append(0)
        let d = text.withUnsafeBufferPointer { strtod(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), nil) }
        lua_createtable(L, 0, 1)
        lua_pushnumber(L, d)
        lua_setfield(L, -2, "double")
    case UInt8(ascii: "("):
        guard push else { return }
        lua_createtable(L, 0, 1)
        luaPushBytes(L, line)
        lua_setfield(L, -2, "big_number")
    case UInt8(ascii: "|"):
        let n = number()
        for _ in 0..<(2 * n) { pushRESPAsLua(L, r, &at, push: false) }
        pushRESPAsLua(L, r, &at, push: push)
    default:
        if push { lua_pushnil(L) }
    }
}
