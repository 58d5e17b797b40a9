/// wyhash (final version 4): a fast, well-distributed 64-bit hash of bytes, seeded once per
/// process from the kernel so that key collisions cannot be planned by clients.
@usableFromInline
struct KeyHasher {
    @usableFromInline static let s0: UInt64 = 0xa076_1d64_78bd_642f
    @usableFromInline static let s1: UInt64 = 0xe703_7ed1_a0b4_28db
    @usableFromInline static let s2: UInt64 = 0x8ebc_6af0_9c88_c6e3
    @usableFromInline static let s3: UInt64 = 0x5899_65cc_7537_4cc3
    @usableFromInline let seed: UInt64

    init() {
        var s = SystemRandomNumberGenerator()
        seed = s.next()
    }

    @inline(__always) @usableFromInline
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    @inline(__always) @usableFromInline
    static func read8(_ p: UnsafeRawPointer) -> UInt64 { p.loadUnaligned(as: UInt64.self) }
    @inline(__always) @usableFromInline
    static func read4(_ p: UnsafeRawPointer) -> UInt64 { UInt64(p.loadUnaligned(as: UInt32.self)) }

    @inline(__always) @usableFromInline
    func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        let len = key.count
        var p = key.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
        var seed = self.seed ^ KeyHasher.mix(self.seed ^ KeyHasher.s0, KeyHasher.s1)
        var a: UInt64
        var b: UInt64
        if len <= 16 {
            if len >= 4 {
                let shift = (len >> 3) << 2
                a = (KeyHasher.read4(p) << 32) | KeyHasher.read4(p + shift)
                b = (KeyHasher.read4(p + len - 4) << 32) | KeyHasher.read4(p + len - 4 - shift)
            } else if len > 0 {
                let b0 = UInt64(p.load(as: UInt8.self)), bm = UInt64(p.load(fromByteOffset: len >> 1, as: UInt8.self))
                let bl = UInt64(p.load(fromByteOffset: len - 1, as: UInt8.self))
                a = (b0 << 16) | (bm << 8) | bl
                b = 0
            } else {
                a = 0
                b = 0
            }
        } else {
            var i = len
            if i > 48 {
                var see1 = seed, see2 = seed
                repeat {
                    seed = KeyHasher.mix(KeyHasher.read8(p) ^ KeyHasher.s1, KeyHasher.read8(p + 8) ^ seed)
                    see1 = KeyHasher.mix(KeyHasher.read8(p + 16) ^ KeyHasher.s2, KeyHasher.read8(p + 24) ^ see1)
                    see2 = KeyHasher.mix(KeyHasher.read8(p + 32) ^ KeyHasher.s3, KeyHasher.read8(p + 40) ^ see2)
                    p += 48
                    i -= 48
                } while i > 48
                seed ^= see1 ^ see2
            }
            while i > 16 {
                seed = KeyHasher.mix(KeyHasher.read8(p) ^ KeyHasher.s1, KeyHasher.read8(p + 8) ^ seed)
                i -= 16
                p += 16
            }
            a = KeyHasher.read8(p + i - 16)
            b = KeyHasher.read8(p + i - 8)
        }
        a ^= KeyHasher.s1
        b ^= seed
        let m = a.multipliedFullWidth(by: b)
        a = m.low
        b = m.high
        return KeyHasher.mix(a ^ KeyHasher.s0 ^ UInt64(len), b ^ KeyHasher.s1)
    }
}
