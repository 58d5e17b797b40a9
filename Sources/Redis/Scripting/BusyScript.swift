import Glibc
import Reactor
import Synchronization

/// While a script runs past busy-reply-threshold, the Lua hook takes the requests waiting
/// in the rings (Redis's processEventsWhileBlocked): other clients get -BUSY, SCRIPT KILL
/// and FUNCTION KILL act on the script, and commands Redis lets through while busy wait
/// until it ends. The script's own client's requests wait too. Requests, new connections
/// and closed ones are taken; any other record (and the close of the script's own
/// client, whose record the running command uses) stops the drain of that ring until the
/// script ends.
///
/// The engine's loop moves past a request record before running it, so the records read
/// here are those after the running command's. Releasing ring space here also frees the
/// running command's own bytes: EVAL and FCALL read their arguments only before the
/// script starts (their keys are movable, so dispatch does not read them afterwards).
extension Engine {
    func serveClientsWhileBusy() {
        // A script from the master's stream runs inside the record that carried it: that
        // ring must not be released under it.
        guard let s = scripting, let running = client, replication.master?.client !== running else { return }
        let savedOut = out
        let savedResp3 = resp3
        let savedDb = db
        for r in channels.indices {
            let ring = channels[r].requests
            let st = staging + r
            if st.pointee.pendingBytes >= ReplyStaging.backPressureBytes { continue }
            out = st
            var took = false
            scan: while let (kind, payload) = ring.peek() {
                let base = payload.baseAddress!
                let token = base.load(as: UInt64.self)
                var block: UnsafeMutableRawPointer?
                let encoding: UnsafeRawPointer
                switch kind {
                case RequestRecord.request:
                    encoding = UnsafeRawPointer(base + 8)
                case RequestRecord.requestOutOfLine:
                    block = UnsafeMutableRawPointer(bitPattern: UInt(base.load(fromByteOffset: 8, as: UInt64.self)))!
                    encoding = UnsafeRawPointer(block!)
                case RequestRecord.open:
                    registerClient(reactor: r, token: token, connection: UnsafeRawBufferPointer(rebasing: payload[8...]))
                    took = true
                    ring.advance()
                    continue scan
                case RequestRecord.close:
                    let slot = ConnectionToken(raw: token).slot
                    if let c = clientsBySlot[r][slot], c.token == token {
                        // The running command holds these records unretained (dispatch):
                        // they must outlive it.
                        if c === running || c === s.caller { break scan }
                        clientWillClose(c)
                        clientsBySlot[r][slot] = nil
                        clientsByID[c.id] = nil
                    }
                    took = true
                    ring.advance()
                    continue scan
                default:
                    break scan
                }
                took = true
                if let c = clientsBySlot[r][ConnectionToken(raw: token).slot], c.token == token, !c.closing {
                    let args = Arguments(encoding: encoding)
                    if c === running || c === s.caller || c.isHoldingRequests || c.replicaLink != nil
                        || replication.master?.client === c {
                        holdWhileBusy(c, args)
                    } else if args.count > 0 {
                        st.pointee.open(token: token)
                        client = c
                        resp3 = c.protocolVersion == 3
                        busyReply(c, args, s)
                    }
                }
                if let block { free(block) }
                ring.advance()
                if st.pointee.pendingBytes >= ReplyStaging.backPressureBytes { break }
            }
            st.pointee.closeRecord()
            if took {
                ring.release()
                atomicMemoryFence(ordering: .sequentiallyConsistent)
                if channels[r].wantsRequestSpace.load(ordering: .relaxed) { channels[r].reactorDoorbell.ring() }
            }
            flushReplies(reactor: r)
        }
        client = running
        db = savedDb
        resp3 = savedResp3
        out = savedOut
        out.pointee.open(token: running.token)
    }

    /// Keeps a request for after the script; the client's held requests run from the next
    /// turn of the loop (the path of requests held on congested output).
    private func holdWhileBusy(_ c: Client, _ args: Arguments) {
        c.heldRequests.append(OwnedArguments(args))
        if c.blockState == nil && c.pausedRequest == nil && !outputHeldClients.contains(where: { $0 === c }) {
            outputHeldClients.append(c)
        }
    }

    /// One request of another client while the script runs: the checks Redis makes before
    /// its busy check, then -BUSY, unless the command may run while busy.
    private func busyReply(_ c: Client, _ args: Arguments, _ s: ScriptingState) {
        guard var cmd = commands.find(args[0]) else {
            replyUnknownCommand(args)
            return
        }
        if cmd.isContainer && args.count >= 2, let sub = cmd.subcommandLookup?.find(args[1]) { cmd = sub }
        let arity = cmd.arity
        if (arity > 0 && args.count != arity) || args.count < -arity {
            rejectCommand(cmd, Array("ERR wrong number of arguments for '\(cmd.name)' command".utf8))
            return
        }
        if !c.authenticated && deniedForAuthentication(c, cmd) {
            rejectCommand(cmd, noAuthError)
            return
        }
        switch cmd.name {
        case "script|kill", "function|kill":
            killRunningScript(byFunctionKill: cmd.name == "function|kill", s)
            return
        default:
            break
        }
        if cmd.name == "shutdown" && (1..<args.count).contains(where: { args[$0].equalsIgnoringCase("nosave") }) {
            // SHUTDOWN NOSAVE ends the script (its writes are never saved), then runs.
            s.killed = true
            holdWhileBusy(c, args)
            return
        }
        if cmd.flags.contains(.allowBusy) {
            // Runs once the script ends, in order with the client's later requests.
            holdWhileBusy(c, args)
            return
        }
        rejectCommand(cmd, Array((s.isFunctionRun
            ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
            : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.").utf8))
    }

    /// SCRIPT KILL / FUNCTION KILL while a script is busy (Redis's scriptKill).
    private func killRunningScript(byFunctionKill: Bool, _ s: ScriptingState) {
        if s.wrote {
            replyError("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
            return
        }
        if !byFunctionKill && s.isFunctionRun {
            replyError("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
            return
        }
        if byFunctionKill && !s.isFunctionRun {
            replyError("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
            return
        }
        s.killed = true
        replyOK()
    }
}
