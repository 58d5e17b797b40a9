/// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, their shard forms
/// SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, and PUBSUB (PubSub.swift).
let pubsubCommands: [(String, CommandHandler)] = [
    ("subscribe", { e, a in e.subscribe(a) }),
    ("unsubscribe", { e, a in e.unsubscribe(a) }),
    ("psubscribe", { e, a in e.psubscribe(a) }),
    ("punsubscribe", { e, a in e.punsubscribe(a) }),
    ("publish", { e, a in
        let receivers = e.publish(channel: a[1], message: a[2])
        e.propagate(a)   // replicas deliver it to their own subscribers, as Redis forces
        e.replyInteger(receivers)
    }),
    ("ssubscribe", { e, a in e.ssubscribe(a) }),
    ("sunsubscribe", { e, a in e.sunsubscribe(a) }),
    ("spublish", { e, a in
        let receivers = e.spublish(channel: a[1], message: a[2])
        e.propagate(a)   // standalone Redis forces it to replicas too
        e.replyInteger(receivers)
    }),
    ("pubsub|channels", { e, a in e.pubsubChannels(a, .global) }),
    ("pubsub|numsub", { e, a in e.pubsubNumsub(a, .global) }),
    ("pubsub|shardchannels", { e, a in e.pubsubChannels(a, .shard) }),
    ("pubsub|shardnumsub", { e, a in e.pubsubNumsub(a, .shard) }),
    ("pubsub|numpat", { e, _ in e.replyInteger(e.pubsub.patterns.count) }),
    ("pubsub|help", { e, _ in
        e.replyHelp("PUBSUB", [
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ])
    }),
]
