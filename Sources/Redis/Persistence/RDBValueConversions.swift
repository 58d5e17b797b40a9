/// Conversions between the RDB value model and the sorted set and stream value types,
/// kept beside the codec so the types need not know the file format.

extension SortedSetValue {
    /// The RDB form: members with their scores, lowest score first.
    var rdbValue: RDBValue {
        var pairs: [([UInt8], Double)] = []
        pairs.reserveCapacity(count)
        forEachElement { m, score in pairs.append((Array(m), score)) }
        return .zset(pairs)
    }

    /// A sorted set loaded from an RDB file, in the encoding Redis 7.0 gives it: a listpack
    /// when it has at most zset-max-listpack-entries members of at most
    /// zset-max-listpack-value bytes, a skiplist otherwise. A repeated member or a NaN
    /// score makes the file corrupt, as in Redis.
    static func loaded(_ pairs: [([UInt8], Double)]) throws -> SortedSetValue {
        let z = SortedSetValue(expectedCount: pairs.count, maxMemberLength: pairs.reduce(0) { max($0, $1.0.count) })
        for (m, score) in pairs {
            if score.isNaN { throw RDBError("Zset with NAN score detected") }
            try m.withUnsafeBytes { mb in
                if z.find(mb) != nil { throw RDBError("Duplicate zset fields detected") }
                z.insertNew(mb, score: score)
            }
        }
        return z
    }
}

extension StreamValue {
    /// The RDB form: live entries, metadata, and consumer groups with their pending lists.
    var rdbValue: RDBValue {
        var s = RDBStream()
        s.entries.reserveCapacity(length)
        forEachEntry { id, parts in
            var fields: [RDBStream.Field] = []
            fields.reserveCapacity(parts.count / 2)
            var i = 0
            while i + 1 < parts.count {
                fields.append(RDBStream.Field(name: Array(parts[i]), value: Array(parts[i + 1])))
                i += 2
            }
            s.entries.append(RDBStream.Entry(id: RDBStream.ID(id), fields: fields))
        }
        s.length = UInt64(length)
        s.lastID = RDBStream.ID(lastID)
        s.firstID = RDBStream.ID(firstID)
        s.maxDeletedID = RDBStream.ID(maxDeletedID)
        s.entriesAdded = UInt64(bitPattern: entriesAdded)
        for g in groups {
            let pending = zip(g.pending.ids, g.pending.entries).map { id, p in
                RDBStream.Pending(id: RDBStream.ID(id), deliveryTime: p.deliveryTime, deliveryCount: UInt64(p.deliveryCount))
            }
            let consumers = g.consumers.map { c in
                RDBStream.Consumer(name: c.name, seenTime: c.seenTime, activeTime: c.seenTime,
                                   pending: c.pending.ids.map { RDBStream.ID($0) })
            }
            s.groups.append(RDBStream.Group(name: g.name, lastID: RDBStream.ID(g.lastID), entriesRead: g.entriesRead,
                                            pending: pending, consumers: consumers))
        }
        return .stream(s)
    }

    /// A stream loaded from an RDB file. Entries out of ID order, a length that disagrees
    /// with the entries, a pending entry no consumer owns or one owned twice make the file
    /// corrupt.
    static func loaded(_ s: RDBStream) throws -> StreamValue {
        let v = StreamValue()
        var previous: StreamID?
        var groupNames = Set<[UInt8]>()
        for e in s.entries {
            let id = StreamID(e.id)
            if let previous, id <= previous { throw RDBError("Stream entries out of order in RDB value") }
            if e.fields.isEmpty { throw RDBError("Stream entry without fields in RDB value") }
            previous = id
            var parts: [[UInt8]] = []
            parts.reserveCapacity(e.fields.count * 2)
            for f in e.fields { parts.append(f.name); parts.append(f.value) }
            OwnedArguments(parts).withArguments { v.append(id, $0, from: 0) }
        }
        guard s.length == UInt64(s.entries.count) else {
            throw RDBError("Stream length \(s.length) disagrees with its \(s.entries.count) entries")
        }
        v.lastID = StreamID(s.lastID)
        v.firstID = StreamID(s.firstID)
        v.maxDeletedID = StreamID(s.maxDeletedID)
        v.entriesAdded = Int64(bitPattern: s.entriesAdded)
        for g in s.groups {
            if !groupNames.insert(g.name).inserted { throw RDBError("Duplicated consumer group name in RDB value") }
            let group = ConsumerGroup(name: g.name, lastID: StreamID(g.lastID), entriesRead: g.entriesRead)
            // Pending entries get their owner from the consumers' lists, as in Redis.
            var owners: [StreamID: StreamConsumer] = [:]
            var consumers: [StreamConsumer] = []
            for c in g.consumers {
                let consumer = StreamConsumer(name: c.name, seenTime: c.seenTime)
                for id in c.pending.map(StreamID.init) {
                    if owners[id] != nil { throw RDBError("Stream pending entry owned by two consumers") }
                    owners[id] = consumer
                    _ = consumer.pending.insert(id)
                }
                consumers.append(consumer)
            }
            for p in g.pending {
                let id = StreamID(p.id)
                guard let owner = owners[id] else { throw RDBError("Stream pending entry without a consumer") }
                if group.pending.find(id) != nil { throw RDBError("Duplicated stream pending entry") }
                group.pending.insert(id, PendingEntry(deliveryTime: p.deliveryTime, deliveryCount: Int(clamping: p.deliveryCount),
                                                      consumer: owner))
            }
            group.consumers = consumers.sorted { $0.name.lexicographicallyPrecedes($1.name) }
            v.groups.append(group)
        }
        v.groups.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return v
    }
}

extension RDBStream.ID {
    init(_ id: StreamID) { self.init(ms: id.ms, seq: id.seq) }
}

extension StreamID {
    init(_ id: RDBStream.ID) { self.init(ms: id.ms, seq: id.seq) }
}
