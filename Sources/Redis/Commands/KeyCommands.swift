import Glibc

let keyCommands: [(String, CommandHandler)] = [
    ("del", { $0.del($1) }),
    ("unlink", { $0.del($1) }),   // no lazy free thread: freeing an entry is cheap enough inline
    ("exists", { $0.countExisting($1, touch: false) }),
    ("touch", { $0.countExisting($1, touch: true) }),
    ("type", { $0.type($1) }),
    ("keys", { $0.keys($1) }),
    ("scan", { $0.scan($1) }),
    ("randomkey", { e, _ in e.randomkey() }),
    ("rename", { $0.rename($1, nx: false) }),
    ("renamenx", { $0.rename($1, nx: true) }),
    ("copy", { $0.copy($1) }),
    ("move", { $0.move($1) }),
    ("object|encoding", { $0.objectEncoding($1) }),
    ("object|idletime", { $0.objectIdletime($1) }),
    ("object|freq", { $0.objectFreq($1) }),
    ("object|refcount", { $0.objectRefcount($1) }),
    ("object|help", { e, _ in
        e.replyHelp("OBJECT", [
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ])
    }),
]

/// What the keyspace commands need from a non-string value object (lists, sets, ...):
/// COPY's deep copy and OBJECT ENCODING's name. The value types conform when they land.
protocol KeyspaceObject: AnyObject {
    /// An independent copy of the value (COPY).
    func duplicate() -> AnyObject
    /// Redis's name for the current representation ("listpack", "hashtable", ...).
    var encodingName: StaticString { get }
}

extension Entry {
    /// OBJECT ENCODING's answer.
    var encodingName: StaticString {
        if type == .string {
            switch stringEncoding {
            case .int: return "int"
            case .embstr: return "embstr"
            case .raw: return "raw"
            }
        }
        guard let o = object as? KeyspaceObject else { fatalError("value object does not conform to KeyspaceObject") }
        return o.encodingName
    }

    /// A new entry holding this entry's value and expiry under `key`. The caller inserts it.
    /// `deep` duplicates a value object (COPY); otherwise the new entry shares it, retained,
    /// for a source about to be deleted (RENAME, MOVE).
    func clone(key: UnsafeRawBufferPointer, hash: UInt64, deep: Bool) -> Entry {
        let n = Entry.allocate(key: key, hash: hash, valueLength: valueLength, type: type,
                               encoding: encodingByte, volatile: isVolatile)
        if isVolatile { n.expireAt = expireAt }
        if type == .string {
            if valueLength > 0 { n.valuePointer.copyMemory(from: valuePointer, byteCount: valueLength) }
        } else {
            var o = object
            if deep {
                guard let k = o as? KeyspaceObject else { fatalError("value object does not conform to KeyspaceObject") }
                o = k.duplicate()
            }
            n.valuePointer.storeBytes(of: Unmanaged.passRetained(o).toOpaque(), as: UnsafeMutableRawPointer.self)
        }
        return n
    }
}

extension Engine {
    /// EXISTS and TOUCH: how many of the keys exist, a repeated key counting each time.
    /// Only TOUCH records the access (EXISTS is a LOOKUP_NOTOUCH lookup in Redis).
    func countExisting(_ a: Arguments, touch: Bool) {
        var n = 0
        for i in 1..<a.count {
            let found = touch ? lookupRead(a[i], hash: hashKey(a[i])) : lookupReadNoTouch(a[i], hash: hashKey(a[i]))
            if found != nil { n += 1 }
        }
        replyInteger(n)
    }

    func type(_ a: Arguments) {
        guard let e = lookupReadNoTouch(a[1], hash: hashKey(a[1])) else {
            replyRaw("+none\r\n")
            return
        }
        replyRaw("+" as StaticString)
        replyRaw(e.type.name)
        replyRaw("\r\n" as StaticString)
    }

    func objectEncoding(_ a: Arguments) {
        // Redis's OBJECT looks up without a keymiss event, but counts the miss.
        guard let link = db.lookup(a[2], hash: hashKey(a[2]), now: now) else {
            stats.keyspaceMisses += 1
            replyNull()
            return
        }
        stats.keyspaceHits += 1
        let e = Entry(link.pointee!)
        let name = e.encodingName
        replyBulk(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    func del(_ a: Arguments) {
        var n = 0
        for i in 1..<a.count where deleteKey(a[i]) {
            n += 1
            notify(NotifyClass.generic, "del", a[i])
        }
        replyInteger(n)
    }

    /// Whether `e` has passed its expiry (the same rule as `Database.lookup`).
    @inline(__always)
    func isExpired(_ e: Entry) -> Bool { e.isVolatile && e.expireAt < now }

    /// Deletes an expired entry found by iteration (KEYS/SCAN/RANDOMKEY), as expireIfNeeded.
    /// A replica keeps it: the master's DEL will come.
    func deleteExpiredEntry(_ e: Entry) {
        if db.expiredKeys != .delete { return }
        let key = e.key
        if let link = db.table.find(key, hash: hashKey(key)) {
            keyExpired(key, database: db.index)
            db.table.remove(at: link)
        }
    }

    func keys(_ a: Arguments) {
        let pattern = a[1]
        let all = pattern.count == 1 && pattern[0] == UInt8(ascii: "*")
        var found: [UnsafeMutableRawPointer] = []
        db.table.forEach { e in
            if (all || stringMatch(pattern, e.key, nocase: false)) && !isExpired(e) { found.append(e.p) }
        }
        replyArrayHeader(found.count)
        for p in found { replyBulk(Entry(p).key) }
    }

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: Redis's scanGenericCommand.
    func scan(_ a: Arguments) {
        guard let start = parseScanCursor(a[1]) else {
            replyError("ERR invalid cursor")
            return
        }
        var count = 10
        var pattern: UnsafeRawBufferPointer?
        var typeName: UnsafeRawBufferPointer?
        var i = 2
        while i < a.count {
            let more = a.count - i >= 2
            if a[i].equalsIgnoringCase("count") && more {
                guard let n = integerArgument(a[i + 1]) else { return }
                if n < 1 { replySyntaxError(); return }
                count = n
            } else if a[i].equalsIgnoringCase("match") && more {
                let p = a[i + 1]
                pattern = p.count == 1 && p[0] == UInt8(ascii: "*") ? nil : p
            } else if a[i].equalsIgnoringCase("type") && more {
                typeName = a[i + 1]
            } else {
                replySyntaxError()
                return
            }
            i += 2
        }

        var collected: [UnsafeMutableRawPointer] = []
        var cursor = start
        var budget = count.multipliedReportingOverflow(by: 10).overflow ? Int.max : count * 10
        while true {
            cursor = db.table.scan(cursor: cursor) { collected.append($0.p) }
            if cursor == 0 || budget == 0 { break }
            budget -= 1
            if collected.count >= count { break }
        }

        // Filter like Redis: pattern, then type (a read lookup, which expires the key and
        // counts hits/misses), then expiry. Deletions wait until the reply is written.
        var kept: [UnsafeMutableRawPointer] = []
        var expired: [UnsafeMutableRawPointer] = []
        for p in collected {
            let e = Entry(p)
            if let pattern, !stringMatch(pattern, e.key, nocase: false) { continue }
            if let typeName {
                let name: StaticString
                if isExpired(e) {
                    expired.append(p)
                    stats.keyspaceMisses += 1
                    name = "none"
                    // The key is gone by now in Redis, so the expiry filter no longer applies.
                    if typeName.equalsIgnoringCaseBytes(name) { kept.append(p) }
                    continue
                }
                stats.keyspaceHits += 1
                name = e.type.name
                if !typeName.equalsIgnoringCaseBytes(name) { continue }
            }
            if isExpired(e) { expired.append(p); continue }
            kept.append(p)
        }
        replyArrayHeader(2)
        replyBulk(Array(String(cursor).utf8))
        replyArrayHeader(kept.count)
        for p in kept { replyBulk(Entry(p).key) }
        for p in expired { deleteExpiredEntry(Entry(p)) }
    }

    /// Redis's parseScanCursorOrReply: strtoul in base 10 (sign allowed, "-1" wraps,
    /// empty is 0), no leading space, nothing after the digits, no overflow.
    func parseScanCursor(_ s: UnsafeRawBufferPointer) -> UInt64? {
        if s.count == 0 { return 0 }
        var i = 0
        var negative = false
        if s[0] == UInt8(ascii: "+") || s[0] == UInt8(ascii: "-") {
            negative = s[0] == UInt8(ascii: "-")
            i = 1
        }
        if i == s.count { return nil }   // a lone sign: strtoul parses nothing
        var v: UInt64 = 0
        while i < s.count {
            let c = s[i]
            guard c >= 48 && c <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (sum, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            v = sum
            i += 1
        }
        return negative ? 0 &- v : v
    }

    func randomkey() {
        var tries = 0
        while let e = db.table.randomEntry(using: &rng) {
            // A replica does not delete expired keys: when every key seems expired, give
            // one after 100 tries rather than loop forever, as Redis does.
            if isExpired(e) && !(db.expiredKeys != .delete && tries >= 100) {
                tries += 1
                deleteExpiredEntry(e)
                continue
            }
            replyBulk(e.key)
            return
        }
        replyNull()
    }

    /// RENAME / RENAMENX: the value moves to the new key with its TTL; an existing
    /// destination is overwritten (RENAME) or left alone (RENAMENX replies 0).
    func rename(_ a: Arguments, nx: Bool) {
        let src = a[1], dst = a[2]
        let srcHash = hashKey(src)
        guard let srcLink = lookupWrite(src, hash: srcHash) else {
            replyError("ERR no such key")
            return
        }
        if src.count == dst.count && (src.count == 0 || memcmp(src.baseAddress!, dst.baseAddress!, src.count) == 0) {
            if nx { replyInteger(0) } else { replyOK() }
            return
        }
        let entry = Entry(srcLink.pointee!)   // the block stays put while the table rehashes
        let dstHash = hashKey(dst)
        let dstLink = lookupWrite(dst, hash: dstHash)
        if dstLink != nil && nx {
            replyInteger(0)
            return
        }
        let moved = entry.clone(key: dst, hash: dstHash, deep: false)
        if let dstLink { db.table.replace(at: dstLink, with: moved) } else { db.table.insert(moved, hash: dstHash) }
        notify(NotifyClass.new, "new", dst)   // Redis deletes an old destination, then adds
        if let link = db.table.find(src, hash: srcHash) { db.table.remove(at: link) }
        dirty += 1
        notify(NotifyClass.generic, "rename_from", src)
        notify(NotifyClass.generic, "rename_to", dst)
        if nx { replyInteger(1) } else { replyOK() }
    }

    /// A database index argument (COPY's DB, MOVE): getIntFromObjectOrReply, then range.
    func databaseArgument(_ bytes: UnsafeRawBufferPointer) -> Database? {
        guard let n = integerArgument(bytes) else { return nil }
        guard n >= Int(Int32.min) && n <= Int(Int32.max) else {
            replyError("ERR value is out of range, value must between -2147483648 and 2147483647")
            return nil
        }
        guard n >= 0 && n < databases.count else {
            replyError("ERR DB index is out of range")
            return nil
        }
        return databases[n]
    }

    /// COPY source destination [DB destination-db] [REPLACE]
    func copy(_ a: Arguments) {
        let src = a[1], dst = a[2]
        var target: Database = db
        var replace = false
        var j = 3
        while j < a.count {
            if a[j].equalsIgnoringCase("replace") {
                replace = true
            } else if a[j].equalsIgnoringCase("db") && j + 1 < a.count {
                guard let d = databaseArgument(a[j + 1]) else { return }
                target = d
                j += 1
            } else {
                replySyntaxError()
                return
            }
            j += 1
        }
        if target === db && src.count == dst.count
            && (src.count == 0 || memcmp(src.baseAddress!, dst.baseAddress!, src.count) == 0) {
            replyError("ERR source and destination objects are the same")
            return
        }
        guard let entry = lookupRead(src, hash: hashKey(src)) else {
            replyInteger(0)
            return
        }
        let dstHash = hashKey(dst)
        let dstLink = target.lookup(dst, hash: dstHash, now: now)
        if dstLink != nil && !replace {
            replyInteger(0)
            return
        }
        let copied = entry.clone(key: dst, hash: dstHash, deep: true)
        if let dstLink { target.table.replace(at: dstLink, with: copied) } else { target.table.insert(copied, hash: dstHash) }
        dirty += 1
        notify(NotifyClass.new, "new", dst, database: target.index)
        notify(NotifyClass.generic, "copy_to", dst, database: target.index)
        if target !== db && needsKeyTouches { touchKey(dst, database: target.index) }
        replyInteger(1)
    }

    /// MOVE key db: moves the key with its TTL unless the target database has it.
    func move(_ a: Arguments) {
        guard let target = databaseArgument(a[2]) else { return }
        if target === db {
            replyError("ERR source and destination objects are the same")
            return
        }
        let key = a[1]
        let hash = hashKey(key)
        guard let link = lookupWrite(key, hash: hash) else {
            replyInteger(0)
            return
        }
        let entry = Entry(link.pointee!)
        if target.lookup(key, hash: hash, now: now) != nil {
            replyInteger(0)
            return
        }
        target.table.insert(entry.clone(key: key, hash: hash, deep: false), hash: hash)
        notify(NotifyClass.new, "new", key, database: target.index)
        if let l = db.table.find(key, hash: hash) { db.table.remove(at: l) }
        dirty += 1
        notify(NotifyClass.generic, "move_from", key)
        notify(NotifyClass.generic, "move_to", key, database: target.index)
        if needsKeyTouches { touchKey(key, database: target.index) }
        replyInteger(1)
    }
}

extension UnsafeRawBufferPointer {
    /// strcasecmp equality with an ASCII literal in any case.
    func equalsIgnoringCaseBytes(_ s: StaticString) -> Bool {
        if count != s.utf8CodeUnitCount { return false }
        let l = s.utf8Start
        for i in 0..<count {
            var a = self[i], b = l[i]
            if a >= 65 && a <= 90 { a |= 0x20 }
            if b >= 65 && b <= 90 { b |= 0x20 }
            if a != b { return false }
        }
        return true
    }
}
