// Temporary definitions until the branches that implement them are merged.
let clientCommands: [(String, CommandHandler)] = []
let keyCommands: [(String, CommandHandler)] = []
let expireCommands: [(String, CommandHandler)] = []

