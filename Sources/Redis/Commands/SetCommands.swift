import Glibc

let setCommands: [(String, CommandHandler)] = [
    ("sadd", { $0.sadd($1) }),
    ("srem", { $0.srem($1) }),
    ("smembers", { $0.sinter($1, keysFrom: 1, store: nil) }),
    ("sismember", { $0.sismember($1) }),
    ("smismember", { $0.smismember($1) }),
    ("scard", { $0.scard($1) }),
    ("spop", { $0.spop($1) }),
    ("srandmember", { $0.srandmember($1) }),
    ("smove", { $0.smove($1) }),
    ("sinter", { $0.sinter($1, keysFrom: 1, store: nil) }),
    ("sinterstore", { $0.sinter($1, keysFrom: 2, store: $1[1]) }),
    ("sintercard", { $0.sintercard($1) }),
    ("sunion", { $0.sunionDiff($1, keysFrom: 1, store: nil, diff: false) }),
    ("sunionstore", { $0.sunionDiff($1, keysFrom: 2, store: $1[1], diff: false) }),
    ("sdiff", { $0.sunionDiff($1, keysFrom: 1, store: nil, diff: true) }),
    ("sdiffstore", { $0.sunionDiff($1, keysFrom: 2, store: $1[1], diff: true) }),
    ("sscan", { $0.sscan($1) }),
]

extension Engine {
    /// "~n" in RESP3, "*n" in RESP2 (addReplySetLen).
    @inline(__always)
    func replySetHeader(_ n: Int) {
        if resp3 {
            replyRaw("~" as StaticString)
            withDecimal(Int64(n)) { replyRaw($0) }
            replyRaw("\r\n" as StaticString)
        } else {
            replyArrayHeader(n)
        }
    }

    /// The set at `key` for reading: nil after replying `missing` (or WRONGTYPE).
    @inline(__always)
    func setForRead(_ key: UnsafeRawBufferPointer, missing: () -> Void) -> SetValue? {
        switch lookupObject(key, hash: hashKey(key), type: .set, as: SetValue.self) {
        case .missing:
            missing()
            return nil
        case .wrongType:
            return nil
        case .found(let s, _):
            return s
        }
    }

    /// The set at `key` for changing it: like `setForRead`, but a write lookup, which
    /// leaves keyspace_hits/misses alone as Redis's lookupKeyWrite does.
    @inline(__always)
    func setForWrite(_ key: UnsafeRawBufferPointer, missing: () -> Void) -> SetValue? {
        guard let link = lookupWrite(key, hash: hashKey(key)) else {
            missing()
            return nil
        }
        let e = Entry(link.pointee!)
        guard e.type == .set else {
            replyWrongType()
            return nil
        }
        return unsafeDowncast(e.object, to: SetValue.self)
    }

    /// Sends `SREM key member` to replicas instead of the running command, without
    /// allocating: the arguments are encoded in a stack buffer.
    func propagateSrem(_ key: UnsafeRawBufferPointer, _ member: UnsafeRawBufferPointer) {
        propagationReplaced = true
        let total = 4 + 8 * 3 + 4 + key.count + member.count
        withUnsafeTemporaryAllocation(byteCount: total, alignment: 8) { buf in
            let p = buf.baseAddress!
            p.storeBytes(of: 3 as UInt32, as: UInt32.self)
            var offset = 28
            func put(_ i: Int, _ bytes: UnsafeRawBufferPointer) {
                p.storeBytes(of: UInt32(offset), toByteOffset: 4 + 8 * i, as: UInt32.self)
                p.storeBytes(of: UInt32(bytes.count), toByteOffset: 8 + 8 * i, as: UInt32.self)
                if bytes.count > 0 { (p + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
                offset += bytes.count
            }
            let srem: StaticString = "SREM"
            put(0, UnsafeRawBufferPointer(start: srem.utf8Start, count: 4))
            put(1, key)
            put(2, member)
            propagate(Arguments(encoding: UnsafeRawPointer(p)))
        }
    }

    /// SADD key member...: a new key starts as an intset when the first member is an integer.
    func sadd(_ a: Arguments) {
        let key = a[1]
        let hash = hashKey(key)
        let s: SetValue
        if let link = lookupWrite(key, hash: hash) {
            let e = Entry(link.pointee!)
            guard e.type == .set else {
                replyWrongType()
                return
            }
            s = unsafeDowncast(e.object, to: SetValue.self)
        } else {
            s = SetValue(intset: SetValue.startsAsIntset(a[2]))
            storeObject(key, hash: hash, type: .set, s, at: nil)
        }
        var added = 0
        for i in 2..<a.count where s.add(a[i], hasher: hasher) { added += 1 }
        dirty += added
        if added > 0 { notify(NotifyClass.set, "sadd", key) }
        replyInteger(added)
    }

    /// SREM key member...: deletes the key when its last member goes.
    func srem(_ a: Arguments) {
        let key = a[1]
        guard let s = setForWrite(key, missing: { replyInteger(0) }) else { return }
        var deleted = 0
        var keyRemoved = false
        for i in 2..<a.count where s.remove(a[i], hasher: hasher) {
            deleted += 1
            if s.count == 0 {
                deleteKey(key)
                keyRemoved = true
                break
            }
        }
        if deleted > 0 { notify(NotifyClass.set, "srem", key) }
        if keyRemoved { notify(NotifyClass.generic, "del", key) }
        dirty += deleted
        replyInteger(deleted)
    }

    func sismember(_ a: Arguments) {
        guard let s = setForRead(a[1], missing: { replyInteger(0) }) else { return }
        replyInteger(s.contains(a[2], hasher: hasher) ? 1 : 0)
    }

    /// SMISMEMBER key member...: a missing key answers zeros.
    func smismember(_ a: Arguments) {
        var s: SetValue?
        switch lookupObject(a[1], hash: hashKey(a[1]), type: .set, as: SetValue.self) {
        case .wrongType: return
        case .missing: s = nil
        case .found(let o, _): s = o
        }
        replyArrayHeader(a.count - 2)
        for i in 2..<a.count { replyInteger(s?.contains(a[i], hasher: hasher) == true ? 1 : 0) }
    }

    func scard(_ a: Arguments) {
        guard let s = setForRead(a[1], missing: { replyInteger(0) }) else { return }
        replyInteger(s.count)
    }

    /// SPOP key [count]. Propagated as SREM of each popped member, or as DEL when the
    /// count takes the whole set (spopWithCountCommand).
    func spop(_ a: Arguments) {
        let key = a[1]
        if a.count == 3 {
            spopWithCount(a)
            return
        }
        if a.count > 3 {
            replySyntaxError()
            return
        }
        guard let s = setForWrite(key, missing: { replyNull() }) else { return }
        let pick = s.randomPick()
        s.withMember(at: pick) { m in
            replyBulk(m)
            propagateSrem(key, m)
        }
        s.remove(at: pick)
        notify(NotifyClass.set, "spop", key)
        if s.count == 0 {
            deleteKey(key)
            notify(NotifyClass.generic, "del", key)
        }
        dirty += 1
    }

    private func spopWithCount(_ a: Arguments) {
        let key = a[1]
        guard let l = parseInteger(a[2]), l >= 0 else {
            replyError("ERR value is out of range, must be positive")
            return
        }
        guard let s = setForWrite(key, missing: { replySetHeader(0) }) else { return }
        if l == 0 {
            replySetHeader(0)
            return
        }
        let size = s.count
        dirty += min(l, size)
        notify(NotifyClass.set, "spop", key)
        if l >= size {
            replyWholeSet(s)
            deleteKey(key)
            notify(NotifyClass.generic, "del", key)
            propagateInstead([Array("DEL".utf8), Array(key)])
            return
        }
        replySetHeader(l)
        var popped: [[UInt8]] = []
        popped.reserveCapacity(l)
        let remaining = size - l
        if remaining * 5 > l {
            for _ in 0..<l {
                let pick = s.randomPick()
                s.withMember(at: pick) { popped.append(Array($0)) }
                s.remove(at: pick)
            }
        } else {
            // Most of the set goes: choose the members that stay, and return the others
            // in the set's order.
            let picks = s.allPicks()
            var keep = Array(repeating: false, count: picks.count)
            var order = Array(0..<picks.count)
            for i in 0..<remaining {
                let j = i + s.random.below(order.count - i)
                order.swapAt(i, j)
                keep[order[i]] = true
            }
            for i in 0..<picks.count where !keep[i] {
                s.withMember(at: picks[i]) { popped.append(Array($0)) }
            }
            // By value: removing by position could compact the table under the picks.
            for m in popped { m.withUnsafeBytes { _ = s.remove($0, hasher: hasher) } }
        }
        for m in popped {
            replyBulk(m)
            propagateInstead([Array("SREM".utf8), Array(key), m])
        }
    }

    /// Replies every member of `s` as SUNION of it alone would: ascending for an intset.
    private func replyWholeSet(_ s: SetValue) {
        replySetHeader(s.count)
        s.forEach { replyBulk($0) }
    }

    /// SRANDMEMBER key [count]: a negative count may repeat members. With a count the
    /// reply is an array even in RESP3, as redis-server 7.0.15 sends it.
    func srandmember(_ a: Arguments) {
        if a.count > 3 {
            replySyntaxError()
            return
        }
        if a.count == 2 {
            guard let s = setForRead(a[1], missing: { replyNull() }) else { return }
            s.withMember(at: s.randomPick()) { replyBulk($0) }
            return
        }
        guard let l = integerArgument(a[2]) else { return }
        if l == Int.min {
            replyError("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            return
        }
        guard let s = setForRead(a[1], missing: { replyEmptyArray() }) else { return }
        let count = Int(l.magnitude)
        if count == 0 {
            replyEmptyArray()
            return
        }
        if l < 0 {
            replyArrayHeader(count)
            for _ in 0..<count { s.withMember(at: s.randomPick()) { replyBulk($0) } }
            return
        }
        if count >= s.count {
            replyArrayHeader(s.count)
            s.forEach { replyBulk($0) }
            return
        }
        let picks = s.allPicks()
        var order = Array(0..<picks.count)
        for i in 0..<count {
            let j = i + s.random.below(order.count - i)
            order.swapAt(i, j)
        }
        replyArrayHeader(count)
        for i in 0..<count { s.withMember(at: picks[order[i]]) { replyBulk($0) } }
    }

    /// SMOVE source destination member
    func smove(_ a: Arguments) {
        let src = a[1], dst = a[2], member = a[3]
        // Entries, not links: a lookup may step the table's rehash and move the links.
        let srcEntry = lookupWrite(src, hash: hashKey(src)).map { Entry($0.pointee!) }
        let dstHash = hashKey(dst)
        let dstEntry = lookupWrite(dst, hash: dstHash).map { Entry($0.pointee!) }
        guard let srcEntry else {
            replyInteger(0)
            return
        }
        if srcEntry.type != .set || (dstEntry != nil && dstEntry!.type != .set) {
            replyWrongType()
            return
        }
        let srcSet = unsafeDowncast(srcEntry.object, to: SetValue.self)
        if let dstEntry, dstEntry.p == srcEntry.p {
            replyInteger(srcSet.contains(member, hasher: hasher) ? 1 : 0)
            return
        }
        if !srcSet.remove(member, hasher: hasher) {
            replyInteger(0)
            return
        }
        notify(NotifyClass.set, "srem", src)
        if srcSet.count == 0 {
            deleteKey(src)
            notify(NotifyClass.generic, "del", src)
        }
        let dstSet: SetValue
        if let link = lookupWrite(dst, hash: dstHash) {
            dstSet = unsafeDowncast(Entry(link.pointee!).object, to: SetValue.self)
        } else {
            dstSet = SetValue(intset: SetValue.startsAsIntset(member))
            storeObject(dst, hash: dstHash, type: .set, dstSet, at: nil)
        }
        dirty += 1
        if dstSet.add(member, hasher: hasher) {
            dirty += 1
            notify(NotifyClass.set, "sadd", dst)
        }
        replyInteger(1)
    }

    /// The sets named by `a[from..<a.count]` (nil for missing keys). Replies WRONGTYPE
    /// and returns nil when one holds another type.
    private func setsForOperation(_ a: Arguments, from: Int, to end: Int? = nil) -> [SetValue?]? {
        var sets: [SetValue?] = []
        let last = end ?? a.count
        sets.reserveCapacity(last - from)
        for i in from..<last {
            switch lookupObject(a[i], hash: hashKey(a[i]), type: .set, as: SetValue.self) {
            case .missing: sets.append(nil)
            case .wrongType: return nil
            case .found(let s, _): sets.append(s)
            }
        }
        return sets
    }

    /// Stores `result` as `dst` (replacing whatever it held), or deletes `dst` when the
    /// result is empty; replies the result's size (the STORE variants).
    private func storeSetResult(_ dst: UnsafeRawBufferPointer, _ result: SetValue, event: StaticString) {
        let hash = hashKey(dst)
        let link = lookupWrite(dst, hash: hash)
        if result.count > 0 {
            storeObject(dst, hash: hash, type: .set, result, at: link)
            notify(NotifyClass.set, event, dst)
        } else if link != nil {
            deleteKey(dst)
            notify(NotifyClass.generic, "del", dst)
        } else {
            dirty += 1   // Redis counts the store as a change even when nothing was there
        }
        replyInteger(result.count)
    }

    /// SINTER / SINTERSTORE / SMEMBERS: members of the smallest set found in all others,
    /// in that set's order.
    func sinter(_ a: Arguments, keysFrom: Int, store dst: UnsafeRawBufferPointer?) {
        guard let found = setsForOperation(a, from: keysFrom) else { return }
        if found.contains(where: { $0 == nil }) {
            if let dst {
                if deleteKey(dst) { notify(NotifyClass.generic, "del", dst) }
                replyInteger(0)
            } else {
                replySetHeader(0)
            }
            return
        }
        if found.count == 1 && dst == nil {
            // SMEMBERS, or SINTER of one key: the set as it is.
            replyWholeSet(found[0]!)
            return
        }
        let sets = found.map { $0! }.sorted { $0.count < $1.count }
        let result = dst != nil ? SetValue(intset: true) : nil
        var members: [[UInt8]] = []
        sets[0].forEach { m in
            for j in 1..<sets.count where sets[j] !== sets[0] {
                if !sets[j].contains(m, hasher: hasher) { return }
            }
            if let result { _ = result.add(m, hasher: hasher) } else { members.append(Array(m)) }
        }
        if let dst, let result {
            storeSetResult(dst, result, event: "sinterstore")
            return
        }
        replySetHeader(members.count)
        for m in members { replyBulk(m) }
    }

    /// SINTERCARD numkeys key... [LIMIT limit]
    func sintercard(_ a: Arguments) {
        guard let numkeys = parseInteger(a[1]), numkeys > 0 else {
            replyError("ERR numkeys should be greater than 0")
            return
        }
        if numkeys > a.count - 2 {
            replyError("ERR Number of keys can't be greater than number of args")
            return
        }
        var limit = 0
        var i = 2 + numkeys
        while i < a.count {
            if a[i].equalsIgnoringCase("limit") && i + 1 < a.count {
                guard let n = parseInteger(a[i + 1]), n >= 0 else {
                    replyError("ERR LIMIT can't be negative")
                    return
                }
                limit = n
                i += 2
            } else {
                replySyntaxError()
                return
            }
        }
        guard let found = setsForOperation(a, from: 2, to: 2 + numkeys) else { return }
        if found.contains(where: { $0 == nil }) {
            replyInteger(0)
            return
        }
        let sets = found.map { $0! }.sorted { $0.count < $1.count }
        var n = 0
        sets[0].forEach { m in
            if limit != 0 && n >= limit { return }
            for j in 1..<sets.count where sets[j] !== sets[0] {
                if !sets[j].contains(m, hasher: hasher) { return }
            }
            n += 1
        }
        replyInteger(n)
    }

    /// SUNION / SDIFF and their STORE forms, built into a new set the way Redis builds
    /// its temporary one (so an all-integer result is an intset and replies ascending).
    func sunionDiff(_ a: Arguments, keysFrom: Int, store dst: UnsafeRawBufferPointer?, diff: Bool) {
        guard var sets = setsForOperation(a, from: keysFrom) else { return }
        let result = SetValue(intset: true)
        if !diff {
            for case let s? in sets { s.forEach { _ = result.add($0, hasher: hasher) } }
        } else if let first = sets[0] {
            // Redis's two algorithms give the same members; pick the cheaper one.
            var one = 0, two = 0
            for case let s? in sets {
                one += first.count
                two += s.count
            }
            if one / 2 <= two {
                sets[1...].sort { ($0?.count ?? 0) > ($1?.count ?? 0) }
                first.forEach { m in
                    for j in 1..<sets.count {
                        guard let s = sets[j] else { continue }
                        if s === first || s.contains(m, hasher: hasher) { return }
                    }
                    _ = result.add(m, hasher: hasher)
                }
            } else {
                first.forEach { _ = result.add($0, hasher: hasher) }
                for j in 1..<sets.count {
                    guard let s = sets[j] else { continue }
                    if result.count == 0 { break }
                    s.forEach { _ = result.remove($0, hasher: hasher) }
                }
            }
        }
        if let dst {
            storeSetResult(dst, result, event: diff ? "sdiffstore" : "sunionstore")
            return
        }
        replySetHeader(result.count)
        result.forEach { replyBulk($0) }
    }

    /// SSCAN key cursor [MATCH pattern] [COUNT count]
    func sscan(_ a: Arguments) {
        guard let cursor = parseScanCursor(a[2]) else {
            replyError("ERR invalid cursor")
            return
        }
        guard let s = setForRead(a[1], missing: { replyEmptyScan() }) else { return }
        guard let (count, pattern) = scanOptions(a, from: 3) else { return }
        var found: [[UInt8]] = []
        var next = 0
        if s.isIntset {
            s.forEach { found.append(Array($0)) }
        } else {
            let t = s.table!
            next = t.scan(from: Int(clamping: cursor), wanted: count) { found.append(Array(t.key(at: $0))) }
        }
        if let pattern {
            found.removeAll { m in m.withUnsafeBytes { !stringMatch(pattern, $0, nocase: false) } }
        }
        replyScanCursor(next)
        replyArrayHeader(found.count)
        for m in found { replyBulk(m) }
    }
}
