/// MULTI, EXEC, DISCARD, WATCH, UNWATCH (state and queueing in Transactions.swift; the
/// queueing decision itself is made by `CommandTable.dispatch`).
let transactionCommands: [(String, CommandHandler)] = [
    ("multi", { e, _ in
        let m = e.multiState(of: e.client)
        if m.active {
            e.replyError("ERR MULTI calls can not be nested")
            return
        }
        m.active = true
        e.replyOK()
    }),
    ("exec", { e, _ in e.execTransaction(e.client.lastCommand!) }),
    ("discard", { e, _ in
        guard let m = e.client.multiState, m.active else {
            e.replyError("ERR DISCARD without MULTI")
            return
        }
        e.discardTransaction(e.client)
        e.replyOK()
    }),
    ("watch", { e, a in
        if let m = e.client.multiState, m.active {
            e.replyError("ERR WATCH inside MULTI is not allowed")
            return
        }
        for i in 1..<a.count { e.watch(a[i]) }
        e.replyOK()
    }),
    ("unwatch", { e, _ in
        let c = e.client!
        e.unwatchAll(c)
        c.multiState?.watchedKeyChanged = false
        e.releaseMultiStateIfIdle(c)
        e.replyOK()
    }),
]
