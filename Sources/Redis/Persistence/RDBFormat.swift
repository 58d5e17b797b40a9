/// Constants of the RDB file format as Redis 7.x defines them (rdb.h), and the
/// format-level value model the codec speaks, independent of the in-memory value types.

/// The RDB version this server writes (Redis 7.0's RDB_VERSION).
let rdbVersionWritten = 10
/// The newest RDB version the reader accepts (Redis 7.2 writes 11).
let rdbVersionReadable = 11

enum RDBType {
    static let string: UInt8 = 0
    static let list: UInt8 = 1
    static let set: UInt8 = 2
    static let zset: UInt8 = 3
    static let hash: UInt8 = 4
    static let zset2: UInt8 = 5
    static let modulePreGA: UInt8 = 6
    static let module2: UInt8 = 7
    static let hashZipmap: UInt8 = 9
    static let listZiplist: UInt8 = 10
    static let setIntset: UInt8 = 11
    static let zsetZiplist: UInt8 = 12
    static let hashZiplist: UInt8 = 13
    static let listQuicklist: UInt8 = 14
    static let streamListpacks: UInt8 = 15
    static let hashListpack: UInt8 = 16
    static let zsetListpack: UInt8 = 17
    static let listQuicklist2: UInt8 = 18
    static let streamListpacks2: UInt8 = 19
    static let setListpack: UInt8 = 20
    static let streamListpacks3: UInt8 = 21
}

enum RDBOpcode {
    static let slotInfo: UInt8 = 244
    static let function2: UInt8 = 245
    static let functionPreGA: UInt8 = 246
    static let moduleAux: UInt8 = 247
    static let idle: UInt8 = 248
    static let freq: UInt8 = 249
    static let aux: UInt8 = 250
    static let resizeDB: UInt8 = 251
    static let expireTimeMs: UInt8 = 252
    static let expireTime: UInt8 = 253
    static let selectDB: UInt8 = 254
    static let eof: UInt8 = 255
}

/// Length prefixes: the top two bits of the first byte say how the length is stored.
enum RDBLength {
    static let bits6: UInt8 = 0
    static let bits14: UInt8 = 1
    static let bits32: UInt8 = 0x80
    static let bits64: UInt8 = 0x81
    /// "Encoded value" marker: the low six bits are one of `RDBEncoding`.
    static let encoded: UInt8 = 3
}

/// Special string encodings behind the `RDBLength.encoded` marker.
enum RDBEncoding {
    static let int8 = 0
    static let int16 = 1
    static let int32 = 2
    static let lzf = 3
}

/// Quicklist 2 node containers.
enum QuicklistContainer {
    static let plain = 1
    static let packed = 2
}

/// One key's value as the RDB format sees it. The codec reads and writes this; the engine
/// converts it to and from its own value objects (Persistence/Snapshot.swift).
enum RDBValue: Equatable {
    case string([UInt8])
    case list([[UInt8]])
    case set([[UInt8]])
    case hash([([UInt8], [UInt8])])
    case zset([([UInt8], Double)])
    case stream(RDBStream)

    static func == (a: RDBValue, b: RDBValue) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x == y
        case let (.list(x), .list(y)): return x == y
        case let (.set(x), .set(y)): return x == y
        case let (.hash(x), .hash(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.zset(x), .zset(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && ($0.1 == $1.1 || ($0.1.isNaN && $1.1.isNaN)) }
        case let (.stream(x), .stream(y)): return x == y
        default: return false
        }
    }
}

/// Why a file could not be loaded; `description` is the log line's text.
struct RDBError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
