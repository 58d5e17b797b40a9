import Glibc

/// DUMP and RESTORE (src/cluster.c): a value travels as its RDB encoding followed by the
/// 2-byte RDB version and a CRC64 of everything before the CRC, so payloads move between
/// this server and redis-server 7.0 in both directions.
let dumpRestoreCommands: [(String, CommandHandler)] = [
    ("dump", { $0.dump($1) }),
    ("restore", { $0.restore($1) }),
]

/// createDumpPayload: type byte and value as RDBWriter encodes them, the RDB version
/// (little endian) and the CRC64 (little endian).
func dumpPayload(_ value: RDBValue, compression: Bool) -> [UInt8] {
    var w = RDBWriter(compression: compression)
    let header = w.bytes.count
    // An entry is type byte, key, value: with an empty key the key is one length byte.
    w.entry(key: UnsafeRawBufferPointer(start: nil, count: 0), value: value, expireAt: nil)
    var payload = Array(w.bytes[header...])
    payload.remove(at: 1)
    payload.append(UInt8(rdbVersionWritten & 0xff))
    payload.append(UInt8(rdbVersionWritten >> 8))
    let crc = CRC64.checksum(payload)
    for i in 0..<8 { payload.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt64(i)))) }
    return payload
}

/// verifyDumpPayload: a version this server can write (Redis accepts up to its own) and a
/// matching CRC64.
func dumpPayloadIsValid(_ p: UnsafeRawBufferPointer) -> Bool {
    if p.count < 10 { return false }
    let footer = p.count - 10
    let version = Int(p[footer]) | Int(p[footer + 1]) << 8
    if version > rdbVersionWritten { return false }
    let crc = CRC64.update(0, UnsafeRawBufferPointer(rebasing: p[0..<(p.count - 8)]))
    for i in 0..<8 where p[footer + 2 + i] != UInt8(truncatingIfNeeded: crc >> (8 * UInt64(i))) { return false }
    return true
}

/// Ends the read of a payload at its first value.
private struct PayloadValueRead: Error {}

/// The value inside a verified payload, or nil when it does not parse ("Bad data format").
/// The payload is read by the RDB reader as a one-key file; like Redis, which reads the
/// object from the whole payload buffer, a value may run into the footer and whatever
/// follows the value is ignored.
func dumpPayloadValue(_ p: UnsafeRawBufferPointer) -> RDBValue? {
    // Only object types: opcodes (EOF, SELECTDB, ...) are not values.
    if p.count < 11 || p[0] >= RDBOpcode.slotInfo { return nil }
    var file = Array("REDIS".utf8)
    let v = String(rdbVersionWritten)
    file += Array((String(repeating: "0", count: 4 - v.count) + v).utf8)
    file.append(p[0])
    file.append(0)  // empty key
    file += p[1...]
    var reader = RDBReader(file)
    var value: RDBValue?
    do {
        try reader.read(verifyChecksum: false) { r in
            value = r.value
            throw PayloadValueRead()
        }
    } catch is PayloadValueRead {
        return value
    } catch {
        return nil
    }
    return nil
}

extension Engine {
    /// DUMP key: the serialized value, or null when the key does not exist.
    func dump(_ a: Arguments) {
        guard let e = lookupRead(a[1], hash: hashKey(a[1])) else {
            replyNull()
            return
        }
        replyBulk(dumpPayload(rdbValue(of: e), compression: config.rdbcompression))
    }

    /// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]. A relative TTL is
    /// propagated as an absolute one with ABSTTL, and a key restored already expired as the
    /// DEL of the key it replaced, as Redis does. IDLETIME (LRU policies) or FREQ (LFU
    /// policies) sets the restored key's access clock.
    func restore(_ a: Arguments) {
        var replace = false, absTTL = false
        var idle = -1, freq = -1
        var j = 4
        while j < a.count {
            let more = a.count - j - 1
            let o = a[j]
            if o.equalsIgnoringCase("replace") { replace = true }
            else if o.equalsIgnoringCase("absttl") { absTTL = true }
            else if o.equalsIgnoringCase("idletime") && more >= 1 && freq == -1 {
                guard let n = integerArgument(a[j + 1]) else { return }
                if n < 0 { replyError("ERR Invalid IDLETIME value, must be >= 0"); return }
                idle = n
                j += 1
            } else if o.equalsIgnoringCase("freq") && more >= 1 && idle == -1 {
                guard let n = integerArgument(a[j + 1]) else { return }
                if n < 0 || n > 255 { replyError("ERR Invalid FREQ value, must be >= 0 and <= 255"); return }
                freq = n
                j += 1
            } else {
                replySyntaxError()
                return
            }
            j += 1
        }
        let key = a[1]
        let hash = hashKey(key)
        if !replace && lookupWrite(key, hash: hash) != nil {
            replyError("BUSYKEY Target key name already exists.")
            return
        }
        guard var ttl = integerArgument(a[2]) else { return }
        if ttl < 0 { replyError("ERR Invalid TTL value, must be >= 0"); return }
        if !dumpPayloadIsValid(a[3]) {
            replyError("ERR DUMP payload version or checksum are wrong")
            return
        }
        guard let value = dumpPayloadValue(a[3]) else {
            replyError("ERR Bad data format")
            return
        }
        var object: (ValueType, AnyObject)?
        if case .string = value {} else {
            guard let made = try? makeObject(from: value) else {
                replyError("ERR Bad data format")
                return
            }
            object = made
        }

        var deleted = false
        if replace { deleted = deleteKey(key) }
        if ttl != 0 && !absTTL { ttl &+= Int(now) }  // wraps like C; a wrapped time counts as past
        // checkAlreadyExpired: a replica keeps the key for its master's DEL.
        if ttl != 0 && ttl <= now && !replication.followsMaster {
            if deleted {
                notify(NotifyClass.generic, "del", key)
                propagateInstead([Array("DEL".utf8), Array(key)])
            }
            replyOK()
            return
        }
        if case .string(let s) = value {
            s.withUnsafeBytes { storeString(key, hash: hash, value: $0, at: nil, expireAt: nil) }
        } else if let (type, obj) = object {
            storeObject(key, hash: hash, type: type, obj, at: nil)
        }
        if idle >= 0 || freq >= 0, let link = db.table.find(key, hash: hash) {
            setAccessClock(Entry(link.pointee!), idleSeconds: idle, frequency: freq)
        }
        if ttl != 0, let link = db.table.find(key, hash: hash) {
            _ = setExpiry(at: link, Int64(ttl))
            if !absTTL {
                var parts: [[UInt8]] = [Array("RESTORE".utf8), Array(key), Array(String(ttl).utf8)]
                for i in 3..<a.count { parts.append(Array(a[i])) }
                parts.append(Array("ABSTTL".utf8))
                propagateInstead(parts)
            }
        }
        notify(NotifyClass.generic, "restore", key)
        replyOK()
    }
}
