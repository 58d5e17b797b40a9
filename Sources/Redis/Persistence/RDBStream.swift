/// The RDB form of a stream (RDB_TYPE_STREAM_LISTPACKS 1, 2 and 3): its live entries,
/// the metadata XINFO shows, and its consumer groups with their pending entries.
/// Deleted entries (tombstones inside Redis's listpack nodes) are not part of it.
struct RDBStream: Equatable {
    struct ID: Equatable, Comparable, Hashable {
        var ms: UInt64
        var seq: UInt64
        static func < (a: ID, b: ID) -> Bool { a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq }
        static let zero = ID(ms: 0, seq: 0)
    }

    struct Entry: Equatable {
        var id: ID
        var fields: [Field]
    }

    struct Field: Equatable {
        var name: [UInt8]
        var value: [UInt8]
    }

    /// An entry of a group's pending list: delivered, not yet acknowledged.
    struct Pending: Equatable {
        var id: ID
        /// Unix ms of the last delivery.
        var deliveryTime: Int64
        var deliveryCount: UInt64
    }

    struct Consumer: Equatable {
        var name: [UInt8]
        /// Unix ms of the consumer's last interaction.
        var seenTime: Int64
        /// Unix ms of its last successful read (RDB 11; equal to `seenTime` when older).
        var activeTime: Int64
        /// Its pending entries, each also in the group's `pending`.
        var pending: [ID]
    }

    struct Group: Equatable {
        var name: [UInt8]
        var lastID: ID
        /// Entries the group has read (XINFO entries-read); -1 when unknown (RDB_TYPE_STREAM_LISTPACKS).
        var entriesRead: Int64
        var pending: [Pending]
        var consumers: [Consumer]
    }

    var entries: [Entry] = []
    /// Live entries (XLEN): `entries.count` for a consistent stream.
    var length: UInt64 = 0
    var lastID = ID.zero
    var firstID = ID.zero
    var maxDeletedID = ID.zero
    /// Entries ever added (XADD count), for XINFO and lag.
    var entriesAdded: UInt64 = 0
    var groups: [Group] = []
}

/// Stream listpack nodes: decoding Redis's node layout, and writing our own.
///
/// A node is a listpack that starts with a master entry — live count, deleted count, the
/// master field names, a 0 terminator — followed by entries of: flags, ms and seq
/// differences to the node's master ID, then either the values alone (SAMEFIELDS: the
/// master's fields in order) or a field count and field/value pairs, and last the number
/// of listpack elements the entry used before this one.
enum StreamNodes {
    static let flagDeleted: Int64 = 1
    static let flagSameFields: Int64 = 2
    /// Entries per node when we write (Redis's stream-node-max-entries default).
    static let maxEntriesPerNode = 100

    private static func corrupt() -> RDBError { RDBError("Corrupt stream listpack node in RDB value") }

    private static func integer(_ e: [UInt8]) throws -> Int64 {
        guard let v = e.withUnsafeBytes({ parseInteger($0) }) else { throw corrupt() }
        return Int64(v)
    }

    /// The live entries of one node whose master ID is `master`.
    static func decode(master: RDBStream.ID, listpack: [UInt8]) throws -> [RDBStream.Entry] {
        let items = try CompactEncodings.listpackEntries(listpack)
        guard items.count >= 4 else { throw corrupt() }
        var p = 0
        func next() throws -> [UInt8] {
            guard p < items.count else { throw corrupt() }
            defer { p += 1 }
            return items[p]
        }
        _ = try integer(try next())                   // live count
        _ = try integer(try next())                   // deleted count
        let masterFieldCount = try integer(try next())
        guard masterFieldCount >= 0, masterFieldCount <= Int64(items.count) else { throw corrupt() }
        var masterFields: [[UInt8]] = []
        for _ in 0..<masterFieldCount { masterFields.append(try next()) }
        guard try integer(try next()) == 0 else { throw corrupt() }
        var out: [RDBStream.Entry] = []
        while p < items.count {
            let flags = try integer(try next())
            let msDiff = try integer(try next())
            let seqDiff = try integer(try next())
            var fields: [RDBStream.Field] = []
            if flags & flagSameFields != 0 {
                for name in masterFields { fields.append(RDBStream.Field(name: name, value: try next())) }
            } else {
                let n = try integer(try next())
                guard n >= 0, n <= Int64(items.count) else { throw corrupt() }
                for _ in 0..<n { fields.append(RDBStream.Field(name: try next(), value: try next())) }
            }
            _ = try next()                            // lp-count
            if flags & flagDeleted != 0 { continue }
            let id = RDBStream.ID(ms: UInt64(bitPattern: Int64(bitPattern: master.ms) &+ msDiff),
                                  seq: UInt64(bitPattern: Int64(bitPattern: master.seq) &+ seqDiff))
            out.append(RDBStream.Entry(id: id, fields: fields))
        }
        return out
    }

    /// Nodes for `entries` (in ID order): (master ID, listpack), at most
    /// `maxEntriesPerNode` entries each, the first entry's fields as the master fields.
    static func encode(_ entries: [RDBStream.Entry]) -> [(RDBStream.ID, [UInt8])] {
        var nodes: [(RDBStream.ID, [UInt8])] = []
        var start = 0
        while start < entries.count {
            let chunk = entries[start..<min(entries.count, start + maxEntriesPerNode)]
            let master = chunk.first!
            let masterNames = master.fields.map(\.name)
            var lp = ListpackEncoder()
            lp.append(integer: Int64(chunk.count))
            lp.append(integer: 0)
            lp.append(integer: Int64(masterNames.count))
            for n in masterNames { lp.append(n) }
            lp.append(integer: 0)
            for e in chunk {
                let same = e.fields.map(\.name) == masterNames
                lp.append(integer: same ? flagSameFields : 0)
                lp.append(integer: Int64(bitPattern: e.id.ms &- master.id.ms))
                lp.append(integer: Int64(bitPattern: e.id.seq &- master.id.seq))
                if same {
                    for f in e.fields { lp.append(f.value) }
                    lp.append(integer: Int64(e.fields.count + 3))
                } else {
                    lp.append(integer: Int64(e.fields.count))
                    for f in e.fields { lp.append(f.name); lp.append(f.value) }
                    lp.append(integer: Int64(e.fields.count * 2 + 4))
                }
            }
            nodes.append((master.id, lp.bytes()))
            start += chunk.count
        }
        return nodes
    }

    /// A node key or PEL entry: the ID as 16 big-endian bytes.
    static func idBytes(_ id: RDBStream.ID) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: id.ms >> (8 * UInt64(7 - $0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: id.seq >> (8 * UInt64(7 - $0))) }
    }

    static func id(fromBytes b: [UInt8]) throws -> RDBStream.ID {
        guard b.count == 16 else { throw RDBError("Stream node key entry is not the size of a stream ID") }
        var ms: UInt64 = 0, seq: UInt64 = 0
        for k in 0..<8 { ms = ms << 8 | UInt64(b[k]); seq = seq << 8 | UInt64(b[8 + k]) }
        return RDBStream.ID(ms: ms, seq: seq)
    }
}
