import Glibc
import Reactor

/// SAVE, BGSAVE, LASTSAVE, the save points checked by the cron, and the final save of
/// SHUTDOWN / SIGTERM.
let persistenceCommands: [(String, CommandHandler)] = [
    ("save", { e, _ in
        if e.snapshotInProgress {
            e.replyError("ERR Background save already in progress")
            return
        }
        if e.saveSynchronously() { e.replyOK() } else { e.replyRaw("-ERR\r\n") }
    }),
    ("bgsave", { e, a in
        if a.count > 1 && !(a.count == 2 && a[1].equalsIgnoringCase("schedule")) {
            e.replySyntaxError()
            return
        }
        if e.snapshotInProgress {
            e.replyError("ERR Background save already in progress")
            return
        }
        e.startBackgroundSave()
        e.replyStatus("Background saving started")
    }),
    ("lastsave", { e, _ in e.replyInteger(Int(e.persistence.lastSave)) }),
]

/// "900 1 300 10" -> [(900, 1), (300, 10)]; nil when the words are not pairs of
/// non-negative integers (Redis's "Invalid save parameters").
func parseSavePoints(_ text: String) -> [(seconds: Int64, changes: Int)]? {
    let words = text.split(separator: " ")
    guard words.count % 2 == 0 else { return nil }
    var points: [(seconds: Int64, changes: Int)] = []
    var i = 0
    while i < words.count {
        guard let s = Int64(words[i]), let c = Int(words[i + 1]), s >= 0, c >= 0 else { return nil }
        points.append((s, c))
        i += 2
    }
    return points
}

extension Engine {
    /// Writes the snapshot to dir/dbfilename on the keyspace thread (SAVE, SHUTDOWN,
    /// FLUSHALL with save points). Logs and returns false on failure.
    func saveSynchronously() -> Bool {
        let bytes = makeSnapshot(replication: replicationInfoForSave())
        do {
            try writeSnapshotFile(bytes, to: config.dbfilename, temporary: "temp-\(getpid()).rdb")
        } catch {
            logger.warning("\(error)")
            return false
        }
        logger.notice("DB saved on disk")
        persistence.lastSave = wallClockMilliseconds() / 1000
        persistence.dirtyAtLastSave = dirty
        persistence.lastBackgroundSaveOK = true
        persistence.saves += 1
        return true
    }

    /// A background save or any snapshot job runs (SAVE, BGSAVE and DEBUG RELOAD refuse,
    /// as Redis does while an RDB child exists).
    var snapshotInProgress: Bool { persistence.background != nil || snapshotJob != nil }

    /// Starts a snapshot job for the file. Clients are served while the job walks the
    /// dataset and while a thread writes the result (`backgroundSnapshotReady`).
    func startBackgroundSave() {
        precondition(!snapshotInProgress)
        let job = startSnapshotJob(replication: replicationInfoForSave(), capacity: snapshotSpillBytes + (1 << 20))
        job.savesToDisk = true
        persistence.backgroundSavesStarted += 1
        let bg = BackgroundSave(path: config.dbfilename, temporary: "temp-\(getpid())-bg\(persistence.backgroundSavesStarted).rdb",
                                startedAt: now, dirtyAtStart: job.dirtyAtStart)
        persistence.background = bg
        persistence.lastBackgroundTry = now / 1000
        spawnThread(name: "rdb-bgsave") { bg.run() }
        logger.notice("Background saving started by pid \(getpid())")
    }

    /// The job's file is complete: its last piece goes to the writing thread.
    func backgroundSnapshotReady(_ job: SnapshotJob, _ bytes: [UInt8]) {
        guard let bg = persistence.background, !bg.finalQueued else { return }
        bg.enqueue(bytes, last: true)
    }

    /// A background save not yet complete is given up; its thread removes its file.
    private func abandonBackgroundSave(_ bg: BackgroundSave) {
        bg.abandon()
        persistence.background = nil
        snapshotJob?.savesToDisk = false
    }

    /// Called from the cron: collects a finished background save, or starts one when a
    /// save point is reached (enough changes, old enough last save), like serverCron.
    func persistenceCron() {
        if snapshotJob != nil && persistence.background == nil { return }   // a full sync's snapshot
        if let bg = persistence.background {
            let state = bg.state.load(ordering: .acquiring)
            if state != 0 {
                // A write error may come while the walk is still on: it has no file to feed.
                if !bg.finalQueued { snapshotJob?.savesToDisk = false }
                finishBackgroundSave(bg, succeeded: state == 1)
            }
            return
        }
        if config.save != persistence.saveText {
            persistence.saveText = config.save
            persistence.savePoints = parseSavePoints(config.save) ?? []
        }
        if persistence.savePoints.isEmpty { return }
        let changes = dirty - persistence.dirtyAtLastSave
        let seconds = now / 1000
        for p in persistence.savePoints
        where changes >= p.changes && seconds - persistence.lastSave > p.seconds
            && (persistence.lastBackgroundSaveOK || seconds - persistence.lastBackgroundTry > backgroundSaveRetrySeconds) {
            logger.notice("\(p.changes) changes in \(p.seconds) seconds. Saving...")
            startBackgroundSave()
            return
        }
    }

    private func finishBackgroundSave(_ bg: BackgroundSave, succeeded: Bool) {
        persistence.background = nil
        persistence.lastBackgroundSeconds = Int((wallClockMilliseconds() - bg.startedAt) / 1000)
        if succeeded {
            logger.notice("Background saving terminated with success")
            persistence.lastSave = wallClockMilliseconds() / 1000
            persistence.dirtyAtLastSave = bg.dirtyAtStart
            persistence.lastBackgroundSaveOK = true
            persistence.saves += 1
        } else {
            logger.warning("\(bg.failure)")
            logger.warning("Background saving error")
            persistence.lastBackgroundSaveOK = false
        }
    }

    /// FLUSHALL with save points writes the now empty dataset at once, as Redis does. A
    /// background save in progress would later put the old data back under the file's
    /// name, so it is given up first (Redis kills its child); a save whose bytes are
    /// already being written is let finish, so its rename lands before this one. A full
    /// sync sharing the same snapshot job keeps it: its replicas still get their file.
    func saveAfterFlushAll() {
        if let bg = persistence.background {
            if bg.finalQueued {
                bg.wait()
                finishBackgroundSave(bg, succeeded: bg.state.load(ordering: .acquiring) == 1)
            } else {
                logger.warning("Background saving abandoned: FLUSHALL saves the empty dataset instead")
                abandonBackgroundSave(bg)
                if snapshotJob?.replicas.isEmpty == true { abandonSnapshotJob() }
            }
        }
        _ = saveSynchronously()
    }

    /// The save before exiting (SHUTDOWN, SIGTERM): done when save points are configured
    /// or `force` (SHUTDOWN SAVE), skipped with `skip` (NOSAVE). A background save still
    /// writing is waited for so its rename cannot land after this one. Returns false when
    /// the save failed, and the server must keep running.
    func saveBeforeShutdown(force: Bool, skip: Bool) -> Bool {
        if let bg = persistence.background, !bg.finalQueued {
            logger.warning("There is a snapshot in progress for an .rdb file. Abandoning it!")
            abandonBackgroundSave(bg)
            bg.wait()   // its temporary file is gone before we exit
        }
        abandonSnapshotJob()
        if let bg = persistence.background {
            bg.wait()
            finishBackgroundSave(bg, succeeded: bg.state.load(ordering: .acquiring) == 1)
        }
        let points = parseSavePoints(config.save) ?? []
        if skip || (!force && points.isEmpty) { return true }
        logger.notice("Saving the final RDB snapshot before exiting.")
        if saveSynchronously() { return true }
        logger.warning("Error trying to save the DB, can't exit.")
        return false
    }
}

extension Engine {
    /// DEBUG RELOAD: save, empty, load the file back, as Redis's tests use it to check that
    /// every value survives a round trip through the RDB format.
    func debugReload() {
        if snapshotInProgress {
            replyError("ERR Background save already in progress")
            return
        }
        guard saveSynchronously() else { replyRaw("-ERR\r\n"); return }
        do {
            guard let bytes = try readWholeFile(config.dbfilename) else { throw RDBError("the file is gone") }
            let dirtyBefore = dirty
            try loadSnapshot(bytes)
            dirty = dirtyBefore
            persistence.dirtyAtLastSave = dirty
        } catch {
            logger.warning("\(error)")
            replyError("ERR Error trying to load the RDB dump, check server logs.")
            return
        }
        logger.warning("DB reloaded by DEBUG RELOAD")
        replyOK()
    }
}

extension Engine {
    /// After a failed background save, with save points configured and
    /// stop-writes-on-bgsave-error on, Redis refuses writes (and PING) with MISCONF until a
    /// save succeeds, so that a client notices its data is no longer being persisted.
    /// Dispatch asks only once a save has failed, and rejects with `misconfError` on true.
    func deniedBySaveError(_ cmd: Command) -> Bool {
        config.stopWritesOnBgsaveError && (cmd.flags.contains(.write) || cmd.name == "ping")
            && !(parseSavePoints(config.save) ?? []).isEmpty
    }
}

/// Redis's shared.bgsaveerr.
let misconfError = Array("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.".utf8)
