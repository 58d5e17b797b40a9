import Reactor

/// Channels, shard channels and patterns with their subscribers (Redis's
/// server.pubsub_channels, server.pubsubshard_channels and server.pubsub_patterns).
/// Subscribers are kept in subscription order, which is the order a PUBLISH delivers in.
struct PubSubState {
    var channels: [[UInt8]: [Client]] = [:]
    var shardChannels: [[UInt8]: [Client]] = [:]
    var patterns: [[UInt8]: [Client]] = [:]
}

/// SUBSCRIBE's channels or SSUBSCRIBE's shard channels: the same bookkeeping over two
/// separate namespaces, with their own confirmation words and counts (Redis 7.0's
/// pubSubType and pubSubShardType).
enum ChannelKind {
    case global, shard
}

/// One client's subscriptions. A client holds this only while it has at least one
/// subscription: that is Redis's CLIENT_PUBSUB flag, and dispatch tests it with one load.
final class Subscriptions {
    @exclusivity(unchecked) var channels: Set<[UInt8]> = []
    /// In subscription order, as Redis's per-client pattern list.
    @exclusivity(unchecked) var patterns: [[UInt8]] = []
    /// Channels in subscription order, for UNSUBSCRIBE without arguments.
    @exclusivity(unchecked) var channelOrder: [[UInt8]] = []
    @exclusivity(unchecked) var shardChannels: Set<[UInt8]> = []
    /// Shard channels in subscription order, for SUNSUBSCRIBE without arguments.
    @exclusivity(unchecked) var shardOrder: [[UInt8]] = []

    /// The count SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE and PUNSUBSCRIBE confirm with:
    /// channels and patterns, shard channels not included (clientSubscriptionsCount).
    var count: Int { channels.count + patterns.count }
    /// The count SSUBSCRIBE and SUNSUBSCRIBE confirm with (clientShardSubscriptionsCount).
    var shardCount: Int { shardChannels.count }
    /// Nothing left at all: the client leaves pub/sub mode.
    var isEmpty: Bool { channels.isEmpty && patterns.isEmpty && shardChannels.isEmpty }

    func count(of kind: ChannelKind) -> Int { kind == .global ? count : shardCount }
}

extension Engine {
    /// Drops every subscription of `c` without confirming any (a closing connection, RESET).
    func pubsubClientClosed(_ c: Client) {
        guard let s = c.subscriptions else { return }
        for ch in s.channelOrder { removeSubscriber(c, from: &pubsub.channels, ch) }
        for ch in s.shardOrder { removeSubscriber(c, from: &pubsub.shardChannels, ch) }
        for p in s.patterns { removeSubscriber(c, from: &pubsub.patterns, p) }
        c.subscriptions = nil
    }

    private func removeSubscriber(_ c: Client, from table: inout [[UInt8]: [Client]], _ name: [UInt8]) {
        guard var list = table[name] else { return }
        list.removeAll { $0 === c }
        table[name] = list.isEmpty ? nil : list
    }

    /// The running client's subscriptions, created (and its connection moved to the pubsub
    /// output-buffer class) on the first one.
    private func subscriptionsForAdding() -> Subscriptions {
        if let s = client.subscriptions { return s }
        let s = Subscriptions()
        client.subscriptions = s
        staging[client.reactor].control(kind: ReplyRecord.limitClassPubSub, token: client.token)
        return s
    }

    /// After an unsubscribe: a client with nothing left (channels, shard channels and
    /// patterns together) leaves pub/sub mode.
    private func leavePubSubIfEmpty() {
        guard let s = client.subscriptions, s.isEmpty else { return }
        leavePubSub(client)
    }

    /// `c` has no subscription left: back to a normal client and output-buffer class.
    func leavePubSub(_ c: Client) {
        pubsubClientClosed(c)
        staging[c.reactor].control(kind: ReplyRecord.limitClassNormal, token: c.token)
    }

    /// "*n" in RESP2, ">n" (push) in RESP3: the header of every pub/sub message.
    @inline(__always)
    func replyPushHeader(_ n: Int) {
        if resp3 {
            replyRaw(">")
            replyRaw(Array(String(n).utf8))
            replyRaw("\r\n")
        } else {
            replyArrayHeader(n)
        }
    }

    /// One subscribe/unsubscribe confirmation: kind, name (null when there was nothing to
    /// unsubscribe from), and the client's count of that family after it.
    private func replySubscription(_ kind: StaticString, _ name: UnsafeRawBufferPointer?, count: Int) {
        replyPushHeader(3)
        replyRaw("$")
        replyRaw(Array(String(kind.utf8CodeUnitCount).utf8))
        replyRaw("\r\n")
        replyRaw(kind)
        replyRaw("\r\n")
        if let name { replyBulk(name) } else { replyNull() }
        replyInteger(count)
    }

    /// SUBSCRIBE channel [channel ...]
    func subscribe(_ a: Arguments) {
        subscribeChannels(a, .global)
    }

    /// SSUBSCRIBE shardchannel [shardchannel ...]. Refused inside EXEC, unlike SUBSCRIBE
    /// which Redis keeps allowing there for compatibility (its CLIENT_DENY_BLOCKING test).
    func ssubscribe(_ a: Arguments) {
        if transactions.executingTransaction {
            replyError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
            return
        }
        subscribeChannels(a, .shard)
    }

    private func subscribeChannels(_ a: Arguments, _ kind: ChannelKind) {
        let s = subscriptionsForAdding()
        for i in 1..<a.count {
            let ch = Array(a[i])
            switch kind {
            case .global:
                if s.channels.insert(ch).inserted {
                    s.channelOrder.append(ch)
                    pubsub.channels[ch, default: []].append(client)
                }
                replySubscription("subscribe", a[i], count: s.count)
            case .shard:
                if s.shardChannels.insert(ch).inserted {
                    s.shardOrder.append(ch)
                    pubsub.shardChannels[ch, default: []].append(client)
                }
                replySubscription("ssubscribe", a[i], count: s.shardCount)
            }
        }
    }

    /// PSUBSCRIBE pattern [pattern ...]
    func psubscribe(_ a: Arguments) {
        let s = subscriptionsForAdding()
        for i in 1..<a.count {
            let p = Array(a[i])
            if !s.patterns.contains(p) {
                s.patterns.append(p)
                pubsub.patterns[p, default: []].append(client)
            }
            replySubscription("psubscribe", a[i], count: s.count)
        }
    }

    /// UNSUBSCRIBE [channel ...]: without arguments, from every channel (and a null
    /// confirmation when there was none).
    func unsubscribe(_ a: Arguments) {
        unsubscribeChannels(a, .global)
    }

    /// SUNSUBSCRIBE [shardchannel ...], the same over shard channels.
    func sunsubscribe(_ a: Arguments) {
        unsubscribeChannels(a, .shard)
    }

    private func unsubscribeChannels(_ a: Arguments, _ kind: ChannelKind) {
        let c = client!
        let word: StaticString = kind == .global ? "unsubscribe" : "sunsubscribe"
        if a.count == 1 {
            let names = (kind == .global ? c.subscriptions?.channelOrder : c.subscriptions?.shardOrder) ?? []
            if names.isEmpty { replySubscription(word, nil, count: c.subscriptions?.count(of: kind) ?? 0) }
            for ch in names {
                unsubscribeChannel(ch, kind)
                ch.withUnsafeBytes { replySubscription(word, $0, count: c.subscriptions?.count(of: kind) ?? 0) }
            }
        } else {
            for i in 1..<a.count {
                unsubscribeChannel(Array(a[i]), kind)
                replySubscription(word, a[i], count: c.subscriptions?.count(of: kind) ?? 0)
            }
        }
        leavePubSubIfEmpty()
    }

    /// PUNSUBSCRIBE [pattern ...]
    func punsubscribe(_ a: Arguments) {
        let c = client!
        if a.count == 1 {
            let names = c.subscriptions?.patterns ?? []
            if names.isEmpty { replySubscription("punsubscribe", nil, count: c.subscriptions?.count ?? 0) }
            for p in names {
                unsubscribePattern(p)
                p.withUnsafeBytes { replySubscription("punsubscribe", $0, count: c.subscriptions?.count ?? 0) }
            }
        } else {
            for i in 1..<a.count {
                unsubscribePattern(Array(a[i]))
                replySubscription("punsubscribe", a[i], count: c.subscriptions?.count ?? 0)
            }
        }
        leavePubSubIfEmpty()
    }

    private func unsubscribeChannel(_ ch: [UInt8], _ kind: ChannelKind) {
        guard let s = client.subscriptions else { return }
        switch kind {
        case .global:
            guard s.channels.remove(ch) != nil else { return }
            s.channelOrder.removeAll { $0 == ch }
            removeSubscriber(client, from: &pubsub.channels, ch)
        case .shard:
            guard s.shardChannels.remove(ch) != nil else { return }
            s.shardOrder.removeAll { $0 == ch }
            removeSubscriber(client, from: &pubsub.shardChannels, ch)
        }
    }

    private func unsubscribePattern(_ p: [UInt8]) {
        guard let s = client.subscriptions, let at = s.patterns.firstIndex(of: p) else { return }
        s.patterns.remove(at: at)
        removeSubscriber(client, from: &pubsub.patterns, p)
    }

    /// Delivers `message` to the subscribers of shard channel `channel` (patterns never
    /// see shard messages); returns how many received it.
    func spublish(channel: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> Int {
        guard !pubsub.shardChannels.isEmpty, let subs = pubsub.shardChannels[Array(channel)] else { return 0 }
        for c in subs where !c.closing {
            withReplies(to: c) {
                replyPushHeader(3)
                replyRaw("$8\r\nsmessage\r\n")
                replyBulk(channel)
                replyBulk(message)
            }
        }
        return subs.count
    }

    /// Delivers `message` to the subscribers of `channel` and of every matching pattern;
    /// returns how many received it (Redis's pubsubPublishMessage).
    func publish(channel: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> Int {
        var receivers = 0
        if !pubsub.channels.isEmpty, let subs = pubsub.channels[Array(channel)] {
            for c in subs {
                receivers += 1
                if c.closing { continue }
                withReplies(to: c) {
                    replyPushHeader(3)
                    replyRaw("$7\r\nmessage\r\n")
                    replyBulk(channel)
                    replyBulk(message)
                }
            }
        }
        for (pattern, subs) in pubsub.patterns {
            let matched = pattern.withUnsafeBytes { stringMatch($0, channel, nocase: false) }
            if !matched { continue }
            for c in subs {
                receivers += 1
                if c.closing { continue }
                withReplies(to: c) {
                    replyPushHeader(4)
                    replyRaw("$8\r\npmessage\r\n")
                    replyBulk(pattern)
                    replyBulk(channel)
                    replyBulk(message)
                }
            }
        }
        return receivers
    }

    /// PUBSUB CHANNELS [pattern] / PUBSUB SHARDCHANNELS [pattern]: active channels of
    /// that kind, optionally filtered by a glob.
    func pubsubChannels(_ a: Arguments, _ kind: ChannelKind) {
        if a.count > 3 {
            replyError(bytes: Array("ERR unknown subcommand or wrong number of arguments for '".utf8)
                + truncatedForError(a[1], 128) + "'. Try PUBSUB HELP.")
            return
        }
        var names: [[UInt8]] = []
        for name in (kind == .global ? pubsub.channels : pubsub.shardChannels).keys {
            if a.count == 3 {
                let ok = name.withUnsafeBytes { stringMatch(a[2], $0, nocase: false) }
                if !ok { continue }
            }
            names.append(name)
        }
        replyArrayHeader(names.count)
        for n in names { replyBulk(n) }
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: channel, subscriber count, for each argument.
    func pubsubNumsub(_ a: Arguments, _ kind: ChannelKind) {
        let table = kind == .global ? pubsub.channels : pubsub.shardChannels
        replyArrayHeader(2 * (a.count - 2))
        for i in 2..<a.count {
            replyBulk(a[i])
            replyInteger(table[Array(a[i])]?.count ?? 0)
        }
    }
}
