import Testing
@testable import Redis

private func spec(_ name: String) -> GeneratedCommandSpec? {
    let parts = name.split(separator: "|").map(String.init)
    guard let top = generatedCommandSpecs.first(where: { $0.name == parts[0] }) else { return nil }
    return parts.count == 1 ? top : top.subcommands.first(where: { $0.name == name })
}

private func text(_ s: StaticString) -> String {
    String(decoding: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
}

/// Flag names listed in a COMMAND INFO element: `*10, $n, name, :arity, *F, +flag...`.
private func flagNames(inInfo info: StaticString) -> [String] {
    let lines = text(info).split(separator: "\r\n", omittingEmptySubsequences: false)  // "\r\n" is one Character
    guard lines.count > 4, lines[4].hasPrefix("*"), let n = Int(lines[4].dropFirst()) else { return [] }
    return lines[5..<(5 + n)].map { String($0.dropFirst()) }
}

@Suite struct CommandSpecsTests {
    @Test func dispatchFieldsMatchRedis() throws {
        let get = try #require(spec("get"))
        #expect(get.arity == 2)
        #expect(get.flags == [.readonly, .fast])
        #expect((get.firstKey, get.lastKey, get.keyStep) == (1, 1, 1))

        let set = try #require(spec("set"))
        #expect(set.arity == -3)
        #expect(set.flags.contains([.write, .denyoom]))

        let del = try #require(spec("del"))
        #expect((del.firstKey, del.lastKey, del.keyStep) == (1, -1, 1))

        let mset = try #require(spec("mset"))
        #expect((mset.firstKey, mset.lastKey, mset.keyStep) == (1, -1, 2))

        #expect(try #require(spec("client|list")).arity == -2)
        #expect(try #require(spec("config|get")).flags.contains(.admin))
        #expect(spec("nosuchcommand") == nil)
    }

    @Test func topLevelSortedAndUnique() {
        let names = generatedCommandSpecs.map(\.name)
        #expect(names == names.sorted())
        #expect(Set(names).count == names.count)
        #expect(!names.contains { $0.contains("|") })
    }

    @Test func subcommandsFilteredToImplemented() throws {
        let client = try #require(spec("client"))
        #expect(client.subcommands.map(\.name) ==
                ["client|getname", "client|getredir", "client|help", "client|id", "client|info", "client|kill",
                 "client|list", "client|no-evict", "client|pause", "client|reply", "client|setname", "client|unpause"])
        // COMMAND INFO client ends with the trimmed subcommand array, not redis' full 16.
        #expect(text(client.info).contains("\r\n*0\r\n*0\r\n*12\r\n*10\r\n$14\r\nclient|getname\r\n"))
        #expect(!text(client.info).contains("client|tracking"))
        #expect(!text(client.docs).contains("client|tracking"))
        #expect(text(client.docs).contains("$11\r\nsubcommands\r\n*24\r\n$14\r\nclient|getname\r\n"))

        let object = try #require(spec("object"))
        #expect(object.subcommands.map(\.name) == ["object|encoding", "object|freq", "object|help", "object|idletime",
                                                   "object|refcount"])
        #expect(spec("get")?.subcommands.isEmpty == true)
    }

    @Test func embeddedRepliesAreRESPArraysNamingTheCommand() {
        for top in generatedCommandSpecs {
            for s in [top] + top.subcommands {
                let info = text(s.info), docs = text(s.docs)
                #expect(info.hasPrefix("*10\r\n$\(s.name.utf8.count)\r\n\(s.name)\r\n:\(s.arity)\r\n"),
                        "\(s.name) info")
                #expect(docs.hasPrefix("*"), "\(s.name) docs")
                #expect(info.hasSuffix("\r\n") && docs.hasSuffix("\r\n"))
            }
        }
    }

    @Test func flagsAgreeWithInfoBytes() {
        let table = Dictionary(uniqueKeysWithValues: CommandFlags.names.map { ($0.name, $0.flag) })
        for top in generatedCommandSpecs {
            for s in [top] + top.subcommands {
                let names = flagNames(inInfo: s.info)
                var flags: CommandFlags = []
                for n in names {
                    #expect(table[n] != nil, "unknown flag \(n) in \(s.name)")
                    flags.formUnion(table[n] ?? [])
                }
                #expect(flags == s.flags, "\(s.name): \(names)")
            }
        }
    }
}
