import Reactor

/// The `timeout` directive (Redis's clientsCronHandleTimeout): a normal client idle for
/// more than `timeout` seconds is closed by the cron. Replicas, monitors, our master's
/// link, blocked clients and pub/sub subscribers are never closed for idling.
extension Engine {
    func closeIdleClients() {
        let limit = config.timeout
        guard limit > 0 else { return }
        let nowSeconds = now / 1000
        for c in clientsByID.values where !c.closing {
            if c.replicaLink != nil || c.isMonitor || replication.master?.client === c { continue }
            if c.blockState != nil || c.pausedRequest != nil || c.subscriptions != nil { continue }
            if nowSeconds - c.lastInteraction / 1000 > Int64(limit) {
                logger.debug("Closing idle client")
                c.closing = true
                staging[c.reactor].control(kind: ReplyRecord.closeNow, token: c.token)
            }
        }
    }
}
