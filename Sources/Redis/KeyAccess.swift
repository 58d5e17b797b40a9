import Glibc

/// Looking keys up and storing string values in the current database, with the
/// bookkeeping (hits, misses, encodings, TTLs) every command shares.
extension Engine {
    @inline(__always)
    func hashKey(_ key: UnsafeRawBufferPointer) -> UInt64 { hasher.hash(key) }

    /// A live key for reading; counts keyspace_hits / keyspace_misses and records the
    /// access for eviction (LRU clock or LFU counter).
    @inline(__always)
    func lookupRead(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Entry? {
        if let link = currentDatabase({ $0.lookup(key, hash: hash, now: now) }) {
            stats.keyspaceHits += 1
            let e = Entry(link.pointee!)
            touchAccess(e)
            return e
        }
        stats.keyspaceMisses += 1
        if config.notifyKeyspaceEvents & NotifyClass.keyMiss != 0 { keyMissed(key) }
        return nil
    }

    /// `lookupRead` without recording the access (Redis's LOOKUP_NOTOUCH: EXISTS, TYPE, the
    /// TTL family, OBJECT, SCAN's TYPE filter), so they leave idle times alone.
    @inline(__always)
    func lookupReadNoTouch(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Entry? {
        if let link = currentDatabase({ $0.lookup(key, hash: hash, now: now) }) {
            stats.keyspaceHits += 1
            return Entry(link.pointee!)
        }
        stats.keyspaceMisses += 1
        if config.notifyKeyspaceEvents & NotifyClass.keyMiss != 0 { keyMissed(key) }
        return nil
    }

    /// The link to a live key, for changing it; records the access as `lookupRead` does.
    @inline(__always)
    func lookupWrite(_ key: UnsafeRawBufferPointer, hash: UInt64) -> KeyTable.Link? {
        let link = currentDatabase { $0.lookup(key, hash: hash, now: now) }
        if let link { touchAccess(Entry(link.pointee!)) }
        return link
    }

    /// Runs `body` on the running command's database without taking a reference to it:
    /// databases live as long as the engine, and this runs on every key lookup.
    @inline(__always)
    func currentDatabase<R>(_ body: (Database) -> R) -> R {
        Unmanaged.passUnretained(db)._withUnsafeGuaranteedRef(body)
    }

    /// Stores `value` as `key`'s string value, replacing what `link` points at (or adding
    /// the key when nil). The TTL is dropped unless `keepTTL`; `expireAt` sets a new one.
    /// Picks Redis's encoding: int for a canonical decimal Int64, embstr up to 44 bytes,
    /// raw beyond.
    @inline(__always)
    func storeString(_ key: UnsafeRawBufferPointer, hash: UInt64, value: UnsafeRawBufferPointer,
                     at link: KeyTable.Link?, keepTTL: Bool = false, expireAt: Int64? = nil) {
        if value.count <= 20, let n = parseInteger(value) {
            storeInteger(key, hash: hash, Int64(n), at: link, keepTTL: keepTTL, expireAt: expireAt)
            return
        }
        let encoding: StringEncoding = value.count <= 44 ? .embstr : .raw
        let e = prepareStringEntry(key, hash: hash, valueLength: value.count, encoding: encoding, at: link,
                                   keepTTL: keepTTL, expireAt: expireAt)
        if value.count > 0 { e.valuePointer.copyMemory(from: value.baseAddress!, byteCount: value.count) }
    }

    /// Stores an int-encoded string value (INCR's results, canonical decimal SETs).
    @inline(__always)
    func storeInteger(_ key: UnsafeRawBufferPointer, hash: UInt64, _ n: Int64, at link: KeyTable.Link?,
                      keepTTL: Bool = false, expireAt: Int64? = nil) {
        let e = prepareStringEntry(key, hash: hash, valueLength: 8, encoding: .int, at: link,
                                   keepTTL: keepTTL, expireAt: expireAt)
        e.intValue = n
    }

    /// An entry for `key` with room for the value, reusing the old block when its size and
    /// expiry slot already fit (a SET over a same-sized value allocates nothing).
    @inline(__always)
    private func prepareStringEntry(_ key: UnsafeRawBufferPointer, hash: UInt64, valueLength: Int,
                                    encoding: StringEncoding, at link: KeyTable.Link?,
                                    keepTTL: Bool, expireAt: Int64?) -> Entry {
        dirty += 1
        var deadline = expireAt
        if let link {
            let old = Entry(link.pointee!)
            if keepTTL && deadline == nil && old.isVolatile { deadline = old.expireAt }
            let volatile = deadline != nil
            if old.type == .string && old.isVolatile == volatile {
                let e = old.valueLength == valueLength ? old
                    : db.table.resize(at: link, valueLength: valueLength, volatile: volatile)
                e.stringEncoding = encoding
                if let deadline { e.expireAt = deadline }
                return e
            }
            let e = Entry.allocate(key: key, hash: hash, valueLength: valueLength, type: .string,
                                   encoding: encoding.rawValue, volatile: volatile)
            if let deadline { e.expireAt = deadline }
            db.table.replace(at: link, with: e)
            return e
        }
        let e = Entry.allocate(key: key, hash: hash, valueLength: valueLength, type: .string,
                               encoding: encoding.rawValue, volatile: deadline != nil)
        if let deadline { e.expireAt = deadline }
        db.table.insert(e, hash: hash)
        notify(NotifyClass.new, "new", key)
        return e
    }

    /// Sets or clears the TTL of the entry at `link`; returns the (possibly moved) entry.
    @discardableResult
    func setExpiry(at link: KeyTable.Link, _ expireAt: Int64?) -> Entry {
        dirty += 1
        let e = Entry(link.pointee!)
        if let expireAt {
            let moved = e.isVolatile ? e : db.table.resize(at: link, valueLength: e.valueLength, volatile: true)
            moved.expireAt = expireAt
            return moved
        }
        return e.isVolatile ? db.table.resize(at: link, valueLength: e.valueLength, volatile: false) : e
    }

    /// Deletes `key` if present; returns whether it was.
    @discardableResult
    func deleteKey(_ key: UnsafeRawBufferPointer) -> Bool {
        guard let link = lookupWrite(key, hash: hashKey(key)) else { return false }
        db.table.remove(at: link)
        dirty += 1
        return true
    }

    /// Stores a value object (a list, hash, set, ...) as `key`'s value, replacing what
    /// `link` points at or adding the key when nil. Like SET, the old TTL goes unless
    /// `keepTTL`. The entry holds one retain of `object`.
    func storeObject(_ key: UnsafeRawBufferPointer, hash: UInt64, type: ValueType, _ object: AnyObject,
                     at link: KeyTable.Link?, keepTTL: Bool = false) {
        dirty += 1
        var deadline: Int64?
        if let link, keepTTL {
            let old = Entry(link.pointee!)
            if old.isVolatile { deadline = old.expireAt }
        }
        let e = Entry.allocate(key: key, hash: hash, valueLength: MemoryLayout<UnsafeRawPointer>.size, type: type,
                               encoding: 0, volatile: deadline != nil)
        if let deadline { e.expireAt = deadline }
        e.valuePointer.storeBytes(of: Unmanaged.passRetained(object).toOpaque(), as: UnsafeMutableRawPointer.self)
        if let link {
            db.table.replace(at: link, with: e)
        } else {
            db.table.insert(e, hash: hash)
            notify(NotifyClass.new, "new", key)
        }
    }

    /// The value object of a live key of type `type`, for reading. Replies WRONGTYPE and
    /// returns `.wrongType` when the key holds another type.
    @inline(__always)
    func lookupObject<T: AnyObject>(_ key: UnsafeRawBufferPointer, hash: UInt64, type: ValueType,
                                    as: T.Type) -> ObjectLookup<T> {
        guard let e = lookupRead(key, hash: hash) else { return .missing }
        guard e.type == type else { replyWrongType(); return .wrongType }
        return .found(unsafeDowncast(e.object, to: T.self), e)
    }
}

/// The answer of `lookupObject`.
enum ObjectLookup<T: AnyObject> {
    case missing
    /// WRONGTYPE has been replied.
    case wrongType
    case found(T, Entry)
}

extension Engine {

    /// Parses an integer argument, or replies Redis's "not an integer" error.
    @inline(__always)
    func integerArgument(_ bytes: UnsafeRawBufferPointer) -> Int? {
        if let n = parseInteger(bytes) { return n }
        replyNotInteger()
        return nil
    }
}

/// string2ll over a byte buffer.
@inline(__always)
func parseInteger(_ bytes: UnsafeRawBufferPointer) -> Int? {
    guard let b = bytes.baseAddress, bytes.count > 0 else { return nil }
    return parseInteger(b.assumingMemoryBound(to: UInt8.self), bytes.count)
}

extension Entry {
    /// The string value's bytes, formatting an int-encoded value into `scratch`.
    @inline(__always)
    func stringBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if stringEncoding == .int {
            var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
            return withUnsafeMutableBytes(of: &scratch) { s in
                let n = formatDecimal(intValue, into: s.baseAddress!)
                return body(UnsafeRawBufferPointer(rebasing: s[0..<n]))
            }
        }
        return body(value)
    }

    /// The string value's length in bytes (STRLEN), whatever its encoding.
    var stringLength: Int {
        if stringEncoding == .int {
            return stringBytes { $0.count }
        }
        return valueLength
    }
}
