import Glibc

/// HyperLogLog values, byte for byte as redis-server 7.0 stores them in a string
/// (hyperloglog.c), so that HLLs move between Redis and us through RDB files, replication
/// and GET/SET unchanged, and PFCOUNT gives Redis's number for the same inputs.
///
/// Layout: a 16-byte header, "HYLL", the encoding byte (0 dense, 1 sparse), three zero
/// bytes, and the cached cardinality as a little-endian 64-bit integer whose top bit set
/// means "stale". Then the 16384 registers of 6 bits:
/// - dense: packed from each byte's low bits up, 12288 bytes (12304 in all);
/// - sparse: run-length opcodes, ZERO `00xxxxxx` (1...64 zero registers), XZERO
///   `01xxxxxx yyyyyyyy` (1...16384 zero registers), VAL `1vvvvvxx` (1...4 registers of
///   value 1...32). A sparse value grows until `hll-sparse-max-bytes`, then turns dense.
enum HLL {
    static let precision = 14
    static let registerCount = 1 << precision
    static let indexMask = registerCount - 1
    /// Bits of the hash left after the index: a run counts at most `q + 1`.
    static let q = 64 - precision
    static let headerSize = 16
    static let denseSize = headerSize + (registerCount * 6 + 7) / 8
    static let dense: UInt8 = 0
    static let sparse: UInt8 = 1
    static let sparseValueMax = 32
    static let sparseValueMaxRun = 4
    static let sparseZeroMaxRun = 64
    static let sparseXZeroMaxRun = 16384
    /// Redis's HLL_ALPHA_INF, 0.5 / ln(2).
    static let alphaInf = 0.721347520444481703680
    /// The empty HLL PFADD and PFMERGE create: sparse, one XZERO over every register.
    static let emptySparseSize = headerSize + 2

    /// Whether `v` is a HyperLogLog string as Redis's isHLLObjectOrReply accepts it: the
    /// magic, a known encoding, and the exact size when dense.
    static func isValid(_ v: UnsafeRawBufferPointer) -> Bool {
        guard v.count >= headerSize else { return false }
        guard v[0] == 0x48, v[1] == 0x59, v[2] == 0x4c, v[3] == 0x4c else { return false }   // "HYLL"
        let encoding = v[4]
        if encoding > sparse { return false }
        return encoding != dense || v.count == denseSize
    }

    /// The cached cardinality, or nil when it is marked stale.
    static func cachedCardinality(_ header: UnsafeRawPointer) -> UInt64? {
        let card = header.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
        return card & (1 << 63) == 0 ? card : nil
    }

    static func storeCardinality(_ header: UnsafeMutableRawPointer, _ card: UInt64) {
        header.storeBytes(of: card.littleEndian, toByteOffset: 8, as: UInt64.self)
    }

    /// Marks the cached cardinality stale (HLL_INVALIDATE_CACHE).
    @inline(__always)
    static func invalidateCache(_ header: UnsafeMutableRawPointer) {
        let p = header.assumingMemoryBound(to: UInt8.self)
        p[15] |= 0x80
    }

    /// Writes the header and the single XZERO run of an empty sparse HLL (createHLLObject).
    static func writeEmptySparse(_ p: UnsafeMutablePointer<UInt8>) {
        p[0] = 0x48; p[1] = 0x59; p[2] = 0x4c; p[3] = 0x4c
        p[4] = sparse
        for i in 5..<headerSize { p[i] = 0 }
        setXZero(p + headerSize, sparseXZeroMaxRun)
    }

    // MARK: hashing

    /// MurmurHash64A as Redis modified it (endian neutral), over bytes.
    @inline(__always)
    static func murmurHash64A(_ key: UnsafeRawBufferPointer, seed: UInt32) -> UInt64 {
        let m: UInt64 = 0xc6a4_a793_5bd1_e995
        let r: UInt64 = 47
        let len = key.count
        var h = UInt64(seed) ^ (UInt64(truncatingIfNeeded: len) &* m)
        guard let base = key.baseAddress else {
            h ^= h >> r; h = h &* m; h ^= h >> r
            return h
        }
        let blocks = len & ~7
        var i = 0
        while i < blocks {
            var k = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            k = k &* m
            k ^= k >> r
            k = k &* m
            h ^= k
            h = h &* m
            i += 8
        }
        let tail = len & 7
        if tail > 0 {
            var t: UInt64 = 0
            for j in stride(from: tail - 1, through: 0, by: -1) {
                t |= UInt64(base.load(fromByteOffset: blocks + j, as: UInt8.self)) << (8 * UInt64(j))
            }
            h ^= t
            h = h &* m
        }
        h ^= h >> r
        h = h &* m
        h ^= h >> r
        return h
    }

    /// The register an element falls in and the length of its hash's 000..1 pattern after
    /// the index bits (hllPatLen).
    @inline(__always)
    static func patternLength(_ element: UnsafeRawBufferPointer) -> (index: Int, count: UInt8) {
        var hash = murmurHash64A(element, seed: 0xadc8_3b19)
        let index = Int(hash & UInt64(indexMask))
        hash >>= UInt64(precision)
        hash |= 1 << UInt64(q)
        return (index, UInt8(1 + hash.trailingZeroBitCount))
    }

    // MARK: dense registers

    /// Register `i` of the packed dense array at `r`. Registers that fit in one byte
    /// (bit offsets 0 and 2) never touch the next one, so the last register reads no byte
    /// past the array (Redis relies on the sds terminator there).
    @inline(__always)
    static func denseGet(_ r: UnsafePointer<UInt8>, _ i: Int) -> UInt8 {
        let bit = i * 6
        let byte = bit >> 3
        let fb = UInt32(bit & 7)
        var v = UInt32(r[byte]) >> fb
        if fb > 2 { v |= UInt32(r[byte + 1]) << (8 - fb) }
        return UInt8(v & 63)
    }

    @inline(__always)
    static func denseSet(_ r: UnsafeMutablePointer<UInt8>, _ i: Int, _ value: UInt8) {
        let bit = i * 6
        let byte = bit >> 3
        let fb = UInt32(bit & 7)
        let v = UInt32(value)
        r[byte] = UInt8(truncatingIfNeeded: (UInt32(r[byte]) & ~(63 << fb)) | (v << fb))
        if fb > 2 {
            r[byte + 1] = UInt8(truncatingIfNeeded: (UInt32(r[byte + 1]) & ~(63 >> (8 - fb))) | (v >> (8 - fb)))
        }
    }

    /// Raises register `index` to `count` if lower; returns whether it changed (hllDenseSet).
    @inline(__always)
    static func denseRaise(_ r: UnsafeMutablePointer<UInt8>, _ index: Int, _ count: UInt8) -> Bool {
        if count > denseGet(r, index) {
            denseSet(r, index, count)
            return true
        }
        return false
    }

    // MARK: sparse opcodes

    @inline(__always) static func isZero(_ b: UInt8) -> Bool { b & 0xc0 == 0 }
    @inline(__always) static func isXZero(_ b: UInt8) -> Bool { b & 0xc0 == 0x40 }
    @inline(__always) static func isVal(_ b: UInt8) -> Bool { b & 0x80 != 0 }
    @inline(__always) static func zeroRun(_ b: UInt8) -> Int { Int(b & 0x3f) + 1 }
    @inline(__always) static func xzeroRun(_ b0: UInt8, _ b1: UInt8) -> Int { (Int(b0 & 0x3f) << 8 | Int(b1)) + 1 }
    @inline(__always) static func valValue(_ b: UInt8) -> Int { Int((b >> 2) & 0x1f) + 1 }
    @inline(__always) static func valRun(_ b: UInt8) -> Int { Int(b & 0x3) + 1 }
    @inline(__always) static func val(_ value: Int, _ run: Int) -> UInt8 { UInt8(((value - 1) << 2) | (run - 1)) | 0x80 }
    @inline(__always) static func setXZero(_ p: UnsafeMutablePointer<UInt8>, _ run: Int) {
        p[0] = UInt8((run - 1) >> 8) | 0x40
        p[1] = UInt8((run - 1) & 0xff)
    }

    /// Walks the sparse opcodes of `v` (a whole HLL string), calling `body(first, run,
    /// value)` for each run; returns the number of registers covered, or -1 when a VAL run
    /// would pass the last register (the overflow check of hllMerge / hllSparseToDense).
    @inline(__always)
    static func forEachSparseRun(_ v: UnsafeRawBufferPointer, _ body: (Int, Int, Int) -> Void) -> Int {
        let p = v.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var i = headerSize
        let end = v.count
        var idx = 0
        while i < end {
            let b = p[i]
            if isZero(b) {
                idx += zeroRun(b)
                i += 1
            } else if isXZero(b) {
                idx += xzeroRun(b, i + 1 < end ? p[i + 1] : 0)
                i += 2
            } else {
                let run = valRun(b)
                if run + idx > registerCount { return -1 }
                body(idx, run, valValue(b))
                idx += run
                i += 1
            }
        }
        return idx
    }

    // MARK: merging and counting

    /// Raises `maxRegisters[i]` (one byte per register) to the HLL's register i (hllMerge).
    /// False when a sparse HLL is corrupt.
    static func merge(into maxRegisters: UnsafeMutablePointer<UInt8>, _ v: UnsafeRawBufferPointer) -> Bool {
        let p = v.baseAddress!.assumingMemoryBound(to: UInt8.self)
        if p[4] == dense {
            let r = p + headerSize
            for i in 0..<registerCount {
                let value = denseGet(r, i)
                if value > maxRegisters[i] { maxRegisters[i] = value }
            }
            return true
        }
        let covered = forEachSparseRun(v) { first, run, value in
            let value = UInt8(value)
            for i in first..<(first + run) where value > maxRegisters[i] { maxRegisters[i] = value }
        }
        return covered == registerCount
    }

    /// The register histogram of a whole HLL string; nil when a sparse one is corrupt.
    static func histogram(_ v: UnsafeRawBufferPointer, into h: UnsafeMutablePointer<Int>) -> Bool {
        let p = v.baseAddress!.assumingMemoryBound(to: UInt8.self)
        if p[4] == dense {
            let r = p + headerSize
            for i in 0..<registerCount { h[Int(denseGet(r, i))] += 1 }
            return true
        }
        // hllSparseRegHisto: runs past the end only make the result invalid.
        var i = headerSize
        let end = v.count
        var idx = 0
        while i < end {
            let b = p[i]
            if isZero(b) {
                let run = zeroRun(b)
                idx += run; h[0] += run; i += 1
            } else if isXZero(b) {
                let run = xzeroRun(b, i + 1 < end ? p[i + 1] : 0)
                idx += run; h[0] += run; i += 2
            } else {
                let run = valRun(b)
                idx += run; h[valValue(b)] += run; i += 1
            }
        }
        return idx == registerCount
    }

    /// The cardinality of a whole HLL string (hllCount); nil when it is corrupt.
    static func count(_ v: UnsafeRawBufferPointer) -> UInt64? {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 64) { h in
            h.initialize(repeating: 0)
            guard histogram(v, into: h.baseAddress!) else { return nil }
            return estimate(h.baseAddress!)
        }
    }

    /// The cardinality of one-byte-per-register maxima (PFCOUNT of several keys).
    static func count(registers r: UnsafePointer<UInt8>) -> UInt64 {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 64) { h in
            h.initialize(repeating: 0)
            for i in 0..<registerCount { h[Int(r[i] & 63)] += 1 }
            return estimate(h.baseAddress!)
        }
    }

    /// Ertl's improved estimator over the register histogram, as Redis 7.0 computes it
    /// ("New cardinality estimation algorithms for HyperLogLog sketches", arXiv:1702.01284).
    static func estimate(_ h: UnsafePointer<Int>) -> UInt64 {
        let m = Double(registerCount)
        var z = m * tau((m - Double(h[q + 1])) / m)
        var j = q
        while j >= 1 {
            z += Double(h[j])
            z *= 0.5
            j -= 1
        }
        z += m * sigma(Double(h[0]) / m)
        return UInt64(llround(alphaInf * m * m / z))
    }

    static func sigma(_ x0: Double) -> Double {
        if x0 == 1 { return .infinity }
        var x = x0
        var zPrime: Double
        var y = 1.0
        var z = x
        repeat {
            x *= x
            zPrime = z
            z += x * y
            y += y
        } while zPrime != z
        return z
    }

    static func tau(_ x0: Double) -> Double {
        if x0 == 0 || x0 == 1 { return 0 }
        var x = x0
        var zPrime: Double
        var y = 1.0
        var z = 1 - x
        repeat {
            x = x.squareRoot()
            zPrime = z
            y *= 0.5
            z -= pow(1 - x, 2) * y
        } while zPrime != z
        return z / 3
    }

    /// Redis's DECODE rendering of a sparse HLL: "z:N", "Z:N", "v:value,run" opcodes.
    static func decodeSparse(_ v: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        var i = headerSize
        while i < v.count {
            let b = v[i]
            let text: String
            if isZero(b) {
                text = "z:\(zeroRun(b))"
                i += 1
            } else if isXZero(b) {
                text = "Z:\(xzeroRun(b, i + 1 < v.count ? v[i + 1] : 0))"
                i += 2
            } else {
                text = "v:\(valValue(b)),\(valRun(b))"
                i += 1
            }
            if !out.isEmpty { out.append(32) }
            out += Array(text.utf8)
        }
        return out
    }
}

/// A working copy of one HLL string, where sparse updates grow and shrink it and where it
/// turns dense, before it is written back to its key at once (one reallocation of the key
/// per command, whatever the number of elements). Dense HLLs already in a key are changed
/// in place instead. The buffers are allocated once and kept.
final class HyperLogLogWorkspace {
    /// The HLL being changed: `length` bytes in a block of `capacity`.
    private(set) var bytes: UnsafeMutablePointer<UInt8>
    private(set) var length = 0
    private var capacity: Int
    /// Where a sparse HLL is expanded when it turns dense; swapped with `bytes`.
    private var spare: UnsafeMutablePointer<UInt8>
    /// One byte per register: the maxima PFMERGE and PFCOUNT of several keys build.
    let maxRegisters: UnsafeMutablePointer<UInt8>
    init() {
        capacity = HLL.denseSize + 64
        bytes = .allocate(capacity: capacity)
        spare = .allocate(capacity: capacity)
        maxRegisters = .allocate(capacity: HLL.registerCount)
    }

    deinit {
        bytes.deallocate()
        spare.deallocate()
        maxRegisters.deallocate()
    }

    var value: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes, count: length) }
    var isDense: Bool { bytes[4] == HLL.dense }

    /// Copies a valid HLL string in.
    func load(_ v: UnsafeRawBufferPointer) {
        reserve(v.count + 3)
        bytes.update(from: v.baseAddress!.assumingMemoryBound(to: UInt8.self), count: v.count)
        length = v.count
    }

    /// Starts from an empty sparse HLL.
    func loadEmpty() {
        HLL.writeEmptySparse(bytes)
        length = HLL.emptySparseSize
    }

    /// Room for `n` bytes; only corrupt or hugely-configured sparse values exceed the
    /// initial size.
    private func reserve(_ n: Int) {
        guard n > capacity else { return }
        let c = max(n, capacity * 2)
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        b.update(from: bytes, count: length)
        bytes.deallocate()
        spare.deallocate()
        bytes = b
        spare = .allocate(capacity: c)
        capacity = c
    }

    /// Adds one element: 1 if a register changed, 0 if not, -1 for a corrupt sparse HLL.
    @inline(__always)
    func add(_ element: UnsafeRawBufferPointer) -> Int {
        let (index, count) = HLL.patternLength(element)
        if isDense { return HLL.denseRaise(bytes + HLL.headerSize, index, count) ? 1 : 0 }
        return sparseSet(index, count)
    }

    /// Expands a sparse HLL into the dense encoding, keeping the header's magic and cached
    /// cardinality (hllSparseToDense). False, with nothing changed, when it is corrupt.
    func toDense() -> Bool {
        if isDense { return true }
        let d = spare
        d.update(from: bytes, count: HLL.headerSize)
        d[4] = HLL.dense
        (d + HLL.headerSize).initialize(repeating: 0, count: HLL.denseSize - HLL.headerSize)
        let r = d + HLL.headerSize
        let covered = HLL.forEachSparseRun(value) { first, run, value in
            for i in first..<(first + run) { HLL.denseSet(r, i, UInt8(value)) }
        }
        if covered != HLL.registerCount { return false }
        spare = bytes
        bytes = d
        length = HLL.denseSize
        return true
    }

    /// Raises register `index` of the sparse HLL to `count` if lower, splitting and
    /// re-merging opcodes exactly as Redis's hllSparseSet does (so the bytes come out the
    /// same), and turning it dense when the value does not fit a VAL opcode or the string
    /// would pass hll-sparse-max-bytes. 1 changed, 0 unchanged, -1 corrupt.
    func sparseSet(_ index: Int, _ count: UInt8) -> Int {
        if Int(count) > HLL.sparseValueMax { return promote(index, count) }
        reserve(length + 3)
        let b = bytes
        let start = HLL.headerSize
        var end = length

        // Step 1: find the opcode covering `index`.
        var p = start
        var first = 0
        var prev = -1
        var span = 0
        while p < end {
            var oplen = 1
            let op = b[p]
            if HLL.isZero(op) {
                span = HLL.zeroRun(op)
            } else if HLL.isVal(op) {
                span = HLL.valRun(op)
            } else {
                span = HLL.xzeroRun(op, p + 1 < end ? b[p + 1] : 0)
                oplen = 2
            }
            if index <= first + span - 1 { break }
            prev = p
            p += oplen
            first += span
        }
        if span == 0 || p >= end { return -1 }

        var next = HLL.isXZero(b[p]) ? p + 2 : p + 1
        if next >= end { next = -1 }
        let op = b[p]
        let isZero = HLL.isZero(op), isXZero = HLL.isXZero(op)
        let isVal = !isZero && !isXZero
        let runlen = isZero ? HLL.zeroRun(op) : isXZero ? span : HLL.valRun(op)
        let value = Int(count)

        var needsSplit = true
        if isVal {
            // A: already as high; B: a run of one just takes the new value.
            if HLL.valValue(op) >= value { return 0 }
            if runlen == 1 {
                b[p] = HLL.val(value, 1)
                needsSplit = false
            }
        }
        if needsSplit && isZero && runlen == 1 {
            // C: a single zero register becomes a VAL.
            b[p] = HLL.val(value, 1)
            needsSplit = false
        }

        if needsSplit {
            // D: split the run into up to three opcodes (at most five bytes).
            var seq: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)
            let seqlen = withUnsafeMutableBytes(of: &seq) { raw -> Int in
                let s = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                var n = 0
                let last = first + span - 1
                if isZero || isXZero {
                    func zeros(_ len: Int) {
                        if len > HLL.sparseZeroMaxRun {
                            HLL.setXZero(s + n, len)
                            n += 2
                        } else {
                            s[n] = UInt8(len - 1)
                            n += 1
                        }
                    }
                    if index != first { zeros(index - first) }
                    s[n] = HLL.val(value, 1); n += 1
                    if index != last { zeros(last - index) }
                } else {
                    let current = HLL.valValue(op)
                    if index != first { s[n] = HLL.val(current, index - first); n += 1 }
                    s[n] = HLL.val(value, 1); n += 1
                    if index != last { s[n] = HLL.val(current, last - index); n += 1 }
                }
                return n
            }
            // Step 3: put the sequence in place of the old opcode.
            let oldlen = isXZero ? 2 : 1
            let delta = seqlen - oldlen
            if delta > 0 && length + delta > encodingLimits.hllSparseMaxBytes { return promote(index, count) }
            if delta != 0 && next >= 0 { memmove(b + next + delta, b + next, end - next) }
            length += delta
            withUnsafeBytes(of: &seq) { s in
                (b + p).update(from: s.baseAddress!.assumingMemoryBound(to: UInt8.self), count: seqlen)
            }
            end += delta
        }

        // Step 4: merge adjacent VALs of equal value, scanning up to five opcodes from the
        // one before the change.
        p = prev >= 0 ? prev : start
        var scan = 5
        while p < end && scan > 0 {
            scan -= 1
            let op = b[p]
            if HLL.isXZero(op) { p += 2; continue }
            if HLL.isZero(op) { p += 1; continue }
            if p + 1 < end && HLL.isVal(b[p + 1]) {
                let v1 = HLL.valValue(op), v2 = HLL.valValue(b[p + 1])
                if v1 == v2 {
                    let len = HLL.valRun(op) + HLL.valRun(b[p + 1])
                    if len <= HLL.sparseValueMaxRun {
                        b[p + 1] = HLL.val(v1, len)
                        memmove(b + p, b + p + 1, end - p - 1)
                        length -= 1
                        end -= 1
                        continue
                    }
                }
            }
            p += 1
        }
        HLL.invalidateCache(b)
        return 1
    }

    /// Turns the HLL dense and sets the register there (the promote path of hllSparseSet).
    private func promote(_ index: Int, _ count: UInt8) -> Int {
        if !toDense() { return -1 }
        _ = HLL.denseRaise(bytes + HLL.headerSize, index, count)
        return 1
    }
}
