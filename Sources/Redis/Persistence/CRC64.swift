/// CRC-64 with the Jones polynomial (0xad93d23594c935a9), reflected, initial value 0 and no
/// final xor: the checksum Redis's crc64.c puts at the end of every RDB file (and in DUMP
/// payloads). "123456789" gives 0xe9c6d914c4b8d9ca.
enum CRC64 {
    /// One table per byte position of an 8-byte word (slicing-by-8), so a multi-gigabyte
    /// snapshot is checksummed at several bytes per cycle rather than one.
    static let tables: [[UInt64]] = {
        let reflected: UInt64 = 0x95ac_9329_ac4b_c9b5   // 0xad93d23594c935a9 bit-reversed
        var t = [[UInt64]](repeating: [UInt64](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt64(i)
            for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ reflected : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 {
            var c = t[0][i]
            for k in 1..<8 {
                c = t[0][Int(c & 0xff)] ^ (c >> 8)
                t[k][i] = c
            }
        }
        return t
    }()

    /// Continues `crc` over `bytes`.
    static func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var c = crc
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return c }
        return tables.withUnsafeBufferPointer { tp in
            let t0 = tp[0], t1 = tp[1], t2 = tp[2], t3 = tp[3], t4 = tp[4], t5 = tp[5], t6 = tp[6], t7 = tp[7]
            var i = 0
            while i + 8 <= n {
                let w = c ^ UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                c = t7[Int(w & 0xff)] ^ t6[Int((w >> 8) & 0xff)] ^ t5[Int((w >> 16) & 0xff)]
                    ^ t4[Int((w >> 24) & 0xff)] ^ t3[Int((w >> 32) & 0xff)] ^ t2[Int((w >> 40) & 0xff)]
                    ^ t1[Int((w >> 48) & 0xff)] ^ t0[Int(w >> 56)]
                i += 8
            }
            while i < n {
                c = t0[Int((c ^ UInt64(base.load(fromByteOffset: i, as: UInt8.self))) & 0xff)] ^ (c >> 8)
                i += 1
            }
            return c
        }
    }

    static func checksum(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { update(0, $0) }
    }
}
