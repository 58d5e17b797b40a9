import Glibc

/// Bit operations on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
/// BITFIELD_RO, as Redis 7.0's bitops.c. Bit 0 is the most significant bit of byte 0.
let bitmapCommands: [(String, CommandHandler)] = [
    ("setbit", { $0.setbit($1) }),
    ("getbit", { $0.getbit($1) }),
    ("bitcount", { $0.bitcount($1) }),
    ("bitpos", { $0.bitpos($1) }),
    ("bitop", { $0.bitop($1) }),
    ("bitfield", { $0.bitfield($1, readOnly: false) }),
    ("bitfield_ro", { $0.bitfield($1, readOnly: true) }),
]

/// Overflow behaviour of BITFIELD's SET and INCRBY (Redis's BFOVERFLOW_*).
enum BitfieldOverflow {
    case wrap, sat, fail
}

/// One parsed BITFIELD operation.
struct BitfieldOperation {
    enum Kind { case get, set, incrby }
    var kind: Kind
    var offset: UInt64
    var bits: Int
    var signed: Bool
    var overflow: BitfieldOverflow
    /// SET's value or INCRBY's increment.
    var value: Int64
}

extension Engine {
    /// Redis's getBitOffsetFromArgument: a bit offset in 0 ..< 8 * proto-max-bulk-len, or
    /// with `bits` > 0 also "#n" meaning n * bits (BITFIELD). Replies the error on failure.
    func bitOffsetArgument(_ arg: UnsafeRawBufferPointer, bits: Int = 0) -> UInt64? {
        var digits = arg
        let useHash = bits > 0 && arg.count > 0 && arg[0] == UInt8(ascii: "#")
        if useHash { digits = UnsafeRawBufferPointer(rebasing: arg[1...]) }
        guard var offset = parseInteger(digits) else {
            replyError("ERR bit offset is not an integer or out of range")
            return nil
        }
        // C multiplies with wrap-around here; so do we, so the same arguments pass or fail.
        if useHash { offset = offset &* bits }
        let fromMaster = replication.master?.client === client
        if offset < 0 || (!fromMaster && (offset >> 3) >= config.protoMaxBulkLength) {
            replyError("ERR bit offset is not an integer or out of range")
            return nil
        }
        return UInt64(offset)
    }

    /// The string at `key` made raw and zero-padded so that bit `maxBit` exists, created
    /// when missing (Redis's lookupStringForBitCommand). `grew` says whether its length
    /// changed (or it was created). Replies WRONGTYPE and returns nil for other types.
    func bitStringForWrite(_ key: UnsafeRawBufferPointer, maxBit: UInt64) -> (entry: Entry, grew: Bool)? {
        let hash = hashKey(key)
        let needed = Int(maxBit >> 3) + 1
        guard let link = lookupWrite(key, hash: hash) else {
            let e = Entry.allocate(key: key, hash: hash, valueLength: needed, type: .string,
                                   encoding: StringEncoding.raw.rawValue, volatile: false)
            memset(e.valuePointer, 0, needed)
            db.table.insert(e, hash: hash)
            notify(NotifyClass.new, "new", key)
            return (e, true)
        }
        let old = Entry(link.pointee!)
        guard old.type == .string else { replyWrongType(); return nil }
        let oldLength = old.stringLength
        let e = makeRaw(link: link, length: max(oldLength, needed))
        return (e, needed > oldLength)
    }

    /// SETBIT key offset 0|1: replies the bit's previous value.
    func setbit(_ a: Arguments) {
        guard let offset = bitOffsetArgument(a[2]) else { return }
        guard let on = parseInteger(a[3]), on & ~1 == 0 else {
            replyError("ERR bit is not an integer or out of range")
            return
        }
        guard let target = bitStringForWrite(a[1], maxBit: offset) else { return }
        let (e, grew) = target
        let byte = e.valuePointer.assumingMemoryBound(to: UInt8.self) + Int(offset >> 3)
        let mask = UInt8(1) << (7 - UInt8(offset & 7))
        let was = byte.pointee & mask != 0
        // Redis counts a change only when the key grew or the bit flipped.
        if grew || was != (on == 1) {
            if on == 1 { byte.pointee |= mask } else { byte.pointee &= ~mask }
            dirty += 1
            notify(NotifyClass.string, "setbit", a[1])
        }
        replyInteger(was ? 1 : 0)
    }

    /// GETBIT key offset: bits past the end of the string read as 0.
    func getbit(_ a: Arguments) {
        guard let offset = bitOffsetArgument(a[2]) else { return }
        guard let e = lookupRead(a[1], hash: hashKey(a[1])) else { replyInteger(0); return }
        guard e.type == .string else { replyWrongType(); return }
        let set = e.stringBytes { s -> Bool in
            let byte = Int(offset >> 3)
            return byte < s.count && s[byte] & (UInt8(1) << (7 - UInt8(offset & 7))) != 0
        }
        replyInteger(set ? 1 : 0)
    }

    /// BITCOUNT key [start end [BYTE|BIT]]. Redis 7.0 looks the key up before parsing the
    /// range, so a missing key answers 0 even to a malformed range.
    func bitcount(_ a: Arguments) {
        guard let e = lookupRead(a[1], hash: hashKey(a[1])) else { replyInteger(0); return }
        guard e.type == .string else { replyWrongType(); return }
        var start = 0, end = 0
        var isBit = false
        if a.count == 4 || a.count == 5 {
            guard let s = integerArgument(a[2]), let t = integerArgument(a[3]) else { return }
            start = s; end = t
            if a.count == 5 {
                if a[4].equalsIgnoringCase("bit") {
                    isBit = true
                } else if !a[4].equalsIgnoringCase("byte") {
                    replySyntaxError()
                    return
                }
            }
        } else if a.count != 2 {
            replySyntaxError()
            return
        }
        let count = e.stringBytes { s -> Int in
            var firstMask: UInt8 = 0, lastMask: UInt8 = 0
            if a.count == 2 {
                start = 0
                end = s.count - 1
            } else {
                if start < 0 && end < 0 && start > end { return 0 }
                (firstMask, lastMask) = normalizeBitRange(start: &start, end: &end, length: s.count, isBit: isBit)
            }
            if start > end { return 0 }
            var n = popcount(UnsafeRawBufferPointer(rebasing: s[start...end]))
            n -= (s[start] & firstMask).nonzeroBitCount + (s[end] & lastMask).nonzeroBitCount
            return n
        }
        replyInteger(count)
    }

    /// BITCOUNT's and BITPOS's range over a value of `length` bytes, as Redis: negative
    /// indexes count from the end, both ends clamp to the value. A BIT range becomes the
    /// bytes holding it plus masks of the edge bytes' bits outside it (callers leave them out).
    private func normalizeBitRange(start: inout Int, end: inout Int, length: Int, isBit: Bool) -> (first: UInt8, last: UInt8) {
        let total = isBit ? length << 3 : length
        if start < 0 { start += total }
        if end < 0 { end += total }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= total { end = total - 1 }
        guard isBit && start <= end else { return (0, 0) }
        let masks = (~UInt8(truncatingIfNeeded: (1 << (8 - (start & 7))) - 1),
                     UInt8(truncatingIfNeeded: (1 << (7 - (end & 7))) - 1))
        start >>= 3
        end >>= 3
        return masks
    }

    /// BITPOS key bit [start [end [BYTE|BIT]]], as Redis 7.0: the bit argument is checked
    /// first, then the key, then the range.
    func bitpos(_ a: Arguments) {
        guard let bitArgument = integerArgument(a[2]) else { return }
        if bitArgument != 0 && bitArgument != 1 {
            replyError("ERR The bit argument must be 1 or 0.")
            return
        }
        let bit = bitArgument == 1
        guard let e = lookupRead(a[1], hash: hashKey(a[1])) else { replyInteger(bit ? -1 : 0); return }
        guard e.type == .string else { replyWrongType(); return }
        var start = 0, end = 0
        var isBit = false, endGiven = false
        if a.count >= 4 && a.count <= 6 {
            guard let s = integerArgument(a[3]) else { return }
            start = s
            if a.count == 6 {
                if a[5].equalsIgnoringCase("bit") {
                    isBit = true
                } else if !a[5].equalsIgnoringCase("byte") {
                    replySyntaxError()
                    return
                }
            }
            if a.count >= 5 {
                guard let t = integerArgument(a[4]) else { return }
                end = t
                endGiven = true
            }
        } else if a.count != 3 {
            replySyntaxError()
            return
        }
        let pos = e.stringBytes { s -> Int in
            var firstMask: UInt8 = 0, lastMask: UInt8 = 0
            if a.count == 3 {
                start = 0
                end = s.count - 1
            } else {
                if !endGiven { end = isBit ? (s.count << 3) + 7 : s.count - 1 }
                (firstMask, lastMask) = normalizeBitRange(start: &start, end: &end, length: s.count, isBit: isBit)
            }
            // An empty range holds neither a 0 nor a 1.
            if start > end { return -1 }
            var bytes = end - start + 1
            var pos: Int
            found: do {
                if firstMask != 0 {
                    var edge = bit ? s[start] & ~firstMask : s[start] | firstMask
                    if lastMask != 0 && bytes == 1 {
                        edge = bit ? edge & ~lastMask : edge | lastMask
                    }
                    pos = withUnsafeBytes(of: edge) { firstBit(bit, in: $0) }
                    if bytes == 1 || (pos != -1 && pos != 8) { break found }
                    start += 1
                    bytes -= 1
                }
                let whole = bytes - (lastMask != 0 ? 1 : 0)
                if whole > 0 {
                    pos = firstBit(bit, in: UnsafeRawBufferPointer(rebasing: s[start..<(start + whole)]))
                    if bytes == whole || (pos != -1 && pos != whole << 3) { break found }
                    start += whole
                    bytes -= whole
                }
                let edge = bit ? s[end] & ~lastMask : s[end] | lastMask
                pos = withUnsafeBytes(of: edge) { firstBit(bit, in: $0) }
            }
            // Looking for a 0 within an explicit range: the bit past the range is not
            // padding, so finding only that means there is none.
            if endGiven && !bit && pos == bytes << 3 { return -1 }
            if pos != -1 { pos += start << 3 }
            return pos
        }
        replyInteger(pos)
    }

    /// BITOP AND|OR|XOR|NOT destkey srckey...: stores the result (raw, without TTL) and
    /// replies its length; an all-empty result deletes the destination.
    func bitop(_ a: Arguments) {
        enum Operation { case and, or, xor, not }
        let op: Operation
        if a[1].equalsIgnoringCase("and") {
            op = .and
        } else if a[1].equalsIgnoringCase("or") {
            op = .or
        } else if a[1].equalsIgnoringCase("xor") {
            op = .xor
        } else if a[1].equalsIgnoringCase("not") {
            op = .not
        } else {
            replySyntaxError()
            return
        }
        if op == .not && a.count != 4 {
            replyError("ERR BITOP NOT must be called with a single source key.")
            return
        }
        // Sources are read in place: entries do not move, and the destination's old entry
        // is only freed once the result is built. Int-encoded values are formatted into
        // scratch space first.
        var sources: [UnsafeRawBufferPointer] = []
        sources.reserveCapacity(a.count - 3)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 24 * (a.count - 3), alignment: 8)
        defer { scratch.deallocate() }
        var maxLength = 0
        for i in 3..<a.count {
            guard let e = lookupRead(a[i], hash: hashKey(a[i])) else {
                sources.append(UnsafeRawBufferPointer(start: nil, count: 0))
                continue
            }
            guard e.type == .string else { replyWrongType(); return }
            var bytes = e.value
            if e.stringEncoding == .int {
                let p = scratch + 24 * (i - 3)
                bytes = UnsafeRawBufferPointer(start: p, count: formatDecimal(e.intValue, into: p))
            }
            maxLength = max(maxLength, bytes.count)
            sources.append(bytes)
        }
        let dest = a[2]
        let hash = hashKey(dest)
        let link = lookupWrite(dest, hash: hash)
        guard maxLength > 0 else {
            if let link {
                db.table.remove(at: link)
                dirty += 1
                notify(NotifyClass.generic, "del", dest)
            }
            replyInteger(0)
            return
        }
        let e = Entry.allocate(key: dest, hash: hash, valueLength: maxLength, type: .string,
                               encoding: StringEncoding.raw.rawValue, volatile: false)
        let out = e.valuePointer
        // Bytes past a source's end count as zeros.
        memset(out, 0, maxLength)
        if sources[0].count > 0 { memcpy(out, sources[0].baseAddress!, sources[0].count) }
        if op == .not {
            combineBits(out, UnsafeRawBufferPointer(start: nil, count: 0), maxLength) { x, _ in ~x }
        }
        for src in sources.dropFirst() {
            switch op {
            case .and:
                combineBits(out, src, src.count) { $0 & $1 }
                if src.count < maxLength { memset(out + src.count, 0, maxLength - src.count) }
            case .or: combineBits(out, src, src.count) { $0 | $1 }
            case .xor: combineBits(out, src, src.count) { $0 ^ $1 }
            case .not: break
            }
        }
        if let link {
            db.table.replace(at: link, with: e)
        } else {
            db.table.insert(e, hash: hash)
            notify(NotifyClass.new, "new", dest)
        }
        dirty += 1
        notify(NotifyClass.string, "set", dest)
        replyInteger(maxLength)
    }

    /// BITFIELD and BITFIELD_RO. All operations are parsed (and every argument error
    /// replied) before any runs; a command with only GETs is a read.
    func bitfield(_ a: Arguments, readOnly: Bool) {
        var ops: [BitfieldOperation] = []
        var overflow = BitfieldOverflow.wrap
        var writes = false
        var highestWrite: UInt64 = 0
        var j = 2
        while j < a.count {
            let remaining = a.count - j - 1
            let sub = a[j]
            let kind: BitfieldOperation.Kind
            if sub.equalsIgnoringCase("get") && remaining >= 2 {
                kind = .get
            } else if sub.equalsIgnoringCase("set") && remaining >= 3 {
                kind = .set
            } else if sub.equalsIgnoringCase("incrby") && remaining >= 3 {
                kind = .incrby
            } else if sub.equalsIgnoringCase("overflow") && remaining >= 1 {
                let name = a[j + 1]
                if name.equalsIgnoringCase("wrap") {
                    overflow = .wrap
                } else if name.equalsIgnoringCase("sat") {
                    overflow = .sat
                } else if name.equalsIgnoringCase("fail") {
                    overflow = .fail
                } else {
                    replyError("ERR Invalid OVERFLOW type specified")
                    return
                }
                j += 2
                continue
            } else {
                replySyntaxError()
                return
            }
            guard let type = bitfieldTypeArgument(a[j + 1]) else { return }
            let (signed, bits) = type
            guard let offset = bitOffsetArgument(a[j + 2], bits: bits) else { return }
            var value: Int64 = 0
            if kind != .get {
                writes = true
                highestWrite = max(highestWrite, offset + UInt64(bits) - 1)
                guard let v = integerArgument(a[j + 3]) else { return }
                value = Int64(v)
            }
            ops.append(BitfieldOperation(kind: kind, offset: offset, bits: bits, signed: signed,
                                         overflow: overflow, value: value))
            j += kind == .get ? 3 : 4
        }

        if !writes {
            let e = lookupRead(a[1], hash: hashKey(a[1]))
            if let e, e.type != .string { replyWrongType(); return }
            replyArrayHeader(ops.count)
            for op in ops {
                let v: Int64
                if let e {
                    v = e.stringBytes { bitfieldGet(op, from: $0) }
                } else {
                    v = bitfieldGet(op, from: UnsafeRawBufferPointer(start: nil, count: 0))
                }
                replyInteger(Int(v))
            }
            return
        }
        if readOnly {
            replyError("ERR BITFIELD_RO only supports the GET subcommand")
            return
        }
        guard let target = bitStringForWrite(a[1], maxBit: highestWrite) else { return }
        let (e, grew) = target
        let p = e.valuePointer.assumingMemoryBound(to: UInt8.self)
        var changes = 0
        replyArrayHeader(ops.count)
        for op in ops {
            if op.kind == .get {
                replyInteger(Int(bitfieldGet(op, from: e.value)))
                continue
            }
            let bits = UInt64(op.bits)
            if op.signed {
                let old = signedBitfield(p, op.offset, bits)
                var new: Int64, result: Int64
                let overflowed: Bool
                if op.kind == .incrby {
                    let check = signedBitfieldOverflow(old, op.value, bits, op.overflow)
                    overflowed = check.overflow
                    new = check.overflow ? check.limit : old &+ op.value
                    result = new
                } else {
                    new = op.value
                    let check = signedBitfieldOverflow(new, 0, bits, op.overflow)
                    overflowed = check.overflow
                    if overflowed { new = check.limit }
                    result = old
                }
                if overflowed && op.overflow == .fail {
                    replyNull()
                } else {
                    replyInteger(Int(result))
                    setUnsignedBitfield(p, op.offset, bits, UInt64(bitPattern: new))
                    if grew || old != new { changes += 1 }
                }
            } else {
                let old = unsignedBitfield(p, op.offset, bits)
                var new: UInt64, result: UInt64
                let overflowed: Bool
                if op.kind == .incrby {
                    let check = unsignedBitfieldOverflow(old, op.value, bits, op.overflow)
                    overflowed = check.overflow
                    new = check.overflow ? check.limit : old &+ UInt64(bitPattern: op.value)
                    result = new
                } else {
                    new = UInt64(bitPattern: op.value)
                    let check = unsignedBitfieldOverflow(new, 0, bits, op.overflow)
                    overflowed = check.overflow
                    if overflowed { new = check.limit }
                    result = old
                }
                if overflowed && op.overflow == .fail {
                    replyNull()
                } else {
                    replyInteger(Int(Int64(bitPattern: result)))
                    setUnsignedBitfield(p, op.offset, bits, new)
                    if grew || old != new { changes += 1 }
                }
            }
        }
        // Only operations that changed something make the command a write to propagate.
        dirty += changes
        if changes > 0 { notify(NotifyClass.string, "setbit", a[1]) }
    }

    /// Parses a BITFIELD type, i1..i64 or u1..u63 (u64 does not fit a RESP integer).
    func bitfieldTypeArgument(_ arg: UnsafeRawBufferPointer) -> (signed: Bool, bits: Int)? {
        let signed: Bool
        if arg.count > 0 && arg[0] == UInt8(ascii: "i") {
            signed = true
        } else if arg.count > 0 && arg[0] == UInt8(ascii: "u") {
            signed = false
        } else {
            replyBitfieldTypeError()
            return nil
        }
        guard let bits = parseInteger(UnsafeRawBufferPointer(rebasing: arg[1...])), bits >= 1,
              bits <= (signed ? 64 : 63) else {
            replyBitfieldTypeError()
            return nil
        }
        return (signed, bits)
    }

    private func replyBitfieldTypeError() {
        replyError("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
    }
}

/// BITFIELD GET over `s`, reading past its end as zeros.
private func bitfieldGet(_ op: BitfieldOperation, from s: UnsafeRawBufferPointer) -> Int64 {
    // Up to 9 bytes cover any 64-bit field; copied so the end of the string reads as zeros.
    var buffer: (UInt64, UInt64) = (0, 0)
    return withUnsafeMutableBytes(of: &buffer) { b in
        let byte = op.offset >> 3
        var i = 0
        while i < 9 && UInt64(i) + byte < UInt64(s.count) {
            b[i] = s[Int(byte) + i]
            i += 1
        }
        let p = b.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let offset = op.offset - byte * 8
        if op.signed { return signedBitfield(p, offset, UInt64(op.bits)) }
        return Int64(bitPattern: unsignedBitfield(p, offset, UInt64(op.bits)))
    }
}

private func unsignedBitfield(_ p: UnsafeMutablePointer<UInt8>, _ offset: UInt64, _ bits: UInt64) -> UInt64 {
    var value: UInt64 = 0
    var offset = offset
    for _ in 0..<bits {
        let bit = UInt64(p[Int(offset >> 3)] >> (7 - UInt8(offset & 7))) & 1
        value = value << 1 | bit
        offset += 1
    }
    return value
}

/// The field read as two's complement of width `bits`.
private func signedBitfield(_ p: UnsafeMutablePointer<UInt8>, _ offset: UInt64, _ bits: UInt64) -> Int64 {
    var value = unsignedBitfield(p, offset, bits)
    if bits < 64 && value & (1 << (bits - 1)) != 0 { value |= ~0 << bits }
    return Int64(bitPattern: value)
}

private func setUnsignedBitfield(_ p: UnsafeMutablePointer<UInt8>, _ offset: UInt64, _ bits: UInt64, _ value: UInt64) {
    var offset = offset
    for j in 0..<bits {
        let bit = UInt8((value >> (bits - 1 - j)) & 1)
        let shift = 7 - UInt8(offset & 7)
        let i = Int(offset >> 3)
        p[i] = (p[i] & ~(1 << shift)) | bit << shift
        offset += 1
    }
}

/// Redis's checkUnsignedBitfieldOverflow: whether `value + increment` leaves the range of
/// a `bits`-wide unsigned field, and what to store instead under WRAP or SAT.
private func unsignedBitfieldOverflow(_ value: UInt64, _ increment: Int64, _ bits: UInt64,
                                      _ mode: BitfieldOverflow) -> (overflow: Bool, limit: UInt64) {
    let max: UInt64 = bits == 64 ? UInt64.max : (1 << bits) - 1
    let maxIncrement = Int64(bitPattern: max &- value)
    let minIncrement = Int64(bitPattern: 0 &- value)
    let wrapped = (value &+ UInt64(bitPattern: increment)) & ~(UInt64.max << bits)
    if value > max || (increment > 0 && increment > maxIncrement) {
        return (true, mode == .wrap ? wrapped : max)
    }
    if increment < 0 && increment < minIncrement {
        return (true, mode == .wrap ? wrapped : 0)
    }
    return (false, 0)
}

/// Redis's checkSignedBitfieldOverflow, with its wrap toward the most negative value.
private func signedBitfieldOverflow(_ value: Int64, _ increment: Int64, _ bits: UInt64,
                                    _ mode: BitfieldOverflow) -> (overflow: Bool, limit: Int64) {
    let max: Int64 = bits == 64 ? Int64.max : (1 << (bits - 1)) - 1
    let min = -max - 1
    let maxIncrement = Int64(bitPattern: UInt64(bitPattern: max) &- UInt64(bitPattern: value))
    let minIncrement = min &- value
    var wrapped = UInt64(bitPattern: value) &+ UInt64(bitPattern: increment)
    if bits < 64 {
        let mask = UInt64.max << bits
        if wrapped & (1 << (bits - 1)) != 0 { wrapped |= mask } else { wrapped &= ~mask }
    }
    if value > max || (bits != 64 && increment > maxIncrement) || (value >= 0 && increment > 0 && increment > maxIncrement) {
        return (true, mode == .wrap ? Int64(bitPattern: wrapped) : max)
    }
    if value < min || (bits != 64 && increment < minIncrement) || (value < 0 && increment < 0 && increment < minIncrement) {
        return (true, mode == .wrap ? Int64(bitPattern: wrapped) : min)
    }
    return (false, 0)
}

/// out[j] = f(out[j], src[j]) for j < count, eight bytes at a time (src may be shorter
/// than `count` only when f ignores it, as NOT's does).
@inline(__always)
private func combineBits(_ out: UnsafeMutableRawPointer, _ src: UnsafeRawBufferPointer, _ count: Int,
                         _ f: (UInt64, UInt64) -> UInt64) {
    var j = 0
    let s = src.baseAddress
    while j + 8 <= count {
        let x = out.loadUnaligned(fromByteOffset: j, as: UInt64.self)
        let y = s.map { $0.loadUnaligned(fromByteOffset: j, as: UInt64.self) } ?? 0
        out.storeBytes(of: f(x, y), toByteOffset: j, as: UInt64.self)
        j += 8
    }
    while j < count {
        let x = UInt64(out.load(fromByteOffset: j, as: UInt8.self))
        let y = s.map { UInt64($0.load(fromByteOffset: j, as: UInt8.self)) } ?? 0
        out.storeBytes(of: UInt8(truncatingIfNeeded: f(x, y)), toByteOffset: j, as: UInt8.self)
        j += 1
    }
}

/// Number of set bits in `s`, eight bytes at a time.
private func popcount(_ s: UnsafeRawBufferPointer) -> Int {
    var n = 0
    var i = 0
    let count = s.count
    guard let base = s.baseAddress else { return 0 }
    while i + 8 <= count {
        n += base.loadUnaligned(fromByteOffset: i, as: UInt64.self).nonzeroBitCount
        i += 8
    }
    while i < count {
        n += base.load(fromByteOffset: i, as: UInt8.self).nonzeroBitCount
        i += 1
    }
    return n
}

/// Redis's redisBitpos: the index of the first bit equal to `bit` in `s`; when none,
/// -1 for a 1, or the first bit past the end for a 0 (the string is zero-padded).
private func firstBit(_ bit: Bool, in s: UnsafeRawBufferPointer) -> Int {
    let skip: UInt8 = bit ? 0 : 0xff
    let skipWord: UInt64 = bit ? 0 : UInt64.max
    let count = s.count
    guard let base = s.baseAddress else { return bit ? -1 : 0 }
    var i = 0
    while i + 8 <= count && base.loadUnaligned(fromByteOffset: i, as: UInt64.self) == skipWord { i += 8 }
    while i < count {
        let b = base.load(fromByteOffset: i, as: UInt8.self)
        if b != skip {
            let x = bit ? b : ~b
            return i * 8 + x.leadingZeroBitCount
        }
        i += 1
    }
    return bit ? -1 : count * 8
}
