/// Writes an RDB file of version 10 that redis-server 7.0 loads: the header, aux fields,
/// per database SELECTDB + RESIZEDB, keys with EXPIRETIME_MS, EOF and the CRC64.
///
/// Values use the plain encodings every Redis 7 accepts (STRING, LIST, SET, ZSET_2, HASH);
/// the loader re-encodes them compactly itself. Strings get Redis's own choice of
/// encoding: integers of up to 11 characters as 8/16/32-bit ints, longer than 20 bytes LZF
/// compressed when that saves at least 4 bytes (with `compression`), raw otherwise.
struct RDBWriter {
    private(set) var bytes: [UInt8] = []
    let compression: Bool
    private var compressor = LZFCompressor()
    private var scratch: [UInt8] = []
    /// Under an LRU or LFU policy, snapshots carry each key's idle time or LFU counter
    /// (RDB_OPCODE_IDLE / FREQ), as Redis's rdbSaveKeyValuePair does; nil otherwise.
    var accessClocks: RDBAccessClocks?
    /// The access clock of the key `keyValue` is writing, for `keyHeader`.
    var pendingAccessClock: UInt32?

    init(compression: Bool = true, capacity: Int = 4096) {
        self.compression = compression
        bytes.reserveCapacity(capacity)
        bytes += Array("REDIS".utf8)
        let v = String(rdbVersionWritten)
        bytes += Array((String(repeating: "0", count: 4 - v.count) + v).utf8)
    }

    /// An aux field with a text value.
    mutating func aux(_ key: String, _ value: String) {
        bytes.append(RDBOpcode.aux)
        Array(key.utf8).withUnsafeBytes { string($0) }
        Array(value.utf8).withUnsafeBytes { string($0) }
    }

    /// An aux field with an integer value (written int-encoded when it fits, as Redis does).
    mutating func aux(_ key: String, integer: Int64) {
        aux(key, String(integer))
    }

    /// Starts database `index`, with the sizes the loader presizes its tables with.
    mutating func selectDB(_ index: Int, keys: Int, expires: Int) {
        bytes.append(RDBOpcode.selectDB)
        length(index)
        bytes.append(RDBOpcode.resizeDB)
        length(keys)
        length(expires)
    }

    /// Switches back to database `index` after other databases' keys (an incremental
    /// snapshot interleaves them; loaders accept SELECTDB anywhere between keys).
    mutating func reselectDB(_ index: Int) {
        bytes.append(RDBOpcode.selectDB)
        length(index)
    }

    /// A string key and value; the fast path of snapshots, copying from the entry.
    mutating func stringEntry(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expireAt: Int64?) {
        keyHeader(key, type: RDBType.string, expireAt: expireAt)
        string(value)
    }

    /// Any key and value.
    mutating func entry(key: UnsafeRawBufferPointer, value: RDBValue, expireAt: Int64?) {
        switch value {
        case .string(let s):
            keyHeader(key, type: RDBType.string, expireAt: expireAt)
            s.withUnsafeBytes { string($0) }
        case .list(let items):
            keyHeader(key, type: RDBType.list, expireAt: expireAt)
            length(items.count)
            for i in items { i.withUnsafeBytes { string($0) } }
        case .set(let members):
            keyHeader(key, type: RDBType.set, expireAt: expireAt)
            length(members.count)
            for m in members { m.withUnsafeBytes { string($0) } }
        case .hash(let pairs):
            keyHeader(key, type: RDBType.hash, expireAt: expireAt)
            length(pairs.count)
            for (f, v) in pairs {
                f.withUnsafeBytes { string($0) }
                v.withUnsafeBytes { string($0) }
            }
        case .stream(let s):
            keyHeader(key, type: RDBType.streamListpacks2, expireAt: expireAt)
            stream(s)
        case .zset(let pairs):
            keyHeader(key, type: RDBType.zset2, expireAt: expireAt)
            length(pairs.count)
            // Redis writes a skiplist zset from the highest score down, so its loader
            // inserts each element at the head; any order loads correctly.
            for (m, score) in pairs.reversed() {
                m.withUnsafeBytes { string($0) }
                littleEndian64(score.bitPattern)
            }
        }
    }

    /// Hands over the bytes written so far and starts an empty buffer of the same capacity.
    mutating func takeBytes() -> [UInt8] {
        var fresh: [UInt8] = []
        fresh.reserveCapacity(bytes.capacity)
        swap(&fresh, &bytes)
        return fresh
    }

    /// Forgets the first `count` bytes written so far. The rest moves to a buffer sized for
    /// it, so the memory the dropped bytes used goes back to the system.
    mutating func dropPrefix(_ count: Int) {
        let rest = bytes.count - count
        var fresh: [UInt8] = []
        fresh.reserveCapacity(Swift.max(2 * rest, 1 << 20))
        bytes.withUnsafeBytes { fresh.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[count...])) }
        bytes = fresh
    }

    /// Ends the file like `finish`, for a writer whose first `checksummed` bytes have been
    /// checksummed into `crc` along the way (an incremental snapshot spreads that work).
    mutating func finish(checksum: Bool, crc: UInt64, checksummed: Int) -> [UInt8] {
        bytes.append(RDBOpcode.eof)
        let total = checksum ? bytes.withUnsafeBytes { CRC64.update(crc, UnsafeRawBufferPointer(rebasing: $0[checksummed...])) } : 0
        littleEndian64(total)
        return bytes
    }

    mutating func finish(checksum: Bool = true) -> [UInt8] {
        bytes.append(RDBOpcode.eof)
        let crc = checksum ? bytes.withUnsafeBytes { CRC64.update(0, $0) } : 0
        littleEndian64(crc)
        return bytes
    }

    /// RDB_TYPE_STREAM_LISTPACKS_2, as Redis 7.0 writes it.
    private mutating func stream(_ s: RDBStream) {
        let nodes = StreamNodes.encode(s.entries)
        length(nodes.count)
        for (master, lp) in nodes {
            StreamNodes.idBytes(master).withUnsafeBytes { string($0) }
            lp.withUnsafeBytes { string($0) }
        }
        length(s.length)
        streamID(s.lastID)
        streamID(s.firstID)
        streamID(s.maxDeletedID)
        length(s.entriesAdded)
        length(s.groups.count)
        for g in s.groups {
            g.name.withUnsafeBytes { string($0) }
            streamID(g.lastID)
            length(UInt64(bitPattern: g.entriesRead))
            length(g.pending.count)
            for p in g.pending {
                bytes += StreamNodes.idBytes(p.id)
                littleEndian64(UInt64(bitPattern: p.deliveryTime))
                length(p.deliveryCount)
            }
            length(g.consumers.count)
            for c in g.consumers {
                c.name.withUnsafeBytes { string($0) }
                littleEndian64(UInt64(bitPattern: c.seenTime))
                length(c.pending.count)
                for id in c.pending { bytes += StreamNodes.idBytes(id) }
            }
        }
    }

    private mutating func streamID(_ id: RDBStream.ID) {
        length(id.ms)
        length(id.seq)
    }

    // MARK: primitives

    private mutating func keyHeader(_ key: UnsafeRawBufferPointer, type: UInt8, expireAt: Int64?) {
        if let expireAt {
            bytes.append(RDBOpcode.expireTimeMs)
            littleEndian64(UInt64(bitPattern: expireAt))
        }
        if let clocks = accessClocks, let clock = pendingAccessClock {
            if clocks.lfu {
                bytes.append(RDBOpcode.freq)
                bytes.append(UInt8(clocks.decayedCounter(clock)))
            } else {
                bytes.append(RDBOpcode.idle)
                length(clocks.idleSeconds(clock))
            }
            pendingAccessClock = nil
        }
        bytes.append(type)
        string(key)
    }

    private mutating func littleEndian64(_ v: UInt64) {
        for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }

    /// rdbSaveLen: 6, 14, 32 or 64 bits, big-endian beyond the first byte.
    mutating func length(_ n: Int) {
        length(UInt64(n))
    }

    mutating func length(_ n: UInt64) {
        if n < 1 << 6 {
            bytes.append(UInt8(n))
        } else if n < 1 << 14 {
            bytes.append(UInt8(n >> 8) | 0x40)
            bytes.append(UInt8(n & 0xff))
        } else if n <= UInt64(UInt32.max) {
            bytes.append(RDBLength.bits32)
            for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((n >> UInt64(shift)) & 0xff)) }
        } else {
            bytes.append(RDBLength.bits64)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((n >> UInt64(shift)) & 0xff)) }
        }
    }

    /// Function libraries (RDB_OPCODE_FUNCTION2 and the library code), which Redis 7.0
    /// writes after the aux fields.
    mutating func functionLibraries(_ codes: [[UInt8]]) {
        for c in codes {
            bytes.append(RDBOpcode.function2)
            c.withUnsafeBytes { string($0) }
        }
    }

    /// Just those bytes (the body of a FUNCTION DUMP payload).
    mutating func functionLibrariesSection(_ codes: [[UInt8]]) -> [UInt8] {
        let start = bytes.count
        functionLibraries(codes)
        return Array(bytes[start...])
    }

    /// rdbSaveRawString: integer encoding, then LZF, then raw.
    mutating func string(_ s: UnsafeRawBufferPointer) {
        let n = s.count
        if n <= 11, n > 0, let v = parseInteger(s), v >= Int(Int32.min), v <= Int(Int32.max) {
            if v >= -(1 << 7) && v < 1 << 7 {
                bytes.append(0xc0 | UInt8(RDBEncoding.int8))
                bytes.append(UInt8(truncatingIfNeeded: v))
            } else if v >= -(1 << 15) && v < 1 << 15 {
                bytes.append(0xc0 | UInt8(RDBEncoding.int16))
                bytes.append(UInt8(truncatingIfNeeded: v))
                bytes.append(UInt8(truncatingIfNeeded: v >> 8))
            } else {
                bytes.append(0xc0 | UInt8(RDBEncoding.int32))
                for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
            }
            return
        }
        if compression && n > 20, let packed = compressor.compress(s, limit: n - 4, into: &scratch) {
            bytes.append(0xc0 | UInt8(RDBEncoding.lzf))
            length(packed)
            length(n)
            bytes += scratch[0..<packed]
            return
        }
        length(n)
        if n > 0 { bytes.append(contentsOf: s) }
    }
}
