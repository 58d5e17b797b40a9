import Glibc

/// Lists (Redis's t_list.c): pushes, pops, ranges, positional edits, moves between lists
/// and the blocking pops. Values are `ListValue`s.
let listCommands: [(String, CommandHandler)] = [
    ("lpush", { $0.push($1, front: true, onlyIfExists: false) }),
    ("rpush", { $0.push($1, front: false, onlyIfExists: false) }),
    ("lpushx", { $0.push($1, front: true, onlyIfExists: true) }),
    ("rpushx", { $0.push($1, front: false, onlyIfExists: true) }),
    ("lpop", { $0.pop($1, front: true) }),
    ("rpop", { $0.pop($1, front: false) }),
    ("llen", { $0.llen($1) }),
    ("lrange", { $0.lrange($1) }),
    ("lindex", { $0.lindex($1) }),
    ("lset", { $0.lset($1) }),
    ("linsert", { $0.linsert($1) }),
    ("lrem", { $0.lrem($1) }),
    ("ltrim", { $0.ltrim($1) }),
    ("lpos", { $0.lpos($1) }),
    ("lmove", { e, a in
        guard let from = e.listEndArgument(a[3]), let to = e.listEndArgument(a[4]) else { return }
        e.lmove(a, fromFront: from, toFront: to)
    }),
    ("rpoplpush", { $0.lmove($1, fromFront: false, toFront: true) }),
    ("lmpop", { $0.lmpop($1, blocking: false) }),
    ("blpop", { $0.blockingPop($1, front: true) }),
    ("brpop", { $0.blockingPop($1, front: false) }),
    ("blmove", { e, a in
        guard let from = e.listEndArgument(a[3]), let to = e.listEndArgument(a[4]) else { return }
        e.blockingMove(a, fromFront: from, toFront: to, timeout: a[5], rewrite: .lmove)
    }),
    ("brpoplpush", { $0.blockingMove($1, fromFront: false, toFront: true, timeout: $1[3], rewrite: .rpoplpush) }),
    ("blmpop", { $0.lmpop($1, blocking: true) }),
]

/// What a move propagates instead of its own arguments: BLMOVE and BRPOPLPUSH that
/// served go to replicas as the non-blocking command.
enum ListMoveRewrite {
    case none, lmove, rpoplpush
}

extension Engine {
    // MARK: lookups and arguments

    /// The list at `key` for changing it. Replies WRONGTYPE for another type, unless
    /// `quiet` (a blocked command looking again treats such a key as not there yet).
    @inline(__always)
    func writableList(_ key: UnsafeRawBufferPointer, hash: UInt64, quiet: Bool = false) -> ObjectLookup<ListValue> {
        guard let link = lookupWrite(key, hash: hash) else { return .missing }
        let e = Entry(link.pointee!)
        guard e.type == .list else {
            if !quiet { replyWrongType() }
            return .wrongType
        }
        return .found(unsafeDowncast(e.object, to: ListValue.self), e)
    }

    /// Deletes `key` when its list has become empty: Redis never keeps an empty list. Like
    /// Redis, only the elements removed count as changes (`dirty`), not the key's removal.
    @inline(__always)
    func deleteIfEmpty(_ list: ListValue, _ key: UnsafeRawBufferPointer) {
        if list.count == 0, let link = lookupWrite(key, hash: hashKey(key)) {
            db.table.remove(at: link)
            notify(NotifyClass.generic, "del", key)
        }
    }

    /// Adds a new empty list as `key`. Like Redis, only the elements then pushed count as
    /// changes, not the key's creation.
    @inline(__always)
    func createList(_ key: UnsafeRawBufferPointer, hash: UInt64) -> ListValue {
        let list = ListValue()
        storeObject(key, hash: hash, type: .list, list, at: nil)
        dirty -= 1
        return list
    }

    /// Whether a blocked command being re-run may serve from `key`: only from the key
    /// whose change woke it, as Redis serves from the key that became ready.
    @inline(__always)
    func mayServe(from key: UnsafeRawBufferPointer) -> Bool {
        guard let only = blocking.servingKey else { return true }
        return only.database == db.index && only.key.withUnsafeBytes { listBytesEqual($0, key) }
    }

    /// LEFT (true) or RIGHT (false), or a syntax error.
    func listEndArgument(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        if bytes.equalsIgnoringCase("left") { return true }
        if bytes.equalsIgnoringCase("right") { return false }
        replySyntaxError()
        return nil
    }

    /// An integer in `min...Int.max`, replying `message` when the argument is not one
    /// (Redis's getRangeLongFromObjectOrReply with a message: the same text for both).
    func boundedArgument(_ bytes: UnsafeRawBufferPointer, min: Int, _ message: StaticString) -> Int? {
        guard let n = parseInteger(bytes), n >= min else {
            replyError(message)
            return nil
        }
        return n
    }

    /// One element as a bulk string, with a single capacity check: LRANGE and counted pops
    /// write hundreds of these per reply.
    @inline(__always)
    func replyListElement(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        out.pointee.buffer.ensureWritable(n + 26)
        let p = out.pointee.buffer.writePointer
        p.storeBytes(of: UInt8(ascii: "$"), as: UInt8.self)
        var len = 1 + formatDecimal(Int64(n), into: p + 1)
        p.storeBytes(of: 0x0A0D as UInt16, toByteOffset: len, as: UInt16.self)   // "\r\n"
        len += 2
        if n > 0 { (p + len).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        len += n
        p.storeBytes(of: 0x0A0D as UInt16, toByteOffset: len, as: UInt16.self)
        out.pointee.buffer.commitWritten(len + 2)
    }

    /// `n` elements as an array, from the head (`front`) or from the tail backwards: the
    /// order in which a counted pop takes them.
    @inline(__always)
    func replyPoppedRange(_ list: ListValue, _ n: Int, front: Bool) {
        replyArrayHeader(n)
        if front {
            list.forEach(from: 0, n) { replyListElement($0) }
        } else {
            list.forEach(from: list.count - 1, n, reversed: true) { replyListElement($0) }
        }
    }

    /// Removes `n` elements from one end.
    @inline(__always)
    func removeEnd(_ list: ListValue, _ n: Int, front: Bool) {
        if front { list.removeFront(n) } else { list.removeBack(n) }
    }

    // MARK: pushes and pops

    /// LPUSH / RPUSH, and LPUSHX / RPUSHX (`onlyIfExists`). Replies the new length.
    @inline(__always)
    func push(_ a: Arguments, front: Bool, onlyIfExists: Bool) {
        let key = a[1]
        let hash = hashKey(key)
        let list: ListValue
        switch writableList(key, hash: hash) {
        case .wrongType:
            return
        case .found(let l, _):
            list = l
        case .missing:
            if onlyIfExists { replyInteger(0); return }
            list = createList(key, hash: hash)
        }
        if front {
            for i in 2..<a.count { list.pushFront(a[i]) }
        } else {
            for i in 2..<a.count { list.pushBack(a[i]) }
        }
        dirty += a.count - 2
        notify(NotifyClass.list, front ? "lpush" : "rpush", key)
        replyInteger(list.count)
    }

    /// LPOP / RPOP [count]. Without a count: one bulk or null. With one: an array (empty for
    /// 0), or the null array for a missing key.
    @inline(__always)
    func pop(_ a: Arguments, front: Bool) {
        if a.count > 3 {
            replyError(front ? "ERR wrong number of arguments for 'lpop' command"
                             : "ERR wrong number of arguments for 'rpop' command")
            return
        }
        var count = -1
        if a.count == 3 {
            guard let n = boundedArgument(a[2], min: 0, "ERR value is out of range, must be positive") else { return }
            count = n
        }
        let key = a[1]
        let list: ListValue
        switch writableList(key, hash: hashKey(key)) {
        case .wrongType: return
        case .missing:
            if count >= 0 { replyNullArray() } else { replyNull() }
            return
        case .found(let l, _): list = l
        }
        if count == 0 { replyEmptyArray(); return }
        if count < 0 {
            if front { list.popFront { replyBulk($0) } } else { list.popBack { replyBulk($0) } }
            dirty += 1
        } else {
            let n = min(count, list.count)
            replyPoppedRange(list, n, front: front)
            removeEnd(list, n, front: front)
            dirty += n
        }
        notify(NotifyClass.list, front ? "lpop" : "rpop", key)
        deleteIfEmpty(list, key)
    }

    func llen(_ a: Arguments) {
        switch lookupObject(a[1], hash: hashKey(a[1]), type: .list, as: ListValue.self) {
        case .missing: replyInteger(0)
        case .wrongType: return
        case .found(let list, _): replyInteger(list.count)
        }
    }

    // MARK: ranges and indices

    /// LRANGE: elements serialised straight from the chunks into the reply.
    @inline(__always)
    func lrange(_ a: Arguments) {
        guard var start = integerArgument(a[2]), var end = integerArgument(a[3]) else { return }
        let list: ListValue
        switch lookupObject(a[1], hash: hashKey(a[1]), type: .list, as: ListValue.self) {
        case .missing: replyEmptyArray(); return
        case .wrongType: return
        case .found(let l, _): list = l
        }
        let llen = list.count
        if start < 0 { start = llen &+ start }
        if end < 0 { end = llen &+ end }
        if start < 0 { start = 0 }
        if start > end || start >= llen { replyEmptyArray(); return }
        if end >= llen { end = llen - 1 }
        let n = end - start + 1
        replyArrayHeader(n)
        list.forEach(from: start, n) { replyListElement($0) }
    }

    /// A list index (negative from the tail) as a position, or nil when out of range.
    private func listIndex(_ list: ListValue, _ index: Int) -> ListPosition? {
        let i = index < 0 ? list.count &+ index : index
        if i < 0 || i >= list.count { return nil }
        return list.position(of: i)
    }

    func lindex(_ a: Arguments) {
        let list: ListValue
        switch lookupObject(a[1], hash: hashKey(a[1]), type: .list, as: ListValue.self) {
        case .missing: replyNull(); return
        case .wrongType: return
        case .found(let l, _): list = l
        }
        guard let index = integerArgument(a[2]) else { return }
        guard let p = listIndex(list, index) else { replyNull(); return }
        replyBulk(list.element(at: p))
    }

    func lset(_ a: Arguments) {
        let list: ListValue
        switch writableList(a[1], hash: hashKey(a[1])) {
        case .missing: replyError("ERR no such key"); return
        case .wrongType: return
        case .found(let l, _): list = l
        }
        guard let index = integerArgument(a[2]) else { return }
        guard let p = listIndex(list, index) else { replyError("ERR index out of range"); return }
        list.replace(at: p, with: a[3])
        dirty += 1
        notify(NotifyClass.list, "lset", a[1])
        replyOK()
    }

    /// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0
    /// without the key.
    func linsert(_ a: Arguments) {
        let after: Bool
        if a[2].equalsIgnoringCase("after") {
            after = true
        } else if a[2].equalsIgnoringCase("before") {
            after = false
        } else {
            replySyntaxError()
            return
        }
        let list: ListValue
        switch writableList(a[1], hash: hashKey(a[1])) {
        case .missing: replyInteger(0); return
        case .wrongType: return
        case .found(let l, _): list = l
        }
        var p = list.firstPosition
        repeat {
            if listBytesEqual(list.element(at: p), a[3]) {
                list.insert(a[4], at: p, after: after)
                dirty += 1
                notify(NotifyClass.list, "linsert", a[1])
                replyInteger(list.count)
                return
            }
        } while list.advance(&p)
        replyInteger(-1)
    }

    /// LREM key count element: count > 0 removes the first matches from the head, < 0 from
    /// the tail, 0 all of them.
    func lrem(_ a: Arguments) {
        guard let count = integerArgument(a[2]) else { return }
        let list: ListValue
        switch writableList(a[1], hash: hashKey(a[1])) {
        case .missing: replyInteger(0); return
        case .wrongType: return
        case .found(let l, _): list = l
        }
        let limit = count == Int.min ? Int.max : abs(count)
        let removed = list.removeAll(equalTo: a[3], limit: limit, fromTail: count < 0)
        dirty += removed
        if removed > 0 { notify(NotifyClass.list, "lrem", a[1]) }
        deleteIfEmpty(list, a[1])
        replyInteger(removed)
    }

    func ltrim(_ a: Arguments) {
        guard var start = integerArgument(a[2]), var end = integerArgument(a[3]) else { return }
        let list: ListValue
        switch writableList(a[1], hash: hashKey(a[1])) {
        case .missing: replyOK(); return
        case .wrongType: return
        case .found(let l, _): list = l
        }
        let llen = list.count
        if start < 0 { start = llen &+ start }
        if end < 0 { end = llen &+ end }
        if start < 0 { start = 0 }
        let ltrim: Int, rtrim: Int
        if start > end || start >= llen {
            ltrim = llen
            rtrim = 0
        } else {
            if end >= llen { end = llen - 1 }
            ltrim = start
            rtrim = llen - end - 1
        }
        list.removeFront(ltrim)
        list.removeBack(rtrim)
        dirty += ltrim + rtrim
        notify(NotifyClass.list, "ltrim", a[1])
        deleteIfEmpty(list, a[1])
        replyOK()
    }

    /// LPOS key element [RANK r] [COUNT n] [MAXLEN m], as Redis's lposCommand.
    func lpos(_ a: Arguments) {
        var rank = 1, count = -1, maxlen = 0
        var j = 3
        while j < a.count {
            let opt = a[j]
            let more = j + 1 < a.count
            if opt.equalsIgnoringCase("rank") && more {
                j += 1
                guard let r = integerArgument(a[j]) else { return }
                if r == 0 {
                    replyError("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                    return
                }
                rank = r
            } else if opt.equalsIgnoringCase("count") && more {
                j += 1
                guard let n = boundedArgument(a[j], min: 0, "ERR COUNT can't be negative") else { return }
                count = n
            } else if opt.equalsIgnoringCase("maxlen") && more {
                j += 1
                guard let n = boundedArgument(a[j], min: 0, "ERR MAXLEN can't be negative") else { return }
                maxlen = n
            } else {
                replySyntaxError()
                return
            }
            j += 1
        }
        // A negative rank searches from the tail. Like C's -LONG_MIN, negating the smallest
        // rank leaves it negative, so its first match counts.
        let fromTail = rank < 0
        if fromTail { rank = 0 &- rank }
        let list: ListValue
        switch lookupObject(a[1], hash: hashKey(a[1]), type: .list, as: ListValue.self) {
        case .missing:
            if count != -1 { replyEmptyArray() } else { replyNull() }
            return
        case .wrongType: return
        case .found(let l, _): list = l
        }
        let llen = list.count
        var found: [Int] = []
        var p = fromTail ? list.lastPosition : list.firstPosition
        var index = 0, matches = 0
        var matchIndex = -1
        while maxlen == 0 || index < maxlen {
            if listBytesEqual(list.element(at: p), a[2]) {
                matches += 1
                matchIndex = fromTail ? llen - index - 1 : index
                if matches >= rank {
                    if count == -1 { break }
                    found.append(matchIndex)
                    if count != 0 && matches &- rank &+ 1 >= count { break }   // wraps as C's long does
                }
            }
            index += 1
            matchIndex = -1
            if !(fromTail ? list.retreat(&p) : list.advance(&p)) { break }
        }
        if count != -1 {
            replyArrayHeader(found.count)
            for i in found { replyInteger(i) }
        } else if matchIndex != -1 {
            replyInteger(matchIndex)
        } else {
            replyNull()
        }
    }

    // MARK: moves

    /// LMOVE / RPOPLPUSH, and BLMOVE / BRPOPLPUSH once their source has elements (then they
    /// are propagated as the non-blocking command). Replies the moved element, or null
    /// when the source is missing.
    func lmove(_ a: Arguments, fromFront: Bool, toFront: Bool, rewrite: ListMoveRewrite = .none) {
        let src = a[1], dst = a[2]
        let source: ListValue
        switch writableList(src, hash: hashKey(src)) {
        case .missing: replyNull(); return
        case .wrongType: return
        case .found(let l, _): source = l
        }
        let dstHash = hashKey(dst)
        var target: ListValue?
        switch writableList(dst, hash: dstHash) {
        case .wrongType: return
        case .found(let l, _): target = l
        case .missing: target = nil
        }
        // Copied out: pushing onto the same list may move the chunk it sits in.
        let value = fromFront ? source.popFront { Array($0) } : source.popBack { Array($0) }
        let list: ListValue
        if let target {
            list = target
        } else {
            list = createList(dst, hash: dstHash)
        }
        value.withUnsafeBytes { if toFront { list.pushFront($0) } else { list.pushBack($0) } }
        dirty += 1
        notify(NotifyClass.list, toFront ? "lpush" : "rpush", dst)
        notify(NotifyClass.list, fromFront ? "lpop" : "rpop", src)
        deleteIfEmpty(source, src)
        replyBulk(value)
        switch rewrite {
        case .none: break
        case .lmove:
            // Served at once, BLMOVE's own words go along; served after blocking, Redis
            // spells the ends itself, in lower case.
            let served = client.blockState != nil
            propagateInstead([Array("LMOVE".utf8), Array(src), Array(dst),
                              served ? Array((fromFront ? "left" : "right").utf8) : Array(a[3]),
                              served ? Array((toFront ? "left" : "right").utf8) : Array(a[4])])
        case .rpoplpush: propagateInstead([Array("RPOPLPUSH".utf8), Array(src), Array(dst)])
        }
    }

    /// LMPOP numkeys key... LEFT|RIGHT [COUNT n] and BLMPOP timeout numkeys ...: pops up
    /// to n elements from the first non-empty list, replying [key, [elements]], and
    /// propagates LPOP/RPOP key n.
    func lmpop(_ a: Arguments, blocking: Bool) {
        let numkeysIndex = blocking ? 2 : 1
        guard let numkeys = boundedArgument(a[numkeysIndex], min: 1, "ERR numkeys should be greater than 0") else { return }
        // The keys and LEFT|RIGHT must all be there.
        if numkeys >= a.count - numkeysIndex - 1 { replySyntaxError(); return }
        let whereIndex = numkeysIndex + numkeys + 1
        guard let front = listEndArgument(a[whereIndex]) else { return }
        var count = -1
        var j = whereIndex + 1
        while j < a.count {
            if count == -1 && a[j].equalsIgnoringCase("count") && j + 1 < a.count {
                j += 1
                guard let n = boundedArgument(a[j], min: 1, "ERR count should be greater than 0") else { return }
                count = n
            } else {
                replySyntaxError()
                return
            }
            j += 1
        }
        if count == -1 { count = 1 }
        var deadline: Int64 = 0
        if blocking {
            guard let d = blockingTimeoutArgument(a[1]) else { return }
            deadline = d
        }
        let rerun = client.blockState != nil
        for k in (numkeysIndex + 1)...(numkeysIndex + numkeys) {
            let key = a[k]
            if rerun && !mayServe(from: key) { continue }
            let list: ListValue
            switch writableList(key, hash: hashKey(key), quiet: rerun) {
            case .missing: continue
            case .wrongType: if rerun { continue } else { return }
            case .found(let l, _): list = l
            }
            if list.count == 0 { continue }
            let n = min(count, list.count)
            replyArrayHeader(2)
            replyBulk(key)
            replyPoppedRange(list, n, front: front)
            removeEnd(list, n, front: front)
            dirty += n
            notify(NotifyClass.list, front ? "lpop" : "rpop", key)
            deleteIfEmpty(list, key)
            touchKey(key)
            var digits = [UInt8](repeating: 0, count: 24)
            let len = digits.withUnsafeMutableBytes { formatDecimal(Int64(n), into: $0.baseAddress!) }
            propagateInstead([Array((front ? "LPOP" : "RPOP").utf8), Array(key), Array(digits[0..<len])])
            return
        }
        if !blocking || !canBlock {
            replyNullArray()
            return
        }
        var keys: [UnsafeRawBufferPointer] = []
        for k in (numkeysIndex + 1)...(numkeysIndex + numkeys) { keys.append(a[k]) }
        blockClient(on: keys, deadline: deadline, args: a)
    }

    // MARK: blocking pops

    /// BLPOP / BRPOP key... timeout: pops from the first non-empty list, replying
    /// [key, element] and propagating LPOP/RPOP key; blocks when all are empty.
    func blockingPop(_ a: Arguments, front: Bool) {
        guard let deadline = blockingTimeoutArgument(a[a.count - 1]) else { return }
        let rerun = client.blockState != nil
        for i in 1..<(a.count - 1) {
            let key = a[i]
            if rerun && !mayServe(from: key) { continue }
            let list: ListValue
            switch writableList(key, hash: hashKey(key), quiet: rerun) {
            case .missing: continue
            case .wrongType: if rerun { continue } else { return }
            case .found(let l, _): list = l
            }
            if list.count == 0 { continue }
            replyArrayHeader(2)
            replyBulk(key)
            if front { list.popFront { replyBulk($0) } } else { list.popBack { replyBulk($0) } }
            dirty += 1
            notify(NotifyClass.list, front ? "lpop" : "rpop", key)
            deleteIfEmpty(list, key)
            propagateInstead([Array((front ? "LPOP" : "RPOP").utf8), Array(key)])
            return
        }
        if !canBlock {
            replyNullArray()
            return
        }
        var keys: [UnsafeRawBufferPointer] = []
        for i in 1..<(a.count - 1) { keys.append(a[i]) }
        blockClient(on: keys, deadline: deadline, args: a)
    }

    /// BLMOVE / BRPOPLPUSH: LMOVE when the source has elements, else block on the source.
    /// Inside MULTI an empty source answers the null bulk string, as Redis does.
    func blockingMove(_ a: Arguments, fromFront: Bool, toFront: Bool, timeout: UnsafeRawBufferPointer,
                      rewrite: ListMoveRewrite) {
        guard let deadline = blockingTimeoutArgument(timeout) else { return }
        let rerun = client.blockState != nil
        switch writableList(a[1], hash: hashKey(a[1]), quiet: rerun) {
        case .wrongType:
            if !rerun { return }
        case .found:
            lmove(a, fromFront: fromFront, toFront: toFront, rewrite: rewrite)
            return
        case .missing:
            break
        }
        if !canBlock {
            replyNull()
            return
        }
        blockClient(on: [a[1]], deadline: deadline, args: a)
    }
}
