// Temporary definitions until the branches that implement them are merged.
let clientCommands: [(String, CommandHandler)] = []
let keyCommands: [(String, CommandHandler)] = []
let expireCommands: [(String, CommandHandler)] = []

func stringMatch(_ pattern: UnsafeRawBufferPointer, _ string: UnsafeRawBufferPointer, nocase: Bool) -> Bool { false }
func formatLongDouble(_ v: Float80, humanFriendly: Bool) -> [UInt8] { [] }
func parseLongDouble(_ s: UnsafeRawBufferPointer) -> Float80? { nil }
