import Glibc

/// SORT and SORT_RO (src/sort.c): sorts a list, set or sorted set numerically or by bytes,
/// optionally by other keys' values (BY pattern) and fetching other keys (GET pattern).
let sortCommands: [(String, CommandHandler)] = [
    ("sort", { $0.sort($1, readOnly: false) }),
    ("sort_ro", { $0.sort($1, readOnly: true) }),
]

/// One element being sorted (redisSortObject): its bytes and what it is compared by.
private struct SortItem {
    var element: [UInt8]
    var score = 0.0
    /// The BY value for ALPHA sorting by pattern; nil when that key was missing.
    var compareBytes: [UInt8]?
}

/// Byte-wise comparison (compareStringObjects / strcoll in the C locale).
private func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    let n = min(a.count, b.count)
    for i in 0..<n where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

/// SORT's score parse: strtod must consume the whole text, without overflow, underflow
/// or NaN; whitespace before the number is accepted and empty text is 0, as in Redis.
private func sortScore(_ bytes: [UInt8]) -> Double? {
    var text = bytes
    text.append(0)
    return text.withUnsafeBufferPointer { p -> Double? in
        let start = UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)
        var end: UnsafeMutablePointer<CChar>?
        errno = 0
        let v = strtod(start, &end)
        if end!.pointee != 0 || errno == ERANGE || v.isNaN { return nil }
        return v
    }
}

extension Engine {
    /// The bytes of the string key `key`, or nil when missing or of another type.
    private func stringValue(_ key: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let e = lookupRead(key, hash: hashKey(key)), e.type == .string else { return nil }
        if e.stringEncoding == .int { return Array(String(e.intValue).utf8) }
        return Array(e.value)
    }

    /// lookupKeyByPattern: "#" is the element itself; otherwise the first "*" is replaced
    /// by the element and the key read, or the hash field after "->" of that key.
    private func lookupByPattern(_ pattern: UnsafeRawBufferPointer, _ element: [UInt8]) -> [UInt8]? {
        let pat = Array(pattern)
        if pat == [UInt8(ascii: "#")] { return element }
        guard let star = pat.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var field: [UInt8]?
        var keyEnd = pat.count
        var i = star + 1
        while i + 1 < pat.count {
            if pat[i] == UInt8(ascii: "-") && pat[i + 1] == UInt8(ascii: ">") {
                if i + 2 < pat.count {
                    field = Array(pat[(i + 2)...])
                    keyEnd = i
                }
                break
            }
            i += 1
        }
        let key = Array(pat[..<star]) + element + Array(pat[(star + 1)..<keyEnd])
        return key.withUnsafeBytes { k -> [UInt8]? in
            guard let field else { return stringValue(k) }
            guard let e = lookupRead(k, hash: hashKey(k)), e.type == .hash else { return nil }
            let h = unsafeDowncast(e.object, to: HashValue.self)
            return field.withUnsafeBytes { f in h.get(f, hash: hasher.hash(f)).map { Array($0) } }
        }
    }

    /// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
    /// [STORE destination]. STORE writes a list (or deletes the destination when the
    /// result is empty) and is propagated as it came, as in Redis.
    func sort(_ a: Arguments, readOnly: Bool) {
        var desc = false, alpha = false, dontSort = false
        var limitStart = 0, limitCount = -1
        var sortBy: UnsafeRawBufferPointer?
        var storeKey: UnsafeRawBufferPointer?
        var gets: [UnsafeRawBufferPointer] = []
        var j = 2
        while j < a.count {
            let left = a.count - j - 1
            let o = a[j]
            if o.equalsIgnoringCase("asc") { desc = false }
            else if o.equalsIgnoringCase("desc") { desc = true }
            else if o.equalsIgnoringCase("alpha") { alpha = true }
            else if o.equalsIgnoringCase("limit") && left >= 2 {
                guard let s = integerArgument(a[j + 1]), let c = integerArgument(a[j + 2]) else { return }
                limitStart = s
                limitCount = c
                j += 2
            } else if !readOnly && o.equalsIgnoringCase("store") && left >= 1 {
                storeKey = a[j + 1]
                j += 1
            } else if o.equalsIgnoringCase("by") && left >= 1 {
                sortBy = a[j + 1]
                if !a[j + 1].contains(UInt8(ascii: "*")) { dontSort = true }
                j += 1
            } else if o.equalsIgnoringCase("get") && left >= 1 {
                gets.append(a[j + 1])
                j += 1
            } else {
                replySyntaxError()
                return
            }
            j += 1
        }

        let key = a[1]
        let entry = lookupRead(key, hash: hashKey(key))
        if let entry, entry.type != .list && entry.type != .set && entry.type != .zset {
            replyWrongType()
            return
        }
        if dontSort && entry?.type == .set && storeKey != nil {
            dontSort = false
            alpha = true
            sortBy = nil
        }

        if let entry, entry.type == .zset {
            unsafeDowncast(entry.object, to: SortedSetValue.self).convertToSkiplistForSort()
        }
        var length = 0
        if let entry {
            switch entry.type {
            case .list: length = unsafeDowncast(entry.object, to: ListValue.self).count
            case .set: length = unsafeDowncast(entry.object, to: SetValue.self).count
            default: length = unsafeDowncast(entry.object, to: SortedSetValue.self).count
            }
        }
        var start = limitStart < 0 ? 0 : limitStart
        var end = limitCount < 0 ? length - 1 : start + limitCount - 1
        if start >= length {
            start = length - 1
            end = length - 2
        }
        if end >= length { end = length - 1 }

        var items: [SortItem] = []
        if let entry {
            let ordered = entry.type != .set && dontSort
            if ordered && end >= start {
                let n = (start != 0 || end != length - 1) ? end - start + 1 : length
                if entry.type == .list {
                    let list = unsafeDowncast(entry.object, to: ListValue.self)
                    list.forEach(from: desc ? length - start - 1 : start, n, reversed: desc) {
                        items.append(SortItem(element: Array($0)))
                    }
                } else {
                    let z = unsafeDowncast(entry.object, to: SortedSetValue.self)
                    var p: SortedSetPosition? = z.position(atRank: desc ? length - 1 - start : start)
                    while items.count < n, let pos = p {
                        items.append(SortItem(element: Array(z.member(at: pos))))
                        p = z.step(pos, reverse: desc)
                    }
                }
                end -= start
                start = 0
            } else if !ordered {
                switch entry.type {
                case .list: unsafeDowncast(entry.object, to: ListValue.self).forEach { items.append(SortItem(element: Array($0))) }
                case .set: unsafeDowncast(entry.object, to: SetValue.self).forEach { items.append(SortItem(element: Array($0))) }
                default: unsafeDowncast(entry.object, to: SortedSetValue.self).forEachElement { m, _ in items.append(SortItem(element: Array(m))) }
                }
            }
        }

        var conversionError = false
        if !dontSort {
            for k in 0..<items.count {
                let by: [UInt8]
                if let sortBy {
                    guard let v = lookupByPattern(sortBy, items[k].element) else { continue }
                    by = v
                } else {
                    by = items[k].element
                }
                if alpha {
                    if sortBy != nil { items[k].compareBytes = by }
                } else if let s = sortScore(by) {
                    items[k].score = s
                } else {
                    conversionError = true
                }
            }
            let byPattern = sortBy != nil
            let isAlpha = alpha
            let order = { (x: SortItem, y: SortItem) -> Int in
                var c: Int
                if !isAlpha {
                    c = x.score > y.score ? 1 : (x.score < y.score ? -1 : compareBytes(x.element, y.element))
                } else if byPattern {
                    switch (x.compareBytes, y.compareBytes) {
                    case (nil, nil): c = 0
                    case (nil, _): c = -1
                    case (_, nil): c = 1
                    case let (p?, q?): c = compareBytes(p, q)
                    }
                } else {
                    c = compareBytes(x.element, y.element)
                }
                return desc ? -c : c
            }
            // Redis uses pqsort for BY with a LIMIT that cuts, glibc's (stable) qsort otherwise.
            if byPattern && (start != 0 || end != items.count - 1) {
                partialQuickSort(&items, start, end, order)
            } else {
                items.sort { order($0, $1) < 0 }
            }
        }

        let count = end - start + 1
        let outputLength = gets.isEmpty ? count : gets.count * count
        if conversionError {
            replyError("ERR One or more scores can't be converted into double")
            return
        }
        guard let storeKey else {
            replyArrayHeader(outputLength)
            if count > 0 {
                for k in start...end {
                    if gets.isEmpty { replyBulk(items[k].element) }
                    for g in gets {
                        if let v = lookupByPattern(g, items[k].element) { replyBulk(v) } else { replyNull() }
                    }
                }
            }
            return
        }
        var values: [[UInt8]] = []
        if count > 0 {
            for k in start...end {
                if gets.isEmpty { values.append(items[k].element) }
                for g in gets { values.append(lookupByPattern(g, items[k].element) ?? []) }
            }
        }
        let before = dirty
        if outputLength > 0 {
            let list = ListValue(elements: values)
            let hash = hashKey(storeKey)
            storeObject(storeKey, hash: hash, type: .list, list, at: lookupWrite(storeKey, hash: hash))
            dirty += outputLength - 1
            notify(NotifyClass.list, "sortstore", storeKey)
        } else if deleteKey(storeKey) {
            notify(NotifyClass.generic, "del", storeKey)
        }
        // SORT's STORE key is not at a fixed position.
        if dirty != before { touchKey(storeKey) }
        replyInteger(outputLength)
    }
}
