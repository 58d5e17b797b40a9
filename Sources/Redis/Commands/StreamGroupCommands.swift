import Glibc

/// Consumer group commands (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO, with
/// Redis 7.0's replies and errors (t_stream.c).
let streamGroupCommands: [(String, CommandHandler)] = [
    ("xgroup|create", { $0.xgroup($1) }),
    ("xgroup|setid", { $0.xgroup($1) }),
    ("xgroup|destroy", { $0.xgroup($1) }),
    ("xgroup|createconsumer", { $0.xgroup($1) }),
    ("xgroup|delconsumer", { $0.xgroup($1) }),
    ("xgroup|help", { e, _ in
        e.replyHelp("XGROUP", [
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ])
    }),
    ("xack", { $0.xack($1) }),
    ("xpending", { $0.xpending($1) }),
    ("xclaim", { $0.xclaim($1) }),
    ("xautoclaim", { $0.xautoclaim($1) }),
    ("xinfo|stream", { $0.xinfoStream($1) }),
    ("xinfo|groups", { $0.xinfoGroups($1) }),
    ("xinfo|consumers", { $0.xinfoConsumers($1) }),
    ("xinfo|help", { e, _ in
        e.replyHelp("XINFO", [
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ])
    }),
]

extension Engine {
    /// "-NOGROUP No such key 'k' or consumer group 'g'" plus `suffix`.
    func replyNoGroup(key: UnsafeRawBufferPointer, group: UnsafeRawBufferPointer, suffix: String = "") {
        replyError(bytes: Array("NOGROUP No such key '".utf8) + truncatedForError(key, Int.max)
            + "' or consumer group '" + truncatedForError(group, Int.max) + "'" + suffix)
    }

    /// "-NOGROUP No such consumer group 'g' for key name 'k'" (XGROUP, XINFO CONSUMERS).
    func replyNoSuchGroupForKey(key: UnsafeRawBufferPointer, group: UnsafeRawBufferPointer) {
        replyError(bytes: Array("NOGROUP No such consumer group '".utf8) + truncatedForError(group, Int.max)
            + "' for key name '" + truncatedForError(key, Int.max) + "'")
    }

    func replySubcommandSyntaxError(_ a: Arguments, parent: String) {
        replyError(bytes: Array("ERR unknown subcommand or wrong number of arguments for '".utf8)
            + truncatedForError(a[1], 128) + "'. Try \(parent) HELP.")
    }

    /// ENTRIESREAD's value: a count or -1; nil after replying the error.
    private func entriesReadArgument(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard let n = integerArgument(b) else { return nil }
        if n < 0 && n != -1 { replyError("ERR value for ENTRIESREAD must be positive or -1"); return nil }
        return Int64(n)
    }

    /// XGROUP CREATE / SETID / DESTROY / CREATECONSUMER / DELCONSUMER, checked in Redis's
    /// order: options, key type, key existence, group existence.
    func xgroup(_ a: Arguments) {
        let sub = a[1]
        let isCreate = sub.equalsIgnoringCase("create"), isSetID = sub.equalsIgnoringCase("setid")
        var makeStream = false
        var entriesRead = ConsumerGroup.invalidEntriesRead
        if isCreate {
            var i = 5
            while i < a.count {
                if a[i].equalsIgnoringCase("mkstream") {
                    makeStream = true
                    i += 1
                } else if a[i].equalsIgnoringCase("entriesread") && i + 1 < a.count {
                    guard let n = entriesReadArgument(a[i + 1]) else { return }
                    entriesRead = n
                    i += 2
                } else {
                    replySubcommandSyntaxError(a, parent: "XGROUP")
                    return
                }
            }
        } else if isSetID {
            if a.count == 7 {
                guard a[5].equalsIgnoringCase("entriesread") else { replySubcommandSyntaxError(a, parent: "XGROUP"); return }
                guard let n = entriesReadArgument(a[6]) else { return }
                entriesRead = n
            } else if a.count != 5 {
                replySubcommandSyntaxError(a, parent: "XGROUP")
                return
            }
        }
        let key = a[2]
        let (found, wrong) = writableStream(key)
        if wrong { return }
        let groupName = a[3]
        if !makeStream && found == nil {
            replyError("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
            return
        }
        let g = found?.group(groupName)
        if g == nil && !makeStream && !isCreate && !sub.equalsIgnoringCase("destroy") {
            replyNoSuchGroupForKey(key: key, group: groupName)
            return
        }
        if isCreate {
            if a.count > 8 { replySubcommandSyntaxError(a, parent: "XGROUP"); return }
            var id: StreamID
            if a[4].count == 1 && a[4][0] == 36 {
                id = found?.lastID ?? .zero
            } else {
                guard let parsed = strictStreamIDArgument(a[4]) else { return }
                id = parsed
            }
            let s: StreamValue
            if let found { s = found } else {
                s = StreamValue()
                storeObject(key, hash: hashKey(key), type: .stream, s, at: nil)
            }
            let (index, exists) = s.groupIndex(groupName)
            if exists { replyError("BUSYGROUP Consumer Group name already exists"); return }
            s.groups.insert(ConsumerGroup(name: Array(groupName), lastID: id, entriesRead: entriesRead), at: index)
            dirty += 1
            notify(NotifyClass.stream, "xgroup-create", key)
            replyOK()
        } else if isSetID {
            let s = found!
            var id: StreamID
            if a[4].count == 1 && a[4][0] == 36 {
                id = s.lastID
            } else {
                guard let (parsed, _) = parseStreamID(a[4], missingSeq: 0, strict: false) else {
                    replyInvalidStreamID()
                    return
                }
                id = parsed
            }
            g!.lastID = id
            g!.entriesRead = entriesRead
            dirty += 1
            notify(NotifyClass.stream, "xgroup-setid", key)
            replyOK()
        } else if sub.equalsIgnoringCase("destroy") {
            guard let g else { replyInteger(0); return }
            let s = found!
            s.groups.removeAll { $0 === g }
            dirty += 1
            notify(NotifyClass.stream, "xgroup-destroy", key)
            replyInteger(1)
        } else if sub.equalsIgnoringCase("createconsumer") {
            let (_, created) = g!.findOrCreateConsumer(a[4], now: now)
            if created {
                dirty += 1
                notify(NotifyClass.stream, "xgroup-createconsumer", key)
            }
            replyInteger(created ? 1 : 0)
        } else {
            let pending = g!.deleteConsumer(a[4]) ?? 0
            dirty += 1
            notify(NotifyClass.stream, "xgroup-delconsumer", key)
            replyInteger(pending)
        }
    }

    /// XACK key group id [id ...]
    func xack(_ a: Arguments) {
        let (found, wrong) = readStream(a[1])
        if wrong { return }
        guard let s = found, let g = s.group(a[2]) else { replyInteger(0); return }
        var ids: [StreamID] = []
        ids.reserveCapacity(a.count - 3)
        for j in 3..<a.count {
            guard let id = strictStreamIDArgument(a[j]) else { return }
            ids.append(id)
        }
        var acked = 0
        for id in ids {
            if let p = g.pending.remove(id) {
                p.consumer.pending.remove(id)
                acked += 1
            }
        }
        dirty += acked
        replyInteger(acked)
    }

    /// XPENDING key group [[IDLE min-idle] start end count [consumer]]
    func xpending(_ a: Arguments) {
        let summary = a.count == 3
        if a.count != 3 && (a.count < 6 || a.count > 9) { replySyntaxError(); return }
        var start = StreamID.zero, end = StreamID.max
        var count = 0
        var minIdle = 0
        var consumerIndex = 0
        if a.count >= 6 {
            var startIndex = 3
            if a[3].equalsIgnoringCase("idle") {
                guard let n = integerArgument(a[4]) else { return }
                minIdle = n
                if a.count < 8 { replySyntaxError(); return }
                startIndex += 2
            }
            guard let n = integerArgument(a[startIndex + 2]) else { return }
            count = max(0, n)
            guard let (s, sx) = intervalStreamIDArgument(a[startIndex], missingSeq: 0) else { return }
            start = s
            if sx {
                guard let n = start.incremented() else { replyError("ERR invalid start ID for the interval"); return }
                start = n
            }
            guard let (e, ex) = intervalStreamIDArgument(a[startIndex + 1], missingSeq: UInt64.max) else { return }
            end = e
            if ex {
                guard let n = end.decremented() else { replyError("ERR invalid end ID for the interval"); return }
                end = n
            }
            if startIndex + 3 < a.count { consumerIndex = startIndex + 3 }
        }
        let (found, wrong) = readStream(a[1])
        if wrong { return }
        guard let s = found, let g = s.group(a[2]) else { replyNoGroup(key: a[1], group: a[2]); return }
        if summary {
            replyArrayHeader(4)
            replyInteger(g.pending.count)
            if g.pending.count == 0 {
                replyNull()
                replyNull()
                replyNullArray()
                return
            }
            replyStreamID(g.pending.ids[0])
            replyStreamID(g.pending.ids[g.pending.count - 1])
            let withPending = g.consumers.filter { $0.pending.count > 0 }
            replyArrayHeader(withPending.count)
            for c in withPending {
                replyArrayHeader(2)
                replyBulk(c.name)
                replyBulk(integer: Int64(c.pending.count))
            }
            return
        }
        var ids: [StreamID]
        if consumerIndex > 0 {
            guard let c = g.consumer(a[consumerIndex]) else { replyEmptyArray(); return }
            ids = c.pending.ids
        } else {
            ids = g.pending.ids
        }
        var rows: [(StreamID, PendingEntry)] = []
        var i = SortedIDs(ids: ids).lowerBound(start)
        while count > 0 && i < ids.count && ids[i] <= end {
            let p = g.pending.find(ids[i])!
            i += 1
            if minIdle != 0 && now - p.deliveryTime < Int64(minIdle) { continue }
            rows.append((ids[i - 1], p))
            count -= 1
        }
        replyArrayHeader(rows.count)
        for (id, p) in rows {
            replyArrayHeader(4)
            replyStreamID(id)
            replyBulk(p.consumer.name)
            replyInteger(Int(max(0, now - p.deliveryTime)))
            replyInteger(p.deliveryCount)
        }
    }

    /// Parses a 64-bit integer option or replies "ERR <message>".
    private func integerOption(_ b: UnsafeRawBufferPointer, _ message: StaticString) -> Int? {
        if let n = parseInteger(b) { return n }
        replyError(message)
        return nil
    }

    /// Moves the pending entry `id` to `consumer` with a new delivery time, counting the
    /// delivery unless `justID` (or setting `retryCount`).
    private func transferPending(_ g: ConsumerGroup, _ id: StreamID, _ p: PendingEntry, to consumer: StreamConsumer,
                                 deliveryTime: Int64, retryCount: Int?, justID: Bool, previous: StreamConsumer?) {
        if let previous, previous !== consumer { previous.pending.remove(id) }
        p.deliveryTime = deliveryTime
        if let retryCount { p.deliveryCount = retryCount } else if !justID { p.deliveryCount += 1 }
        if previous !== consumer {
            consumer.pending.insert(id)
            p.consumer = consumer
        }
    }

    /// XCLAIM key group consumer min-idle-time id ... [IDLE ms] [TIME ms] [RETRYCOUNT n]
    /// [FORCE] [JUSTID] [LASTID id]
    func xclaim(_ a: Arguments) {
        let (found, wrong) = readStream(a[1])
        if wrong { return }
        guard let s = found, let g = s.group(a[2]) else { replyNoGroup(key: a[1], group: a[2]); return }
        guard var minIdle = integerOption(a[4], "ERR Invalid min-idle-time argument for XCLAIM") else { return }
        if minIdle < 0 { minIdle = 0 }
        var j = 5
        var ids: [StreamID] = []
        while j < a.count, let (id, _) = parseStreamID(a[j], missingSeq: 0, strict: true) {
            ids.append(id)
            j += 1
        }
        var deliveryTime: Int64 = -1
        var retryCount: Int?
        var force = false, justID = false
        var lastID = StreamID.zero
        while j < a.count {
            let moreArgs = a.count - 1 - j
            let opt = a[j]
            if opt.equalsIgnoringCase("force") {
                force = true
            } else if opt.equalsIgnoringCase("justid") {
                justID = true
            } else if opt.equalsIgnoringCase("idle") && moreArgs > 0 {
                j += 1
                guard let n = integerOption(a[j], "ERR Invalid IDLE option argument for XCLAIM") else { return }
                deliveryTime = now &- Int64(n)
            } else if opt.equalsIgnoringCase("time") && moreArgs > 0 {
                j += 1
                guard let n = integerOption(a[j], "ERR Invalid TIME option argument for XCLAIM") else { return }
                deliveryTime = Int64(n)
            } else if opt.equalsIgnoringCase("retrycount") && moreArgs > 0 {
                j += 1
                guard let n = integerOption(a[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM") else { return }
                retryCount = n < 0 ? nil : n
            } else if opt.equalsIgnoringCase("lastid") && moreArgs > 0 {
                j += 1
                guard let id = strictStreamIDArgument(a[j]) else { return }
                lastID = id
            } else {
                replyError(bytes: Array("ERR Unrecognized XCLAIM option '".utf8) + truncatedForError(opt, Int.max) + "'")
                return
            }
            j += 1
        }
        var propagateLastID = false
        if lastID > g.lastID {
            g.lastID = lastID
            propagateLastID = true
        }
        if deliveryTime != -1 {
            if deliveryTime < 0 || deliveryTime > now { deliveryTime = now }
        } else {
            deliveryTime = now
        }
        var consumer: StreamConsumer?
        var claimed: [StreamID] = []
        var propagations: [[[UInt8]]] = []
        for id in ids {
            var p = g.pending.find(id)
            if s.find(id) == nil {
                if let p {
                    propagations.append(xclaimPropagation(key: a[1], groupName: a[2], group: g, id: id, p))
                    propagateLastID = false
                    g.pending.remove(id)
                    p.consumer.pending.remove(id)
                    dirty += 1
                }
                continue
            }
            var previous: StreamConsumer?
            if force && p == nil {
                let fresh = PendingEntry(deliveryTime: now, deliveryCount: 1, consumer: StreamConsumer(name: [], seenTime: 0))
                g.pending.insert(id, fresh)
                p = fresh
            } else {
                previous = p?.consumer
            }
            guard let p else { continue }
            if previous != nil && minIdle != 0 && now - p.deliveryTime < Int64(minIdle) { continue }
            if consumer == nil {
                let (c, created) = g.findOrCreateConsumer(a[3], now: now)
                if created {
                    dirty += 1
                    notify(NotifyClass.stream, "xgroup-createconsumer", a[1])
                }
                c.seenTime = now
                consumer = c
            }
            transferPending(g, id, p, to: consumer!, deliveryTime: deliveryTime, retryCount: retryCount,
                            justID: justID, previous: previous)
            claimed.append(id)
            propagations.append(xclaimPropagation(key: a[1], groupName: a[2], group: g, id: id, p))
            propagateLastID = false
            dirty += 1
        }
        if propagateLastID {
            propagations.append([Array("XGROUP".utf8), Array("SETID".utf8), Array(a[1]), Array(a[2]),
                                 g.lastID.bytes, Array("ENTRIESREAD".utf8), Array(String(g.entriesRead).utf8)])
            dirty += 1
        }
        replyArrayHeader(claimed.count)
        for id in claimed {
            if justID {
                replyStreamID(id)
            } else if let (c, i) = s.find(id) {
                replyStreamEntry(c, i)
            }
        }
        propagateAll(propagations)
    }

    /// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]
    func xautoclaim(_ a: Arguments) {
        guard var minIdle = integerOption(a[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM") else { return }
        if minIdle < 0 { minIdle = 0 }
        guard var (start, startEx) = intervalStreamIDArgument(a[5], missingSeq: 0) else { return }
        if startEx {
            guard let n = start.incremented() else { replyError("ERR invalid start ID for the interval"); return }
            start = n
            startEx = false
        }
        var count = 100
        var justID = false
        var j = 6
        while j < a.count {
            let moreArgs = a.count - 1 - j
            if a[j].equalsIgnoringCase("count") && moreArgs > 0 {
                let maxCount = Int.max / 16
                guard let n = parseInteger(a[j + 1]), n >= 1, n <= maxCount else {
                    replyError("ERR COUNT must be > 0")
                    return
                }
                count = n
                j += 1
            } else if a[j].equalsIgnoringCase("justid") {
                justID = true
            } else {
                replySyntaxError()
                return
            }
            j += 1
        }
        let (found, wrong) = readStream(a[1])
        if wrong { return }
        guard let s = found, let g = s.group(a[2]) else { replyNoGroup(key: a[1], group: a[2]); return }
        var attempts = count * 10
        var consumer: StreamConsumer?
        var claimed: [StreamID] = []
        var deletedIDs: [StreamID] = []
        var propagations: [[[UInt8]]] = []
        var i = g.pending.lowerBound(start)
        while attempts > 0 && count > 0 && i < g.pending.count {
            attempts -= 1
            let id = g.pending.ids[i]
            let p = g.pending.entries[i]
            if s.find(id) == nil {
                propagations.append(xclaimPropagation(key: a[1], groupName: a[2], group: g, id: id, p))
                dirty += 1
                g.pending.remove(id)
                p.consumer.pending.remove(id)
                deletedIDs.append(id)
                count -= 1
                continue
            }
            i += 1
            if minIdle != 0 && now - p.deliveryTime < Int64(minIdle) { continue }
            if consumer == nil {
                let (c, created) = g.findOrCreateConsumer(a[3], now: now)
                if created {
                    dirty += 1
                    notify(NotifyClass.stream, "xgroup-createconsumer", a[1])
                }
                c.seenTime = now
                consumer = c
            }
            transferPending(g, id, p, to: consumer!, deliveryTime: now, retryCount: nil, justID: justID,
                            previous: p.consumer)
            claimed.append(id)
            count -= 1
            propagations.append(xclaimPropagation(key: a[1], groupName: a[2], group: g, id: id, p))
            dirty += 1
        }
        replyArrayHeader(3)
        replyStreamID(i < g.pending.count ? g.pending.ids[i] : .zero)
        replyArrayHeader(claimed.count)
        for id in claimed {
            if justID {
                replyStreamID(id)
            } else if let (c, k) = s.find(id) {
                replyStreamEntry(c, k)
            }
        }
        replyArrayHeader(deletedIDs.count)
        for id in deletedIDs { replyStreamID(id) }
        propagateAll(propagations)
    }

    // MARK: XINFO

    /// The key of XINFO's subcommands, or nil after replying "no such key" / WRONGTYPE.
    private func xinfoStreamArgument(_ key: UnsafeRawBufferPointer) -> StreamValue? {
        let (found, wrong) = readStream(key)
        if wrong { return nil }
        guard let s = found else { replyError("ERR no such key"); return nil }
        return s
    }

    /// A group's logical read counter, or null when unknown.
    private func replyEntriesRead(_ g: ConsumerGroup) {
        if g.entriesRead != ConsumerGroup.invalidEntriesRead { replyInteger(Int(g.entriesRead)) } else { replyNull() }
    }

    private func replyLag(_ s: StreamValue, _ g: ConsumerGroup) {
        if let lag = s.lag(of: g) { replyInteger(Int(lag)) } else { replyNull() }
    }

    /// XINFO STREAM key [FULL [COUNT n]]
    func xinfoStream(_ a: Arguments) {
        var full = false
        var count = 10
        if a.count > 3 {
            guard a[3].equalsIgnoringCase("full") && (a.count == 4 || a.count == 6) else {
                replySubcommandSyntaxError(a, parent: "XINFO")
                return
            }
            full = true
            if a.count == 6 {
                guard a[4].equalsIgnoringCase("count") else { replySubcommandSyntaxError(a, parent: "XINFO"); return }
                guard let n = integerArgument(a[5]) else { return }
                count = n < 0 ? 10 : n
            }
        }
        guard let s = xinfoStreamArgument(a[2]) else { return }
        replyMapHeader(full ? 9 : 10)
        replyBulk("length"); replyInteger(s.length)
        replyBulk("radix-tree-keys"); replyInteger(s.chunks.count)
        replyBulk("radix-tree-nodes"); replyInteger(radixTreeNodes(s))
        replyBulk("last-generated-id"); replyStreamID(s.lastID)
        replyBulk("max-deleted-entry-id"); replyStreamID(s.maxDeletedID)
        replyBulk("entries-added"); replyInteger(Int(s.entriesAdded))
        replyBulk("recorded-first-entry-id"); replyStreamID(s.firstID)
        if !full {
            replyBulk("groups"); replyInteger(s.groups.count)
            replyBulk("first-entry")
            var first: (StreamChunk, Int)?
            s.forEach(from: .zero, to: .max, reverse: false) { c, i in first = (c, i); return false }
            if let (c, i) = first { replyStreamEntry(c, i) } else { replyNull() }
            replyBulk("last-entry")
            var last: (StreamChunk, Int)?
            s.forEach(from: .zero, to: .max, reverse: true) { c, i in last = (c, i); return false }
            if let (c, i) = last { replyStreamEntry(c, i) } else { replyNull() }
            return
        }
        replyBulk("entries")
        replyStreamRange(s, from: .zero, to: .max, count: count, reverse: false)
        replyBulk("groups")
        replyArrayHeader(s.groups.count)
        for g in s.groups {
            replyMapHeader(7)
            replyBulk("name"); replyBulk(g.name)
            replyBulk("last-delivered-id"); replyStreamID(g.lastID)
            replyBulk("entries-read"); replyEntriesRead(g)
            replyBulk("lag"); replyLag(s, g)
            replyBulk("pel-count"); replyInteger(g.pending.count)
            replyBulk("pending")
            let n = count == 0 ? g.pending.count : min(count, g.pending.count)
            replyArrayHeader(n)
            for k in 0..<n {
                let p = g.pending.entries[k]
                replyArrayHeader(4)
                replyStreamID(g.pending.ids[k])
                replyBulk(p.consumer.name)
                replyInteger(Int(p.deliveryTime))
                replyInteger(p.deliveryCount)
            }
            replyBulk("consumers")
            replyArrayHeader(g.consumers.count)
            for c in g.consumers {
                replyMapHeader(4)
                replyBulk("name"); replyBulk(c.name)
                replyBulk("seen-time"); replyInteger(Int(c.seenTime))
                replyBulk("pel-count"); replyInteger(c.pending.count)
                replyBulk("pending")
                let m = count == 0 ? c.pending.count : min(count, c.pending.count)
                replyArrayHeader(m)
                for k in 0..<m {
                    let id = c.pending.ids[k]
                    let p = g.pending.find(id)!
                    replyArrayHeader(3)
                    replyStreamID(id)
                    replyInteger(Int(p.deliveryTime))
                    replyInteger(p.deliveryCount)
                }
            }
        }
    }

    /// The node count of the radix tree Redis would hold for `s`'s chunks, keyed by each
    /// chunk's first ID as 16 big-endian bytes: one compressed node per shared run of
    /// bytes, one branching node per fork, one node per key end.
    private func radixTreeNodes(_ s: StreamValue) -> Int {
        if s.chunks.isEmpty { return 1 }
        let keys: [[UInt8]] = s.chunks.map { c in
            let id = c.firstID
            return withUnsafeBytes(of: id.ms.bigEndian) { Array($0) } + withUnsafeBytes(of: id.seq.bigEndian) { Array($0) }
        }
        return radixNodes(keys, 0..<keys.count, depth: 0)
    }

    /// Nodes below (and including) the node reached at `depth` by the sorted keys `range`.
    private func radixNodes(_ keys: [[UInt8]], _ range: Range<Int>, depth: Int) -> Int {
        if depth == 16 { return 1 }
        let first = keys[range.lowerBound], last = keys[range.upperBound - 1]
        var common = 0
        while depth + common < 16 && first[depth + common] == last[depth + common] { common += 1 }
        if common > 0 { return 1 + radixNodes(keys, range, depth: depth + common) }
        var n = 1
        var i = range.lowerBound
        while i < range.upperBound {
            var j = i + 1
            while j < range.upperBound && keys[j][depth] == keys[i][depth] { j += 1 }
            n += radixNodes(keys, i..<j, depth: depth + 1)
            i = j
        }
        return n
    }

    /// XINFO GROUPS key
    func xinfoGroups(_ a: Arguments) {
        guard let s = xinfoStreamArgument(a[2]) else { return }
        replyArrayHeader(s.groups.count)
        for g in s.groups {
            replyMapHeader(6)
            replyBulk("name"); replyBulk(g.name)
            replyBulk("consumers"); replyInteger(g.consumers.count)
            replyBulk("pending"); replyInteger(g.pending.count)
            replyBulk("last-delivered-id"); replyStreamID(g.lastID)
            replyBulk("entries-read"); replyEntriesRead(g)
            replyBulk("lag"); replyLag(s, g)
        }
    }

    /// XINFO CONSUMERS key group
    func xinfoConsumers(_ a: Arguments) {
        guard let s = xinfoStreamArgument(a[2]) else { return }
        guard let g = s.group(a[3]) else { replyNoSuchGroupForKey(key: a[2], group: a[3]); return }
        replyArrayHeader(g.consumers.count)
        for c in g.consumers {
            replyMapHeader(3)
            replyBulk("name"); replyBulk(c.name)
            replyBulk("pending"); replyInteger(c.pending.count)
            replyBulk("idle"); replyInteger(Int(max(0, now - c.seenTime)))
        }
    }
}
