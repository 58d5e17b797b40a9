import Glibc

/// What happens after a command that ran long enough to matter (or every command while a
/// monitor is attached): the slow log, the latency monitor, MONITOR's feed. The hot path
/// pays one comparison with `observeThreshold` (see CommandTable.dispatch).
extension Engine {
    /// The smallest duration any observer wants: the slow log's threshold, the latency
    /// monitor's (ms to µs), or everything while a monitor is attached. Called whenever
    /// one of them changes (CONFIG SET, start-up, MONITOR, a monitor leaving).
    func refreshObserveThreshold() {
        var t = Int.max
        if config.slowlogLogSlowerThan >= 0 { t = config.slowlogLogSlowerThan }
        if config.latencyMonitorThreshold > 0 {
            let (us, overflow) = config.latencyMonitorThreshold.multipliedReportingOverflow(by: 1000)
            t = min(t, overflow ? Int.max : us)
        }
        if !monitors.isEmpty { t = Int.min }
        observeThreshold = t
    }

    /// Redis's call() epilogue for a command of `duration` µs: the slow log (unless the
    /// command skips it), the "command"/"fast-command" latency event, and the monitors
    /// (not for admin or skip-monitor commands, nor for a blocked command run again).
    func commandObserved(_ cmd: Command, _ args: Arguments, client c: Client, duration: Int) {
        // A command that just blocked is logged when it runs again and serves (Redis logs
        // blocked commands once, on unblocking).
        if c.blockState == nil || (blocking.servingKey != nil && !blocking.reblocked) {
            let slower = config.slowlogLogSlowerThan
            if slower >= 0 && duration >= slower && !cmd.flags.contains(.skipSlowlog) {
                slowlog.push(args, duration: duration, client: c, maxLength: config.slowlogMaxLen)
            }
            latencySample(cmd.flags.contains(.fast) ? "fast-command" : "command", milliseconds: duration / 1000)
        }
        if !monitors.isEmpty && !cmd.flags.contains(.skipMonitor) && !cmd.flags.contains(.admin)
            && blocking.servingKey == nil {
            feedMonitors(c, cmd, args)
        }
    }
}
