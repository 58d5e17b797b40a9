import Glibc
import Synchronization

/// RDB persistence: last save time and status, save points, a snapshot in progress.
struct PersistenceState {
    /// repl-id, repl-offset and repl-stream-db of the file loaded at start-up, if it had them.
    var loadedReplicationInfo: (id: String, offset: Int64, streamDB: Int)?
    /// Unix seconds of the last successful save (LASTSAVE); start-up time before any.
    var lastSave: Int64 = 0
    /// `Engine.dirty` when the data last saved was taken: changes since then are unsaved.
    var dirtyAtLastSave = 0
    /// Whether the last background save succeeded (rdb_last_bgsave_status).
    var lastBackgroundSaveOK = true
    /// Unix seconds of the last background save attempt, for the retry delay after a failure.
    var lastBackgroundTry: Int64 = 0
    /// Duration of the last background save, -1 before any (rdb_last_bgsave_time_sec).
    var lastBackgroundSeconds = -1
    /// Successful saves since start (rdb_saves).
    var saves = 0
    /// The background save running now, if any, and how many were started (each writes
    /// a temporary file of its own name, so one given up never collides with the next).
    var background: BackgroundSave?
    var backgroundSavesStarted = 0
    /// Start-up load results (rdb_last_load_keys_loaded / _expired).
    var lastLoadKeysLoaded = 0
    var lastLoadKeysExpired = 0
    /// `save` as last parsed, and its (seconds, changes) pairs.
    var saveText = ""
    var savePoints: [(seconds: Int64, changes: Int)] = []
}

/// How long after a failed background save a save point may try again (Redis's
/// CONFIG_BGSAVE_RETRY_DELAY).
let backgroundSaveRetrySeconds: Int64 = 5

/// A background save: a SnapshotJob on the keyspace thread makes the file a piece at a
/// time, and a thread of its own writes each piece as it comes, then fsyncs and renames
/// the file into place and publishes the outcome. Only the pieces not yet written are held
/// in memory, never the whole file.
final class BackgroundSave: @unchecked Sendable {
    private struct Queue {
        var chunks: [[UInt8]] = []
        var bytes = 0
        var complete = false
        var abandoned = false
    }
    /// Pieces handed over by the keyspace thread, taken by the writing thread.
    private let queue = Mutex(Queue())
    /// Posted once per hand-over; the writing thread sleeps on it.
    private let signal: UnsafeMutablePointer<sem_t>
    /// Keyspace thread only: the last piece was handed over (the file is complete).
    private(set) var finalQueued = false
    let path: String
    let temporary: String
    let startedAt: Int64
    let dirtyAtStart: Int
    /// 0 while running, 1 done, 2 failed, 3 abandoned; the release store publishes
    /// `failure` to the keyspace thread's acquire load.
    let state = Atomic<Int>(0)
    private(set) var failure = ""

    init(path: String, temporary: String, startedAt: Int64, dirtyAtStart: Int) {
        self.path = path
        self.temporary = temporary
        self.startedAt = startedAt
        self.dirtyAtStart = dirtyAtStart
        signal = .allocate(capacity: 1)
        sem_init(signal, 0, 0)
    }

    deinit {
        sem_destroy(signal)
        signal.deallocate()
    }

    /// Keyspace thread: hands over the next piece of the file; `last` completes it.
    func enqueue(_ chunk: [UInt8], last: Bool) {
        queue.withLock {
            $0.chunks.append(chunk)
            $0.bytes += chunk.count
            $0.complete = last
        }
        if last { finalQueued = true }
        sem_post(signal)
    }

    /// Keyspace thread: gives the save up; the writing thread removes its temporary file.
    func abandon() {
        queue.withLock { $0.abandoned = true }
        sem_post(signal)
    }

    /// Bytes handed over and not written yet (the job waits when the disk lags far behind).
    var queuedBytes: Int { queue.withLock { $0.bytes } }

    /// Runs on the saving thread until the file is in place, failed or abandoned.
    func run() {
        var file: SnapshotFileWriter
        do {
            file = try SnapshotFileWriter(temporary: temporary)
        } catch {
            publish(failure: "\(error)")
            return
        }
        while true {
            while sem_wait(signal) != 0 && errno == EINTR {}
            let (chunks, complete, abandoned) = queue.withLock { q -> ([[UInt8]], Bool, Bool) in
                let taken = q.chunks
                q.chunks.removeAll()
                return (taken, q.complete, q.abandoned)
            }
            if abandoned {
                file.discard()
                state.store(3, ordering: .releasing)
                return
            }
            do {
                for c in chunks {
                    try file.write(c)
                    queue.withLock { $0.bytes -= c.count }
                }
                if complete {
                    try file.commit(to: path)
                    state.store(1, ordering: .releasing)
                    return
                }
            } catch {
                file.discard()
                publish(failure: "\(error)")
                return
            }
        }
    }

    private func publish(failure text: String) {
        failure = text
        state.store(2, ordering: .releasing)
    }

    /// Blocks until the thread finished (SHUTDOWN must not race its rename).
    func wait() {
        while state.load(ordering: .acquiring) == 0 { usleep(1000) }
    }
}

/// A snapshot file being written under a temporary name: `commit` fsyncs it and renames
/// it over the real name, so a crash leaves either the old file or the new one, never a
/// partial file under the real name.
struct SnapshotFileWriter {
    private var fd: Int32
    let temporary: String

    init(temporary: String) throws {
        self.temporary = temporary
        fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RDBError("Failed opening the temp RDB file \(temporary) (in server root dir \(currentDirectory())) for saving: \(String(cString: strerror(errno)))")
        }
    }

    /// Appends `bytes`; on error the caller discards the file.
    func write(_ bytes: [UInt8]) throws {
        var written = 0
        let failed = bytes.withUnsafeBytes { b -> Int32 in
            while written < b.count {
                let n = Glibc.write(fd, b.baseAddress! + written, b.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += n
            }
            return 0
        }
        if failed != 0 { throw RDBError("Write error saving DB on disk: \(String(cString: strerror(failed)))") }
    }

    /// fsync, close, rename into place, and make the rename durable (Redis 7's fsyncFileDir).
    mutating func commit(to path: String) throws {
        if fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            discard()
            throw RDBError("Write error saving DB on disk: \(reason)")
        }
        close(fd)
        fd = -1
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw RDBError("Error moving temp DB file \(temporary) on the final destination \(path) (in server root dir \(currentDirectory())): \(reason)")
        }
        let dirFD = open(".", O_RDONLY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    /// Closes and removes the temporary file.
    mutating func discard() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(temporary)
    }
}

/// Writes `bytes` as the whole snapshot file at `path` through `temporary`.
func writeSnapshotFile(_ bytes: [UInt8], to path: String, temporary: String) throws {
    var file = try SnapshotFileWriter(temporary: temporary)
    do {
        try file.write(bytes)
    } catch {
        file.discard()
        throw error
    }
    try file.commit(to: path)
}

func currentDirectory() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    return getcwd(&buf, buf.count).map { String(cString: $0) } ?? "."
}
