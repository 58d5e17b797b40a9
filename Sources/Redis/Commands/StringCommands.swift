import Glibc

/// Largest string a value may grow to (proto-max-bulk-len's default; APPEND, SETRANGE).
let maxStringLength = 512 * 1024 * 1024

let stringCommands: [(String, CommandHandler)] = [
    ("get", { $0.get($1) }),
    ("set", { $0.set($1) }),
    ("setnx", { $0.setnx($1) }),
    ("setex", { $0.setex($1, unit: 1000) }),
    ("psetex", { $0.setex($1, unit: 1) }),
    ("getset", { $0.getset($1) }),
    ("getdel", { $0.getdel($1) }),
    ("getex", { $0.getex($1) }),
    ("mget", { $0.mget($1) }),
    ("mset", { $0.mset($1, onlyIfNoneExist: false) }),
    ("msetnx", { $0.mset($1, onlyIfNoneExist: true) }),
    ("append", { $0.append($1) }),
    ("strlen", { $0.strlen($1) }),
    ("incr", { $0.incrementBy($1, 1) }),
    ("decr", { $0.incrementBy($1, -1) }),
    ("incrby", { e, a in if let n = e.integerArgument(a[2]) { e.incrementBy(a, Int64(n)) } }),
    ("decrby", { e, a in
        guard let n = e.integerArgument(a[2]) else { return }
        if n == Int.min { e.replyError("ERR decrement would overflow"); return }
        e.incrementBy(a, Int64(-n))
    }),
    ("incrbyfloat", { $0.incrbyfloat($1) }),
    ("getrange", { $0.getrange($1) }),
    ("substr", { $0.getrange($1) }),
    ("setrange", { $0.setrange($1) }),
]

/// Options of SET and GETEX, parsed like Redis's parseExtendedStringArgumentsOrReply.
struct StringSetOptions {
    var nx = false, xx = false, get = false, keepTTL = false, persist = false
    /// Absolute expiry in ms, when EX/PX/EXAT/PXAT was given.
    var expireAt: Int64?
}

extension Engine {
    func get(_ a: Arguments) {
        guard let e = lookupRead(a[1], hash: hashKey(a[1])) else { replyNull(); return }
        guard e.type == .string else { replyWrongType(); return }
        replyBulk(stringEntry: e)
    }

    /// Parses SET's (isSet) or GETEX's options from argument 3 (SET) or 2 (GETEX) on.
    /// Replies with the error and returns nil on a bad option or expire time.
    func parseSetOptions(_ a: Arguments, from start: Int, isSet: Bool) -> StringSetOptions? {
        var o = StringSetOptions()
        var ex = false, px = false, exat = false, pxat = false
        var expireArg = -1
        var j = start
        while j < a.count {
            let opt = a[j]
            let hasNext = j + 1 < a.count
            if isSet && opt.equalsIgnoringCase("nx") && !o.xx {
                o.nx = true
            } else if isSet && opt.equalsIgnoringCase("xx") && !o.nx {
                o.xx = true
            } else if isSet && opt.equalsIgnoringCase("get") {
                o.get = true
            } else if isSet && opt.equalsIgnoringCase("keepttl") && !o.persist && !ex && !exat && !px && !pxat {
                o.keepTTL = true
            } else if !isSet && opt.equalsIgnoringCase("persist") && !ex && !exat && !px && !pxat && !o.keepTTL {
                o.persist = true
            } else if opt.equalsIgnoringCase("ex") && !o.keepTTL && !o.persist && !exat && !px && !pxat && hasNext {
                ex = true; expireArg = j + 1; j += 1
            } else if opt.equalsIgnoringCase("px") && !o.keepTTL && !o.persist && !ex && !exat && !pxat && hasNext {
                px = true; expireArg = j + 1; j += 1
            } else if opt.equalsIgnoringCase("exat") && !o.keepTTL && !o.persist && !ex && !px && !pxat && hasNext {
                exat = true; expireArg = j + 1; j += 1
            } else if opt.equalsIgnoringCase("pxat") && !o.keepTTL && !o.persist && !ex && !exat && !px && hasNext {
                pxat = true; expireArg = j + 1; j += 1
            } else {
                replySyntaxError()
                return nil
            }
            j += 1
        }
        if expireArg >= 0 {
            guard let ms = expireMilliseconds(a[expireArg], seconds: ex || exat, relative: ex || px) else { return nil }
            o.expireAt = ms
        }
        return o
    }

    /// Redis's getExpireMillisecondsOrReply: an absolute time in ms, or an error reply.
    func expireMilliseconds(_ arg: UnsafeRawBufferPointer, seconds: Bool, relative: Bool) -> Int64? {
        guard let n = integerArgument(arg) else { return nil }
        var ms = Int64(n)
        if ms <= 0 || (seconds && ms > Int64.max / 1000) {
            replyInvalidExpireTime()
            return nil
        }
        if seconds { ms *= 1000 }
        if relative {
            let (sum, overflow) = ms.addingReportingOverflow(now)
            if overflow { replyInvalidExpireTime(); return nil }
            ms = sum
        }
        return ms
    }

    func replyInvalidExpireTime() {
        replyError("ERR invalid expire time in '\(client.lastCommand?.name ?? "set")' command")
    }

    func set(_ a: Arguments) {
        if a.count == 3 {   // the common case, without option parsing
            let hash = hashKey(a[1])
            storeString(a[1], hash: hash, value: a[2], at: lookupWrite(a[1], hash: hash))
            notify(NotifyClass.string, "set", a[1])
            replyOK()
            return
        }
        guard let o = parseSetOptions(a, from: 3, isSet: true) else { return }
        let key = a[1]
        let hash = hashKey(key)
        if o.get {
            if let e = lookupRead(key, hash: hash) {
                guard e.type == .string else { replyWrongType(); return }
                replyBulk(stringEntry: e)
            } else {
                replyNull()
            }
        }
        let link = lookupWrite(key, hash: hash)
        if (o.nx && link != nil) || (o.xx && link == nil) {
            if !o.get { replyNull() }
            return
        }
        storeString(key, hash: hash, value: a[2], at: link, keepTTL: o.keepTTL, expireAt: o.expireAt)
        notify(NotifyClass.string, "set", key)
        if o.expireAt != nil { notify(NotifyClass.generic, "expire", key) }
        if !o.get { replyOK() }
        if replication.feedsWrites {
            if let at = o.expireAt {
                propagateSetWithExpiry(a[1], a[2], at)
            } else if o.get {
                // Replicas need no reply: GET is dropped, the other options kept.
                var parts: [[UInt8]] = []
                for j in 0..<a.count where !(j >= 3 && a[j].equalsIgnoringCase("get")) { parts.append(Array(a[j])) }
                propagateInstead(parts)
            }
        }
    }

    /// Any relative or absolute expiry of SET/SETEX/PSETEX travels as an absolute one,
    /// "SET key value PXAT <ms>", exactly as Redis 7.0's setGenericCommand rewrites it, so
    /// replicas expire the key at the master's moment whenever they apply it.
    func propagateSetWithExpiry(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ at: Int64) {
        propagateInstead([Array("SET".utf8), Array(key), Array(value), Array("PXAT".utf8), Array(String(at).utf8)])
    }

    func setnx(_ a: Arguments) {
        let hash = hashKey(a[1])
        if lookupWrite(a[1], hash: hash) != nil { replyInteger(0); return }
        storeString(a[1], hash: hash, value: a[2], at: nil)
        notify(NotifyClass.string, "set", a[1])
        replyInteger(1)
    }

    /// SETEX (unit 1000) and PSETEX (unit 1).
    func setex(_ a: Arguments, unit: Int64) {
        guard let at = expireMilliseconds(a[2], seconds: unit == 1000, relative: true) else { return }
        let hash = hashKey(a[1])
        storeString(a[1], hash: hash, value: a[3], at: lookupWrite(a[1], hash: hash), expireAt: at)
        notify(NotifyClass.string, "set", a[1])
        notify(NotifyClass.generic, "expire", a[1])
        replyOK()
        propagateSetWithExpiry(a[1], a[3], at)
    }

    func getset(_ a: Arguments) {
        let hash = hashKey(a[1])
        if let e = lookupRead(a[1], hash: hash) {
            guard e.type == .string else { replyWrongType(); return }
            replyBulk(stringEntry: e)
        } else {
            replyNull()
        }
        storeString(a[1], hash: hash, value: a[2], at: lookupWrite(a[1], hash: hash))
        notify(NotifyClass.string, "set", a[1])
        // Replicas need no reply: Redis sends GETSET as SET.
        propagateInstead([Array("SET".utf8), Array(a[1]), Array(a[2])])
    }

    func getdel(_ a: Arguments) {
        let hash = hashKey(a[1])
        guard let e = lookupRead(a[1], hash: hash) else { replyNull(); return }
        guard e.type == .string else { replyWrongType(); return }
        replyBulk(stringEntry: e)
        if let link = lookupWrite(a[1], hash: hash) {
            db.table.remove(at: link)
            dirty += 1
            notify(NotifyClass.generic, "del", a[1])
            propagateInstead([Array("DEL".utf8), Array(a[1])])
        }
    }

    func getex(_ a: Arguments) {
        guard let o = parseSetOptions(a, from: 2, isSet: false) else { return }
        let hash = hashKey(a[1])
        guard let e = lookupRead(a[1], hash: hash) else { replyNull(); return }
        guard e.type == .string else { replyWrongType(); return }
        replyBulk(stringEntry: e)
        guard let link = lookupWrite(a[1], hash: hash) else { return }
        if let at = o.expireAt {
            if at <= now {
                db.table.remove(at: link)   // an expire time in the past deletes the key
                dirty += 1
                notify(NotifyClass.generic, "del", a[1])
                propagateInstead([Array("DEL".utf8), Array(a[1])])
            } else {
                setExpiry(at: link, at)
                notify(NotifyClass.generic, "expire", a[1])
                propagateInstead([Array("PEXPIREAT".utf8), Array(a[1]), Array(String(at).utf8)])
            }
        } else if o.persist && Entry(link.pointee!).isVolatile {
            setExpiry(at: link, nil)
            notify(NotifyClass.generic, "persist", a[1])
            propagateInstead([Array("PERSIST".utf8), Array(a[1])])
        }
    }

    func mget(_ a: Arguments) {
        replyArrayHeader(a.count - 1)
        for i in 1..<a.count {
            if let e = lookupRead(a[i], hash: hashKey(a[i])), e.type == .string {
                replyBulk(stringEntry: e)
            } else {
                replyNull()
            }
        }
    }

    func mset(_ a: Arguments, onlyIfNoneExist: Bool) {
        if a.count % 2 == 0 {
            replyError("ERR wrong number of arguments for '\(onlyIfNoneExist ? "msetnx" : "mset")' command")
            return
        }
        if onlyIfNoneExist {
            for i in stride(from: 1, to: a.count, by: 2) where lookupWrite(a[i], hash: hashKey(a[i])) != nil {
                replyInteger(0)
                return
            }
        }
        for i in stride(from: 1, to: a.count, by: 2) {
            let hash = hashKey(a[i])
            storeString(a[i], hash: hash, value: a[i + 1], at: lookupWrite(a[i], hash: hash))
            notify(NotifyClass.string, "set", a[i])
        }
        if onlyIfNoneExist { replyInteger(1) } else { replyOK() }
    }

    func append(_ a: Arguments) {
        let key = a[1], tail = a[2]
        let hash = hashKey(key)
        guard let link = lookupWrite(key, hash: hash) else {
            storeString(key, hash: hash, value: tail, at: nil)
            notify(NotifyClass.string, "append", key)
            replyInteger(tail.count)
            return
        }
        let old = Entry(link.pointee!)
        guard old.type == .string else { replyWrongType(); return }
        let oldLength = old.stringLength
        if oldLength + tail.count > maxStringLength {
            replyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            return
        }
        let e = makeRaw(link: link, length: oldLength + tail.count)
        dirty += 1
        if tail.count > 0 { (e.valuePointer + oldLength).copyMemory(from: tail.baseAddress!, byteCount: tail.count) }
        notify(NotifyClass.string, "append", key)
        replyInteger(oldLength + tail.count)
    }

    /// Turns the string at `link` into raw encoding with room for `length` bytes, keeping
    /// its current bytes at the front and zero-filling the rest (APPEND, SETRANGE).
    func makeRaw(link: KeyTable.Link, length: Int) -> Entry {
        var e = Entry(link.pointee!)
        let oldLength: Int
        if e.stringEncoding == .int {
            var digits = [UInt8](repeating: 0, count: 24)
            oldLength = digits.withUnsafeMutableBytes { formatDecimal(e.intValue, into: $0.baseAddress!) }
            e = db.table.resize(at: link, valueLength: max(length, oldLength), volatile: e.isVolatile)
            digits.withUnsafeBytes { e.valuePointer.copyMemory(from: $0.baseAddress!, byteCount: oldLength) }
        } else {
            oldLength = e.valueLength
            if length != oldLength { e = db.table.resize(at: link, valueLength: length, volatile: e.isVolatile) }
        }
        if length > oldLength { memset(e.valuePointer + oldLength, 0, length - oldLength) }
        e.stringEncoding = .raw
        return e
    }

    func strlen(_ a: Arguments) {
        guard let e = lookupRead(a[1], hash: hashKey(a[1])) else { replyInteger(0); return }
        guard e.type == .string else { replyWrongType(); return }
        replyInteger(e.stringLength)
    }

    func incrementBy(_ a: Arguments, _ delta: Int64) {
        let key = a[1]
        let hash = hashKey(key)
        let link = lookupWrite(key, hash: hash)
        var current: Int64 = 0
        if let link {
            let e = Entry(link.pointee!)
            guard e.type == .string else { replyWrongType(); return }
            if e.stringEncoding == .int {
                current = e.intValue
            } else {
                guard e.valueLength <= 20, let n = parseInteger(e.value) else { replyNotInteger(); return }
                current = Int64(n)
            }
        }
        let (result, overflow) = current.addingReportingOverflow(delta)
        if overflow {
            replyError("ERR increment or decrement would overflow")
            return
        }
        if let link, Entry(link.pointee!).stringEncoding == .int {
            Entry(link.pointee!).intValue = result     // in place: INCR allocates nothing
            dirty += 1
        } else {
            storeInteger(key, hash: hash, result, at: link, keepTTL: true)
        }
        notify(NotifyClass.string, "incrby", key)
        replyInteger(Int(result))
    }

    func incrbyfloat(_ a: Arguments) {
        let key = a[1]
        let hash = hashKey(key)
        let link = lookupWrite(key, hash: hash)
        var current: Float80 = 0
        if let link {
            let e = Entry(link.pointee!)
            guard e.type == .string else { replyWrongType(); return }
            guard let v = e.stringBytes({ parseLongDouble($0) }) else {
                replyError("ERR value is not a valid float")
                return
            }
            current = v
        }
        guard let increment = parseLongDouble(a[2]) else {
            replyError("ERR value is not a valid float")
            return
        }
        let result = current + increment
        if result.isNaN || result.isInfinite {
            replyError("ERR increment would produce NaN or Infinity")
            return
        }
        let text = formatLongDouble(result, humanFriendly: true)
        text.withUnsafeBytes { t in
            // Stored as a string (Redis keeps INCRBYFLOAT's result as embstr/raw, not int).
            let encoding: StringEncoding = t.count <= 44 ? .embstr : .raw
            storeText(key, hash: hash, t, encoding: encoding, at: link)
            notify(NotifyClass.string, "incrbyfloat", key)
            replyBulk(t)
            // The result, not the increment, so float formatting can never differ on replicas.
            propagateInstead([Array("SET".utf8), Array(key), Array(t), Array("KEEPTTL".utf8)])
        }
    }

    /// Stores `text` with the given string encoding, keeping the TTL.
    private func storeText(_ key: UnsafeRawBufferPointer, hash: UInt64, _ text: UnsafeRawBufferPointer,
                           encoding: StringEncoding, at link: KeyTable.Link?) {
        dirty += 1
        let e: Entry
        if let link {
            let old = Entry(link.pointee!)
            if old.type == .string {
                e = db.table.resize(at: link, valueLength: text.count, volatile: old.isVolatile)
            } else {
                let fresh = Entry.allocate(key: key, hash: hash, valueLength: text.count, type: .string,
                                           encoding: encoding.rawValue, volatile: false)
                db.table.replace(at: link, with: fresh)
                e = fresh
            }
        } else {
            e = Entry.allocate(key: key, hash: hash, valueLength: text.count, type: .string,
                               encoding: encoding.rawValue, volatile: false)
            db.table.insert(e, hash: hash)
            notify(NotifyClass.new, "new", key)
        }
        e.stringEncoding = encoding
        if text.count > 0 { e.valuePointer.copyMemory(from: text.baseAddress!, byteCount: text.count) }
    }

    func getrange(_ a: Arguments) {
        guard var start = integerArgument(a[2]), var end = integerArgument(a[3]) else { return }
        guard let e = lookupRead(a[1], hash: hashKey(a[1])) else { replyRaw("$0\r\n\r\n"); return }
        guard e.type == .string else { replyWrongType(); return }
        if start < 0 && end < 0 && start > end { replyRaw("$0\r\n\r\n"); return }
        e.stringBytes { s in
            let length = s.count
            if start < 0 { start += length }
            if end < 0 { end += length }
            if start < 0 { start = 0 }
            if end < 0 { end = 0 }
            if end >= length { end = length - 1 }
            if start > end || length == 0 {
                replyRaw("$0\r\n\r\n")
            } else {
                replyBulk(UnsafeRawBufferPointer(rebasing: s[start...end]))
            }
        }
    }

    func setrange(_ a: Arguments) {
        let key = a[1], piece = a[3]
        guard let offset = integerArgument(a[2]) else { return }
        if offset < 0 { replyError("ERR offset is out of range"); return }
        let hash = hashKey(key)
        let link = lookupWrite(key, hash: hash)
        if let link {
            let e = Entry(link.pointee!)
            guard e.type == .string else { replyWrongType(); return }
            if piece.count == 0 { replyInteger(e.stringLength); return }
        } else if piece.count == 0 {
            replyInteger(0)
            return
        }
        if offset + piece.count > maxStringLength {
            replyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            return
        }
        let e: Entry
        if let link {
            e = makeRaw(link: link, length: max(Entry(link.pointee!).stringLength, offset + piece.count))
        } else {
            e = Entry.allocate(key: key, hash: hash, valueLength: offset + piece.count, type: .string,
                               encoding: StringEncoding.raw.rawValue, volatile: false)
            memset(e.valuePointer, 0, offset)
            db.table.insert(e, hash: hash)
            notify(NotifyClass.new, "new", key)
        }
        (e.valuePointer + offset).copyMemory(from: piece.baseAddress!, byteCount: piece.count)
        dirty += 1
        notify(NotifyClass.string, "setrange", key)
        replyInteger(e.valueLength)
    }
}
