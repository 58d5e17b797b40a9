/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] (Redis 7.0's lcsCommand).
let lcsCommands: [(String, CommandHandler)] = [
    ("lcs", { $0.lcs($1) }),
]

extension Engine {
    /// The longest common subsequence of two string values, by the classic dynamic
    /// programming table, walked back from its end exactly as Redis does so that IDX
    /// reports the same ranges in the same order. Missing keys count as empty strings.
    func lcs(_ args: Arguments) {
        let ea = lookupRead(args[1], hash: hashKey(args[1]))
        let eb = lookupRead(args[2], hash: hashKey(args[2]))
        if (ea != nil && ea!.type != .string) || (eb != nil && eb!.type != .string) {
            replyError("ERR The specified keys must contain string values")
            return
        }
        var getLen = false, getIdx = false, withMatchLen = false
        var minMatchLen = 0
        var j = 3
        while j < args.count {
            let opt = args[j]
            let more = args.count - 1 - j
            if opt.equalsIgnoringCase("idx") {
                getIdx = true
            } else if opt.equalsIgnoringCase("len") {
                getLen = true
            } else if opt.equalsIgnoringCase("withmatchlen") {
                withMatchLen = true
            } else if opt.equalsIgnoringCase("minmatchlen") && more > 0 {
                guard let n = integerArgument(args[j + 1]) else { return }
                minMatchLen = max(0, n)
                j += 1
            } else {
                replySyntaxError()
                return
            }
            j += 1
        }
        if getLen && getIdx {
            replyError("ERR If you want both the length and indexes, please just use IDX.")
            return
        }
        let a: [UInt8] = ea?.stringBytes { Array($0) } ?? []
        let b: [UInt8] = eb?.stringBytes { Array($0) } ?? []
        if a.count >= Int(UInt32.max) - 1 || b.count >= Int(UInt32.max) - 1 {
            replyError("ERR String too long for LCS")
            return
        }
        let alen = a.count, blen = b.count
        let cells = (alen + 1) * (blen + 1)
        if cells * 4 > config.protoMaxBulkLength {
            replyError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
            return
        }
        // table[j + (blen + 1) * i]: LCS length of a[0..<i] and b[0..<j].
        var table = [UInt32](repeating: 0, count: cells)
        let width = blen + 1
        if alen > 0 && blen > 0 {
            table.withUnsafeMutableBufferPointer { t in
                for i in 1...alen {
                    for j in 1...blen {
                        if a[i - 1] == b[j - 1] {
                            t[j + width * i] = t[(j - 1) + width * (i - 1)] + 1
                        } else {
                            let up = t[j + width * (i - 1)], left = t[(j - 1) + width * i]
                            t[j + width * i] = up > left ? up : left
                        }
                    }
                }
            }
        }
        let length = Int(table[blen + width * alen])
        let computeLCS = getIdx || !getLen
        var result = [UInt8](repeating: 0, count: computeLCS ? length : 0)
        // Ranges as Redis emits them: ((aStart, aEnd), (bStart, bEnd), matchLength).
        var ranges: [(Int, Int, Int, Int, Int)] = []
        var aStart = alen, aEnd = 0, bStart = 0, bEnd = 0   // aStart == alen: no range open
        var idx = length
        var i = alen, k = blen
        while computeLCS && i > 0 && k > 0 {
            var emit = false
            if a[i - 1] == b[k - 1] {
                result[idx - 1] = a[i - 1]
                if aStart == alen {
                    aStart = i - 1; aEnd = i - 1
                    bStart = k - 1; bEnd = k - 1
                } else if aStart == i && bStart == k {
                    aStart -= 1
                    bStart -= 1
                } else {
                    emit = true
                }
                if aStart == 0 || bStart == 0 { emit = true }
                idx -= 1; i -= 1; k -= 1
            } else {
                let up = table[k + width * (i - 1)], left = table[(k - 1) + width * i]
                if up > left { i -= 1 } else { k -= 1 }
                if aStart != alen { emit = true }
            }
            let matchLength = aEnd - aStart + 1
            if emit {
                if minMatchLen == 0 || matchLength >= minMatchLen {
                    ranges.append((aStart, aEnd, bStart, bEnd, matchLength))
                }
                aStart = alen
            }
        }
        if getIdx {
            replyMapHeader(2)
            replyBulk("matches")
            replyArrayHeader(ranges.count)
            for r in ranges {
                replyArrayHeader(withMatchLen ? 3 : 2)
                replyArrayHeader(2)
                replyInteger(r.0)
                replyInteger(r.1)
                replyArrayHeader(2)
                replyInteger(r.2)
                replyInteger(r.3)
                if withMatchLen { replyInteger(r.4) }
            }
            replyBulk("len")
            replyInteger(length)
        } else if getLen {
            replyInteger(length)
        } else {
            replyBulk(result)
        }
    }
}
