/// A hash value: fields and their values as bytes.
///
/// Redis keeps a small hash in a listpack (insertion order, O(n) lookups) and converts it
/// for good to a hash table once it holds more than `hash-max-listpack-entries` fields or a
/// field or value longer than `hash-max-listpack-value` bytes. Here both encodings are the
/// same hash table; the "listpack" one keeps insertion order and shifts on deletion, so
/// HGETALL, HKEYS, HSCAN and OBJECT ENCODING answer exactly as Redis does.
final class HashValue: KeyspaceObject {
    @exclusivity(unchecked) var table: ByteStringTable
    @exclusivity(unchecked) var random: FastRandom

    /// hash-max-listpack-entries and hash-max-listpack-value as configured now (defaults
    /// 512 and 64, redis-server 7.0's built-in ones), read at each decision to convert.
    @inline(__always) static var maxListpackEntries: Int { encodingLimits.hashMaxListpackEntries }
    @inline(__always) static var maxListpackValue: Int { encodingLimits.hashMaxListpackValue }

    /// The object itself, as counted in `valueMemoryCounter` (its table counts its own blocks).
    @inline(__always) private static var objectBytes: Int { 112 }

    /// An empty hash, listpack-encoded like a new Redis hash.
    init(capacity: Int = 4) {
        table = ByteStringTable(ordered: true, capacity: capacity)
        random = FastRandom(seed: 0)
        random = FastRandom(for: self)
        addValueMemory(HashValue.objectBytes)
    }

    private init(table: ByteStringTable) {
        self.table = table
        random = FastRandom(seed: 0)
        random = FastRandom(for: self)
        addValueMemory(HashValue.objectBytes)
    }

    deinit {
        table.deallocate()
        addValueMemory(-HashValue.objectBytes)
    }

    var count: Int { table.count }
    var isListpack: Bool { table.ordered }

    func duplicate() -> AnyObject { HashValue(table: table.copy()) }

    var encodingName: StaticString { isListpack ? "listpack" : "hashtable" }

    /// Converts to the hashtable encoding (one way, as in Redis).
    @inline(__always)
    func convertToHashtable() { table.becomeUnordered() }

    /// Sets `field` to `value`; returns whether the field is new. Converts to a hashtable
    /// when either is too long or the field count is past the listpack limit (hashTypeSet
    /// checks the count after an update too, which matters once the limit was lowered).
    @inline(__always)
    @discardableResult
    func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, hash: UInt64) -> Bool {
        if isListpack && (field.count > HashValue.maxListpackValue || value.count > HashValue.maxListpackValue) {
            convertToHashtable()
        }
        var added = false
        if let p = table.find(field, hash: hash) {
            table.setValue(at: p, value)
        } else {
            table.insert(field, value: value, hash: hash)
            added = true
        }
        if isListpack && table.count > HashValue.maxListpackEntries { convertToHashtable() }
        return added
    }

    /// The value of `field`, or nil.
    @inline(__always)
    func get(_ field: UnsafeRawBufferPointer, hash: UInt64) -> UnsafeRawBufferPointer? {
        guard let p = table.find(field, hash: hash) else { return nil }
        return table.value(at: p)
    }

    /// Removes `field`; returns whether it was there.
    @inline(__always)
    func remove(_ field: UnsafeRawBufferPointer, hash: UInt64) -> Bool { table.remove(field, hash: hash) }

    /// Calls `body` with every field and value, in listpack order for a listpack hash.
    func forEach(_ body: (_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void) {
        table.forEach(body)
    }

    /// A hash loaded from an RDB file, in the encoding Redis 7.0 gives it under the limits
    /// in force: a listpack in the file's order unless there are too many fields or one
    /// field or value is too long.
    static func loaded(_ pairs: [([UInt8], [UInt8])], hasher: KeyHasher) -> HashValue {
        let h = HashValue(capacity: pairs.count)
        if pairs.count > maxListpackEntries { h.convertToHashtable() }
        for (f, v) in pairs {
            f.withUnsafeBytes { fb in v.withUnsafeBytes { _ = h.set(fb, $0, hash: hasher.hash(fb)) } }
        }
        return h
    }

    /// The RDB form: field/value pairs, in listpack order for a listpack hash.
    var rdbValue: RDBValue {
        var pairs: [([UInt8], [UInt8])] = []
        pairs.reserveCapacity(count)
        forEach { pairs.append((Array($0), Array($1))) }
        return .hash(pairs)
    }
}
