import Reactor

/// Channels and patterns with their subscribers (Redis's server.pubsub_channels and
/// server.pubsub_patterns). Subscribers are kept in subscription order, which is the
/// order a PUBLISH delivers in.
struct PubSubState {
    var channels: [[UInt8]: [Client]] = [:]
    var patterns: [[UInt8]: [Client]] = [:]
}

/// One client's subscriptions. A client holds this only while it has at least one
/// subscription: that is Redis's CLIENT_PUBSUB flag, and dispatch tests it with one load.
final class Subscriptions {
    var channels: Set<[UInt8]> = []
    /// In subscription order, as Redis's per-client pattern list.
    var patterns: [[UInt8]] = []
    /// Channels in subscription order, for UNSUBSCRIBE without arguments.
    var channelOrder: [[UInt8]] = []

    var count: Int { channels.count + patterns.count }
}

extension Engine {
    func pubsubClientClosed(_ c: Client) {
        guard let s = c.subscriptions else { return }
        for ch in s.channelOrder { removeSubscriber(c, from: &pubsub.channels, ch) }
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

    /// After an unsubscribe: a client with nothing left leaves pub/sub mode.
    private func leavePubSubIfEmpty() {
        guard let s = client.subscriptions, s.count == 0 else { return }
        client.subscriptions = nil
        staging[client.reactor].control(kind: ReplyRecord.limitClassNormal, token: client.token)
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
    /// unsubscribe from), and the client's subscription count after it.
    private func replySubscription(_ kind: StaticString, _ name: UnsafeRawBufferPointer?) {
        replyPushHeader(3)
        replyRaw("$")
        replyRaw(Array(String(kind.utf8CodeUnitCount).utf8))
        replyRaw("\r\n")
        replyRaw(kind)
        replyRaw("\r\n")
        if let name { replyBulk(name) } else { replyNull() }
        replyInteger(client.subscriptions?.count ?? 0)
    }

    /// SUBSCRIBE channel [channel ...]
    func subscribe(_ a: Arguments) {
        let s = subscriptionsForAdding()
        for i in 1..<a.count {
            let ch = Array(a[i])
            if s.channels.insert(ch).inserted {
                s.channelOrder.append(ch)
                pubsub.channels[ch, default: []].append(client)
            }
            replySubscription("subscribe", a[i])
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
            replySubscription("psubscribe", a[i])
        }
    }

    /// UNSUBSCRIBE [channel ...]: without arguments, from every channel (and a null
    /// confirmation when there was none).
    func unsubscribe(_ a: Arguments) {
        let c = client!
        if a.count == 1 {
            let names = c.subscriptions?.channelOrder ?? []
            if names.isEmpty { replySubscription("unsubscribe", nil) }
            for ch in names {
                unsubscribeChannel(ch)
                ch.withUnsafeBytes { replySubscription("unsubscribe", $0) }
            }
        } else {
            for i in 1..<a.count {
                unsubscribeChannel(Array(a[i]))
                replySubscription("unsubscribe", a[i])
            }
        }
        leavePubSubIfEmpty()
    }

    /// PUNSUBSCRIBE [pattern ...]
    func punsubscribe(_ a: Arguments) {
        let c = client!
        if a.count == 1 {
            let names = c.subscriptions?.patterns ?? []
            if names.isEmpty { replySubscription("punsubscribe", nil) }
            for p in names {
                unsubscribePattern(p)
                p.withUnsafeBytes { replySubscription("punsubscribe", $0) }
            }
        } else {
            for i in 1..<a.count {
                unsubscribePattern(Array(a[i]))
                replySubscription("punsubscribe", a[i])
            }
        }
        leavePubSubIfEmpty()
    }

    private func unsubscribeChannel(_ ch: [UInt8]) {
        guard let s = client.subscriptions, s.channels.remove(ch) != nil else { return }
        s.channelOrder.removeAll { $0 == ch }
        removeSubscriber(client, from: &pubsub.channels, ch)
    }

    private func unsubscribePattern(_ p: [UInt8]) {
        guard let s = client.subscriptions, let at = s.patterns.firstIndex(of: p) else { return }
        s.patterns.remove(at: at)
        removeSubscriber(client, from: &pubsub.patterns, p)
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

    /// PUBSUB CHANNELS [pattern]: active channels, optionally filtered by a glob.
    func pubsubChannels(_ a: Arguments) {
        if a.count > 3 {
            replyError(bytes: Array("ERR unknown subcommand or wrong number of arguments for '".utf8)
                + truncatedForError(a[1], 128) + "'. Try PUBSUB HELP.")
            return
        }
        var names: [[UInt8]] = []
        for name in pubsub.channels.keys {
            if a.count == 3 {
                let ok = name.withUnsafeBytes { stringMatch(a[2], $0, nocase: false) }
                if !ok { continue }
            }
            names.append(name)
        }
        replyArrayHeader(names.count)
        for n in names { replyBulk(n) }
    }

    /// PUBSUB NUMSUB [channel ...]: channel, subscriber count, for each argument.
    func pubsubNumsub(_ a: Arguments) {
        replyArrayHeader(2 * (a.count - 2))
        for i in 2..<a.count {
            replyBulk(a[i])
            replyInteger(pubsub.channels[Array(a[i])]?.count ?? 0)
        }
    }
}
