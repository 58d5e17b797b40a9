import Glibc

/// The latency monitor (Redis's latency.c): per event ("command", "fast-command",
/// "expire-cycle"), the worst latency of each second, in milliseconds, for the last 160
/// seconds that had a spike of at least `latency-monitor-threshold`, and the all-time max.
struct LatencyMonitor {
    static let samplesPerEvent = 160

    struct Sample { var time = 0; var latency = 0 }

    final class Series {
        var index = 0
        var max = 0
        var samples = [Sample](repeating: Sample(), count: LatencyMonitor.samplesPerEvent)
    }

    /// In the order the events first happened (LATENCY LATEST and DOCTOR list them so).
    var events: [(name: String, series: Series)] = []

    func series(_ name: String) -> Series? { events.first { $0.name == name }?.series }

    /// Redis's latencyAddSample: one sample per second, the worst one of that second.
    mutating func add(_ name: String, latency: Int, now: Int) {
        let ts: Series
        if let s = series(name) {
            ts = s
        } else {
            ts = Series()
            events.append((name, ts))
        }
        if latency > ts.max { ts.max = latency }
        let prev = (ts.index + LatencyMonitor.samplesPerEvent - 1) % LatencyMonitor.samplesPerEvent
        if ts.samples[prev].time == now {
            if latency > ts.samples[prev].latency { ts.samples[prev].latency = latency }
            return
        }
        ts.samples[ts.index] = Sample(time: now, latency: latency)
        ts.index = (ts.index + 1) % LatencyMonitor.samplesPerEvent
    }

    /// The samples of a series, oldest first.
    static func history(_ ts: Series) -> [Sample] {
        (0..<samplesPerEvent).map { ts.samples[(ts.index + $0) % samplesPerEvent] }.filter { $0.time != 0 }
    }
}

extension Engine {
    /// latencyAddSampleIfNeeded: records `ms` for `event` when the monitor is on and the
    /// latency reaches its threshold.
    func latencySample(_ event: String, milliseconds ms: Int) {
        let threshold = config.latencyMonitorThreshold
        if threshold > 0 && ms >= threshold { latency.add(event, latency: ms, now: Int(time(nil))) }
    }

    /// LATENCY DOCTOR's report, as Redis words it for the events this server records.
    func latencyReport() -> String {
        if latency.events.isEmpty && config.latencyMonitorThreshold == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
        }
        var report = ""
        var adviseSlowlogEnabled = false, adviseSlowlogTuning = false, adviseSlowlogInspect = false
        var adviseScheduler = false, adviseHz = false, adviseLargeObjects = false
        var advices = 0
        let nowSeconds = Int(time(nil))
        for (n, (event, ts)) in latency.events.enumerated() {
            if n == 0 {
                report += "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"
            }
            let samples = LatencyMonitor.history(ts)
            var sum = 0, oldest = 0
            for s in samples {
                sum += s.latency
                if oldest == 0 || s.time < oldest { oldest = s.time }
            }
            var avg = 0, mad = 0, period = 0
            if !samples.isEmpty {
                avg = sum / samples.count
                period = nowSeconds - oldest
                if period == 0 { period = 1 }
                mad = samples.reduce(0) { $0 + abs(avg - $1.latency) } / samples.count
            }
            let perSample = samples.isEmpty ? Double.nan : Double(period) / Double(samples.count)
            report += "\(n + 1). \(event): \(samples.count) latency spikes (average \(avg)ms, mean deviation \(mad)ms, period \(String(format2: perSample)) sec). Worst all time event \(ts.max)ms."
            switch event {
            case "command":
                if config.slowlogLogSlowerThan < 0 {
                    adviseSlowlogEnabled = true
                    advices += 1
                } else if config.slowlogLogSlowerThan / 1000 > config.latencyMonitorThreshold {
                    adviseSlowlogTuning = true
                    advices += 1
                }
                adviseSlowlogInspect = true
                adviseLargeObjects = true
                advices += 2
            case "fast-command":
                adviseScheduler = true
                advices += 1
            case "expire-cycle":
                adviseHz = true
                adviseLargeObjects = true
                advices += 2
            default:
                break
            }
            report += "\n"
        }
        if latency.events.isEmpty && advices == 0 {
            report += "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
        } else if advices == 0 {
            report += "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n"
        } else {
            report += "\nI have a few advices for you:\n\n"
            if adviseSlowlogEnabled {
                report += "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than \(config.latencyMonitorThreshold * 1000)'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"
            }
            if adviseSlowlogTuning {
                report += "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than \(config.latencyMonitorThreshold * 1000)'.\n"
            }
            if adviseSlowlogInspect {
                report += "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n"
            }
            if adviseScheduler {
                report += "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n"
                    + "  1) Lower the system load.\n"
                    + "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n"
                    + "  3) Check if you have a \"noisy neighbour\" problem.\n"
                    + "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n"
                    + "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n"
            }
            if adviseHz && config.hz < 100 {
                report += "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n"
            }
            if adviseLargeObjects {
                report += "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n"
            }
        }
        return report
    }

    /// LATENCY GRAPH's text: the header, a rule, then Redis's 4-row sparkline.
    func latencyGraph(_ event: String, _ ts: LatencyMonitor.Series) -> String {
        let samples = LatencyMonitor.history(ts)
        let nowSeconds = Int(time(nil))
        var low = 0, high = 0
        var labels: [String] = []
        for (i, s) in samples.enumerated() {
            if i == 0 { low = s.latency; high = s.latency }
            high = max(high, s.latency)
            low = min(low, s.latency)
            let elapsed = nowSeconds - s.time
            if elapsed < 60 { labels.append("\(elapsed)s") }
            else if elapsed < 3600 { labels.append("\(elapsed / 60)m") }
            else if elapsed < 86400 { labels.append("\(elapsed / 3600)h") }
            else { labels.append("\(elapsed / 86400)d") }
        }
        var graph = "\(event) - high \(high) ms, low \(low) ms (all time high \(ts.max) ms)\n"
        graph += String(repeating: "-", count: 80) + "\n"
        graph += sparkline(samples.map { Double($0.latency) }, labels: labels, columns: 80, rows: 4)
        return graph
    }
}

/// Redis's sparklineRender with SPARKLINE_FILL: `rows` rows of "_o#" and "|" scaled
/// between the minimum and maximum, a blank row, then the labels written vertically;
/// `columns` samples per block, blocks separated by an empty line.
func sparkline(_ values: [Double], labels: [String], columns: Int, rows: Int) -> String {
    var out = ""
    var offset = 0
    while offset < values.count {
        let len = min(columns, values.count - offset)
        if offset != 0 { out += "\n" }
        out += sparklineRange(values, labels: labels, offset: offset, count: len, rows: rows)
        offset += len
    }
    return out
}

private func sparklineRange(_ values: [Double], labels: [String], offset: Int, count len: Int, rows: Int) -> String {
    let fill = Array("_o#".utf8)
    var lo = values[0], hi = values[0]
    for v in values.dropFirst() {
        if v < lo { lo = v } else if v > hi { hi = v }
    }
    var relmax = hi - lo
    if relmax == 0 { relmax = 1 }
    let steps = fill.count * rows
    let hasLabels = labels.contains { !$0.isEmpty }
    var out = ""
    var row = 0
    var loop = true
    while loop {
        loop = false
        var chars = [UInt8](repeating: 32, count: len)
        for j in 0..<len {
            let relval = values[offset + j] - lo
            var step = Int(Double(Int(relval * Double(steps))) / relmax)
            if step < 0 { step = 0 }
            if step >= steps { step = steps - 1 }
            if row < rows {
                let charidx = step - (rows - row - 1) * fill.count
                loop = true
                if charidx >= 0 && charidx < fill.count {
                    chars[j] = fill[charidx]
                } else if charidx >= fill.count {
                    chars[j] = UInt8(ascii: "|")
                }
            } else {
                if hasLabels && row - rows < 1 {
                    loop = true
                    break
                }
                let label = Array(labels[offset + j].utf8)
                let at = row - rows - 1
                if label.count > at {
                    loop = true
                    chars[j] = label[at]
                }
            }
        }
        if loop {
            row += 1
            out += String(decoding: chars, as: UTF8.self) + "\n"
        }
    }
    return out
}

/// Where commands record their durations while `latency-tracking` is off: written, never read.
let discardedHistogram: UnsafeMutablePointer<Int> = {
    let p = UnsafeMutablePointer<Int>.allocate(capacity: 32)
    p.initialize(repeating: 0, count: 32)
    return p
}()

extension Command {
    var histogramTotal: Int { (0..<32).reduce(0) { $0 + histogram[$1] } }

    /// The bucket's upper bound as Redis's hdr histogram reports it (1024 ns << k, to its
    /// highest equivalent value at 2 significant digits, in µs).
    static func bucketMicroseconds(_ k: Int) -> Int { (1032 << k - 1) / 1000 }

    /// The value at `p` percent, as INFO latencystats prints it.
    func latencyAtPercentile(_ p: Double) -> Double {
        let total = histogramTotal
        let wanted = max(1, Int((p / 100 * Double(total)).rounded(.up)))
        var seen = 0
        for k in 0..<32 {
            seen += histogram[k]
            if seen >= wanted { return Double(1032 << k - 1) / 1000 }
        }
        return 0
    }
}

/// A percentile as Redis's config and INFO print it: "%f" without trailing zeros.
func formatPercentile(_ v: Double) -> String {
    var s = formatFixed(v, "%f")
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}

extension Engine {
    /// Points every command's recording at its histogram, or at the discard area while
    /// latency-tracking is off (so the hot path never tests the setting).
    func applyLatencyTracking() {
        for c in commands.all {
            for s in [c] + c.subcommands { s.histogramSink = config.latencyTracking ? s.histogram : discardedHistogram }
        }
    }

    /// One command's LATENCY HISTOGRAM entry: its calls and the cumulative counts at each
    /// bucket bound where the count grows.
    func replyLatencyHistogram(_ c: Command) {
        replyBulk(c.name)
        replyMapHeader(2)
        replyBulk("calls")
        replyInteger(c.histogramTotal)
        replyBulk("histogram_usec")
        var points: [(Int, Int)] = []
        var cumulative = 0
        for k in 0..<32 where c.histogram[k] > 0 {
            cumulative += c.histogram[k]
            points.append((Command.bucketMicroseconds(k), cumulative))
        }
        replyMapHeader(points.count)
        for (us, n) in points {
            replyInteger(us)
            replyInteger(n)
        }
    }
}

let latencyCommands: [(String, CommandHandler)] = [
    ("latency|latest", { e, _ in
        e.replyArrayHeader(e.latency.events.count)
        for (name, ts) in e.latency.events {
            let last = ts.samples[(ts.index + LatencyMonitor.samplesPerEvent - 1) % LatencyMonitor.samplesPerEvent]
            e.replyArrayHeader(4)
            e.replyBulk(name)
            e.replyInteger(last.time)
            e.replyInteger(last.latency)
            e.replyInteger(ts.max)
        }
    }),
    ("latency|history", { e, a in
        guard let ts = e.latency.series(a[2].string) else { e.replyEmptyArray(); return }
        let samples = LatencyMonitor.history(ts)
        e.replyArrayHeader(samples.count)
        for s in samples {
            e.replyArrayHeader(2)
            e.replyInteger(s.time)
            e.replyInteger(s.latency)
        }
    }),
    ("latency|reset", { e, a in
        if a.count == 2 {
            let n = e.latency.events.count
            e.latency.events.removeAll()
            e.replyInteger(n)
            return
        }
        var resets = 0
        for i in 2..<a.count {
            let name = a[i].string.lowercased()
            let before = e.latency.events.count
            e.latency.events.removeAll { $0.name.lowercased() == name }
            resets += before - e.latency.events.count
        }
        e.replyInteger(resets)
    }),
    ("latency|doctor", { e, _ in e.replyVerbatim(e.latencyReport()) }),
    ("latency|graph", { e, a in
        guard let ts = e.latency.series(a[2].string) else {
            e.replyError(bytes: Array("ERR No samples available for event '".utf8) + truncatedForError(a[2], a[2].count) + "'")
            return
        }
        e.replyVerbatim(e.latencyGraph(a[2].string, ts))
    }),
    ("latency|histogram", { e, a in
        var chosen: [Command] = []
        func addWithSubcommands(_ c: Command) {
            if c.histogramTotal > 0 && !chosen.contains(where: { $0 === c }) { chosen.append(c) }
        }
        if a.count == 2 {
            for c in e.commands.all { for s in [c] + c.subcommands { addWithSubcommands(s) } }
        } else {
            var seen: [Command] = []
            for i in 2..<a.count {
                guard let c = e.commands.findFull(a[i]), !seen.contains(where: { $0 === c }) else { continue }
                seen.append(c)
                addWithSubcommands(c)
                for s in c.subcommands { addWithSubcommands(s) }
            }
        }
        e.replyMapHeader(chosen.count)
        for c in chosen { e.replyLatencyHistogram(c) }
    }),
    ("latency|help", { e, _ in
        e.replyHelp("LATENCY", [
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ])
    }),
]
