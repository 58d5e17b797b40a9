/// CLIENT REPLY ON|OFF|SKIP: a client may turn its replies off, or skip the next one.
/// The replies are produced as usual and cut from the staging afterwards, so the commands
/// need not know; only clients that asked pay for it (Engine.execute tests one field).
enum ReplyMode {
    case on
    case off
    /// SKIP was just given: the next command's reply is dropped.
    case skipNext
    /// The command running now has its reply dropped.
    case skip
}

let clientReplyCommands: [(String, CommandHandler)] = [
    ("client|reply", { e, a in
        let c = e.client!
        if a[2].equalsIgnoringCase("on") {
            c.replyMode = .on
            e.replyOK()
        } else if a[2].equalsIgnoringCase("off") {
            c.replyMode = .off
        } else if a[2].equalsIgnoringCase("skip") {
            if c.replyMode != .off { c.replyMode = .skipNext }
        } else {
            e.replySyntaxError()
        }
    }),
    ("client|no-evict", { e, a in
        if a[2].equalsIgnoringCase("on") || a[2].equalsIgnoringCase("off") {
            e.replyOK()
        } else {
            e.replySyntaxError()
        }
    }),
    ("client|getredir", { e, _ in e.replyInteger(-1) }),
]

extension Engine {
    /// Runs a command of a client whose replies are off or skipped: the bytes it adds to
    /// the client's open reply record are removed again, unless the command turned replies
    /// back on (CLIENT REPLY ON answers +OK) or other records were staged in between.
    func dispatchWithoutReply(_ c: Client, _ args: Arguments) {
        if c.replyMode == .skipNext { c.replyMode = .skip }
        let st = out
        let before = st.pointee.buffer.readable
        let record = st.pointee.openRecord
        commands.dispatch(self, c, args)
        if c.replyMode == .off || c.replyMode == .skip {
            if st.pointee.openRecord == record && st.pointee.openToken == c.token && st.pointee.buffer.readable >= before {
                st.pointee.buffer.writer = st.pointee.buffer.reader + before
            }
        }
        if c.replyMode == .skip { c.replyMode = .on }
    }
}
