/// The encoding thresholds of redis.conf (hash-max-listpack-entries and the rest), as plain
/// Ints the value types compare against when they decide to convert.
///
/// They live in one process-wide variable, `encodingLimits`, written by the config
/// directives (start-up and CONFIG SET) and read by the value types on the keyspace thread,
/// which is the only thread that runs commands or loads RDB files. A global rather than a
/// field of the engine so that the value types and the RDB loader need no extra argument:
/// with a constant initializer and `@exclusivity(unchecked)` each read compiles to one load
/// (no lazy-initialization check, no exclusivity check), which keeps HSET/SADD/ZADD/XADD
/// as cheap as with the fixed constants.
struct EncodingLimits {
    /// hash-max-listpack-entries / hash-max-listpack-value.
    var hashMaxListpackEntries = 512
    var hashMaxListpackValue = 64
    /// set-max-intset-entries.
    var setMaxIntsetEntries = 512
    /// zset-max-listpack-entries / zset-max-listpack-value.
    var zsetMaxListpackEntries = 128
    var zsetMaxListpackValue = 64
    /// list-max-listpack-size: negative -1..-5 is a byte limit per node (4 KB .. 64 KB),
    /// positive an entry count per node. Read when a list is created, as Redis reads it
    /// into each new quicklist.
    var listMaxListpackSize = -2
    /// list-compress-depth: accepted and reported; nodes are never compressed here.
    var listCompressDepth = 0
    /// stream-node-max-bytes / stream-node-max-entries (0: no limit of that kind).
    var streamNodeMaxBytes = 4096
    var streamNodeMaxEntries = 100
    /// hll-sparse-max-bytes: the longest a sparse HyperLogLog string grows before it is
    /// turned dense.
    var hllSparseMaxBytes = 3000

    /// The intset limit as t_set.c applies it: at most 2^30 entries whatever the setting.
    @inline(__always) var effectiveSetMaxIntsetEntries: Int { min(setMaxIntsetEntries, 1 << 30) }

    /// The byte limit of a stream node: 0 or more than 1 GB means 1 GB (STREAM_LISTPACK_MAX_SIZE).
    @inline(__always) var effectiveStreamNodeMaxBytes: Int {
        streamNodeMaxBytes == 0 || streamNodeMaxBytes > 1 << 30 ? 1 << 30 : streamNodeMaxBytes
    }

    /// A new list's node limits from list-max-listpack-size, as quicklistSetFill clamps it
    /// (-5 ... 32768): negative sizes give a byte limit and no count limit; counts keep
    /// quicklist's 8 KB safety limit on bytes, and 0 allows one element per node.
    var listNodeLimits: (bytes: Int, count: Int) {
        let fill = max(-5, min(listMaxListpackSize, 1 << 15))
        if fill < 0 { return (4096 << (-fill - 1), Int(Int32.max)) }
        return (8192, max(1, fill))
    }
}

/// The thresholds in force (see `EncodingLimits`).
@exclusivity(unchecked) nonisolated(unsafe) var encodingLimits = EncodingLimits()
