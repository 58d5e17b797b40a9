import Glibc
import Reactor

/// Replies for one reactor's connections, written by the engine while it executes a batch
/// and moved into that reactor's reply ring at the end of the batch.
///
/// Staging decouples command execution from ring space: a reply of any size (KEYS *, a
/// 512 MB GET) is produced in one go, then streamed into the ring in record-sized chunks as
/// the reactor drains it. While a reactor's staging holds more than `backPressureBytes`,
/// the engine stops taking that reactor's requests, so memory stays bounded and no reply
/// is ever dropped.
///
/// Records: [UInt64 token][UInt32 length][UInt32 kind][length bytes]. Consecutive replies
/// to the same connection extend one record, so a pipeline of 16 GETs becomes one record.
struct ReplyStaging {
    static let headerSize = 16
    static let backPressureBytes = 4 << 20

    var buffer = ByteBuffer(capacity: 64 * 1024)
    /// Offset from `buffer.reader` of the header of the data record being extended, or -1.
    /// Relative, because growing the buffer may compact it and move every byte.
    var openRecord = -1
    var openToken: UInt64 = 0
    /// Data bytes of the first record already moved into the ring.
    var sentOfFirst = 0

    var isEmpty: Bool { buffer.isEmpty }
    var pendingBytes: Int { buffer.readable }

    /// Makes sure the record being written to is a data record for `token`.
    @inline(__always)
    mutating func open(token: UInt64) {
        if openRecord >= 0 && openToken == token { return }
        closeRecord()
        buffer.ensureWritable(ReplyStaging.headerSize + 256)
        openRecord = buffer.writer - buffer.reader
        openToken = token
        let p = buffer.writePointer
        p.storeBytes(of: token, as: UInt64.self)
        p.storeBytes(of: ReplyRecord.data, toByteOffset: 12, as: UInt32.self)
        buffer.commitWritten(ReplyStaging.headerSize)
    }

    /// Seals the open data record by writing its length.
    @inline(__always)
    mutating func closeRecord() {
        guard openRecord >= 0 else { return }
        let length = buffer.readable - openRecord - ReplyStaging.headerSize
        (buffer.readPointer + openRecord).storeBytes(of: UInt32(truncatingIfNeeded: length), toByteOffset: 8, as: UInt32.self)
        openRecord = -1
    }

    /// Stages a control record (close after write, close now) for `token`.
    /// A data record being written (the running command's) is continued after it, so a
    /// command may close another connection mid-reply.
    /// `payload` follows the token in the ring record (an outbound connect's address).
    mutating func control(kind: UInt32, token: UInt64, payload: [UInt8] = []) {
        let interrupted = openRecord >= 0 ? openToken : nil
        closeRecord()
        buffer.ensureWritable(ReplyStaging.headerSize + payload.count)
        let p = buffer.writePointer
        p.storeBytes(of: token, as: UInt64.self)
        p.storeBytes(of: UInt32(payload.count), toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: kind, toByteOffset: 12, as: UInt32.self)
        payload.withUnsafeBytes { if $0.count > 0 { (p + ReplyStaging.headerSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        buffer.commitWritten(ReplyStaging.headerSize + payload.count)
        if let t = interrupted { open(token: t) }
    }

    /// Moves as much as fits into `ring`, splitting large data records into ring-sized
    /// chunks. Returns true if anything was moved (the caller publishes and wakes).
    mutating func flush(into ring: SPSCByteRing) -> Bool {
        closeRecord()
        var moved = false
        let chunkMax = ring.maxPayload - 8
        while buffer.readable >= ReplyStaging.headerSize {
            let h = buffer.readPointer
            let token = h.loadUnaligned(as: UInt64.self)   // records follow odd-length replies
            let length = Int(h.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            let kind = h.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
            if kind == ReplyRecord.data {
                while sentOfFirst < length {   // (an empty record moves nothing)
                    let chunk = Swift.min(length - sentOfFirst, chunkMax)
                    guard let p = ring.reserve(kind: kind, payloadLength: 8 + chunk) else { return finish(moved) }
                    p.storeBytes(of: token, as: UInt64.self)
                    (p + 8).copyMemory(from: h + ReplyStaging.headerSize + sentOfFirst, byteCount: chunk)
                    sentOfFirst += chunk
                    moved = true
                }
            } else {
                guard let p = ring.reserve(kind: kind, payloadLength: 8 + length) else { return finish(moved) }
                p.storeBytes(of: token, as: UInt64.self)
                if length > 0 { (p + 8).copyMemory(from: h + ReplyStaging.headerSize, byteCount: length) }
                moved = true
            }
            buffer.reader += ReplyStaging.headerSize + length
            sentOfFirst = 0
        }
        return finish(moved)
    }

    private mutating func finish(_ moved: Bool) -> Bool {
        if buffer.isEmpty {
            buffer.clear()
            // A huge reply grew the buffer: give the memory back once it is sent.
            if buffer.capacity > 16 << 20 {
                buffer.free()
                buffer.reserveCapacity(64 * 1024)
            }
        }
        return moved
    }
}
