import Glibc
import Synchronization
import Testing
@testable import Reactor

// MARK: helpers

/// Runs `body` on a new pthread (the ring is meant for two OS threads, not tasks that a
/// cooperative pool may run on one thread) and returns a handle to join.
private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

private func startThread(_ body: @escaping () -> Void) -> pthread_t {
    var thread = pthread_t()
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return thread
}

/// True when the process runs under ThreadSanitizer (its runtime defines __tsan_init).
private let underThreadSanitizer: Bool = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil

/// xorshift64*: cheap deterministic lengths and batch sizes, identical on both threads.
@inline(__always) private func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Payload of record `seq`: UInt64 seq, UInt64 checksum, then `length` bytes derived from seq.
private func bodyLength(_ seq: UInt64, maxBody: Int) -> Int {
    let r = mix(seq)
    // Mostly small records, one in 32 up to the largest the ring accepts, so both many
    // wrap-arounds per pass and pad records in front of large records happen.
    return r & 31 == 0 ? Int((r >> 8) % UInt64(maxBody + 1)) : Int((r >> 8) % 65)
}

/// Fills `length` bytes with a pattern of `seq` and returns their checksum (computed over
/// the written bytes, so a torn or overwritten payload fails on the consumer side).
@inline(__always) private func fill(_ p: UnsafeMutableRawPointer, _ length: Int, seq: UInt64) -> UInt64 {
    var sum: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(length)
    var word = mix(seq ^ 0x5555)
    var i = 0
    while i + 8 <= length {
        p.storeBytes(of: word, toByteOffset: i, as: UInt64.self)
        sum = (sum ^ word) &* 0x100_0000_01B3
        word = word &* 6364136223846793005 &+ 1442695040888963407
        i += 8
    }
    while i < length {
        let byte = UInt8(truncatingIfNeeded: word >> UInt64((i & 7) * 8))
        p.storeBytes(of: byte, toByteOffset: i, as: UInt8.self)
        sum = (sum ^ UInt64(byte)) &* 0x100_0000_01B3
        i += 1
    }
    return sum
}

@inline(__always) private func checksum(_ p: UnsafeRawPointer, _ length: Int) -> UInt64 {
    var sum: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(length)
    var i = 0
    while i + 8 <= length {
        sum = (sum ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01B3
        i += 8
    }
    while i < length {
        sum = (sum ^ UInt64(p.load(fromByteOffset: i, as: UInt8.self))) &* 0x100_0000_01B3
        i += 1
    }
    return sum
}

private func kindOf(_ seq: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: mix(seq ^ 0xAAAA) % 1000) }

/// Result of the consumer. Plain fields are read only after pthread_join (which orders
/// them); `failed` is how the producer learns mid-run that it can stop.
private final class ConsumerReport: @unchecked Sendable {
    var received: UInt64 = 0
    var firstError: String? = nil { didSet { failed.store(true, ordering: .relaxed) } }
    var emptyPolls = 0
    let failed = Atomic<Bool>(false)
}

// MARK: two-thread stress

@Suite struct SPSCByteRingTests {
    /// Records per stress run: several million under TSan and in release; fewer in a plain
    /// debug build, where the unoptimised checksum loops dominate.
    static var stressRecords: UInt64 {
        #if DEBUG
        return underThreadSanitizer ? 4_000_000 : 4_000_000
        #else
        return 16_000_000
        #endif
    }

    /// One producer thread publishes variable-length records in variable batches; the
    /// consumer thread checks every record's kind, length, sequence number and checksum,
    /// and releases in variable batches. A small ring makes both sides meet full and empty
    /// constantly, which is where a missing acquire/release or a bad pad would show.
    @Test(arguments: [4096, 1 << 16])
    func twoThreadStress(capacity: Int) {
        let ring = SPSCByteRing(capacity: capacity)
        let total = SPSCByteRingTests.stressRecords
        let maxBody = ring.maxPayload - 16
        let report = ConsumerReport()

        let consumer = startThread {
            var expected: UInt64 = 0
            var sinceRelease = 0
            var releaseEvery = 1
            while expected < total {
                guard let (kind, payload) = ring.peek() else {
                    // Hand back what we hold before waiting, or a full producer deadlocks.
                    ring.release()
                    report.emptyPolls += 1
                    sched_yield()
                    continue
                }
                let seq = expected
                let length = bodyLength(seq, maxBody: maxBody)
                if payload.count != 16 + length {
                    report.firstError = "record \(seq): payload \(payload.count) bytes, expected \(16 + length)"
                    break
                }
                let seen = payload.load(as: UInt64.self)
                if seen != seq {
                    report.firstError = "record \(seq): sequence number \(seen)"
                    break
                }
                if kind != kindOf(seq) {
                    report.firstError = "record \(seq): kind \(kind)"
                    break
                }
                if checksum(payload.baseAddress! + 16, length) != payload.load(fromByteOffset: 8, as: UInt64.self) {
                    report.firstError = "record \(seq): checksum mismatch"
                    break
                }
                ring.advance()
                expected += 1
                sinceRelease += 1
                if sinceRelease >= releaseEvery {
                    ring.release()
                    sinceRelease = 0
                    releaseEvery = Int(mix(seq ^ 0x1234) % 48) + 1
                }
            }
            ring.release()
            report.received = expected
        }

        // Producer: this thread.
        var seq: UInt64 = 0
        var batch = 0
        var batchSize = 1
        var fullWaits = 0
        while seq < total {
            if seq % 1024 == 0 && report.failed.load(ordering: .relaxed) { break }
            let length = bodyLength(seq, maxBody: maxBody)
            guard let p = ring.reserve(kind: kindOf(seq), payloadLength: 16 + length) else {
                // Full: make everything visible so the consumer can free space, then wait.
                ring.publish()
                batch = 0
                fullWaits += 1
                sched_yield()
                continue
            }
            p.storeBytes(of: seq, as: UInt64.self)
            p.storeBytes(of: fill(p + 16, length, seq: seq), toByteOffset: 8, as: UInt64.self)
            seq += 1
            batch += 1
            if batch >= batchSize {
                ring.publish()
                batch = 0
                batchSize = Int(mix(seq ^ 0x4321) % 64) + 1
            }
        }
        ring.publish()
        pthread_join(consumer, nil)

        #expect(report.firstError == nil)
        #expect(report.received == total)
        // Everything was consumed and released: the producer sees an empty ring.
        #expect(ring.isDrainedByConsumer)
        #expect(ring.producerFreeSpace == ring.capacity)
        // The small ring must actually have been full and empty during the run, or the
        // test did not exercise the contended paths it is for.
        if capacity == 4096 {
            #expect(fullWaits > 0)
        }
    }

    // MARK: single-thread layout tests

    @Test func capacityRoundsUpToPowerOfTwoAtLeast4KiB() {
        #expect(SPSCByteRing(capacity: 1).capacity == 4096)
        #expect(SPSCByteRing(capacity: 4096).capacity == 4096)
        #expect(SPSCByteRing(capacity: 4097).capacity == 8192)
        #expect(SPSCByteRing(capacity: 5000).maxPayload == 2048)
    }

    @Test func unpublishedRecordsAreInvisible() throws {
        let ring = SPSCByteRing(capacity: 4096)
        #expect(ring.publish() == false)
        let p = try #require(ring.reserve(kind: 7, payloadLength: 3))
        p.storeBytes(of: (1, 2, 3) as (UInt8, UInt8, UInt8), as: (UInt8, UInt8, UInt8).self)
        #expect(ring.peek() == nil)
        #expect(!ring.hasPublishedRecords)
        #expect(ring.publish() == true)
        #expect(ring.publish() == false)
        #expect(ring.hasPublishedRecords)
        #expect(ring.consumerBacklog == 16)
        let (kind, payload) = try #require(ring.peek())
        #expect(kind == 7)
        #expect(Array(payload) == [1, 2, 3])
        ring.advance()
        #expect(ring.peek() == nil)
    }

    /// 64-byte records: exactly capacity/64 fit; the next waits for release(), not advance().
    @Test func fullRingRefusesUntilReleased() throws {
        let ring = SPSCByteRing(capacity: 4096)
        for i in 0..<64 {
            let p = try #require(ring.reserve(kind: 1, payloadLength: 56))
            p.storeBytes(of: UInt64(i), as: UInt64.self)
        }
        #expect(ring.reserve(kind: 1, payloadLength: 0) == nil)
        ring.publish()
        let (_, first) = try #require(ring.peek())
        #expect(first.load(as: UInt64.self) == 0)
        ring.advance()
        // Advanced but not released: the producer may not overwrite it yet.
        #expect(ring.reserve(kind: 1, payloadLength: 56) == nil)
        ring.release()
        #expect(ring.reserve(kind: 1, payloadLength: 56) != nil)
        #expect(ring.reserve(kind: 1, payloadLength: 0) == nil)
    }

    /// A record that does not fit before the end gets a pad record and starts at offset 0;
    /// the consumer never sees the pad.
    @Test func wrapAroundInsertsPadRecord() throws {
        let ring = SPSCByteRing(capacity: 4096)
        // Fill 4000 bytes (record size 4000), consume them, leaving 96 bytes to the end.
        _ = try #require(ring.reserve(kind: 1, payloadLength: 3992))
        ring.publish()
        _ = try #require(ring.peek())
        ring.advance()
        ring.release()
        // 200-byte payload: record size 208 > 96, so pad 96 then the record at offset 0.
        let p = try #require(ring.reserve(kind: 2, payloadLength: 200))
        #expect(p == ring.storage + SPSCByteRing.headerSize)
        for i in 0..<200 { p.storeBytes(of: UInt8(i), toByteOffset: i, as: UInt8.self) }
        ring.publish()
        #expect(ring.consumerBacklog == 96 + 208)
        let (kind, payload) = try #require(ring.peek())
        #expect(kind == 2)
        #expect(payload.baseAddress == UnsafeRawPointer(p))
        #expect(Array(payload) == (0..<200).map { UInt8($0) })
        ring.advance()
        ring.release()
        #expect(ring.peek() == nil)
        #expect(ring.isDrainedByConsumer)
    }

    /// A record that ends exactly at the end of the buffer needs no pad.
    @Test func recordEndingExactlyAtTheEndHasNoPad() throws {
        let ring = SPSCByteRing(capacity: 4096)
        _ = try #require(ring.reserve(kind: 1, payloadLength: 3992))   // 4000 bytes
        let p = try #require(ring.reserve(kind: 2, payloadLength: 88))  // 96 bytes: up to 4096
        #expect(p == ring.storage + 4000 + SPSCByteRing.headerSize)
        ring.publish()
        #expect(ring.consumerBacklog == 4096)
        _ = try #require(ring.peek()); ring.advance()
        let (kind, payload) = try #require(ring.peek())
        #expect(kind == 2 && payload.count == 88)
        ring.advance()
        ring.release()
        // The next record starts at offset 0 with no pad in between.
        let q = try #require(ring.reserve(kind: 3, payloadLength: 1))
        #expect(q == ring.storage + SPSCByteRing.headerSize)
    }

    /// Only 8 bytes left before the end: the pad record is a bare header (length 0).
    @Test func padRecordWithEmptyBody() throws {
        let ring = SPSCByteRing(capacity: 4096)
        _ = try #require(ring.reserve(kind: 1, payloadLength: 4080))   // 4088 bytes
        ring.publish()
        _ = try #require(ring.peek()); ring.advance(); ring.release()
        let p = try #require(ring.reserve(kind: 9, payloadLength: 8))
        p.storeBytes(of: 0xDEAD_BEEF as UInt64, as: UInt64.self)
        #expect(p == ring.storage + SPSCByteRing.headerSize)
        ring.publish()
        let (kind, payload) = try #require(ring.peek())
        #expect(kind == 9)
        #expect(payload.load(as: UInt64.self) == 0xDEAD_BEEF)
    }

    /// The pad counts against free space: a record that fits in the total free space but
    /// not in (space at the end) + (space released at the start) is refused.
    @Test func padNeedsSpaceToo() throws {
        let ring = SPSCByteRing(capacity: 4096)
        _ = try #require(ring.reserve(kind: 1, payloadLength: 1992))   // [0, 2000)
        _ = try #require(ring.reserve(kind: 1, payloadLength: 1992))   // [2000, 4000)
        ring.publish()
        _ = try #require(ring.peek()); ring.advance(); ring.release()  // frees [0, 2000)
        // Free: 96 at the end + 2000 at the start. A 2008-byte record needs 96 + 2008.
        #expect(ring.reserve(kind: 2, payloadLength: 2000) == nil)
        // 1992 + 8 = 2000 bytes, plus the 96-byte pad = 2096 = all free space: fits.
        #expect(ring.reserve(kind: 2, payloadLength: 1992) != nil)
    }

    @Test func shrinkLastReturnsSpace() throws {
        let ring = SPSCByteRing(capacity: 4096)
        let p = try #require(ring.reserve(kind: 4, payloadLength: 1000))
        ring.shrinkLast(payload: p, from: 1000, to: 5)
        let q = try #require(ring.reserve(kind: 5, payloadLength: 0))
        #expect(q == p + 8 + SPSCByteRing.headerSize)   // 5 bytes round up to 8
        ring.publish()
        #expect(ring.consumerBacklog == 16 + 8)
        let (k1, first) = try #require(ring.peek())
        #expect(k1 == 4 && first.count == 5)
        ring.advance()
        let (k2, second) = try #require(ring.peek())
        #expect(k2 == 5 && second.count == 0)
    }

    /// Many passes around a small ring with odd sizes, checked in one thread, so a layout
    /// bug shows up deterministically rather than only under a race.
    @Test func manyWrapsSingleThread() throws {
        let ring = SPSCByteRing(capacity: 4096)
        let maxBody = ring.maxPayload - 16
        var produced: UInt64 = 0
        var consumed: UInt64 = 0
        while consumed < 200_000 {
            while let p = ring.reserve(kind: kindOf(produced), payloadLength: 16 + bodyLength(produced, maxBody: maxBody)) {
                let length = bodyLength(produced, maxBody: maxBody)
                p.storeBytes(of: produced, as: UInt64.self)
                p.storeBytes(of: fill(p + 16, length, seq: produced), toByteOffset: 8, as: UInt64.self)
                produced += 1
                if produced % 7 == 0 { break }
            }
            ring.publish()
            var n = 0
            while let (kind, payload) = ring.peek() {
                let length = bodyLength(consumed, maxBody: maxBody)
                try #require(payload.count == 16 + length)
                try #require(payload.load(as: UInt64.self) == consumed)
                try #require(kind == kindOf(consumed))
                try #require(checksum(payload.baseAddress! + 16, length) == payload.load(fromByteOffset: 8, as: UInt64.self))
                // Payloads are contiguous inside the buffer.
                try #require(payload.baseAddress! + payload.count <= UnsafeRawPointer(ring.storage + ring.capacity))
                ring.advance()
                consumed += 1
                n += 1
                if n % 5 == 0 { break }
            }
            ring.release()
        }
        #expect(consumed == 200_000)
    }
}
