import Glibc

/// A point-in-time RDB snapshot taken a little at a time on the keyspace thread, with
/// clients served in between: full syncs and BGSAVE. There is no fork and no copy of the
/// dataset. Each entry carries a bit saying whether the snapshot holds it yet:
///
/// - starting flips every table's `snapshotMark`, which makes all existing entries
///   pending at once;
/// - the job walks each table with SCAN's cursor (every key present throughout is
///   visited, across resizes) and writes the pending entries it meets;
/// - before a write changes or deletes a pending entry, that entry is written first:
///   KeyTable's hooks catch deletes, replacements and reallocations; `preserveForSnapshot`
///   catches in-place changes to the keys a write command names;
/// - entries added after the start are born marked and left out.
///
/// So the file holds every key exactly as it was when the job started, which is the
/// replication offset a replica continues from. Keys written early by a hook go under
/// their own SELECTDB, so databases interleave; every Redis loader accepts that. The
/// checksum is computed as the bytes accumulate: finishing costs no pass over the file.
final class SnapshotJob {
    struct Section {
        let table: KeyTable
        let database: Int
        /// Sizes at the start, for RESIZEDB.
        let keys: Int
        let expires: Int
        var started = false
    }

    @exclusivity(unchecked) private(set) var sections: [Section] = []
    private var scanning = 0
    private var cursor: UInt64 = 0
    @exclusivity(unchecked) private var writer: RDBWriter
    private var writtenDatabase = -1
    private var crc: UInt64 = 0
    private var checksummed = 0
    private let checksum: Bool
    /// Keys written so far.
    private(set) var keysWritten = 0
    /// Unix ms at the start, and `Engine.dirty` then (what a save covers).
    let startedAt: Int64
    let dirtyAtStart: Int
    /// The replication history and offset the dataset was at when the job started: a
    /// replica loading this snapshot continues the stream right after that offset.
    let replicationID: String
    let replicationOffset: Int64
    /// Replicas waiting for the file. Their stream since `replicationOffset` accumulates in
    /// their link meanwhile.
    @exclusivity(unchecked) var replicas: [Client] = []
    /// BGSAVE (or a save point) wants the file on disk.
    var savesToDisk = false
    /// No consumer is left: entries are only marked, not written, until the walk ends.
    var discarding = false

    init(writer: RDBWriter, checksum: Bool, startedAt: Int64, dirtyAtStart: Int,
         replicationID: String, replicationOffset: Int64) {
        self.writer = writer
        self.checksum = checksum
        self.startedAt = startedAt
        self.dirtyAtStart = dirtyAtStart
        self.replicationID = replicationID
        self.replicationOffset = replicationOffset
    }

    /// Takes part of `table` (database `database`) in the snapshot: flipping its mark makes
    /// every entry in it pending.
    func include(_ table: KeyTable, database: Int) {
        precondition(table.snapshot == nil, "a table is in one snapshot at a time")
        table.snapshotMark ^= Entry.snapshotFlag
        table.snapshot = self
        table.snapshotSection = sections.count
        sections.append(Section(table: table, database: database, keys: table.count, expires: table.volatileCount))
    }

    /// Bytes of the file so far.
    var bytesWritten: Int { spilledBytes + writer.bytes.count }
    /// Bytes of the file no longer held here: handed to the disk writer, or sent to every
    /// replica streaming the file. The held bytes are the file from this offset on.
    private(set) var spilledBytes = 0
    /// Bytes held here, not yet handed over.
    var heldBytes: Int { writer.bytes.count }
    /// A replica can join only while the whole file so far is still here to send.
    var joinable: Bool { spilledBytes == 0 }

    /// Lends bytes `range` (file offsets) of the file so far, which must still be held (a
    /// replica is sent them while the job runs).
    func withBytes<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(range.lowerBound >= spilledBytes, "a streamed snapshot's bytes are read before they are dropped")
        let held = (range.lowerBound - spilledBytes)..<(range.upperBound - spilledBytes)
        return writer.bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[held])) }
    }

    /// Forgets the file's bytes before file offset `end`, which every consumer has had
    /// (checksummed already: `advance` ends with that).
    func dropHeldBytes(before end: Int) {
        let count = end - spilledBytes
        precondition(count >= 0 && count <= writer.bytes.count && (checksummed == writer.bytes.count || !checksum))
        writer.dropPrefix(count)
        spilledBytes = end
        checksummed -= count
    }

    /// Hands over the bytes made so far (all checksummed: `advance` ends with that) and
    /// keeps none, so a save to disk holds only a piece of the file at a time.
    func takeHeldBytes() -> [UInt8] {
        precondition(checksummed == writer.bytes.count || !checksum)
        let taken = writer.takeBytes()
        spilledBytes += taken.count
        checksummed = 0
        return taken
    }

    /// Writes `e`, a pending entry of section `s`, under its database's SELECTDB.
    func write(_ e: Entry, section s: Int) {
        if discarding { return }
        let database = sections[s].database
        if database != writtenDatabase {
            if sections[s].started {
                writer.reselectDB(database)
            } else {
                writer.selectDB(database, keys: sections[s].keys, expires: sections[s].expires)
                sections[s].started = true
            }
            writtenDatabase = database
        }
        writer.keyValue(e)
        keysWritten += 1
    }

    /// Walks on through the tables, writing pending entries, until the walk is complete
    /// or `shouldPause` (asked every 64 buckets) says to let clients in. Returns true
    /// when every table has been walked.
    func advance(_ shouldPause: () -> Bool) -> Bool {
        var buckets = 0
        while scanning < sections.count {
            let s = scanning
            let t = sections[s].table
            repeat {
                cursor = t.scan(cursor: cursor) { e in
                    if t.isPendingForSnapshot(e) {
                        write(e, section: s)
                        t.markSnapshotted(e)
                    }
                }
                buckets += 1
                if cursor != 0 && buckets & 63 == 0 && shouldPause() {
                    updateChecksum()
                    return false
                }
            } while cursor != 0
            scanning += 1
        }
        updateChecksum()
        return true
    }

    /// Releases the tables from the snapshot: their changes no longer consult it.
    func detach() {
        for s in sections where s.table.snapshot === self { s.table.snapshot = nil }
    }

    /// The rest of the file (all of it unless bytes were taken), after `advance`
    /// returned true.
    func finish() -> [UInt8] {
        writer.finish(checksum: checksum, crc: crc, checksummed: checksummed)
    }

    private func updateChecksum() {
        guard checksum, !discarding else { return }
        let end = writer.bytes.count
        if end > checksummed {
            crc = writer.bytes.withUnsafeBytes { CRC64.update(crc, UnsafeRawBufferPointer(rebasing: $0[checksummed..<end])) }
            checksummed = end
        }
    }
}

extension RDBWriter {
    /// One key and its value as stored in `e`, with its expiry.
    mutating func keyValue(_ e: Entry) {
        let expireAt: Int64? = e.isVolatile ? e.expireAt : nil
        if accessClocks != nil { pendingAccessClock = e.accessClock }
        if e.type == .string {
            e.stringBytes { stringEntry(key: e.key, value: $0, expireAt: expireAt) }
        } else {
            entry(key: e.key, value: rdbValue(of: e), expireAt: expireAt)
        }
    }

    /// The aux fields every snapshot starts with; `replication` adds repl-stream-db,
    /// repl-id and repl-offset (a replica needs them to continue the stream).
    mutating func snapshotHeader(usedMemory: Int, now: Int64, replication: (id: String, offset: Int64, streamDB: Int)?) {
        aux("redis-ver", redisCompatibleVersion)
        aux("redis-bits", integer: 64)
        aux("ctime", integer: now / 1000)
        aux("used-mem", integer: Int64(usedMemory))
        if let r = replication {
            aux("repl-stream-db", integer: Int64(r.streamDB))
            aux("repl-id", r.id)
            aux("repl-offset", integer: r.offset)
        }
        aux("aof-base", integer: 0)
    }
}

/// A save to disk hands the file to its writing thread in pieces of this size, so only
/// about this much of it is held in memory (unless a replica shares the job).
let snapshotSpillBytes = 4 << 20
/// Bytes handed to the writing thread and not yet written above which the walk waits.
let snapshotDiskBacklogLimit = 64 << 20
/// Bytes of a streamed full sync made and not yet sent to its slowest replica above which
/// the walk waits.
let snapshotStreamBacklogLimit = 16 << 20

extension Engine {
    /// Starts taking a snapshot of the dataset as of now; the run loop advances it between
    /// batches (`advanceSnapshotJob`). One job runs at a time.
    func startSnapshotJob(replication aux: (id: String, offset: Int64, streamDB: Int)?, capacity: Int? = nil) -> SnapshotJob {
        precondition(snapshotJob == nil, "one snapshot job at a time")
        replicationFlushStream()
        var w = RDBWriter(compression: config.rdbcompression,
                          capacity: capacity ?? 4096 + databases.reduce(0) { $0 + $1.table.entryBytes })
        w.snapshotHeader(usedMemory: usedMemory(), now: now, replication: aux)
        w.functionLibraries(functionLibraries.map { $0.code })
        w.accessClocks = rdbAccessClocks()
        let job = SnapshotJob(writer: w, checksum: config.rdbchecksum, startedAt: wallClockMilliseconds(),
                              dirtyAtStart: dirty, replicationID: replication.replid,
                              replicationOffset: replication.masterReplOffset)
        for d in databases where d.table.count > 0 { job.include(d.table, database: d.index) }
        snapshotJob = job
        return job
    }

    /// Before a write command runs during a snapshot: the keys it may change in place are
    /// written to the snapshot first, as they are now. Keys at the spec's positions, or
    /// every argument for a command whose keys move (writing a key early is harmless: it
    /// has not changed since the snapshot began).
    func preserveForSnapshot(_ cmd: Command, _ args: Arguments) {
        let table = db.table
        guard table.snapshot != nil else { return }
        func preserve(_ key: UnsafeRawBufferPointer) {
            if let link = table.find(key, hash: hashKey(key)) { table.preserveForSnapshot(Entry(link.pointee!)) }
        }
        let spec = cmd.spec
        if cmd.flags.contains(.movableKeys) || spec.firstKey <= 0 {
            for i in 1..<args.count { preserve(args[i]) }
            return
        }
        let last = spec.lastKey < 0 ? args.count + spec.lastKey : spec.lastKey
        var i = spec.firstKey
        while i <= last && i < args.count {
            preserve(args[i])
            i += max(1, spec.keyStep)
        }
    }

    /// One turn of snapshot work from the run loop: up to 2 ms, or less once 100 us have
    /// passed and requests are waiting, so a snapshot adds little to any client's latency.
    /// Returns false while the walk waits for its slowest replica: the loop may sleep, as
    /// the replica's connection draining (outputDrained, reply-ring space) wakes it.
    func advanceSnapshotJob(_ job: SnapshotJob) -> Bool {
        job.replicas.removeAll { $0.closing }
        if !job.discarding && job.replicas.isEmpty && !job.savesToDisk {
            job.discarding = true   // nobody wants it any more: finish the walk cheaply
            logger.notice("Snapshot abandoned: no replica or save waits for it any more")
        }
        let bg = job.savesToDisk ? persistence.background : nil
        if let bg, bg.queuedBytes >= snapshotDiskBacklogLimit {
            // The disk is far behind: let it catch up rather than hold more of the file.
            if !hasWork() { usleep(200) }
            return true
        }
        let streamedUpTo = bg == nil ? replicationStreamedSnapshotBytes(job) : nil
        if let sent = streamedUpTo, job.bytesWritten - sent >= snapshotStreamBacklogLimit {
            // The slowest replica is far behind: hold the walk rather than more of the file
            // (Redis's diskless transfer waits on its slowest replica the same way).
            return false
        }
        let start = monotonicMicroseconds()
        let complete = job.advance {
            let elapsed = monotonicMicroseconds() - start
            return elapsed >= 2000 || (elapsed >= 100 && hasWork())
        }
        if complete {
            finishSnapshotJob(job)
        } else if let bg, job.replicas.isEmpty, !job.discarding, job.heldBytes >= snapshotSpillBytes {
            bg.enqueue(job.takeHeldBytes(), last: false)
        } else if let sent = streamedUpTo,
                  sent - job.spilledBytes >= max(snapshotSpillBytes, job.bytesWritten - sent) {
            // Every replica has been sent this much: the file need not be held whole. The
            // bytes kept are copied, so drop only once they are no more than those dropped:
            // all the copying adds up to at most the file's size.
            job.dropHeldBytes(before: sent)
        }
        return true
    }

    /// The walk is over: the file goes to the replicas and/or the disk that wait for it.
    private func finishSnapshotJob(_ job: SnapshotJob) {
        snapshotJob = nil
        job.detach()
        if !job.discarding {
            let spilled = job.spilledBytes
            let bytes = job.finish()
            logger.notice("Snapshot of \(job.keysWritten) keys (\(spilled + bytes.count) bytes) taken in \(wallClockMilliseconds() - job.startedAt) ms while serving clients")
            if job.savesToDisk { backgroundSnapshotReady(job, bytes) }
            if !job.replicas.isEmpty { replicationSnapshotReady(job, bytes) }
        }
        replicationStartWaitingSyncs()
    }

    /// Gives up the job in progress (SHUTDOWN): its tables no longer consult it.
    func abandonSnapshotJob() {
        guard let job = snapshotJob else { return }
        snapshotJob = nil
        job.discarding = true
        _ = job.advance { false }   // leaves every entry marked for the next snapshot
        job.detach()
    }
}
