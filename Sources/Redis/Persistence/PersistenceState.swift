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
    /// The background save running now, if any.
    var background: BackgroundSave?
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

/// A background save: first a SnapshotJob on the keyspace thread makes the bytes, then a
/// thread of its own writes, fsyncs and renames them into place and publishes the outcome.
final class BackgroundSave: @unchecked Sendable {
    /// Set on the keyspace thread before the writing thread starts (thread creation
    /// orders it before anything that thread reads).
    var bytes: [UInt8] = []
    /// Whether the writing thread was started (before that, the job is still walking).
    var writerStarted = false
    let path: String
    let startedAt: Int64
    let dirtyAtStart: Int
    /// 0 while running, 1 done, 2 failed; the release store publishes `failure`.
    let state = Atomic<Int>(0)
    private(set) var failure = ""

    init(path: String, startedAt: Int64, dirtyAtStart: Int) {
        self.path = path
        self.startedAt = startedAt
        self.dirtyAtStart = dirtyAtStart
    }

    /// Runs on the saving thread.
    func run() {
        do {
            try writeSnapshotFile(bytes, to: path, temporary: "temp-\(getpid())-bg.rdb")
            state.store(1, ordering: .releasing)
        } catch {
            failure = "\(error)"
            state.store(2, ordering: .releasing)
        }
    }

    /// Blocks until the thread finished (SHUTDOWN must not race its rename).
    func wait() {
        while state.load(ordering: .acquiring) == 0 { usleep(1000) }
    }
}

/// Writes `bytes` to `temporary`, fsyncs, and renames it over `path`, so a crash leaves
/// either the old file or the new one, never a partial file under the real name.
func writeSnapshotFile(_ bytes: [UInt8], to path: String, temporary: String) throws {
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else {
        throw RDBError("Failed opening the temp RDB file \(temporary) (in server root dir \(currentDirectory())) for saving: \(String(cString: strerror(errno)))")
    }
    var written = 0
    let ok = bytes.withUnsafeBytes { b -> Bool in
        while written < b.count {
            let n = write(fd, b.baseAddress! + written, b.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            written += n
        }
        return true
    }
    let writeErrno = errno
    if !ok || fsync(fd) != 0 {
        let reason = String(cString: strerror(ok ? errno : writeErrno))
        close(fd)
        unlink(temporary)
        throw RDBError("Write error saving DB on disk: \(reason)")
    }
    close(fd)
    if rename(temporary, path) != 0 {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw RDBError("Error moving temp DB file \(temporary) on the final destination \(path) (in server root dir \(currentDirectory())): \(reason)")
    }
    // Make the rename itself durable, as Redis 7's fsyncFileDir does.
    let dirFD = open(".", O_RDONLY)
    if dirFD >= 0 {
        fsync(dirFD)
        close(dirFD)
    }
}

func currentDirectory() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    return getcwd(&buf, buf.count).map { String(cString: $0) } ?? "."
}
