/// A request's arguments copied out of the request ring, for work that outlives the batch:
/// a MULTI queue, a blocked client's held-back pipeline, a rewritten command to propagate.
/// Stored in the same encoding `Arguments` reads, so `withArguments` costs nothing.
struct OwnedArguments {
    /// [u32 count][(u32 offset, u32 length) per argument][argument bytes]
    private(set) var encoding: [UInt8]

    /// Copies `args`.
    init(_ args: Arguments) {
        var total = 4 + 8 * args.count
        for i in 0..<args.count { total += args[i].count }
        var enc = [UInt8](repeating: 0, count: total)
        enc.withUnsafeMutableBytes { p in
            p.storeBytes(of: UInt32(args.count), as: UInt32.self)
            var offset = 4 + 8 * args.count
            for i in 0..<args.count {
                let a = args[i]
                p.storeBytes(of: UInt32(offset), toByteOffset: 4 + 8 * i, as: UInt32.self)
                p.storeBytes(of: UInt32(a.count), toByteOffset: 8 + 8 * i, as: UInt32.self)
                if a.count > 0 { (p.baseAddress! + offset).copyMemory(from: a.baseAddress!, byteCount: a.count) }
                offset += a.count
            }
        }
        encoding = enc
    }

    /// Builds arguments from parts (a rewritten command: "PEXPIREAT", key, ms).
    init(_ parts: [[UInt8]]) {
        var total = 4 + 8 * parts.count
        for p in parts { total += p.count }
        var enc = [UInt8](repeating: 0, count: total)
        enc.withUnsafeMutableBytes { p in
            p.storeBytes(of: UInt32(parts.count), as: UInt32.self)
            var offset = 4 + 8 * parts.count
            for (i, a) in parts.enumerated() {
                p.storeBytes(of: UInt32(offset), toByteOffset: 4 + 8 * i, as: UInt32.self)
                p.storeBytes(of: UInt32(a.count), toByteOffset: 8 + 8 * i, as: UInt32.self)
                a.withUnsafeBytes { b in
                    if b.count > 0 { (p.baseAddress! + offset).copyMemory(from: b.baseAddress!, byteCount: b.count) }
                }
                offset += a.count
            }
        }
        encoding = enc
    }

    /// Builds arguments from text parts (tests, rare paths).
    init(strings: [String]) { self.init(strings.map { Array($0.utf8) }) }

    /// Whether the first argument is `lowercaseName`, in any case.
    func isCommand(_ lowercaseName: StaticString) -> Bool {
        withArguments { $0.count > 0 && $0[0].equalsIgnoringCase(lowercaseName) }
    }

    var count: Int { encoding.withUnsafeBytes { Int($0.load(as: UInt32.self)) } }

    /// Runs `body` with an `Arguments` view of these bytes (valid only inside `body`).
    func withArguments<R>(_ body: (Arguments) -> R) -> R {
        encoding.withUnsafeBytes { body(Arguments(encoding: $0.baseAddress!)) }
    }
}
