/// Requests held back while a connection's unsent output is congested.
///
/// A client that pipelines requests with big replies and never reads would otherwise have
/// the engine execute everything it framed, growing its output without bound while the
/// other clients' requests wait behind it in the request ring. The reactor flags such a
/// connection (`ReactorChannel.outputCongested`) and stops framing its input; the engine
/// copies the requests it already framed aside (`Client.heldRequests`, like a blocked
/// client's) and runs them here once the reactor reports the output drained.
extension Engine {
    /// Runs `c`'s held requests in order until none is left, the output is congested
    /// again, the client blocks, or reply staging is full (then it is retried from
    /// `resumeOutputHeld` once staging drains).
    func resumeHeldRequests(_ c: Client) {
        let congested = channels[c.reactor].outputCongested
        let st = staging + c.reactor
        var ran = 0
        defer { if ran > 0 { c.heldRequests.removeFirst(min(ran, c.heldRequests.count)) } }
        while ran < c.heldRequests.count {
            if c.closing || c.blockState != nil || c.pausedRequest != nil || congested[c.slot].load(ordering: .relaxed) { return }
            if st.pointee.pendingBytes >= ReplyStaging.backPressureBytes {
                if !outputHeldClients.contains(where: { $0 === c }) { outputHeldClients.append(c) }
                return
            }
            let request = c.heldRequests[ran]
            ran += 1
            out = st
            st.pointee.open(token: c.token)
            request.withArguments { execute(c, $0) }
        }
    }

    /// Retries the held requests of reactor `r`'s clients that stopped on full staging.
    func resumeOutputHeld(reactor r: Int) {
        let waiting = outputHeldClients
        outputHeldClients.removeAll()
        for c in waiting {
            if c.reactor != r {
                outputHeldClients.append(c)
                continue
            }
            guard clientsBySlot[r][c.slot] === c else { continue }
            resumeHeldRequests(c)
        }
        out = staging + r
    }
}
