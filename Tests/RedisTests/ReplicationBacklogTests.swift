import Testing
@testable import Redis

/// The backlog against a model: the whole stream kept in an array, of which the backlog
/// must hold exactly the last `capacity` bytes at the right offsets.
struct ReplicationBacklogTests {
    func held(_ b: ReplicationBacklog, from offset: Int64) -> [UInt8] {
        var out: [UInt8] = []
        b.forEachPiece(from: offset) { out += Array($0) }
        return out
    }

    @Test func startsEmptyAtTheNextOffset() {
        let b = ReplicationBacklog(capacity: 16, nextOffset: 101)
        #expect(b.firstByteOffset == 101 && b.historyLength == 0 && b.nextOffset == 101)
        #expect(b.contains(offset: 101))
        #expect(!b.contains(offset: 100) && !b.contains(offset: 102))
        #expect(held(b, from: 101).isEmpty)
    }

    @Test func wrapsAndKeepsTheNewestBytesWithTheirOffsets() {
        let capacity = 37
        let b = ReplicationBacklog(capacity: capacity, nextOffset: 1)
        var stream: [UInt8] = []
        var g = SystemRandomNumberGenerator()
        for round in 0..<200 {
            // Appends of every size, including larger than the whole backlog.
            let n = round % 50 == 49 ? 100 : Int.random(in: 0...20, using: &g)
            let chunk = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            chunk.withUnsafeBytes { b.append($0) }
            stream += chunk
            let kept = min(stream.count, capacity)
            #expect(b.historyLength == kept)
            #expect(b.nextOffset == Int64(stream.count) + 1)
            #expect(b.firstByteOffset == Int64(stream.count - kept) + 1)
            // Every offset the backlog claims yields exactly the stream's tail from there.
            for from in b.firstByteOffset...b.nextOffset {
                #expect(held(b, from: from) == Array(stream[Int(from - 1)...]))
            }
            #expect(!b.contains(offset: b.firstByteOffset - 1) || b.firstByteOffset == 1)
            #expect(!b.contains(offset: b.nextOffset + 1))
        }
    }

    @Test func resizeKeepsTheNewestHistoryThatFits() {
        let b = ReplicationBacklog(capacity: 10, nextOffset: 1)
        let stream = (0..<25).map { UInt8($0) }
        stream.withUnsafeBytes { b.append($0) }
        b.resize(to: 4)
        #expect(b.capacity == 4 && b.historyLength == 4 && b.firstByteOffset == 22)
        #expect(held(b, from: 22) == [21, 22, 23, 24])
        b.resize(to: 8)
        #expect(b.historyLength == 4 && held(b, from: 22) == [21, 22, 23, 24])
        [UInt8](arrayLiteral: 25, 26, 27, 28, 29).withUnsafeBytes { b.append($0) }
        #expect(b.firstByteOffset == 23 && held(b, from: 23) == Array(22...29))
    }
}
