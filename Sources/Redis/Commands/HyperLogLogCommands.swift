import Glibc

let hyperLogLogCommands: [(String, CommandHandler)] = [
    ("pfadd", { $0.pfadd($1) }),
    ("pfcount", { $0.pfcount($1) }),
    ("pfmerge", { $0.pfmerge($1) }),
    ("pfdebug", { $0.pfdebug($1) }),
    ("pfselftest", { e, _ in e.pfselftest() }),
]

/// The one HLL workspace: only the keyspace thread runs commands.
nonisolated(unsafe) let hyperLogLogWorkspace = HyperLogLogWorkspace()

extension Engine {
    /// The HLL string of a live key, or nil after replying: Redis's plain WRONGTYPE for
    /// other types, its HLL-specific WRONGTYPE for strings that are not HLLs
    /// (isHLLObjectOrReply; int-encoded strings never are).
    @inline(__always)
    func hyperLogLogEntry(_ e: Entry) -> Entry? {
        guard e.type == .string else { replyWrongType(); return nil }
        guard e.stringEncoding != .int, HLL.isValid(e.value) else {
            replyError("WRONGTYPE Key is not a valid HyperLogLog string value.")
            return nil
        }
        return e
    }

    func replyInvalidHyperLogLog() { replyError("INVALIDOBJ Corrupted HLL object detected") }

    /// Writes the workspace's HLL as the value at `link` (or as a new key), raw-encoded
    /// like the sds string Redis keeps, reusing the entry's block when the size holds.
    func storeHyperLogLog(_ key: UnsafeRawBufferPointer, hash: UInt64, at link: KeyTable.Link?) {
        let ws = hyperLogLogWorkspace
        if let link {
            var e = Entry(link.pointee!)
            if e.valueLength != ws.length {
                e = db.table.resize(at: link, valueLength: ws.length, volatile: e.isVolatile)
            }
            e.valuePointer.copyMemory(from: ws.bytes, byteCount: ws.length)
            e.stringEncoding = .raw
        } else {
            let e = Entry.allocate(key: key, hash: hash, valueLength: ws.length, type: .string,
                                   encoding: StringEncoding.raw.rawValue, volatile: false)
            e.valuePointer.copyMemory(from: ws.bytes, byteCount: ws.length)
            db.table.insert(e, hash: hash)
            notify(NotifyClass.new, "new", key)
        }
    }

    /// PFADD key [element ...]: 1 when a register changed or the key was created. Dense
    /// HLLs change in place; sparse ones in the workspace, stored back once.
    func pfadd(_ a: Arguments) {
        let key = a[1]
        let hash = hashKey(key)
        let link = lookupWrite(key, hash: hash)
        var updated = 0
        var corrupt = false
        if let link {
            guard let e = hyperLogLogEntry(Entry(link.pointee!)) else { return }
            e.stringEncoding = .raw
            let v = e.valuePointer.assumingMemoryBound(to: UInt8.self)
            if v[4] == HLL.dense {
                let registers = v + HLL.headerSize
                for j in 2..<a.count {
                    let (index, count) = HLL.patternLength(a[j])
                    if HLL.denseRaise(registers, index, count) { updated += 1 }
                }
                if updated > 0 { HLL.invalidateCache(v) }
            } else {
                let ws = hyperLogLogWorkspace
                ws.load(e.value)
                for j in 2..<a.count {
                    let r = ws.add(a[j])
                    if r < 0 { corrupt = true; break }
                    updated += r
                }
                if updated > 0 { HLL.invalidateCache(ws.bytes) }
                storeHyperLogLog(key, hash: hash, at: link)
            }
        } else {
            let ws = hyperLogLogWorkspace
            ws.loadEmpty()
            updated = 1
            for j in 2..<a.count { updated += ws.add(a[j]) }
            HLL.invalidateCache(ws.bytes)
            storeHyperLogLog(key, hash: hash, at: nil)
        }
        // As Redis: a corrupt HLL answers the error, keeps the registers already raised,
        // and counts (and propagates) nothing.
        if corrupt { replyInvalidHyperLogLog(); return }
        dirty += updated
        if updated > 0 { notify(NotifyClass.string, "pfadd", key) }
        replyInteger(updated > 0 ? 1 : 0)
    }

    /// PFCOUNT key [key ...]. One key: the cached cardinality, or a new count stored in the
    /// header, which Redis counts as a change (so the command is propagated and the key
    /// touched). Several keys: the count of their union, nothing stored.
    func pfcount(_ a: Arguments) {
        if a.count > 2 {
            let ws = hyperLogLogWorkspace
            let maxRegisters = ws.maxRegisters
            maxRegisters.initialize(repeating: 0, count: HLL.registerCount)
            for j in 1..<a.count {
                guard let found = lookupRead(a[j], hash: hashKey(a[j])) else { continue }
                guard let e = hyperLogLogEntry(found) else { return }
                if !HLL.merge(into: maxRegisters, e.value) { replyInvalidHyperLogLog(); return }
            }
            replyInteger(Int(truncatingIfNeeded: HLL.count(registers: maxRegisters)))
            return
        }
        guard let found = lookupRead(a[1], hash: hashKey(a[1])) else { replyInteger(0); return }
        guard let e = hyperLogLogEntry(found) else { return }
        e.stringEncoding = .raw
        if let card = HLL.cachedCardinality(e.valuePointer) {
            replyInteger(Int(truncatingIfNeeded: card))
            return
        }
        guard let card = HLL.count(e.value) else { replyInvalidHyperLogLog(); return }
        // A read-only command that changes the value in place: a snapshot in progress
        // keeps the value as it was.
        if db.table.snapshot != nil { db.table.preserveForSnapshot(e) }
        HLL.storeCardinality(e.valuePointer, card)
        dirty += 1
        replyInteger(Int(truncatingIfNeeded: card))
    }

    /// PFMERGE destkey [sourcekey ...]: the register-wise maximum of every key named
    /// (destination included) into the destination, which stays sparse unless a source is
    /// dense or the registers need it, applied register by register as Redis does so the
    /// bytes match.
    func pfmerge(_ a: Arguments) {
        let ws = hyperLogLogWorkspace
        let maxRegisters = ws.maxRegisters
        maxRegisters.initialize(repeating: 0, count: HLL.registerCount)
        var useDense = false
        for j in 1..<a.count {
            guard let found = lookupRead(a[j], hash: hashKey(a[j])) else { continue }
            guard let e = hyperLogLogEntry(found) else { return }
            if e.value[4] == HLL.dense { useDense = true }
            if !HLL.merge(into: maxRegisters, e.value) { replyInvalidHyperLogLog(); return }
        }
        let key = a[1]
        let hash = hashKey(key)
        let link = lookupWrite(key, hash: hash)
        if let link { ws.load(Entry(link.pointee!).value) } else { ws.loadEmpty() }
        if useDense && !ws.toDense() { replyInvalidHyperLogLog(); return }
        for j in 0..<HLL.registerCount where maxRegisters[j] != 0 {
            if ws.isDense {
                _ = HLL.denseRaise(ws.bytes + HLL.headerSize, j, maxRegisters[j])
            } else {
                _ = ws.sparseSet(j, maxRegisters[j])
            }
        }
        HLL.invalidateCache(ws.bytes)
        storeHyperLogLog(key, hash: hash, at: link)
        dirty += 1
        notify(NotifyClass.string, "pfadd", key)   // Redis names PFMERGE's event pfadd
        replyOK()
    }

    /// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. The key is checked before the
    /// subcommand, as in Redis.
    func pfdebug(_ a: Arguments) {
        let sub = a[1], key = a[2]
        let hash = hashKey(key)
        guard let link = lookupWrite(key, hash: hash) else {
            replyError("ERR The specified key does not exist")
            return
        }
        guard let e = hyperLogLogEntry(Entry(link.pointee!)) else { return }
        e.stringEncoding = .raw
        let isSparse = e.value[4] == HLL.sparse
        if sub.equalsIgnoringCase("getreg") || sub.equalsIgnoringCase("todense") {
            let getreg = sub.equalsIgnoringCase("getreg")
            if isSparse {
                let ws = hyperLogLogWorkspace
                ws.load(e.value)
                if !ws.toDense() { replyInvalidHyperLogLog(); return }
                storeHyperLogLog(key, hash: hash, at: link)
                dirty += 1
            }
            if !getreg { replyInteger(isSparse ? 1 : 0); return }
            let registers = Entry(link.pointee!).valuePointer.assumingMemoryBound(to: UInt8.self) + HLL.headerSize
            replyArrayHeader(HLL.registerCount)
            for j in 0..<HLL.registerCount { replyInteger(Int(HLL.denseGet(registers, j))) }
        } else if sub.equalsIgnoringCase("decode") {
            if !isSparse { replyError("ERR HLL encoding is not sparse"); return }
            replyBulk(HLL.decodeSparse(e.value))
        } else if sub.equalsIgnoringCase("encoding") {
            if isSparse { replyRaw("+sparse\r\n") } else { replyRaw("+dense\r\n") }
        } else {
            replyError(bytes: Array("ERR Unknown PFDEBUG subcommand '".utf8) + Array(sub) + [39])
        }
    }

    /// PFSELFTEST: Redis's own checks of the implementation. Register access on random
    /// values, then ten million elements added to a dense and a sparse HLL side by side:
    /// the sparse one must stay sparse while small, both must count the same, and the
    /// count must stay within six standard errors of the truth at every power of ten.
    func pfselftest() {
        let dense = UnsafeMutablePointer<UInt8>.allocate(capacity: HLL.denseSize)
        let expected = UnsafeMutablePointer<UInt8>.allocate(capacity: HLL.registerCount)
        defer { dense.deallocate(); expected.deallocate() }
        dense.initialize(repeating: 0, count: HLL.denseSize)
        let registers = dense + HLL.headerSize
        // splitmix64, seeded once: sixteen million register values must not cost a
        // system call each.
        var system = SystemRandomNumberGenerator()
        var state = system.next() as UInt64
        func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        for _ in 0..<1000 {
            for i in 0..<HLL.registerCount {
                let r = UInt8(truncatingIfNeeded: next() & 63)
                expected[i] = r
                HLL.denseSet(registers, i, r)
            }
            for i in 0..<HLL.registerCount {
                let v = HLL.denseGet(registers, i)
                if v != expected[i] {
                    replyError("TESTFAILED Register \(i) should be \(expected[i]) but is \(v)")
                    return
                }
            }
        }

        registers.initialize(repeating: 0, count: HLL.denseSize - HLL.headerSize)
        dense[4] = HLL.dense
        let ws = hyperLogLogWorkspace
        ws.loadEmpty()
        let relerr = 1.04 / Double(HLL.registerCount).squareRoot()
        var checkpoint: Int64 = 1
        let seed = next()
        let denseValue = UnsafeRawBufferPointer(start: dense, count: HLL.denseSize)
        for j in 1...UInt64(10_000_000) {
            var element = j ^ seed
            withUnsafeBytes(of: &element) { b in
                let (index, count) = HLL.patternLength(b)
                _ = HLL.denseRaise(registers, index, count)
                _ = ws.add(b)
            }
            guard Int64(j) == checkpoint else { continue }
            if j < UInt64(encodingLimits.hllSparseMaxBytes / 2) && ws.isDense {
                replyError("TESTFAILED sparse encoding not used")
                return
            }
            let card = HLL.count(denseValue) ?? 0
            if card != HLL.count(ws.value) {
                replyError("TESTFAILED dense/sparse disagree")
                return
            }
            var abserr = checkpoint - Int64(bitPattern: card)
            var maxerr = Int64((relerr * 6 * Double(checkpoint)).rounded(.up))
            if j == 10 { maxerr = 1 }
            if abserr < 0 { abserr = -abserr }
            if abserr > maxerr {
                replyError("TESTFAILED Too big error. card:\(checkpoint) abserr:\(abserr)")
                return
            }
            checkpoint *= 10
        }
        replyOK()
    }
}
