import Glibc

/// The RDB form of a non-string value. Each value type adds its case here.
func rdbValue(of entry: Entry) -> RDBValue {
    switch entry.type {
    case .string: return .string(entry.stringBytes { Array($0) })
    case .list:
        let l = unsafeDowncast(entry.object, to: ListValue.self)
        var items: [[UInt8]] = []
        items.reserveCapacity(l.count)
        l.forEach { items.append(Array($0)) }
        return .list(items)
    case .set: return unsafeDowncast(entry.object, to: SetValue.self).rdbValue
    case .hash: return unsafeDowncast(entry.object, to: HashValue.self).rdbValue
    case .zset: return unsafeDowncast(entry.object, to: SortedSetValue.self).rdbValue
    case .stream: return unsafeDowncast(entry.object, to: StreamValue.self).rdbValue
    }
}

/// The engine's side of RDB: turning the keyspace into a snapshot and a snapshot back into
/// the keyspace. The codec (RDBReader / RDBWriter) knows nothing of entries; the two
/// conversion points below are where each value type plugs in.
extension Engine {
    // MARK: conversion points

    /// Builds the in-memory object for a loaded non-string value, or nil for a type without
    /// a conversion yet. Each value type adds its case here, returning its `ValueType` and
    /// a `KeyspaceObject` in the encoding Redis would pick for that size. Throws when the
    /// value is inconsistent (duplicate members, ...), which makes the file corrupt.
    func makeObject(from value: RDBValue) throws -> (ValueType, AnyObject)? {
        switch value {
        case .string: return nil
        case .list(let items):
            return (.list, ListValue(elements: items))
        case .set(let members): return (.set, SetValue.loaded(members, hasher: hasher))
        case .hash(let pairs): return (.hash, HashValue.loaded(pairs, hasher: hasher))
        case .zset(let pairs): return (.zset, try SortedSetValue.loaded(pairs))
        case .stream(let s): return (.stream, try StreamValue.loaded(s))
        }
    }

    /// Stores one loaded key in database `index`. Keys already expired are skipped (as a
    /// master does); a duplicate key or a database beyond `databases` is a corrupt file.
    /// Returns whether the key was stored (false: it had expired).
    @discardableResult
    func store(_ value: RDBValue, key: [UInt8], expireAt: Int64?, database index: Int) throws -> Bool {
        guard index >= 0 && index < databases.count else {
            throw RDBError("FATAL: Data file was created with a Redis server configured to handle more than \(databases.count) databases. Exiting")
        }
        if let expireAt, expireAt < now { return false }
        let saved = db
        // Loaded keys are not "new" keyspace events (Redis's dbAddRDBLoad).
        let notifyFlags = config.notifyKeyspaceEvents
        config.notifyKeyspaceEvents = 0
        defer { db = saved; config.notifyKeyspaceEvents = notifyFlags }
        db = databases[index]
        return try key.withUnsafeBytes { k in
            let hash = hashKey(k)
            if db.table.find(k, hash: hash) != nil {
                throw RDBError("RDB has duplicated key '\(String(decoding: key, as: UTF8.self))' in DB \(index)")
            }
            switch value {
            case .string(let s):
                s.withUnsafeBytes { storeString(k, hash: hash, value: $0, at: nil, expireAt: expireAt) }
            default:
                guard let (type, object) = try makeObject(from: value) else {
                    throw RDBError("The RDB file contains a \(value.typeName) value, which this server cannot hold yet")
                }
                storeObject(k, hash: hash, type: type, object, at: nil)
                if let expireAt, let link = db.table.find(k, hash: hash) { setExpiry(at: link, expireAt) }
            }
            return true
        }
    }

    // MARK: snapshot

    /// The RDB file of the whole dataset as of now, in one go: the keyspace thread serves
    /// no command meanwhile (SAVE, SHUTDOWN, DEBUG RELOAD). Full syncs and BGSAVE use a
    /// SnapshotJob instead, which lets clients in between. `replication` adds the
    /// repl-stream-db, repl-id and repl-offset aux fields a replica needs to continue the
    /// stream; nil when there is no replication stream (Redis omits them then).
    func makeSnapshot(replication: (id: String, offset: Int64, streamDB: Int)? = nil) -> [UInt8] {
        var w = RDBWriter(compression: config.rdbcompression, capacity: 4096 + databases.reduce(0) { $0 + $1.table.entryBytes })
        w.snapshotHeader(usedMemory: usedMemory(), now: now, replication: replication)
        w.functionLibraries(functionLibraries.map { $0.code })
        w.accessClocks = rdbAccessClocks()
        for d in databases where d.table.count > 0 {
            w.selectDB(d.index, keys: d.table.count, expires: d.table.volatileCount)
            d.table.forEach { w.keyValue($0) }
        }
        return w.finish(checksum: config.rdbchecksum)
    }

    // MARK: loading

    /// Replaces the dataset with the RDB `bytes` (start-up load, DEBUG RELOAD, a replica's
    /// full sync). The file is loaded into fresh tables that replace the current ones only
    /// once all of it proved valid: on any error the dataset is left as it was. Keys whose
    /// expiry has passed are dropped unless `keepExpired` (a replica keeps them until its
    /// master's DEL, like Redis). Returns the keys loaded and dropped, and the reader for
    /// the aux fields (repl-id, repl-offset, ...).
    @discardableResult
    func loadSnapshot(_ bytes: [UInt8], keepExpired: Bool = false) throws -> (loaded: Int, expired: Int, reader: RDBReader) {
        let current = databases
        let dirtyBefore = dirty
        let savedNow = now
        defer {
            databases = current
            dirty = dirtyBefore   // loading is not a change to save or propagate
            now = savedNow
        }
        databases = current.map { Database(index: $0.index) }
        if keepExpired { now = Int64.min }
        var reader = RDBReader(bytes)
        var loaded = 0, expired = 0
        try reader.read(verifyChecksum: config.rdbchecksum) { r in
            if try store(r.value, key: r.key, expireAt: r.expireAt, database: r.db) {
                loaded += 1
                // The saved idle time or LFU counter, as Redis's rdbLoad applies it.
                if r.idleSeconds >= 0 || r.frequency >= 0,
                   let link = r.key.withUnsafeBytes({ databases[r.db].table.find($0, hash: hashKey($0)) }) {
                    setAccessClock(Entry(link.pointee!), idleSeconds: r.idleSeconds, frequency: r.frequency,
                                   time: savedNow)
                }
            } else {
                expired += 1
            }
        }
        if let failure = replaceFunctionLibraries(reader.functionCodes) {
            throw RDBError("Failed loading library: " + failure)
        }
        let fresh = databases
        databases = current
        for (old, new) in zip(current, fresh) {
            old.table = new.table
            flushedDatabase(old.index)   // every key changed: WATCH fails
        }
        return (loaded, expired, reader)
    }

    /// Loads dir/dbfilename before the server accepts clients, logging like Redis. A missing
    /// file is an empty dataset; an unreadable or corrupt one throws (the server exits 1).
    public func loadDataAtStartup() throws {
        persistence.lastSave = now / 1000
        let path = config.dbfilename
        let start = monotonicMicroseconds()
        guard let bytes = try readWholeFile(path) else { return }
        do {
            let (loaded, expired, reader) = try loadSnapshot(bytes)
            if let v = reader.auxField("redis-ver") { logger.notice("Loading RDB produced by version \(v)") }
            if let c = reader.auxField("ctime"), let t = Int64(c) {
                logger.notice("RDB age \(max(0, now / 1000 - t)) seconds")
            }
            if let m = reader.auxField("used-mem"), let n = Double(m) {
                logger.notice("RDB memory usage when created \(String(format2: n / 1024 / 1024)) Mb")
            }
            logger.notice("Done loading RDB, keys loaded: \(loaded), keys expired: \(expired).")
            let ms = (monotonicMicroseconds() - start + 500) / 1000
            let fraction = String(ms % 1000)
            logger.notice("DB loaded from disk: \(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count) + fraction) seconds")
            if let id = reader.auxField("repl-id"), id.utf8.count == 40,
               let o = reader.auxField("repl-offset").flatMap({ Int64($0) }) {
                let streamDB = reader.auxField("repl-stream-db").flatMap { Int($0) } ?? 0
                persistence.loadedReplicationInfo = (id, o, max(0, min(streamDB, databases.count - 1)))
            }
            persistence.lastLoadKeysLoaded = loaded
            persistence.lastLoadKeysExpired = expired
            persistence.dirtyAtLastSave = dirty
        } catch {
            logger.warning("\(error)")
            throw ConfigError("Fatal error loading the DB from \(currentDirectory())/\(path), exiting.")
        }
    }
}

extension RDBValue {
    /// TYPE's name for the value.
    var typeName: String {
        switch self {
        case .string: "string"
        case .list: "list"
        case .set: "set"
        case .hash: "hash"
        case .zset: "zset"
        case .stream: "stream"
        }
    }
}

/// The whole file at `path`; nil when it does not exist.
func readWholeFile(_ path: String) throws -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    if fd < 0 {
        if errno == ENOENT { return nil }
        throw ConfigError("Fatal error loading the DB: \(String(cString: strerror(errno))). Exiting.")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        throw ConfigError("Fatal error loading the DB: \(String(cString: strerror(errno))). Exiting.")
    }
    var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
    var got = 0
    let ok = bytes.withUnsafeMutableBytes { b -> Bool in
        while got < b.count {
            let n = read(fd, b.baseAddress! + got, b.count - got)
            if n < 0 { if errno == EINTR { continue }; return false }
            if n == 0 { break }
            got += n
        }
        return true
    }
    guard ok else { throw ConfigError("Fatal error loading the DB: \(String(cString: strerror(errno))). Exiting.") }
    if got < bytes.count { bytes.removeSubrange(got...) }
    return bytes
}
