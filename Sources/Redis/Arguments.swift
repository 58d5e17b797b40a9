/// The arguments of the request being executed, read in place from the request ring (or an
/// out-of-line block) in the encoding `RESPParser` writes. Valid only during the command.
public struct Arguments {
    @usableFromInline let base: UnsafeRawPointer
    public let count: Int

    @inlinable init(encoding base: UnsafeRawPointer) {
        self.base = base
        count = Int(base.load(as: UInt32.self))
    }

    @inlinable @inline(__always)
    public subscript(_ i: Int) -> UnsafeRawBufferPointer {
        let offset = Int(base.load(fromByteOffset: 4 + 8 * i, as: UInt32.self))
        let length = Int(base.load(fromByteOffset: 8 + 8 * i, as: UInt32.self))
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }
}

extension UnsafeRawBufferPointer {
    /// Case-insensitive comparison with an ASCII lowercase literal (option names).
    @inline(__always)
    func equalsIgnoringCase(_ lower: StaticString) -> Bool {
        if count != lower.utf8CodeUnitCount { return false }
        let l = lower.utf8Start
        for i in 0..<count {
            var c = self[i]
            if c >= 65 && c <= 90 { c |= 0x20 }
            if c != l[i] { return false }
        }
        return true
    }

    /// The bytes as a String, for logs and rare paths only (never per request).
    var string: String { String(decoding: self, as: UTF8.self) }
}
