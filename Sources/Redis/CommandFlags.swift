/// Command flags as redis 7.0 reports them in COMMAND INFO (server.c `addCommandFlags`).
/// The generated specs (CommandSpecs.generated.swift) set these from redis' own reply, so the
/// dispatcher and COMMAND INFO cannot disagree. `names` lists the reply text of each flag in
/// the order redis prints them; scripts/gen-command-metadata.py keeps the same mapping.
struct CommandFlags: OptionSet, Sendable {
    let rawValue: UInt32

    static let write           = CommandFlags(rawValue: 1 << 0)   // "write"
    static let readonly        = CommandFlags(rawValue: 1 << 1)   // "readonly"
    static let denyoom         = CommandFlags(rawValue: 1 << 2)   // "denyoom"
    static let module          = CommandFlags(rawValue: 1 << 3)   // "module"
    static let admin           = CommandFlags(rawValue: 1 << 4)   // "admin"
    static let pubsub          = CommandFlags(rawValue: 1 << 5)   // "pubsub"
    static let noscript        = CommandFlags(rawValue: 1 << 6)   // "noscript"
    static let blocking        = CommandFlags(rawValue: 1 << 7)   // "blocking"
    static let loading         = CommandFlags(rawValue: 1 << 8)   // "loading"
    static let stale           = CommandFlags(rawValue: 1 << 9)   // "stale"
    static let skipMonitor     = CommandFlags(rawValue: 1 << 10)  // "skip_monitor"
    static let skipSlowlog     = CommandFlags(rawValue: 1 << 11)  // "skip_slowlog"
    static let asking          = CommandFlags(rawValue: 1 << 12)  // "asking"
    static let fast            = CommandFlags(rawValue: 1 << 13)  // "fast"
    static let noAuth          = CommandFlags(rawValue: 1 << 14)  // "no_auth"
    static let noMandatoryKeys = CommandFlags(rawValue: 1 << 15)  // "no_mandatory_keys"
    static let noAsyncLoading  = CommandFlags(rawValue: 1 << 16)  // "no_async_loading"
    static let noMulti         = CommandFlags(rawValue: 1 << 17)  // "no_multi"
    static let movableKeys     = CommandFlags(rawValue: 1 << 18)  // "movablekeys"
    static let allowBusy       = CommandFlags(rawValue: 1 << 19)  // "allow_busy"
    /// Redis has CMD_MAY_REPLICATE but hides it from COMMAND INFO, so the generator can never
    /// set it; set it by hand in the dispatch table if a command needs it.
    static let mayReplicate    = CommandFlags(rawValue: 1 << 20)

    /// Reply text of every reported flag, in redis' printing order.
    static let names: [(name: String, flag: CommandFlags)] = [
        ("write", .write), ("readonly", .readonly), ("denyoom", .denyoom), ("module", .module),
        ("admin", .admin), ("pubsub", .pubsub), ("noscript", .noscript), ("blocking", .blocking),
        ("loading", .loading), ("stale", .stale), ("skip_monitor", .skipMonitor),
        ("skip_slowlog", .skipSlowlog), ("asking", .asking), ("fast", .fast),
        ("no_auth", .noAuth), ("no_mandatory_keys", .noMandatoryKeys),
        ("no_async_loading", .noAsyncLoading), ("no_multi", .noMulti),
        ("movablekeys", .movableKeys), ("allow_busy", .allowBusy),
    ]
}
