import Glibc

/// Stream commands without consumer groups: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM,
/// XSETID, and XREAD / XREADGROUP (which share one parser and serve loop, as in Redis's
/// t_stream.c). Group administration lives in StreamGroupCommands.swift.
let streamCommands: [(String, CommandHandler)] = [
    ("xadd", { $0.xadd($1) }),
    ("xlen", { $0.xlen($1) }),
    ("xrange", { $0.xrange($1, reverse: false) }),
    ("xrevrange", { $0.xrange($1, reverse: true) }),
    ("xdel", { $0.xdel($1) }),
    ("xtrim", { $0.xtrim($1) }),
    ("xsetid", { $0.xsetid($1) }),
    ("xread", { $0.xread($1, group: false) }),
    ("xreadgroup", { $0.xread($1, group: true) }),
] + streamGroupCommands

/// XADD / XTRIM options, parsed like Redis's streamParseAddOrTrimArgsOrReply.
struct StreamTrimOptions {
    var maxLength: Int?
    var minID: StreamID?
    var approx = false
    var limit = 0
    /// Position of the MAXLEN/MINID value (its `~` or `=` is just before it, if given).
    var valueIndex = 0
    var noMakeStream = false
    /// XADD: position of the ID argument; the explicit ID and whether its sequence was given.
    var idIndex = 0
    var id: StreamID?
    var seqGiven = true

    var trims: Bool { maxLength != nil || minID != nil }
}

/// "ms-seq" text of an ID, built on the stack.
@inline(__always)
func withStreamIDBytes<R>(_ id: StreamID, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    return withUnsafeMutableBytes(of: &scratch) { s in
        let n = id.write(into: s.baseAddress!)
        return body(UnsafeRawBufferPointer(rebasing: s[0..<n]))
    }
}

/// Parses an unsigned 64-bit decimal as Redis's string2ull: strict string2ll first, then
/// strtoull's rules (which accept values above INT64_MAX).
func parseUnsigned64(_ b: UnsafeRawBufferPointer) -> UInt64? {
    if let n = parseInteger(b) { return n >= 0 ? UInt64(n) : nil }
    var i = 0
    while i < b.count && (b[i] == 32 || (b[i] >= 9 && b[i] <= 13)) { i += 1 }
    var negative = false
    if i < b.count && (b[i] == 43 || b[i] == 45) { negative = b[i] == 45; i += 1 }
    if i >= b.count { return nil }
    var v: UInt64 = 0
    while i < b.count {
        let c = b[i]
        guard c >= 48 && c <= 57 else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.addingReportingOverflow(UInt64(c - 48))
        if o1 || o2 { return nil }
        v = s
        i += 1
    }
    return negative ? 0 &- v : v
}

/// Parses a stream ID as Redis's streamGenericParseIDOrReply: "-" and "+" unless `strict`,
/// "ms" alone (seq = `missingSeq`), "ms-seq", and "ms-*" when `allowStar` (seqGiven false).
func parseStreamID(_ b: UnsafeRawBufferPointer, missingSeq: UInt64, strict: Bool,
                   allowStar: Bool = false) -> (StreamID, seqGiven: Bool)? {
    if b.count > 127 { return nil }
    if b.count == 1 && (b[0] == 45 || b[0] == 43) {
        if strict { return nil }
        return (b[0] == 45 ? .zero : .max, true)
    }
    guard let dash = b.firstIndex(of: 45) else {
        guard let ms = parseUnsigned64(b) else { return nil }
        return (StreamID(ms: ms, seq: missingSeq), true)
    }
    guard let ms = parseUnsigned64(UnsafeRawBufferPointer(rebasing: b[..<dash])) else { return nil }
    let rest = UnsafeRawBufferPointer(rebasing: b[(dash + 1)...])
    if allowStar && rest.count == 1 && rest[0] == 42 { return (StreamID(ms: ms, seq: 0), false) }
    guard let seq = parseUnsigned64(rest) else { return nil }
    return (StreamID(ms: ms, seq: seq), true)
}

/// Reusable buffer for rewritten commands sent to replicas (XADD with its generated ID),
/// so that XADD allocates nothing per call once it has grown. Engine thread only.
private var rewriteBuffer = UnsafeMutableRawPointer.allocate(byteCount: 1024, alignment: 8)
private var rewriteCapacity = 1024

extension Engine {
    func replyInvalidStreamID() { replyError("ERR Invalid stream ID specified as stream command argument") }

    /// A strict ID argument ("-" and "+" refused), or nil after replying the error.
    func strictStreamIDArgument(_ b: UnsafeRawBufferPointer) -> StreamID? {
        guard let (id, _) = parseStreamID(b, missingSeq: 0, strict: true) else { replyInvalidStreamID(); return nil }
        return id
    }

    /// An interval bound: "-", "+", an ID, or "(" and a strict ID (exclusive); nil after
    /// replying the error.
    func intervalStreamIDArgument(_ b: UnsafeRawBufferPointer, missingSeq: UInt64) -> (StreamID, exclusive: Bool)? {
        if b.count > 1 && b[0] == 40 {
            guard let (id, _) = parseStreamID(UnsafeRawBufferPointer(rebasing: b[1...]), missingSeq: missingSeq,
                                              strict: true) else { replyInvalidStreamID(); return nil }
            return (id, true)
        }
        guard let (id, _) = parseStreamID(b, missingSeq: missingSeq, strict: false) else {
            replyInvalidStreamID()
            return nil
        }
        return (id, false)
    }

    @inline(__always)
    func replyStreamID(_ id: StreamID) { withStreamIDBytes(id) { replyBulk($0) } }

    /// [id, [field, value, ...]] for entry `i` of `c`.
    @inline(__always)
    func replyStreamEntry(_ c: StreamChunk, _ i: Int) {
        replyArrayHeader(2)
        replyStreamID(c.ids[i])
        replyArrayHeader(2 * c.pairCount(i))
        c.forEachPart(i) { replyBulk($0) }
    }

    /// The stream at `key` for reading: nil when missing, or after WRONGTYPE (`wrongType`).
    @inline(__always)
    func readStream(_ key: UnsafeRawBufferPointer) -> (StreamValue?, wrongType: Bool) {
        switch lookupObject(key, hash: hashKey(key), type: .stream, as: StreamValue.self) {
        case .missing: return (nil, false)
        case .wrongType: return (nil, true)
        case .found(let s, _): return (s, false)
        }
    }

    /// The stream at `key` for changing it (Redis's lookupKeyWrite: no hit/miss counted,
    /// no keymiss event): nil when missing, or after WRONGTYPE (`wrongType`).
    func writableStream(_ key: UnsafeRawBufferPointer) -> (StreamValue?, wrongType: Bool) {
        guard let link = lookupWrite(key, hash: hashKey(key)) else { return (nil, false) }
        let e = Entry(link.pointee!)
        guard e.type == .stream else { replyWrongType(); return (nil, true) }
        return (unsafeDowncast(e.object, to: StreamValue.self), false)
    }

    /// Sends the running command to replicas with some arguments replaced (an `index` of
    /// -1 replaces nothing), encoded in a reused buffer.
    func propagateRewritten(_ a: Arguments, _ r0: (Int, UnsafeRawBufferPointer),
                            _ r1: (Int, UnsafeRawBufferPointer), _ r2: (Int, UnsafeRawBufferPointer)) {
        @inline(__always) func arg(_ i: Int) -> UnsafeRawBufferPointer {
            i == r0.0 ? r0.1 : (i == r1.0 ? r1.1 : (i == r2.0 ? r2.1 : a[i]))
        }
        propagationReplaced = true
        guard replication.feedsWrites else { return }
        var total = 4 + 8 * a.count
        for i in 0..<a.count { total += arg(i).count }
        if total > rewriteCapacity {
            rewriteBuffer.deallocate()
            rewriteCapacity = max(total, rewriteCapacity * 2)
            rewriteBuffer = .allocate(byteCount: rewriteCapacity, alignment: 8)
        }
        let p = rewriteBuffer
        p.storeBytes(of: UInt32(a.count), as: UInt32.self)
        var offset = 4 + 8 * a.count
        for i in 0..<a.count {
            let v = arg(i)
            p.storeBytes(of: UInt32(offset), toByteOffset: 4 + 8 * i, as: UInt32.self)
            p.storeBytes(of: UInt32(v.count), toByteOffset: 8 + 8 * i, as: UInt32.self)
            if v.count > 0 { (p + offset).copyMemory(from: v.baseAddress!, byteCount: v.count) }
            offset += v.count
        }
        propagate(Arguments(encoding: UnsafeRawPointer(p)))
    }

    /// Parses XADD's (`xadd`) or XTRIM's options from argument 2 on. Replies the error and
    /// returns nil when they are wrong.
    func parseTrimOptions(_ a: Arguments, xadd: Bool) -> StreamTrimOptions? {
        var o = StreamTrimOptions()
        var limitGiven = false
        var i = 2
        while i < a.count {
            let moreArgs = a.count - 1 - i
            let opt = a[i]
            if xadd && opt.count == 1 && opt[0] == 42 {
                break
            } else if (opt.equalsIgnoringCase("maxlen") || opt.equalsIgnoringCase("minid")) && moreArgs > 0 {
                if o.trims {
                    replyError("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
                    return nil
                }
                let isMax = opt.equalsIgnoringCase("maxlen")
                o.approx = false
                let next = a[i + 1]
                if moreArgs >= 2 && next.count == 1 && (next[0] == 126 || next[0] == 61) {
                    o.approx = next[0] == 126
                    i += 1
                }
                if isMax {
                    guard let n = integerArgument(a[i + 1]) else { return nil }
                    if n < 0 { replyError("ERR The MAXLEN argument must be >= 0."); return nil }
                    o.maxLength = n
                } else {
                    guard let id = strictStreamIDArgument(a[i + 1]) else { return nil }
                    o.minID = id
                }
                i += 1
                o.valueIndex = i
            } else if opt.equalsIgnoringCase("limit") && moreArgs > 0 {
                guard let n = integerArgument(a[i + 1]) else { return nil }
                if n < 0 { replyError("ERR The LIMIT argument must be >= 0."); return nil }
                o.limit = n
                limitGiven = true
                i += 1
            } else if xadd && opt.equalsIgnoringCase("nomkstream") {
                o.noMakeStream = true
            } else if xadd {
                guard let (id, seqGiven) = parseStreamID(opt, missingSeq: 0, strict: true, allowStar: true) else {
                    replyInvalidStreamID()
                    return nil
                }
                o.id = id
                o.seqGiven = seqGiven
                break
            } else {
                replySyntaxError()
                return nil
            }
            i += 1
        }
        o.idIndex = i
        if o.limit != 0 && !o.trims {
            replyError("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
            return nil
        }
        if !xadd && !o.trims {
            replyError("ERR syntax error, XTRIM must be called with a trimming strategy")
            return nil
        }
        if let c = client, replication.master?.client === c {
            // Our master's stream: its trims arrive rewritten to exact thresholds ("=",
            // LIMIT kept), which must apply whole, as Redis's mustObeyClient does.
            o.limit = 0
        } else if limitGiven {
            if !o.approx {
                replyError("ERR syntax error, LIMIT cannot be used without the special ~ option")
                return nil
            }
        } else {
            o.limit = o.approx ? 100 * StreamChunk.maxEntries : 0
        }
        return o
    }

    /// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
    func xadd(_ a: Arguments) {
        guard let o = parseTrimOptions(a, xadd: true) else { return }
        let fieldStart = o.idIndex + 1
        if a.count - fieldStart < 2 || (a.count - fieldStart) % 2 == 1 {
            replyError("ERR wrong number of arguments for 'xadd' command")
            return
        }
        if let id = o.id, o.seqGiven, id.isZero {
            replyError("ERR The ID specified in XADD must be greater than 0-0")
            return
        }
        let key = a[1]
        let hash = hashKey(key)
        let s: StreamValue
        if let link = lookupWrite(key, hash: hash) {
            let e = Entry(link.pointee!)
            guard e.type == .stream else { replyWrongType(); return }
            s = unsafeDowncast(e.object, to: StreamValue.self)
        } else {
            if o.noMakeStream { replyNull(); return }
            s = StreamValue()
            storeObject(key, hash: hash, type: .stream, s, at: nil)
        }
        if s.lastID == .max {
            replyError("ERR The stream has exhausted the last possible ID, unable to add more items")
            return
        }
        var id: StreamID
        if let given = o.id {
            if o.seqGiven {
                id = given
            } else if s.lastID.ms == given.ms {
                if s.lastID.seq == UInt64.max { replyXaddIDTooSmall(); return }
                id = StreamID(ms: given.ms, seq: s.lastID.seq + 1)
            } else {
                id = given
            }
        } else {
            let ms = UInt64(max(0, now))
            id = ms > s.lastID.ms ? StreamID(ms: ms, seq: 0) : s.lastID.incremented()!
        }
        if id <= s.lastID { replyXaddIDTooSmall(); return }
        s.append(id, a, from: fieldStart)
        dirty += 1
        withStreamIDBytes(id) { replyBulk($0) }
        notify(NotifyClass.stream, "xadd", key)

        var trimmed = false
        if o.trims {
            if s.trim(maxLength: o.maxLength, minID: o.minID, approx: o.approx, limit: o.limit) > 0 {
                notify(NotifyClass.stream, "xtrim", key)
            }
            trimmed = o.approx
        }
        if trimmed || o.id == nil || !o.seqGiven {
            // Replicas get the generated ID and, after an approximate trim, the exact
            // threshold reached ("=" and the length or first ID), as Redis rewrites them.
            withStreamIDBytes(id) { idBytes in
                let replaceID = (o.id == nil || !o.seqGiven) ? o.idIndex : -1
                if trimmed {
                    let eq: StaticString = "="
                    let approxSign = UnsafeRawBufferPointer(start: eq.utf8Start, count: 1)
                    if o.maxLength != nil {
                        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
                        withUnsafeMutableBytes(of: &digits) { d in
                            let n = formatDecimal(Int64(s.length), into: d.baseAddress!)
                            propagateRewritten(a, (replaceID, idBytes), (o.valueIndex - 1, approxSign),
                                               (o.valueIndex, UnsafeRawBufferPointer(rebasing: d[0..<n])))
                        }
                    } else {
                        withStreamIDBytes(s.firstID) { first in
                            propagateRewritten(a, (replaceID, idBytes), (o.valueIndex - 1, approxSign),
                                               (o.valueIndex, first))
                        }
                    }
                } else {
                    propagateRewritten(a, (replaceID, idBytes), (-1, idBytes), (-1, idBytes))
                }
            }
        }
    }

    private func replyXaddIDTooSmall() {
        replyError("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    }

    /// XLEN key
    func xlen(_ a: Arguments) {
        let (s, wrong) = readStream(a[1])
        if wrong { return }
        replyInteger(s?.length ?? 0)
    }

    /// XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n]
    func xrange(_ a: Arguments, reverse: Bool) {
        let startArg = reverse ? a[3] : a[2]
        let endArg = reverse ? a[2] : a[3]
        guard case (var start, let startEx)? = intervalStreamIDArgument(startArg, missingSeq: 0) else { return }
        if startEx {
            guard let n = start.incremented() else { replyError("ERR invalid start ID for the interval"); return }
            start = n
        }
        guard case (var end, let endEx)? = intervalStreamIDArgument(endArg, missingSeq: UInt64.max) else { return }
        if endEx {
            guard let n = end.decremented() else { replyError("ERR invalid end ID for the interval"); return }
            end = n
        }
        var count = -1
        var j = 4
        while j < a.count {
            if a[j].equalsIgnoringCase("count") && j + 1 < a.count {
                guard let n = integerArgument(a[j + 1]) else { return }
                count = max(0, n)
                j += 2
            } else {
                replySyntaxError()
                return
            }
        }
        let (found, wrong) = readStream(a[1])
        if wrong { return }
        guard let s = found else { replyEmptyArray(); return }
        if count == 0 { replyNullArray(); return }
        replyStreamRange(s, from: start, to: end, count: count < 0 ? 0 : count, reverse: reverse)
    }

    /// The entries in [start, end] (at most `count`, 0 = all) as an array.
    func replyStreamRange(_ s: StreamValue, from start: StreamID, to end: StreamID, count: Int, reverse: Bool) {
        var n = 0
        s.forEach(from: start, to: end, reverse: reverse) { _, _ in
            n += 1
            return count == 0 || n < count
        }
        replyArrayHeader(n)
        if n == 0 { return }
        var left = n
        s.forEach(from: start, to: end, reverse: reverse) { c, i in
            replyStreamEntry(c, i)
            left -= 1
            return left > 0
        }
    }

    /// XDEL key id [id ...]
    func xdel(_ a: Arguments) {
        let (found, wrong) = writableStream(a[1])
        if wrong { return }
        guard let s = found else { replyInteger(0); return }
        var ids: [StreamID] = []
        ids.reserveCapacity(a.count - 2)
        for j in 2..<a.count {
            guard let id = strictStreamIDArgument(a[j]) else { return }
            ids.append(id)
        }
        var deleted = 0
        for id in ids where s.delete(id) { deleted += 1 }
        dirty += deleted
        if deleted > 0 { notify(NotifyClass.stream, "xdel", a[1]) }
        replyInteger(deleted)
    }

    /// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
    func xtrim(_ a: Arguments) {
        guard let o = parseTrimOptions(a, xadd: false) else { return }
        let (found, wrong) = writableStream(a[1])
        if wrong { return }
        guard let s = found else { replyInteger(0); return }
        let deleted = s.trim(maxLength: o.maxLength, minID: o.minID, approx: o.approx, limit: o.limit)
        if deleted > 0 {
            dirty += deleted
            notify(NotifyClass.stream, "xtrim", a[1])
            if o.approx {
                let eq: StaticString = "="
                let sign = UnsafeRawBufferPointer(start: eq.utf8Start, count: 1)
                if o.maxLength != nil {
                    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
                    withUnsafeMutableBytes(of: &digits) { d in
                        let n = formatDecimal(Int64(s.length), into: d.baseAddress!)
                        propagateRewritten(a, (o.valueIndex - 1, sign),
                                           (o.valueIndex, UnsafeRawBufferPointer(rebasing: d[0..<n])), (-1, sign))
                    }
                } else {
                    withStreamIDBytes(s.firstID) { first in
                        propagateRewritten(a, (o.valueIndex - 1, sign), (o.valueIndex, first), (-1, sign))
                    }
                }
            }
        }
        replyInteger(deleted)
    }

    /// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
    func xsetid(_ a: Arguments) {
        guard let id = strictStreamIDArgument(a[2]) else { return }
        var entriesAdded: Int64 = -1
        var maxDeleted = StreamID.zero
        var i = 3
        while i < a.count {
            let moreArgs = a.count - 1 - i
            if a[i].equalsIgnoringCase("entriesadded") && moreArgs > 0 {
                guard let n = integerArgument(a[i + 1]) else { return }
                if n < 0 { replyError("ERR entries_added must be positive"); return }
                entriesAdded = Int64(n)
                i += 2
            } else if a[i].equalsIgnoringCase("maxdeletedid") && moreArgs > 0 {
                guard let m = strictStreamIDArgument(a[i + 1]) else { return }
                if id < m {
                    replyError("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
                    return
                }
                maxDeleted = m
                i += 2
            } else {
                replySyntaxError()
                return
            }
        }
        let (found, wrong) = writableStream(a[1])
        if wrong { return }
        guard let s = found else { replyError("ERR no such key"); return }
        if s.length > 0 {
            if id < s.lastLiveID() {
                replyError("ERR The ID specified in XSETID is smaller than the target stream top item")
                return
            }
            if entriesAdded != -1 && Int64(s.length) > entriesAdded {
                replyError("ERR The entries_added specified in XSETID is smaller than the target stream length")
                return
            }
        }
        s.lastID = id
        if entriesAdded != -1 { s.entriesAdded = entriesAdded }
        if !maxDeleted.isZero { s.maxDeletedID = maxDeleted }
        dirty += 1
        notify(NotifyClass.stream, "xsetid", a[1])
        replyOK()
    }
}

// MARK: XREAD and XREADGROUP

/// What one stream of an XREAD / XREADGROUP is asked for.
private struct StreamReadTarget {
    var stream: StreamValue?
    var group: ConsumerGroup?
    var consumer: StreamConsumer?
    /// Entries with IDs greater than this are served (XREAD, XREADGROUP ">").
    var after: StreamID
    /// XREADGROUP ">" (new entries) rather than the consumer's history from `after`.
    var newEntries = false
    var serve = false
}

extension Engine {
    /// XREAD [COUNT n] [BLOCK ms] STREAMS key ... id ...
    /// XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key ... id ...
    func xread(_ a: Arguments, group isGroup: Bool) {
        var count = 0
        var deadline: Int64 = -1
        var streamsArg = 0
        var streamCount = 0
        var groupNameIndex = 0
        var noAck = false
        var i = 1
        while i < a.count {
            let moreArgs = a.count - i - 1
            let o = a[i]
            if o.equalsIgnoringCase("block") && moreArgs > 0 {
                i += 1
                guard let d = blockingTimeoutArgument(a[i], milliseconds: true) else { return }
                deadline = d
            } else if o.equalsIgnoringCase("count") && moreArgs > 0 {
                i += 1
                guard let n = integerArgument(a[i]) else { return }
                count = max(0, n)
            } else if o.equalsIgnoringCase("streams") && moreArgs > 0 {
                streamsArg = i + 1
                streamCount = a.count - streamsArg
                if streamCount % 2 != 0 {
                    replyError("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
                    return
                }
                streamCount /= 2
                break
            } else if o.equalsIgnoringCase("group") && moreArgs >= 2 {
                if !isGroup {
                    replyError("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
                    return
                }
                groupNameIndex = i + 1
                i += 2
            } else if o.equalsIgnoringCase("noack") {
                if !isGroup {
                    replyError("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
                    return
                }
                noAck = true
            } else {
                replySyntaxError()
                return
            }
            i += 1
        }
        if streamsArg == 0 { replySyntaxError(); return }
        if isGroup && groupNameIndex == 0 { replyError("ERR Missing GROUP option for XREADGROUP"); return }

        if client.blockState != nil {
            // A blocked reader without COUNT is served at most 1000 entries, Redis's
            // XREAD_BLOCKED_DEFAULT_COUNT, so a burst of writes cannot make one huge reply.
            if count == 0 { count = 1000 }
            // Re-run for a blocked client whose key now holds another type: XREAD keeps
            // waiting (Redis serves stream waiters only from streams); XREADGROUP is
            // released with Redis's UNBLOCKED error, its stream being gone.
            for k in 0..<streamCount {
                let key = a[streamsArg + k]
                // The key this re-run is for was deleted (DEL, FLUSHALL, expiry): a group
                // reader is released at once, as Redis does; XREAD is never re-run for it.
                if isGroup, let serving = blocking.servingKey, serving.database == db.index,
                   serving.key.withUnsafeBytes({ $0.elementsEqual(key) }),
                   db.lookup(key, hash: hashKey(key), now: now) == nil {
                    replyError("UNBLOCKED the stream key no longer exists")
                    return
                }
                if let e = lookupRead(key, hash: hashKey(key)), e.type != .stream {
                    if isGroup {
                        replyError("UNBLOCKED the stream key no longer exists")
                    } else {
                        blockClient(on: [key], deadline: deadline, args: a)
                    }
                    return
                }
            }
        }
        var targets: [StreamReadTarget] = []
        targets.reserveCapacity(streamCount)
        var dollarResolved = false
        for k in 0..<streamCount {
            let key = a[streamsArg + k]
            let idArg = a[streamsArg + streamCount + k]
            let (s, wrong) = readStream(key)
            if wrong { return }
            // Redis looks every key up twice (ids, then serving): a missing one misses twice.
            if s == nil && !isGroup {
                stats.keyspaceMisses += 1
                if config.notifyKeyspaceEvents & NotifyClass.keyMiss != 0 { keyMissed(key) }
            }
            var t = StreamReadTarget(stream: s, after: .zero)
            if isGroup {
                guard let s, let g = s.group(a[groupNameIndex]) else {
                    if client.blockState != nil {
                        // Re-run for a client blocked on this group, which was destroyed.
                        replyError("NOGROUP the consumer group this client was blocked on no longer exists")
                        return
                    }
                    replyError(bytes: Array("NOGROUP No such key '".utf8) + truncatedForError(key, Int.max)
                        + "' or consumer group '" + truncatedForError(a[groupNameIndex], Int.max)
                        + "' in XREADGROUP with GROUP option")
                    return
                }
                t.group = g
            }
            if idArg.count == 1 && idArg[0] == 36 {   // "$"
                if isGroup {
                    replyError("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
                    return
                }
                t.after = s?.lastID ?? .zero
                dollarResolved = true
            } else if idArg.count == 1 && idArg[0] == 62 {   // ">"
                if !isGroup {
                    replyError("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
                    return
                }
                t.newEntries = true
            } else {
                guard let id = strictStreamIDArgument(idArg) else { return }
                t.after = id
            }
            targets.append(t)
        }

        // Which streams can be served now (Redis's serve_synchronously).
        var served = 0
        var createdConsumers: [Int] = []
        let rerun = client.blockState != nil
        for k in targets.indices {
            // A woken reader gets one stream, like Redis serving it from one ready key.
            if rerun && served > 0 { break }
            // ... and from the key that became ready, as Redis does.
            if rerun && !mayServe(from: a[streamsArg + k]) { continue }
            guard let s = targets[k].stream else { continue }
            if let g = targets[k].group {
                if !targets[k].newEntries {
                    targets[k].serve = true
                } else if s.length > 0 && s.lastLiveID() > g.lastID {
                    targets[k].serve = true
                    targets[k].after = g.lastID
                }
                // Like Redis, the consumer comes into being (and is seen) only when served.
                if targets[k].serve {
                    let (c, created) = g.findOrCreateConsumer(a[groupNameIndex + 1], now: now)
                    if created {
                        createdConsumers.append(k)
                        dirty += 1
                        notify(NotifyClass.stream, "xgroup-createconsumer", a[streamsArg + k])
                    }
                    c.seenTime = now
                    targets[k].consumer = c
                }
            } else if s.length > 0 && s.lastLiveID() > targets[k].after {
                targets[k].serve = true
            }
            if targets[k].serve { served += 1 }
        }

        if served > 0 {
            if resp3 { replyMapHeader(served) } else { replyArrayHeader(served) }
            var propagations: [[[UInt8]]] = []
            for k in targets.indices where targets[k].serve {
                let t = targets[k]
                let key = a[streamsArg + k]
                if !resp3 { replyArrayHeader(2) }
                replyBulk(key)
                if let g = t.group {
                    if t.newEntries {
                        serveNewGroupEntries(t.stream!, g, t.consumer!, key: key, groupName: a[groupNameIndex],
                                             after: t.after, count: count, noAck: noAck, propagations: &propagations)
                    } else {
                        serveConsumerHistory(t.stream!, t.consumer!, from: t.after.incremented() ?? .max, count: count)
                    }
                    dirty += 1
                } else {
                    let start = t.after.incremented() ?? .max
                    replyStreamRange(t.stream!, from: start, to: .max, count: count, reverse: false)
                }
            }
            if isGroup {
                // Redis sends a consumer's creation only under NOACK: otherwise the XCLAIMs
                // of its deliveries create it on the replica.
                for k in createdConsumers.reversed() where noAck {
                    propagations.insert([Array("XGROUP".utf8), Array("CREATECONSUMER".utf8), Array(a[streamsArg + k]),
                                         Array(a[groupNameIndex]), Array(a[groupNameIndex + 1])], at: 0)
                }
                propagateAll(propagations)
            }
            return
        }

        if deadline < 0 || !canBlock {
            replyNullArray()
            return
        }
        let keys = (0..<streamCount).map { a[streamsArg + $0] }
        if dollarResolved {
            // "$" means the last ID when the command blocked: keep that ID for the re-runs.
            var parts = (0..<a.count).map { Array(a[$0]) }
            for k in targets.indices where parts[streamsArg + streamCount + k] == [36] {
                parts[streamsArg + streamCount + k] = targets[k].after.bytes
            }
            OwnedArguments(parts).withArguments { blockClient(on: keys, deadline: deadline, args: $0) }
        } else {
            blockClient(on: keys, deadline: deadline, args: a)
        }
    }

    /// Serves XREADGROUP ">" for one stream: entries after the group's last ID, which
    /// advance it and, unless NOACK, enter the group's and the consumer's pending lists.
    /// Replicas get one XCLAIM per pending entry and an XGROUP SETID, as Redis sends.
    private func serveNewGroupEntries(_ s: StreamValue, _ g: ConsumerGroup, _ consumer: StreamConsumer,
                                      key: UnsafeRawBufferPointer, groupName: UnsafeRawBufferPointer,
                                      after: StreamID, count: Int, noAck: Bool, propagations: inout [[[UInt8]]]) {
        let start = after.incremented() ?? .max
        var n = 0
        s.forEach(from: start, to: .max, reverse: false) { _, _ in
            n += 1
            return count == 0 || n < count
        }
        replyArrayHeader(n)
        if n == 0 { return }
        var left = n
        var advanced = false
        s.forEach(from: start, to: .max, reverse: false) { c, i in
            let id = c.ids[i]
            if id > g.lastID {
                if g.entriesRead != ConsumerGroup.invalidEntriesRead && !s.rangeHasTombstones(from: id) {
                    g.entriesRead += 1
                } else if s.entriesAdded != 0 {
                    g.entriesRead = s.estimateEntriesRead(upTo: id)
                }
                g.lastID = id
                advanced = true
            }
            replyStreamEntry(c, i)
            if !noAck {
                let p: PendingEntry
                if let existing = g.pending.find(id) {
                    existing.consumer.pending.remove(id)
                    existing.consumer = consumer
                    existing.deliveryTime = now
                    existing.deliveryCount = 1
                    p = existing
                } else {
                    p = PendingEntry(deliveryTime: now, deliveryCount: 1, consumer: consumer)
                    g.pending.insert(id, p)
                }
                consumer.pending.insert(id)
                propagations.append(xclaimPropagation(key: key, groupName: groupName, group: g, id: id, p))
            }
            left -= 1
            return left > 0
        }
        // Redis 7.0 sends the group's new last ID on its own only under NOACK; otherwise
        // each XCLAIM's LASTID carries it.
        if advanced && noAck {
            propagations.append([Array("XGROUP".utf8), Array("SETID".utf8), Array(key), Array(groupName),
                                 g.lastID.bytes, Array("ENTRIESREAD".utf8), Array(String(g.entriesRead).utf8)])
        }
    }

    /// Sends a command's rewrites to replicas instead of the command (nothing when empty):
    /// several go out as one MULTI ... EXEC block, as the propagation unit wraps every
    /// command that feeds more than one (WriteEffects.swift).
    func propagateAll(_ commands: [[[UInt8]]]) {
        propagationReplaced = true
        guard replication.feedsWrites else { return }
        for c in commands { propagateInstead(c) }
    }

    /// XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last: the
    /// idempotent form Redis propagates for a delivery or a claim.
    func xclaimPropagation(key: UnsafeRawBufferPointer, groupName: UnsafeRawBufferPointer, group: ConsumerGroup,
                           id: StreamID, _ p: PendingEntry) -> [[UInt8]] {
        [Array("XCLAIM".utf8), Array(key), Array(groupName), p.consumer.name, [48], id.bytes,
         Array("TIME".utf8), Array(String(p.deliveryTime).utf8), Array("RETRYCOUNT".utf8),
         Array(String(p.deliveryCount).utf8), Array("FORCE".utf8), Array("JUSTID".utf8), Array("LASTID".utf8),
         group.lastID.bytes]
    }

    /// Serves XREADGROUP with an explicit ID: the consumer's pending entries from `start`,
    /// each redelivered (count and time updated); deleted ones come as [id, nil].
    private func serveConsumerHistory(_ s: StreamValue, _ consumer: StreamConsumer, from start: StreamID, count: Int) {
        let g = consumer.pending
        let first = g.lowerBound(start)
        let n = count == 0 ? g.count - first : min(count, g.count - first)
        replyArrayHeader(n)
        guard n > 0 else { return }
        let group = currentGroup(of: consumer, in: s)
        for k in first..<(first + n) {
            let id = g.ids[k]
            if let (c, i) = s.find(id) {
                replyStreamEntry(c, i)
                if let p = group?.pending.find(id) {
                    p.deliveryTime = now
                    p.deliveryCount += 1
                }
            } else {
                replyArrayHeader(2)
                replyStreamID(id)
                replyNullArray()
            }
        }
    }

    /// The group a consumer belongs to (consumers keep no back reference).
    private func currentGroup(of consumer: StreamConsumer, in s: StreamValue) -> ConsumerGroup? {
        for g in s.groups where g.consumers.contains(where: { $0 === consumer }) { return g }
        return nil
    }
}
