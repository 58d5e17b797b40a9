import Glibc

/// Sorted set commands (Redis's t_zset.c), with its replies, errors and edge cases.
let sortedSetCommands: [(String, CommandHandler)] = [
    ("zadd", { $0.zadd($1, increment: false) }),
    ("zincrby", { $0.zadd($1, increment: true) }),
    ("zrem", { $0.zrem($1) }),
    ("zcard", { $0.zcard($1) }),
    ("zscore", { $0.zscore($1) }),
    ("zmscore", { $0.zmscore($1) }),
    ("zrank", { $0.zrank($1, reverse: false) }),
    ("zrevrank", { $0.zrank($1, reverse: true) }),
    ("zcount", { $0.zcount($1) }),
    ("zlexcount", { $0.zlexcount($1) }),
    ("zrange", { $0.zrange($1, keyIndex: 1, store: false, kind: nil, reverse: nil) }),
    ("zrevrange", { $0.zrange($1, keyIndex: 1, store: false, kind: .rank, reverse: true) }),
    ("zrangebyscore", { $0.zrange($1, keyIndex: 1, store: false, kind: .score, reverse: false) }),
    ("zrevrangebyscore", { $0.zrange($1, keyIndex: 1, store: false, kind: .score, reverse: true) }),
    ("zrangebylex", { $0.zrange($1, keyIndex: 1, store: false, kind: .lex, reverse: false) }),
    ("zrevrangebylex", { $0.zrange($1, keyIndex: 1, store: false, kind: .lex, reverse: true) }),
    ("zrangestore", { $0.zrange($1, keyIndex: 2, store: true, kind: nil, reverse: nil) }),
    ("zremrangebyrank", { $0.zremrange($1, kind: .rank) }),
    ("zremrangebyscore", { $0.zremrange($1, kind: .score) }),
    ("zremrangebylex", { $0.zremrange($1, kind: .lex) }),
    ("zpopmin", { $0.zpopMinMax($1, max: false) }),
    ("zpopmax", { $0.zpopMinMax($1, max: true) }),
    ("zmpop", { $0.zmpop($1, numkeysIndex: 1, blocking: false) }),
    ("bzpopmin", { $0.bzpop($1, max: false) }),
    ("bzpopmax", { $0.bzpop($1, max: true) }),
    ("bzmpop", { $0.zmpop($1, numkeysIndex: 2, blocking: true) }),
    ("zunionstore", { $0.zsetOperation($1, op: .union, store: true, cardinalityOnly: false) }),
    ("zinterstore", { $0.zsetOperation($1, op: .inter, store: true, cardinalityOnly: false) }),
    ("zdiffstore", { $0.zsetOperation($1, op: .diff, store: true, cardinalityOnly: false) }),
    ("zunion", { $0.zsetOperation($1, op: .union, store: false, cardinalityOnly: false) }),
    ("zinter", { $0.zsetOperation($1, op: .inter, store: false, cardinalityOnly: false) }),
    ("zdiff", { $0.zsetOperation($1, op: .diff, store: false, cardinalityOnly: false) }),
    ("zintercard", { $0.zsetOperation($1, op: .inter, store: false, cardinalityOnly: true) }),
    ("zrandmember", { $0.zrandmember($1) }),
    ("zscan", { $0.zscan($1) }),
]

/// What Z[REV]RANGE[BY...] and ZREMRANGEBY... select by.
enum SortedSetRangeKind { case rank, score, lex }

/// The set operations of ZUNION, ZINTER and ZDIFF and their STORE / CARD forms.
enum SortedSetOperation { case union, inter, diff }

// MARK: - Replies and arguments

extension Engine {
    /// addReplyDouble: a bulk string in RESP2, a double (",1.5") in RESP3, "%.17g" either way.
    @inline(__always)
    func replyScore(_ d: Double) {
        var buf: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &buf) { b in
            let n = formatScore(d, into: b.baseAddress!)
            if resp3 {
                out.pointee.buffer.ensureWritable(n + 3)
                out.pointee.buffer.appendByte(UInt8(ascii: ","))
                out.pointee.buffer.append(b.baseAddress!, count: n)
                out.pointee.buffer.append("\r\n" as StaticString)
            } else {
                replyBulk(UnsafeRawBufferPointer(start: b.baseAddress!, count: n))
            }
        }
    }

    /// A score as a bulk string whatever the protocol (ZSCAN's values).
    func replyScoreText(_ d: Double) {
        var buf: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &buf) { b in
            replyBulk(UnsafeRawBufferPointer(start: b.baseAddress!, count: formatScore(d, into: b.baseAddress!)))
        }
    }

    /// A score argument (getDoubleFromObjectOrReply): canonical integers take a fast path
    /// that gives strtod's value; anything else goes through string2d's rules.
    @inline(__always)
    func scoreArgument(_ bytes: UnsafeRawBufferPointer, error: StaticString = "ERR value is not a valid float") -> Double? {
        if let n = parseInteger(bytes) { return Double(n) }
        if let d = parseDouble(bytes) { return d }
        replyError(error)
        return nil
    }

    /// getRangeLongFromObjectOrReply with Redis's message `message`, used for the parse
    /// failure as well as for a value outside min...max.
    func boundedInteger(_ bytes: UnsafeRawBufferPointer, min: Int, message: StaticString) -> Int? {
        guard let n = parseInteger(bytes), n >= min else {
            replyError(message)
            return nil
        }
        return n
    }

    /// The sorted set at `key` for changing it, with its table link; replies WRONGTYPE when
    /// the key holds another type. Like lookupKeyWrite, counts no hits or misses.
    @inline(__always)
    func sortedSetForWrite(_ key: UnsafeRawBufferPointer, hash: UInt64) -> SortedSetWriteLookup {
        guard let link = lookupWrite(key, hash: hash) else { return .missing }
        let e = Entry(link.pointee!)
        guard e.type == .zset else {
            replyWrongType()
            return .wrongType
        }
        return .found(unsafeDowncast(e.object, to: SortedSetValue.self), link)
    }

    /// The sorted set at `key` for reading; nil when missing or of another type (then
    /// WRONGTYPE was replied and `wrongType` is set).
    @inline(__always)
    func sortedSetForRead(_ key: UnsafeRawBufferPointer, wrongType: inout Bool) -> SortedSetValue? {
        switch lookupObject(key, hash: hashKey(key), type: .zset, as: SortedSetValue.self) {
        case .missing: return nil
        case .wrongType: wrongType = true; return nil
        case .found(let z, _): return z
        }
    }

    /// Deletes the key at `link` when its set was emptied (Redis deletes empty aggregates).
    @inline(__always)
    func deleteIfEmpty(_ z: SortedSetValue, at link: KeyTable.Link) {
        if z.count == 0 {
            notify(NotifyClass.generic, "del", Entry(link.pointee!).key)
            db.table.remove(at: link)
            dirty += 1
        }
    }

    /// zslParseRange: "(" makes an end exclusive; the rest goes to strtod, which must stop
    /// at the end of the C string (so "", " 1" and "1e400" are accepted, as in Redis), and
    /// NaN is refused. Replies the error and returns nil on a bad bound.
    func scoreRangeArguments(_ minArg: UnsafeRawBufferPointer, _ maxArg: UnsafeRawBufferPointer) -> ScoreRange? {
        guard let (lo, loEx) = parseScoreBound(minArg), let (hi, hiEx) = parseScoreBound(maxArg) else {
            replyError("ERR min or max is not a float")
            return nil
        }
        return ScoreRange(min: lo, max: hi, minExclusive: loEx, maxExclusive: hiEx)
    }

    /// zslParseLexRange. Replies the error and returns nil on a bad bound.
    func lexRangeArguments(_ minArg: UnsafeRawBufferPointer, _ maxArg: UnsafeRawBufferPointer) -> LexRange? {
        guard let lo = parseLexBound(minArg), let hi = parseLexBound(maxArg) else {
            replyError("ERR min or max not valid string range item")
            return nil
        }
        return LexRange(min: lo, max: hi)
    }
}

/// The answer of `sortedSetForWrite`.
enum SortedSetWriteLookup {
    case missing
    /// WRONGTYPE has been replied.
    case wrongType
    case found(SortedSetValue, KeyTable.Link)
}

/// Writes a score as Redis prints it ("%.17g", "inf", "-inf") at `p` (room for 32 bytes);
/// returns the length. Integral scores below 1e17, which "%.17g" prints as plain integers,
/// are formatted without printf.
@inline(__always)
func formatScore(_ d: Double, into p: UnsafeMutableRawPointer) -> Int {
    if d.isInfinite {
        let text: StaticString = d > 0 ? "inf" : "-inf"
        p.copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        return text.utf8CodeUnitCount
    }
    if d == d.rounded(.towardZero) && abs(d) < 1e17 {
        if d == 0 && d.sign == .minus {
            p.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self)
            p.storeBytes(of: UInt8(ascii: "0"), toByteOffset: 1, as: UInt8.self)
            return 2
        }
        return formatDecimal(Int64(d), into: p)
    }
    let n = withVaList([d]) { vsnprintf(p.assumingMemoryBound(to: CChar.self), 32, "%.17g", $0) }
    return Int(n)
}

/// One end of a score range: "(" prefix for exclusive, then strtod up to the first NUL.
private func parseScoreBound(_ s: UnsafeRawBufferPointer) -> (Double, Bool)? {
    var exclusive = false
    var body = s
    if s.count > 0 && s[0] == UInt8(ascii: "(") {
        exclusive = true
        body = UnsafeRawBufferPointer(rebasing: s[1...])
    }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: body.count + 1) { buf -> (Double, Bool)? in
        let base = buf.baseAddress!
        if body.count > 0 { UnsafeMutableRawPointer(base).copyMemory(from: body.baseAddress!, byteCount: body.count) }
        base[body.count] = 0
        var end: UnsafeMutablePointer<CChar>? = nil
        let v = strtod(base, &end)
        if end!.pointee != 0 || v.isNaN { return nil }
        return (v, exclusive)
    }
}

/// zslParseLexRangeItem: "-" and "+" alone (Redis reads them as C strings, so a NUL may
/// follow), or "[" / "(" followed by the member.
private func parseLexBound(_ s: UnsafeRawBufferPointer) -> LexBound? {
    guard s.count > 0 else { return nil }
    switch s[0] {
    case UInt8(ascii: "+"):
        return s.count == 1 || s[1] == 0 ? .plusInfinity : nil
    case UInt8(ascii: "-"):
        return s.count == 1 || s[1] == 0 ? .minusInfinity : nil
    case UInt8(ascii: "("):
        return .member(UnsafeRawBufferPointer(rebasing: s[1...]), exclusive: true)
    case UInt8(ascii: "["):
        return .member(UnsafeRawBufferPointer(rebasing: s[1...]), exclusive: false)
    default:
        return nil
    }
}

// MARK: - Adding, scoring, removing

extension Engine {
    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], and ZINCRBY
    /// (`increment`), which shares its option parsing as in Redis (zaddGenericCommand).
    /// Every score is parsed before anything changes, so a bad one changes nothing.
    func zadd(_ a: Arguments, increment: Bool) {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = increment
        var first = 2
        while first < a.count {
            let o = a[first]
            if o.equalsIgnoringCase("nx") { nx = true }
            else if o.equalsIgnoringCase("xx") { xx = true }
            else if o.equalsIgnoringCase("ch") { ch = true }
            else if o.equalsIgnoringCase("incr") { incr = true }
            else if o.equalsIgnoringCase("gt") { gt = true }
            else if o.equalsIgnoringCase("lt") { lt = true }
            else { break }
            first += 1
        }
        let rest = a.count - first
        if rest == 0 || rest % 2 != 0 { replySyntaxError(); return }
        let elements = rest / 2
        if nx && xx { replyError("ERR XX and NX options at the same time are not compatible"); return }
        if (gt && nx) || (lt && nx) || (gt && lt) {
            replyError("ERR GT, LT, and/or NX options at the same time are not compatible")
            return
        }
        if incr && elements > 1 { replyError("ERR INCR option supports a single increment-element pair"); return }

        withUnsafeTemporaryAllocation(of: Double.self, capacity: elements) { scores in
            for j in 0..<elements {
                guard let s = scoreArgument(a[first + 2 * j]) else { return }
                scores[j] = s
            }
            let key = a[1]
            let hash = hashKey(key)
            let z: SortedSetValue
            var created = false
            switch sortedSetForWrite(key, hash: hash) {
            case .wrongType: return
            case .found(let found, _): z = found
            case .missing:
                if xx {
                    if incr { replyNull() } else { replyInteger(0) }
                    return
                }
                z = SortedSetValue()
                created = true
            }

            var added = 0, updated = 0, processed = 0
            var result = 0.0
            for j in 0..<elements {
                let member = a[first + 2 * j + 1]
                var score = scores[j]
                let h = z.isPacked ? 0 : z.memberHash(member)
                if let p = z.find(member, hash: h) {
                    if nx { continue }
                    let current = z.score(at: p)
                    if incr {
                        score += current
                        if score.isNaN {
                            replyError("ERR resulting score is not a number (NaN)")
                            dirty += added + updated
                            return
                        }
                    }
                    if (lt && score >= current) || (gt && score <= current) { continue }
                    processed += 1
                    result = score
                    if score != current {
                        z.setScore(at: p, score)
                        updated += 1
                    }
                } else if !xx {
                    z.insert(member, score: score, hash: h)
                    added += 1
                    processed += 1
                    result = score
                }
            }
            if created {
                // storeObject counts the new key as one change; Redis counts members only.
                storeObject(key, hash: hash, type: .zset, z, at: nil)
                dirty -= 1
            }
            dirty += added + updated
            if added + updated > 0 { notify(NotifyClass.zset, incr ? "zincr" : "zadd", key) }
            if incr {
                if processed > 0 { replyScore(result) } else { replyNull() }
            } else {
                replyInteger(ch ? added + updated : added)
            }
        }
    }

    /// ZREM key member [member ...]
    func zrem(_ a: Arguments) {
        let key = a[1]
        let z: SortedSetValue, link: KeyTable.Link
        switch sortedSetForWrite(key, hash: hashKey(key)) {
        case .missing: replyInteger(0); return
        case .wrongType: return
        case .found(let found, let l): (z, link) = (found, l)
        }
        var deleted = 0
        for i in 2..<a.count {
            if z.remove(a[i]) { deleted += 1 }
            if z.count == 0 { break }
        }
        dirty += deleted
        if deleted > 0 { notify(NotifyClass.zset, "zrem", key) }
        deleteIfEmpty(z, at: link)
        replyInteger(deleted)
    }

    func zcard(_ a: Arguments) {
        var wrong = false
        guard let z = sortedSetForRead(a[1], wrongType: &wrong) else {
            if !wrong { replyInteger(0) }
            return
        }
        replyInteger(z.count)
    }

    func zscore(_ a: Arguments) {
        var wrong = false
        guard let z = sortedSetForRead(a[1], wrongType: &wrong) else {
            if !wrong { replyNull() }
            return
        }
        if let s = z.score(of: a[2]) { replyScore(s) } else { replyNull() }
    }

    func zmscore(_ a: Arguments) {
        var wrong = false
        let z = sortedSetForRead(a[1], wrongType: &wrong)
        if wrong { return }
        replyArrayHeader(a.count - 2)
        for i in 2..<a.count {
            if let z, let s = z.score(of: a[i]) { replyScore(s) } else { replyNull() }
        }
    }

    /// ZRANK / ZREVRANK key member
    func zrank(_ a: Arguments, reverse: Bool) {
        var wrong = false
        guard let z = sortedSetForRead(a[1], wrongType: &wrong) else {
            if !wrong { replyNull() }
            return
        }
        guard let p = z.find(a[2]) else { replyNull(); return }
        let r = z.rank(at: p)
        replyInteger(reverse ? z.count - 1 - r : r)
    }

    /// ZCOUNT key min max
    func zcount(_ a: Arguments) {
        guard let range = scoreRangeArguments(a[2], a[3]) else { return }
        replyCountInRange(a[1], first: { $0.firstInRange(range) }, last: { $0.lastInRange(range) },
                          belowMax: { z, p in range.belowMax(z.score(at: p)) })
    }

    /// ZLEXCOUNT key min max
    func zlexcount(_ a: Arguments) {
        guard let range = lexRangeArguments(a[2], a[3]) else { return }
        replyCountInRange(a[1], first: { $0.firstInRange(range) }, last: { $0.lastInRange(range) },
                          belowMax: { z, p in range.belowMax(z.member(at: p)) })
    }

    /// The number of elements of `key` in a score or lex range: walked in the packed form,
    /// from the ranks of both ends in a skiplist, as Redis counts.
    private func replyCountInRange(_ key: UnsafeRawBufferPointer,
                                   first: (SortedSetValue) -> SortedSetPosition?,
                                   last: (SortedSetValue) -> SortedSetPosition?,
                                   belowMax: (SortedSetValue, SortedSetPosition) -> Bool) {
        var wrong = false
        guard let z = sortedSetForRead(key, wrongType: &wrong) else {
            if !wrong { replyInteger(0) }
            return
        }
        guard let lo = first(z) else { replyInteger(0); return }
        if z.isPacked {
            var n = 0
            var p: SortedSetPosition? = lo
            while let q = p, belowMax(z, q) { n += 1; p = z.next(q) }
            replyInteger(n)
            return
        }
        var n = z.count - z.rank(at: lo)
        if let hi = last(z) { n -= z.count - 1 - z.rank(at: hi) }
        replyInteger(n)
    }
}

// MARK: - Ranges

/// A parsed range of Z[REV]RANGE[BY...] / ZRANGESTORE / ZREMRANGEBY...
private enum ParsedRange {
    case rank(Int, Int)
    case score(ScoreRange)
    case lex(LexRange)
}

extension Engine {
    /// ZRANGE and its older forms, and ZRANGESTORE (zrangeGenericCommand). `kind` and
    /// `reverse` are fixed by the older commands; ZRANGE / ZRANGESTORE leave them to the
    /// BYSCORE / BYLEX / REV options. The key is at `keyIndex` (2 for ZRANGESTORE, whose
    /// destination is argument 1).
    func zrange(_ a: Arguments, keyIndex: Int, store: Bool, kind fixedKind: SortedSetRangeKind?,
                reverse fixedReverse: Bool?) {
        var kind = fixedKind
        var reverse = fixedReverse
        var withScores = false
        var offset = 0, limit = -1
        var j = keyIndex + 3
        while j < a.count {
            let left = a.count - j - 1
            let o = a[j]
            if !store && o.equalsIgnoringCase("withscores") {
                withScores = true
            } else if o.equalsIgnoringCase("limit") && left >= 2 {
                guard let off = integerArgument(a[j + 1]), let lim = integerArgument(a[j + 2]) else { return }
                offset = off
                limit = lim
                j += 2
            } else if reverse == nil && o.equalsIgnoringCase("rev") {
                reverse = true
            } else if kind == nil && o.equalsIgnoringCase("bylex") {
                kind = .lex
            } else if kind == nil && o.equalsIgnoringCase("byscore") {
                kind = .score
            } else {
                replySyntaxError()
                return
            }
            j += 1
        }
        let rev = reverse ?? false
        let k = kind ?? .rank
        if limit != -1 && k == .rank {
            replyError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
            return
        }
        if withScores && k == .lex {
            replyError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
            return
        }
        // The reverse forms take the range as max, min.
        var minArg = a[keyIndex + 1], maxArg = a[keyIndex + 2]
        if rev && k != .rank { swap(&minArg, &maxArg) }
        let range: ParsedRange
        switch k {
        case .rank:
            guard let s = integerArgument(minArg), let e = integerArgument(maxArg) else { return }
            range = .rank(s, e)
        case .score:
            guard let r = scoreRangeArguments(minArg, maxArg) else { return }
            range = .score(r)
        case .lex:
            guard let r = lexRangeArguments(minArg, maxArg) else { return }
            range = .lex(r)
        }

        var wrong = false
        let z = sortedSetForRead(a[keyIndex], wrongType: &wrong)
        if wrong { return }
        guard let z else {
            if store { finishRangeStore(a[1], nil) } else { replyEmptyArray() }
            return
        }

        // Where the selection starts and how many elements it has.
        var start: SortedSetPosition? = nil
        var n = 0
        switch range {
        case .rank(var s, var e):
            let len = z.count
            if s < 0 { s += len }
            if e < 0 { e += len }
            if s < 0 { s = 0 }
            if s <= e && s < len {
                if e >= len { e = len - 1 }
                n = e - s + 1
                start = z.position(atRank: rev ? len - 1 - s : s)
            }
        case .score(let r):
            start = offset > 0 && offset >= z.count ? nil : (rev ? z.lastInRange(r) : z.firstInRange(r))
            (start, n) = limitedRun(z, from: start, reverse: rev, offset: offset, limit: limit) { z, p in
                rev ? r.aboveMin(z.score(at: p)) : r.belowMax(z.score(at: p))
            }
        case .lex(let r):
            start = offset > 0 && offset >= z.count ? nil : (rev ? z.lastInRange(r) : z.firstInRange(r))
            (start, n) = limitedRun(z, from: start, reverse: rev, offset: offset, limit: limit) { z, p in
                rev ? r.aboveMin(z.member(at: p)) : r.belowMax(z.member(at: p))
            }
        }

        if store {
            // Like Redis, a rank range of more than 128 starts as a skiplist; anything else
            // starts packed and converts as elements are added (a -0 score added while
            // packed reads back as 0 then, also as in Redis).
            let result = SortedSetValue(expectedCount: k == .rank ? n : 0, maxMemberLength: 0)
            var p = start
            for _ in 0..<n {
                result.insertNew(z.member(at: p!), score: z.score(at: p!))
                p = z.step(p!, reverse: rev)
            }
            finishRangeStore(a[1], result)
            return
        }
        replyRangeHeader(n, withScores: withScores)
        var p = start
        for _ in 0..<n {
            replyRangeElement(z.member(at: p!), z.score(at: p!), withScores: withScores)
            p = z.step(p!, reverse: rev)
        }
    }

    /// From `start`, skips `offset` elements and counts up to `limit` (negative: no limit)
    /// consecutive ones for which `inRange` holds, as Redis's LIMIT loops do (a negative
    /// offset skips everything). Returns the first selected element and the count.
    private func limitedRun(_ z: SortedSetValue, from start: SortedSetPosition?, reverse: Bool, offset: Int, limit: Int,
                            _ inRange: (SortedSetValue, SortedSetPosition) -> Bool) -> (SortedSetPosition?, Int) {
        var p = start
        if offset < 0 { return (nil, 0) }
        var skip = offset
        while let q = p, skip > 0 {
            p = z.step(q, reverse: reverse)
            skip -= 1
        }
        let first = p
        var n = 0
        var left = limit
        while let q = p, left != 0, inRange(z, q) {
            n += 1
            left -= 1
            p = z.step(q, reverse: reverse)
        }
        return (first, n)
    }

    /// ZRANGESTORE's end (zrangeResultFinalizeStore): stores a non-empty result over `dst`,
    /// or deletes `dst` when the result is empty; replies the result's size.
    private func finishRangeStore(_ dst: UnsafeRawBufferPointer, _ result: SortedSetValue?) {
        if let result, result.count > 0 {
            let hash = hashKey(dst)
            storeObject(dst, hash: hash, type: .zset, result, at: lookupWrite(dst, hash: hash))
            notify(NotifyClass.zset, "zrangestore", dst)
            replyInteger(result.count)
        } else {
            if deleteKey(dst) { notify(NotifyClass.generic, "del", dst) }
            replyInteger(0)
        }
    }

    /// The array header of `n` range elements: pairs are flattened in RESP2 and nested in
    /// RESP3 (where each element writes its own "*2").
    @inline(__always)
    func replyRangeHeader(_ n: Int, withScores: Bool) {
        replyArrayHeader(withScores && !resp3 ? 2 * n : n)
    }

    @inline(__always)
    func replyRangeElement(_ member: UnsafeRawBufferPointer, _ score: Double, withScores: Bool) {
        if withScores && resp3 { replyArrayHeader(2) }
        replyBulk(member)
        if withScores { replyScore(score) }
    }

    /// ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX key min max
    func zremrange(_ a: Arguments, kind: SortedSetRangeKind) {
        let range: ParsedRange
        switch kind {
        case .rank:
            guard let s = integerArgument(a[2]), let e = integerArgument(a[3]) else { return }
            range = .rank(s, e)
        case .score:
            guard let r = scoreRangeArguments(a[2], a[3]) else { return }
            range = .score(r)
        case .lex:
            guard let r = lexRangeArguments(a[2], a[3]) else { return }
            range = .lex(r)
        }
        let key = a[1]
        let z: SortedSetValue, link: KeyTable.Link
        switch sortedSetForWrite(key, hash: hashKey(key)) {
        case .missing: replyInteger(0); return
        case .wrongType: return
        case .found(let found, let l): (z, link) = (found, l)
        }
        let deleted: Int
        switch range {
        case .rank(var s, var e):
            let len = z.count
            if s < 0 { s += len }
            if e < 0 { e += len }
            if s < 0 { s = 0 }
            if s > e || s >= len { replyInteger(0); return }
            if e >= len { e = len - 1 }
            deleted = z.removeRanks(s, e)
        case .score(let r):
            deleted = z.removeRange(r)
        case .lex(let r):
            deleted = z.removeRange(r)
        }
        dirty += deleted
        if deleted > 0 {
            switch kind {
            case .rank: notify(NotifyClass.zset, "zremrangebyrank", key)
            case .score: notify(NotifyClass.zset, "zremrangebyscore", key)
            case .lex: notify(NotifyClass.zset, "zremrangebylex", key)
            }
        }
        deleteIfEmpty(z, at: link)
        replyInteger(deleted)
    }
}

// MARK: - Popping

extension Engine {
    /// genericZpopCommand over the keys a[keysFrom ..< keysFrom + keyCount]: pops up to
    /// `count` elements (nil: one, the plain form) from the lowest (or highest, `max`) end
    /// of the first of them that exists. Replies in the shape the caller asks for:
    /// `emitKey` puts the key first (BZPOP*, ZMPOP), `nested` pairs each member with its
    /// score in an array, `nilWhenEmpty` answers a null array instead of an empty one.
    /// Returns the argument index of the key popped from and how many elements were popped,
    /// or nil when nothing was (an error, no such key, or a count of 0).
    @discardableResult
    func zpop(_ a: Arguments, keysFrom: Int, keyCount: Int, max: Bool, count: Int?, emitKey: Bool,
              nested: Bool, nilWhenEmpty: Bool) -> (key: Int, popped: Int)? {
        var found: (SortedSetValue, KeyTable.Link, Int)?
        for i in keysFrom..<(keysFrom + keyCount) {
            switch sortedSetForWrite(a[i], hash: hashKey(a[i])) {
            case .missing: continue
            case .wrongType: return nil
            case .found(let z, let link): found = (z, link, i)
            }
            break
        }
        guard let (z, link, keyIndex) = found else {
            if nilWhenEmpty { replyNullArray() } else { replyEmptyArray() }
            return nil
        }
        if count == 0 {
            replyEmptyArray()
            return nil
        }
        let n = Swift.min(count ?? 1, z.count)
        if !nested && !emitKey {
            replyArrayHeader(2 * n)
        } else if nested && !emitKey {
            replyArrayHeader(n)
        } else if !nested && emitKey {
            replyArrayHeader(2 * n + 1)
            replyBulk(a[keyIndex])
        } else {
            replyArrayHeader(2)
            replyBulk(a[keyIndex])
            replyArrayHeader(n)
        }
        for _ in 0..<n {
            let p = max ? z.last! : z.first!
            if nested { replyArrayHeader(2) }
            replyBulk(z.member(at: p))
            replyScore(z.score(at: p))
            z.remove(at: p)
        }
        dirty += n
        notify(NotifyClass.zset, max ? "zpopmax" : "zpopmin", a[keyIndex])
        if z.count == 0 {
            db.table.remove(at: link)
            notify(NotifyClass.generic, "del", a[keyIndex])
        }
        return (keyIndex, n)
    }

    /// ZPOPMIN / ZPOPMAX key [count]
    func zpopMinMax(_ a: Arguments, max: Bool) {
        if a.count > 3 { replySyntaxError(); return }
        var count: Int?
        if a.count == 3 {
            guard let c = boundedInteger(a[2], min: 0, message: "ERR value is out of range, must be positive") else {
                return
            }
            count = c
        }
        // RESP3 nests the pairs only when a count was given.
        zpop(a, keysFrom: 1, keyCount: 1, max: max, count: count, emitKey: false,
             nested: resp3 && count != nil, nilWhenEmpty: false)
    }

    /// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count], and BZMPOP timeout numkeys ...
    /// (zmpopGenericCommand). Both propagate as ZPOPMIN / ZPOPMAX key n, n being how many
    /// were popped (redis-server 7.0.15 sends that, not the COUNT asked for).
    func zmpop(_ a: Arguments, numkeysIndex: Int, blocking: Bool) {
        guard let numkeys = boundedInteger(a[numkeysIndex], min: 1, message: "ERR numkeys should be greater than 0") else {
            return
        }
        if numkeys >= a.count - numkeysIndex - 1 { replySyntaxError(); return }
        let whereIndex = numkeysIndex + numkeys + 1
        let max: Bool
        if a[whereIndex].equalsIgnoringCase("min") {
            max = false
        } else if a[whereIndex].equalsIgnoringCase("max") {
            max = true
        } else {
            replySyntaxError()
            return
        }
        var count: Int?
        var j = whereIndex + 1
        while j < a.count {
            if count == nil && a[j].equalsIgnoringCase("count") && j + 1 < a.count {
                guard let c = boundedInteger(a[j + 1], min: 1, message: "ERR count should be greater than 0") else { return }
                count = c
                j += 2
            } else {
                replySyntaxError()
                return
            }
        }
        let n = count ?? 1
        if blocking {
            guard let deadline = blockingTimeoutArgument(a[1]) else { return }
            blockingPop(a, keysFrom: numkeysIndex + 1, keyCount: numkeys, max: max, count: n, deadline: deadline,
                        multi: true)
            return
        }
        if let (k, popped) = zpop(a, keysFrom: numkeysIndex + 1, keyCount: numkeys, max: max, count: n, emitKey: true,
                                  nested: true, nilWhenEmpty: true) {
            propagatePop(a[k], max: max, count: popped)
        }
    }

    /// BZPOPMIN / BZPOPMAX key [key ...] timeout
    func bzpop(_ a: Arguments, max: Bool) {
        guard let deadline = blockingTimeoutArgument(a[a.count - 1]) else { return }
        blockingPop(a, keysFrom: 1, keyCount: a.count - 2, max: max, count: nil, deadline: deadline, multi: false)
    }

    /// blockingGenericZpopCommand: pops from the first of the keys holding a non-empty
    /// sorted set (a key of another type before it is WRONGTYPE), or blocks on all of them.
    /// The engine runs the command again when one is touched; outside of blocking (inside
    /// MULTI) an empty result is the timeout's null array. On such a re-run keys of another
    /// type are passed over: Redis 7.0 serves a blocked client only from a key that became
    /// a sorted set, and leaves it blocked when a watched key turned into something else.
    private func blockingPop(_ a: Arguments, keysFrom: Int, keyCount: Int, max: Bool, count: Int?, deadline: Int64,
                             multi: Bool) {
        let rerun = client.blockState != nil
        for i in keysFrom..<(keysFrom + keyCount) {
            // A re-run serves from the key that became ready, as Redis does.
            if rerun && !mayServe(from: a[i]) { continue }
            guard let link = lookupWrite(a[i], hash: hashKey(a[i])) else { continue }
            let e = Entry(link.pointee!)
            if e.type != .zset {
                if rerun { continue }
                replyWrongType()
                return
            }
            if unsafeDowncast(e.object, to: SortedSetValue.self).count == 0 { continue }
            if let (k, popped) = zpop(a, keysFrom: i, keyCount: 1, max: max, count: count, emitKey: true,
                                      nested: multi, nilWhenEmpty: multi) {
                // BZPOPMIN / BZPOPMAX as the plain ZPOPMIN / ZPOPMAX, BZMPOP with the count popped.
                propagatePop(a[k], max: max, count: multi ? popped : nil)
            }
            return
        }
        if !canBlock {
            replyNullArray()
            return
        }
        var keys: [UnsafeRawBufferPointer] = []
        keys.reserveCapacity(keyCount)
        for i in keysFrom..<(keysFrom + keyCount) { keys.append(a[i]) }
        blockClient(on: keys, deadline: deadline, args: a)
    }

    /// Propagates a pop done by ZMPOP or a blocking pop as the ZPOPMIN / ZPOPMAX that
    /// reproduces it (count nil: the plain one-element form), and touches the key, whose
    /// position the command table cannot know.
    private func propagatePop(_ key: UnsafeRawBufferPointer, max: Bool, count: Int?) {
        // Built only when something is fed (propagateInstead's argument is lazy).
        propagateInstead(popCommand(key, max: max, count: count))
        touchKey(key)
    }

    private func popCommand(_ key: UnsafeRawBufferPointer, max: Bool, count: Int?) -> [[UInt8]] {
        var parts: [[UInt8]] = [Array((max ? "ZPOPMAX" : "ZPOPMIN").utf8), Array(key)]
        if let count { parts.append(Array(String(count).utf8)) }
        return parts
    }
}

// MARK: - Set operations

/// One input of ZUNION / ZINTER / ZDIFF (zsetopsrc): a sorted set, a plain set (every
/// member scoring 1, as Redis's zuiInitIterator reads an OBJ_SET) or nothing (a missing key).
private struct SetOperand {
    var zset: SortedSetValue?
    var set: SetValue?
    var weight = 1.0

    var count: Int { zset?.count ?? set?.count ?? 0 }

    /// The object, to recognise the same key given twice.
    var identity: ObjectIdentifier? {
        if let zset { return ObjectIdentifier(zset) }
        if let set { return ObjectIdentifier(set) }
        return nil
    }

    /// `member`'s score in this input, unweighted, or nil.
    func score(of member: UnsafeRawBufferPointer, hasher: KeyHasher) -> Double? {
        if let zset { return zset.score(of: member) }
        if let set { return set.contains(member, hasher: hasher) ? 1.0 : nil }
        return nil
    }

    func forEach(_ body: (UnsafeRawBufferPointer, Double) -> Void) {
        if let zset {
            zset.forEachElement(body)
        } else if let set {
            set.forEach { body($0, 1.0) }
        }
    }
}

/// zunionInterAggregate.
@inline(__always)
private func aggregate(_ target: inout Double, _ value: Double, _ how: UInt8) {
    switch how {
    case 0:
        target += value
        // +inf plus -inf: Redis makes it 0.
        if target.isNaN { target = 0 }
    case 1: target = value < target ? value : target
    default: target = value > target ? value : target
    }
}

extension Engine {
    /// ZUNION / ZINTER / ZDIFF numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
    /// [WITHSCORES], their STORE forms (destination first) and ZINTERCARD numkeys key ...
    /// [LIMIT n] (zunionInterDiffGenericCommand). Plain sets count as sorted sets scoring 1.
    func zsetOperation(_ a: Arguments, op: SortedSetOperation, store: Bool, cardinalityOnly: Bool) {
        let numkeysIndex = store ? 2 : 1
        guard let setnum = integerArgument(a[numkeysIndex]) else { return }
        if setnum < 1 {
            replyError("ERR at least 1 input key is needed for '\(client.lastCommand?.name ?? "")' command")
            return
        }
        if setnum > a.count - (numkeysIndex + 1) { replySyntaxError(); return }

        var operands: [SetOperand] = []
        operands.reserveCapacity(setnum)
        var j = numkeysIndex + 1
        for _ in 0..<setnum {
            let key = a[j]
            var operand = SetOperand()
            // Read lookups (hits and misses counted) even for the STORE forms, as in 7.0.
            if let e = lookupRead(key, hash: hashKey(key)) {
                if e.type == .zset {
                    operand.zset = unsafeDowncast(e.object, to: SortedSetValue.self)
                } else if e.type == .set {
                    operand.set = unsafeDowncast(e.object, to: SetValue.self)
                } else {
                    replyWrongType()
                    return
                }
            }
            operands.append(operand)
            j += 1
        }

        var how: UInt8 = 0   // SUM, MIN, MAX
        var withScores = false
        var limit = 0
        while j < a.count {
            let remaining = a.count - j
            let o = a[j]
            if op != .diff && !cardinalityOnly && remaining >= setnum + 1 && o.equalsIgnoringCase("weights") {
                j += 1
                for i in 0..<setnum {
                    guard let w = scoreArgument(a[j], error: "ERR weight value is not a float") else { return }
                    operands[i].weight = w
                    j += 1
                }
            } else if op != .diff && !cardinalityOnly && remaining >= 2 && o.equalsIgnoringCase("aggregate") {
                let v = a[j + 1]
                if v.equalsIgnoringCase("sum") { how = 0 }
                else if v.equalsIgnoringCase("min") { how = 1 }
                else if v.equalsIgnoringCase("max") { how = 2 }
                else { replySyntaxError(); return }
                j += 2
            } else if !store && !cardinalityOnly && o.equalsIgnoringCase("withscores") {
                withScores = true
                j += 1
            } else if cardinalityOnly && remaining >= 2 && o.equalsIgnoringCase("limit") {
                guard let l = boundedInteger(a[j + 1], min: 0, message: "ERR LIMIT can't be negative") else { return }
                limit = l
                j += 2
            } else {
                replySyntaxError()
                return
            }
        }

        // Smallest inputs first, in a stable order as glibc's qsort (a merge sort) leaves it.
        if op != .diff {
            operands = operands.enumerated().sorted { l, r in
                l.element.count != r.element.count ? l.element.count < r.element.count : l.offset < r.offset
            }.map { $0.element }
        }

        let result = SortedSetValue(skiplist: ())
        var cardinality = 0
        switch op {
        case .inter:
            guard operands[0].count > 0 else { break }
            let firstID = operands[0].identity
            var done = false
            operands[0].forEach { member, s in
                if done { return }
                var score = operands[0].weight * s
                if score.isNaN { score = 0 }
                for i in 1..<setnum {
                    let value: Double
                    if operands[i].identity == firstID {
                        value = s * operands[i].weight
                    } else if let v = operands[i].score(of: member, hasher: hasher) {
                        value = v * operands[i].weight
                    } else {
                        return
                    }
                    aggregate(&score, value, how)
                }
                if cardinalityOnly {
                    cardinality += 1
                    if limit > 0 && cardinality >= limit { done = true }
                } else {
                    result.insertNew(member, score: score)
                }
            }
        case .union:
            for i in 0..<setnum where operands[i].count > 0 {
                let w = operands[i].weight
                operands[i].forEach { member, s in
                    var score = w * s
                    if score.isNaN { score = 0 }
                    let h = result.isPacked ? 0 : result.memberHash(member)
                    if let p = result.find(member, hash: h) {
                        var total = result.score(at: p)
                        aggregate(&total, score, how)
                        result.setScore(at: p, total)
                    } else {
                        result.insert(member, score: score, hash: h)
                    }
                }
            }
        case .diff:
            guard operands[0].count > 0 else { break }
            let firstID = operands[0].identity
            if operands.dropFirst().contains(where: { $0.identity == firstID }) { break }
            operands[0].forEach { member, s in
                for i in 1..<setnum where operands[i].score(of: member, hasher: hasher) != nil { return }
                result.insertNew(member, score: s)
            }
        }

        if cardinalityOnly {
            replyInteger(cardinality)
        } else if store {
            let dst = a[1]
            if result.count > 0 {
                result.packIfSmall()
                let hash = hashKey(dst)
                storeObject(dst, hash: hash, type: .zset, result, at: lookupWrite(dst, hash: hash))
                switch op {
                case .union: notify(NotifyClass.zset, "zunionstore", dst)
                case .inter: notify(NotifyClass.zset, "zinterstore", dst)
                case .diff: notify(NotifyClass.zset, "zdiffstore", dst)
                }
                replyInteger(result.count)
                touchKey(dst)
            } else {
                replyInteger(0)
                if deleteKey(dst) {
                    notify(NotifyClass.generic, "del", dst)
                    touchKey(dst)
                }
            }
        } else {
            replyRangeHeader(result.count, withScores: withScores)
            var p = result.first
            while let q = p {
                replyRangeElement(result.member(at: q), result.score(at: q), withScores: withScores)
                p = result.next(q)
            }
        }
    }
}

// MARK: - Sampling and scanning

extension Engine {
    /// ZRANDMEMBER key [count [WITHSCORES]]
    func zrandmember(_ a: Arguments) {
        if a.count >= 3 {
            guard let l = parseInteger(a[2]) else { replyNotInteger(); return }
            if l == Int.min {
                replyError("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
                return
            }
            if a.count > 4 || (a.count == 4 && !a[3].equalsIgnoringCase("withscores")) {
                replySyntaxError()
                return
            }
            let withScores = a.count == 4
            if withScores && (l < -(Int.max / 2) || l > Int.max / 2) {
                replyError("ERR value is out of range")
                return
            }
            zrandmemberWithCount(a, l, withScores: withScores)
            return
        }
        var wrong = false
        guard let z = sortedSetForRead(a[1], wrongType: &wrong), z.count > 0 else {
            if !wrong { replyNull() }
            return
        }
        replyBulk(z.member(at: z.randomPosition(using: &rng)))
    }

    /// zrandmemberWithCountCommand: a negative count samples with repetition; a positive
    /// one returns distinct members, all of them (in order) when it reaches the size.
    private func zrandmemberWithCount(_ a: Arguments, _ l: Int, withScores: Bool) {
        var wrong = false
        guard let z = sortedSetForRead(a[1], wrongType: &wrong) else {
            if !wrong { replyEmptyArray() }
            return
        }
        let count = l.magnitude
        if count == 0 || z.count == 0 { replyEmptyArray(); return }
        let size = z.count
        if l < 0 || count == 1 {
            replyRangeHeader(Int(count), withScores: withScores)
            for _ in 0..<count {
                let p = z.randomPosition(using: &rng)
                replyRangeElement(z.member(at: p), z.score(at: p), withScores: withScores)
            }
            return
        }
        if count >= size {
            // Redis's set-operation iterator (zuiNext) walks from the highest element down.
            replyRangeHeader(size, withScores: withScores)
            var p = z.last
            while let q = p {
                replyRangeElement(z.member(at: q), z.score(at: q), withScores: withScores)
                p = z.previous(q)
            }
            return
        }
        // Distinct ranks by a partial Fisher-Yates shuffle, in random order as Redis's are.
        let n = Int(count)
        var ranks = Array(0..<size)
        replyRangeHeader(n, withScores: withScores)
        for i in 0..<n {
            let k = Int.random(in: i..<size, using: &rng)
            ranks.swapAt(i, k)
            let p = z.position(atRank: ranks[i])
            replyRangeElement(z.member(at: p), z.score(at: p), withScores: withScores)
        }
    }

    /// ZSCAN key cursor [MATCH pattern] [COUNT count] (scanGenericCommand on a sorted set):
    /// a packed set is returned whole with cursor 0; a skiplist is walked through its hash
    /// table with a reverse-binary cursor.
    func zscan(_ a: Arguments) {
        guard let cursor = parseScanCursor(a[2]) else {
            replyError("ERR invalid cursor")
            return
        }
        var wrong = false
        guard let z = sortedSetForRead(a[1], wrongType: &wrong) else {
            if !wrong { replyRaw("*2\r\n$1\r\n0\r\n*0\r\n") }
            return
        }
        var count = 10
        var pattern: UnsafeRawBufferPointer?
        var i = 3
        while i < a.count {
            let more = a.count - i >= 2
            if a[i].equalsIgnoringCase("count") && more {
                guard let n = integerArgument(a[i + 1]) else { return }
                if n < 1 { replySyntaxError(); return }
                count = n
            } else if a[i].equalsIgnoringCase("match") && more {
                let p = a[i + 1]
                pattern = p.count == 1 && p[0] == UInt8(ascii: "*") ? nil : p
            } else {
                replySyntaxError()
                return
            }
            i += 2
        }

        var found: [SortedSetPosition] = []
        var next: UInt64 = 0
        if z.isPacked {
            var p = z.first
            while let q = p { found.append(q); p = z.next(q) }
        } else {
            // Redis stops once its list holds `count` entries, a member and its score
            // being two of them, or after count*10 buckets.
            var budget = count.multipliedReportingOverflow(by: 10).overflow ? Int.max : count * 10
            next = cursor
            repeat {
                next = z.scanStep(cursor: next) { found.append($0) }
                if next == 0 || budget == 0 { break }
                budget -= 1
            } while found.count * 2 < count
        }
        if let pattern {
            found.removeAll { !stringMatch(pattern, z.member(at: $0), nocase: false) }
        }
        replyArrayHeader(2)
        replyBulk(Array(String(next).utf8))
        replyArrayHeader(2 * found.count)
        for p in found {
            replyBulk(z.member(at: p))
            replyScoreText(z.score(at: p))
        }
    }
}
