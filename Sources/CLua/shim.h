/* Debian's Lua 5.1 (the version Redis embeds) with lua-cjson and LuaBitOp, plus the few
 * C functions whose errors must unwind with lua_error (a longjmp): raising from Swift
 * frames is not safe, so every function that may raise lives here and calls back into
 * Swift only for work that never raises. */
#ifndef SWIFT_REDIS_CLUA_SHIM_H
#define SWIFT_REDIS_CLUA_SHIM_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

extern int luaopen_cjson(lua_State *L);
extern int luaopen_bit(lua_State *L);

/* A Swift callback that never raises: it leaves its results on the stack and returns
 * their count, or -1 after pushing an error value that the trampoline raises. */
typedef int (*swiftredis_callback)(lua_State *L, int mode);

/* Calls the Swift callback held in upvalue 1 with the mode held in upvalue 2, and raises
 * the error it reports. */
static inline int swiftredis_trampoline(lua_State *L) {
    swiftredis_callback cb = (swiftredis_callback)lua_touserdata(L, lua_upvalueindex(1));
    int mode = (int)lua_tointeger(L, lua_upvalueindex(2));
    int n = cb(L, mode);
    if (n < 0) return lua_error(L);
    return n;
}

/* Pushes a C closure calling `cb` with `mode`. */
static inline void swiftredis_pushcallback(lua_State *L, swiftredis_callback cb, int mode) {
    lua_pushlightuserdata(L, (void *)cb);
    lua_pushinteger(L, mode);
    lua_pushcclosure(L, swiftredis_trampoline, 2);
}

/* __index of the globals proxy: the real globals (upvalue 1) or Redis's error. */
static inline int swiftredis_globals_index(lua_State *L) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) return 1;
    if (!lua_isstring(L, 2)) return 1;
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", lua_tostring(L, 2));
}

/* __newindex of every protected table (globals and the libraries). */
static inline int swiftredis_readonly_newindex(lua_State *L) {
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* rawset, refusing protected tables as Redis's read-only tables do (no position: the
 * error comes from a C function). */
static inline int swiftredis_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (lua_getmetatable(L, 1)) {
        lua_pushstring(L, "__swiftredis_readonly");
        lua_rawget(L, -2);
        int ro = lua_toboolean(L, -1);
        lua_pop(L, 2);
        if (ro) {
            lua_pushstring(L, "Attempt to modify a readonly table");
            return lua_error(L);
        }
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* setmetatable, refusing protected tables. */
static inline int swiftredis_setmetatable(lua_State *L) {
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (lua_getmetatable(L, 1)) {
        lua_pushstring(L, "__swiftredis_readonly");
        lua_rawget(L, -2);
        int ro = lua_toboolean(L, -1);
        lua_pop(L, 2);
        if (ro) {
            lua_pushstring(L, "Attempt to modify a readonly table");
            return lua_error(L);
        }
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* Replaces the table at the top of the stack by a read-only proxy of it: reads go to
 * the table (through `index`, when given, for the globals), writes raise. */
static inline void swiftredis_protect(lua_State *L, int globals) {
    int real = lua_gettop(L);
    lua_newtable(L);                      /* proxy */
    lua_newtable(L);                      /* its metatable */
    lua_pushstring(L, "__index");
    if (globals) {
        lua_pushvalue(L, real);
        lua_pushcclosure(L, swiftredis_globals_index, 1);
    } else {
        lua_pushvalue(L, real);
    }
    lua_rawset(L, -3);
    lua_pushstring(L, "__newindex");
    lua_pushcfunction(L, swiftredis_readonly_newindex);
    lua_rawset(L, -3);
    lua_pushstring(L, "__swiftredis_readonly");
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pushstring(L, "__swiftredis_target");
    lua_pushvalue(L, real);
    lua_rawset(L, -3);
    if (globals) {
        /* What getmetatable(_G) shows: a table, as Redis's globals have a metatable. */
        lua_pushstring(L, "__swiftredis_shown");
        lua_newtable(L);
        lua_rawset(L, -3);
    }
    lua_setmetatable(L, -2);
    lua_replace(L, real);
}

/* If the value at `index` is a read-only proxy, replaces it by the table it shows. */
static inline void swiftredis_unproxy(lua_State *L, int index) {
    if (lua_type(L, index) != LUA_TTABLE || !lua_getmetatable(L, index)) return;
    lua_pushstring(L, "__swiftredis_target");
    lua_rawget(L, -2);
    if (lua_istable(L, -1)) {
        lua_replace(L, index);
        lua_pop(L, 1);
    } else {
        lua_pop(L, 2);
    }
}

/* next, pairs and rawget see through the proxies, so scripts iterate the globals and the
 * libraries as in Redis. */
static inline int swiftredis_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    swiftredis_unproxy(L, 1);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

static inline int swiftredis_pairs(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static inline int swiftredis_rawget(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    swiftredis_unproxy(L, 1);
    lua_rawget(L, 1);
    return 1;
}

/* getmetatable: the libraries show none, the globals a table (as in Redis); any other
 * value as Lua's own. */
static inline int swiftredis_getmetatable(lua_State *L) {
    luaL_checkany(L, 1);
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushstring(L, "__swiftredis_readonly");
    lua_rawget(L, -2);
    if (lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushstring(L, "__swiftredis_shown");
        lua_rawget(L, -2);
        return 1;
    }
    lua_pop(L, 1);
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

/* Installs next, pairs, rawget and getmetatable that know the proxies into the table at
 * the top of the stack (the real globals). */
static inline void swiftredis_install_proxy_aware(lua_State *L) {
    lua_pushcfunction(L, swiftredis_next);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "next");
    lua_pushcclosure(L, swiftredis_pairs, 1);
    lua_setfield(L, -2, "pairs");
    lua_pushcfunction(L, swiftredis_rawget);
    lua_setfield(L, -2, "rawget");
    lua_pushcfunction(L, swiftredis_getmetatable);
    lua_setfield(L, -2, "getmetatable");
}

/* Pushes the __index closure of the globals proxy over the table at the top (consumed):
 * the load-time API of FUNCTION LOAD uses one over its own table. */
static inline void swiftredis_push_globals_index(lua_State *L) {
    lua_pushcclosure(L, swiftredis_globals_index, 1);
}

/* FUNCTION LOAD past its time limit: raise on every line from now on, so that the
 * library's code cannot catch the error and carry on. */
static inline void swiftredis_timeout_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, swiftredis_timeout_hook, LUA_MASKLINE, 0);
    lua_newtable(L);
    lua_pushstring(L, "ERR FUNCTION LOAD timeout");
    lua_setfield(L, -2, "err");
    lua_error(L);
}

/* SCRIPT KILL / FUNCTION KILL took effect: raise on every line from now on, so that the
 * script cannot catch the error with pcall and carry on. */
static inline void swiftredis_kill_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, swiftredis_kill_hook, LUA_MASKLINE, 0);
    lua_newtable(L);
    lua_pushstring(L, "ERR Script killed by user with SCRIPT KILL...");
    lua_setfield(L, -2, "err");
    lua_error(L);
}

/* The tail of Redis's math.random: scales r by the arguments as Lua's own does. */
static inline int swiftredis_random_finish(lua_State *L, double r) {
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, __builtin_floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, __builtin_floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

/* Redis's rand48 (rand.c): the 48-bit congruential generator of drand48, so scripts get
 * the same sequence for the same seed on every platform. */
static unsigned long long swiftredis_rand48_state = 0x1234ABCD330EULL;

static inline int swiftredis_math_random(lua_State *L) {
    swiftredis_rand48_state = (swiftredis_rand48_state * 0x5DEECE66DULL + 0xB) & 0xFFFFFFFFFFFFULL;
    long v = (long)(swiftredis_rand48_state >> 17);
    double r = (double)(v % 2147483647L) / 2147483647.0;
    return swiftredis_random_finish(L, r);
}

static inline void swiftredis_srand48(int seed) {
    swiftredis_rand48_state = ((unsigned long long)((unsigned)seed & 0xFFFFFFFFu) << 16) | 0x330E;
}

static inline int swiftredis_math_randomseed(lua_State *L) {
    swiftredis_srand48(luaL_checkint(L, 1));
    return 0;
}

#endif
