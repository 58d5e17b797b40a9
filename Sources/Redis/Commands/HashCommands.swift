import Glibc

let hashCommands: [(String, CommandHandler)] = [
    ("hset", { $0.hset($1, multi: false) }),
    ("hmset", { $0.hset($1, multi: true) }),
    ("hsetnx", { $0.hsetnx($1) }),
    ("hget", { $0.hget($1) }),
    ("hmget", { $0.hmget($1) }),
    ("hdel", { $0.hdel($1) }),
    ("hlen", { $0.hlen($1) }),
    ("hstrlen", { $0.hstrlen($1) }),
    ("hexists", { $0.hexists($1) }),
    ("hgetall", { $0.hgetall($1, fields: true, values: true) }),
    ("hkeys", { $0.hgetall($1, fields: true, values: false) }),
    ("hvals", { $0.hgetall($1, fields: false, values: true) }),
    ("hincrby", { $0.hincrby($1) }),
    ("hincrbyfloat", { $0.hincrbyfloat($1) }),
    ("hrandfield", { $0.hrandfield($1) }),
    ("hscan", { $0.hscan($1) }),
]

extension Engine {
    /// The hash at `key` for changing it, created empty when missing (hashTypeLookupWriteOrCreate).
    /// Replies WRONGTYPE and returns nil when the key holds another type.
    @inline(__always)
    func hashForWrite(_ key: UnsafeRawBufferPointer) -> HashValue? {
        let hash = hashKey(key)
        if let link = lookupWrite(key, hash: hash) {
            let e = Entry(link.pointee!)
            guard e.type == .hash else {
                replyWrongType()
                return nil
            }
            return unsafeDowncast(e.object, to: HashValue.self)
        }
        let h = HashValue()
        storeObject(key, hash: hash, type: .hash, h, at: nil)
        return h
    }

    /// The hash at `key` for reading: nil after replying `missing` (or WRONGTYPE).
    @inline(__always)
    func hashForRead(_ key: UnsafeRawBufferPointer, missing: () -> Void) -> HashValue? {
        switch lookupObject(key, hash: hashKey(key), type: .hash, as: HashValue.self) {
        case .missing:
            missing()
            return nil
        case .wrongType:
            return nil
        case .found(let h, _):
            return h
        }
    }

    /// The hash at `key` for changing it (a write lookup: no keyspace_hits/misses), nil
    /// after replying `missing` or WRONGTYPE.
    @inline(__always)
    func hashForWriteExisting(_ key: UnsafeRawBufferPointer, missing: () -> Void) -> HashValue? {
        guard let link = lookupWrite(key, hash: hashKey(key)) else {
            missing()
            return nil
        }
        let e = Entry(link.pointee!)
        guard e.type == .hash else {
            replyWrongType()
            return nil
        }
        return unsafeDowncast(e.object, to: HashValue.self)
    }

    /// HSET key field value [field value ...] (and HMSET, which replies +OK).
    func hset(_ a: Arguments, multi: Bool) {
        if a.count % 2 != 0 {
            replyError(multi ? "ERR wrong number of arguments for 'hmset' command"
                : "ERR wrong number of arguments for 'hset' command")
            return
        }
        guard let h = hashForWrite(a[1]) else { return }
        var created = 0
        var i = 2
        while i < a.count {
            if h.set(a[i], a[i + 1], hash: hasher.hash(a[i])) { created += 1 }
            i += 2
        }
        dirty += (a.count - 2) / 2
        notify(NotifyClass.hash, "hset", a[1])
        if multi { replyOK() } else { replyInteger(created) }
    }

    /// HSETNX key field value
    func hsetnx(_ a: Arguments) {
        guard let h = hashForWrite(a[1]) else { return }
        let fieldHash = hasher.hash(a[2])
        if h.get(a[2], hash: fieldHash) != nil {
            replyInteger(0)
            return
        }
        h.set(a[2], a[3], hash: fieldHash)
        dirty += 1
        notify(NotifyClass.hash, "hset", a[1])
        replyInteger(1)
    }

    func hget(_ a: Arguments) {
        guard let h = hashForRead(a[1], missing: { replyNull() }) else { return }
        if let v = h.get(a[2], hash: hasher.hash(a[2])) { replyBulk(v) } else { replyNull() }
    }

    /// HMGET key field...: a missing key answers nulls, not an empty array.
    func hmget(_ a: Arguments) {
        var h: HashValue?
        switch lookupObject(a[1], hash: hashKey(a[1]), type: .hash, as: HashValue.self) {
        case .wrongType: return
        case .missing: h = nil
        case .found(let o, _): h = o
        }
        replyArrayHeader(a.count - 2)
        for i in 2..<a.count {
            if let v = h?.get(a[i], hash: hasher.hash(a[i])) { replyBulk(v) } else { replyNull() }
        }
    }

    /// HDEL key field...: deletes the key when its last field goes.
    func hdel(_ a: Arguments) {
        let key = a[1]
        guard let h = hashForWriteExisting(key, missing: { replyInteger(0) }) else { return }
        var deleted = 0
        var keyRemoved = false
        for i in 2..<a.count {
            if h.remove(a[i], hash: hasher.hash(a[i])) {
                deleted += 1
                if h.count == 0 {
                    deleteKey(key)
                    keyRemoved = true
                    break
                }
            }
        }
        if deleted > 0 { notify(NotifyClass.hash, "hdel", key) }
        if keyRemoved { notify(NotifyClass.generic, "del", key) }
        dirty += deleted
        replyInteger(deleted)
    }

    func hlen(_ a: Arguments) {
        guard let h = hashForRead(a[1], missing: { replyInteger(0) }) else { return }
        replyInteger(h.count)
    }

    func hstrlen(_ a: Arguments) {
        guard let h = hashForRead(a[1], missing: { replyInteger(0) }) else { return }
        replyInteger(h.get(a[2], hash: hasher.hash(a[2]))?.count ?? 0)
    }

    func hexists(_ a: Arguments) {
        guard let h = hashForRead(a[1], missing: { replyInteger(0) }) else { return }
        replyInteger(h.get(a[2], hash: hasher.hash(a[2])) != nil ? 1 : 0)
    }

    /// HGETALL (a map in RESP3), HKEYS, HVALS.
    func hgetall(_ a: Arguments, fields: Bool, values: Bool) {
        let both = fields && values
        guard let h = hashForRead(a[1], missing: { if both { replyMapHeader(0) } else { replyEmptyArray() } }) else {
            return
        }
        if both { replyMapHeader(h.count) } else { replyArrayHeader(h.count) }
        h.forEach { f, v in
            if fields { replyBulk(f) }
            if values { replyBulk(v) }
        }
    }

    /// HINCRBY key field increment: the field's value must be a decimal integer.
    func hincrby(_ a: Arguments) {
        guard let incr = integerArgument(a[3]) else { return }
        guard let h = hashForWrite(a[1]) else { return }
        let fieldHash = hasher.hash(a[2])
        var value = 0
        if let old = h.get(a[2], hash: fieldHash) {
            guard let n = parseInteger(old) else {
                replyError("ERR hash value is not an integer")
                return
            }
            value = n
        }
        let (sum, overflow) = value.addingReportingOverflow(incr)
        if overflow {
            replyError("ERR increment or decrement would overflow")
            return
        }
        withDecimal(Int64(sum)) { h.set(a[2], $0, hash: fieldHash) }
        dirty += 1
        notify(NotifyClass.hash, "hincrby", a[1])
        replyInteger(sum)
    }

    /// HINCRBYFLOAT key field increment, in long double like Redis; propagated as HSET of
    /// the result so replicas do not redo the floating-point arithmetic.
    func hincrbyfloat(_ a: Arguments) {
        guard let incr = parseLongDouble(a[3]) else {
            replyError("ERR value is not a valid float")
            return
        }
        if incr.isNaN || incr.isInfinite {
            replyError("ERR value is NaN or Infinity")
            return
        }
        guard let h = hashForWrite(a[1]) else { return }
        let fieldHash = hasher.hash(a[2])
        var value: Float80 = 0
        if let old = h.get(a[2], hash: fieldHash) {
            guard let v = parseLongDouble(old) else {
                replyError("ERR hash value is not a float")
                return
            }
            value = v
        }
        value += incr
        if value.isNaN || value.isInfinite {
            replyError("ERR increment would produce NaN or Infinity")
            return
        }
        let text = formatLongDouble(value, humanFriendly: true)
        text.withUnsafeBytes { _ = h.set(a[2], $0, hash: fieldHash) }
        dirty += 1
        notify(NotifyClass.hash, "hincrbyfloat", a[1])
        replyBulk(text)
        propagateInstead([Array("HSET".utf8), Array(a[1]), Array(a[2]), text])
    }

    /// HRANDFIELD key [count [WITHVALUES]], with Redis's four strategies' reply shapes:
    /// a negative count repeats fields, a count at least the size returns the whole hash
    /// in order, otherwise distinct random fields.
    func hrandfield(_ a: Arguments) {
        if a.count == 2 {
            guard let h = hashForRead(a[1], missing: { replyNull() }) else { return }
            replyBulk(h.table.key(at: h.table.randomPosition(&h.random)))
            return
        }
        guard let l = integerArgument(a[2]) else { return }
        var withValues = false
        if a.count > 4 || (a.count == 4 && !a[3].equalsIgnoringCase("withvalues")) {
            replySyntaxError()
            return
        } else if a.count == 4 {
            withValues = true
            if l < -Int.max / 2 || l > Int.max / 2 {
                replyError("ERR value is out of range")
                return
            }
        } else if l == Int.min {
            replyError("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            return
        }
        guard let h = hashForRead(a[1], missing: { replyEmptyArray() }) else { return }
        let count = l.magnitude
        if count == 0 {
            replyEmptyArray()
            return
        }
        let t = h.table
        let pairs = withValues && resp3
        let perEntry = withValues && !resp3 ? 2 : 1
        func emit(_ p: Int) {
            if pairs { replyArrayHeader(2) }
            replyBulk(t.key(at: p))
            if withValues { replyBulk(t.value(at: p)) }
        }
        // Repeats allowed (or one field): independent picks.
        if l < 0 || count == 1 {
            replyArrayHeader(Int(count) * perEntry)
            for _ in 0..<count { emit(t.randomPosition(&h.random)) }
            return
        }
        // The whole hash, in its order.
        if count >= UInt(h.count) {
            replyArrayHeader(h.count * perEntry)
            t.forEachPosition(emit)
            return
        }
        // Distinct fields: a random subset. Listpacks answer in listpack order, as
        // lpRandomPairsUnique does; a hashtable in pick order.
        let picks = distinctRandomPositions(t, Int(count), &h.random, sorted: h.isListpack)
        replyArrayHeader(picks.count * perEntry)
        for p in picks { emit(p) }
    }

    /// HSCAN key cursor [MATCH pattern] [COUNT count]
    func hscan(_ a: Arguments) {
        guard let cursor = parseScanCursor(a[2]) else {
            replyError("ERR invalid cursor")
            return
        }
        guard let h = hashForRead(a[1], missing: { replyEmptyScan() }) else { return }
        guard let (count, pattern) = scanOptions(a, from: 3) else { return }
        var found: [Int] = []
        var next = 0
        if h.isListpack {
            h.table.forEachPosition { found.append($0) }
        } else {
            next = h.table.scan(from: Int(clamping: cursor), wanted: count) { found.append($0) }
        }
        if let pattern {
            found.removeAll { !stringMatch(pattern, h.table.key(at: $0), nocase: false) }
        }
        replyScanCursor(next)
        replyArrayHeader(found.count * 2)
        for p in found {
            replyBulk(h.table.key(at: p))
            replyBulk(h.table.value(at: p))
        }
    }

    // MARK: Shared by HSCAN and SSCAN

    /// The empty answer to a scan of a missing key: cursor 0 and no elements.
    func replyEmptyScan() { replyRaw("*2\r\n$1\r\n0\r\n*0\r\n") }

    func replyScanCursor(_ next: Int) {
        replyArrayHeader(2)
        withDecimal(Int64(next)) { replyBulk($0) }
    }

    /// COUNT and MATCH of HSCAN/SSCAN (scanGenericCommand's parsing, no TYPE for them).
    /// Replies the error and returns nil on a bad option.
    func scanOptions(_ a: Arguments, from start: Int) -> (Int, UnsafeRawBufferPointer?)? {
        var count = 10
        var pattern: UnsafeRawBufferPointer?
        var i = start
        while i < a.count {
            let more = a.count - i >= 2
            if a[i].equalsIgnoringCase("count") && more {
                guard let n = integerArgument(a[i + 1]) else { return nil }
                if n < 1 {
                    replySyntaxError()
                    return nil
                }
                count = n
            } else if a[i].equalsIgnoringCase("match") && more {
                let p = a[i + 1]
                pattern = p.count == 1 && p[0] == UInt8(ascii: "*") ? nil : p
            } else {
                replySyntaxError()
                return nil
            }
            i += 2
        }
        return (count, pattern)
    }
}

/// `count` distinct random live positions of `t` (count < t.count). When `sorted`, they
/// come back in position order. Picks by rejection when the subset is small, else by
/// dropping random positions from all of them, like Redis's two unique-sampling cases.
func distinctRandomPositions(_ t: ByteStringTable, _ count: Int, _ random: inout FastRandom,
                             sorted: Bool) -> [Int] {
    var all: [Int] = []
    all.reserveCapacity(t.count)
    t.forEachPosition { all.append($0) }
    // Partial Fisher-Yates: the first `count` slots become a uniform random subset.
    for i in 0..<count {
        let j = i + random.below(all.count - i)
        all.swapAt(i, j)
    }
    var picked = Array(all[0..<count])
    if sorted { picked.sort() }
    return picked
}
