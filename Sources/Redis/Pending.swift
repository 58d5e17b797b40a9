// Temporary definitions until the branches that implement them are merged.

struct CommandFlags: OptionSet { let rawValue: UInt32 }
struct GeneratedCommandSpec {
    let name: String
    let arity: Int
    let flags: CommandFlags
    let firstKey: Int, lastKey: Int, keyStep: Int
    let info: StaticString
    let docs: StaticString
    let subcommands: [GeneratedCommandSpec]
}
let generatedCommandSpecs: [GeneratedCommandSpec] = {
    var names = Set<String>()
    for f in [connectionCommands, serverCommands, clientCommands, keyCommands, expireCommands, stringCommands] {
        for (n, _) in f { names.insert(n) }
    }
    var top: [String: [GeneratedCommandSpec]] = [:]
    for n in names {
        let parts = n.split(separator: "|").map(String.init)
        if parts.count == 2 {
            top[parts[0], default: []].append(.init(name: n, arity: -2, flags: [], firstKey: 0, lastKey: 0, keyStep: 0, info: "", docs: "", subcommands: []))
        } else if top[n] == nil { top[n] = [] }
    }
    return top.keys.sorted().map { .init(name: $0, arity: -1, flags: [], firstKey: 0, lastKey: 0, keyStep: 0, info: "", docs: "", subcommands: top[$0]!) }
}()
func formatLongDouble(_ v: Float80, humanFriendly: Bool) -> [UInt8] { [] }
func parseLongDouble(_ s: UnsafeRawBufferPointer) -> Float80? { nil }
