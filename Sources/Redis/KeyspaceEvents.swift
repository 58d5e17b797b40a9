/// Keyspace notifications (Redis 7.0's notify.c): with `notify-keyspace-events` set, every
/// change publishes `__keyspace@<db>__:<key>` -> event and `__keyevent@<db>__:<event>` ->
/// key through the ordinary pub/sub path.

/// Notification classes, Redis's NOTIFY_* bits (the config string's letters).
enum NotifyClass {
    static let keyspace = 1 << 0    // K
    static let keyevent = 1 << 1    // E
    static let generic = 1 << 2     // g
    static let string = 1 << 3      // $
    static let list = 1 << 4        // l
    static let set = 1 << 5         // s
    static let hash = 1 << 6        // h
    static let zset = 1 << 7        // z
    static let expired = 1 << 8     // x
    static let evicted = 1 << 9     // e
    static let stream = 1 << 10     // t
    static let keyMiss = 1 << 11    // m, not part of A
    static let module = 1 << 13     // d
    static let new = 1 << 14        // n, not part of A
    static let all = generic | string | list | set | hash | zset | expired | evicted | stream | module

    /// keyspaceEventsStringToFlags: nil for a character that names no class.
    static func parse(_ text: String) -> Int? {
        var flags = 0
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "A"): flags |= all
            case UInt8(ascii: "g"): flags |= generic
            case UInt8(ascii: "$"): flags |= string
            case UInt8(ascii: "l"): flags |= list
            case UInt8(ascii: "s"): flags |= set
            case UInt8(ascii: "h"): flags |= hash
            case UInt8(ascii: "z"): flags |= zset
            case UInt8(ascii: "x"): flags |= expired
            case UInt8(ascii: "e"): flags |= evicted
            case UInt8(ascii: "K"): flags |= keyspace
            case UInt8(ascii: "E"): flags |= keyevent
            case UInt8(ascii: "t"): flags |= stream
            case UInt8(ascii: "m"): flags |= keyMiss
            case UInt8(ascii: "d"): flags |= module
            case UInt8(ascii: "n"): flags |= new
            default: return nil
            }
        }
        return flags
    }

    /// keyspaceEventsFlagsToString: what CONFIG GET prints, in Redis's letter order.
    static func format(_ flags: Int) -> String {
        var s = ""
        if flags & all == all {
            s += "A"
        } else {
            let letters: [(Int, String)] = [(generic, "g"), (string, "$"), (list, "l"), (set, "s"), (hash, "h"),
                                            (zset, "z"), (expired, "x"), (evicted, "e"), (stream, "t"),
                                            (module, "d"), (new, "n")]
            for (bit, letter) in letters where flags & bit != 0 { s += letter }
        }
        if flags & keyspace != 0 { s += "K" }
        if flags & keyevent != 0 { s += "E" }
        if flags & keyMiss != 0 { s += "m" }
        return s
    }
}

extension Engine {
    /// Redis's notifyKeyspaceEvent for `key` in the current database. With notifications
    /// off (the default) this is one load and one branch; nothing is built.
    @inline(__always)
    func notify(_ type: Int, _ event: StaticString, _ key: UnsafeRawBufferPointer) {
        if config.notifyKeyspaceEvents & type != 0 { publishKeyspaceEvent(event, key, database: db.index) }
    }

    @inline(__always)
    func notify(_ type: Int, _ event: StaticString, _ key: [UInt8]) {
        if config.notifyKeyspaceEvents & type != 0 {
            key.withUnsafeBytes { publishKeyspaceEvent(event, $0, database: db.index) }
        }
    }

    /// The same for a key of database `database` (MOVE, COPY ... DB, expiry of another db).
    @inline(__always)
    func notify(_ type: Int, _ event: StaticString, _ key: UnsafeRawBufferPointer, database: Int) {
        if config.notifyKeyspaceEvents & type != 0 { publishKeyspaceEvent(event, key, database: database) }
    }

    /// A read found no key: the "keymiss" event (m). Not for a blocked command looking
    /// again, which Redis serves without a lookup.
    @inline(never)
    func keyMissed(_ key: UnsafeRawBufferPointer) {
        if let c = client, c.blockState != nil { return }
        publishKeyspaceEvent("keymiss", key, database: db.index)
    }

    /// A key was removed to free memory: the "evicted" event, for the eviction policy.
    func keyEvicted(_ key: UnsafeRawBufferPointer, database: Int) {
        notify(NotifyClass.evicted, "evicted", key, database: database)
    }

    /// Publishes one event on the channels the K and E classes ask for.
    @inline(never)
    func publishKeyspaceEvent(_ event: StaticString, _ key: UnsafeRawBufferPointer, database: Int) {
        let flags = config.notifyKeyspaceEvents
        let eventBytes = UnsafeRawBufferPointer(start: event.utf8Start, count: event.utf8CodeUnitCount)
        let dbText = Array(String(database).utf8)
        if flags & NotifyClass.keyspace != 0 {
            var channel = Array("__keyspace@".utf8) + dbText + Array("__:".utf8)
            channel.append(contentsOf: key)
            channel.withUnsafeBytes { _ = publish(channel: $0, message: eventBytes) }
        }
        if flags & NotifyClass.keyevent != 0 {
            var channel = Array("__keyevent@".utf8) + dbText + Array("__:".utf8)
            channel.append(contentsOf: eventBytes)
            channel.withUnsafeBytes { _ = publish(channel: $0, message: key) }
        }
    }
}
