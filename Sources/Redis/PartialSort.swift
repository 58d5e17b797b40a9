/// Redis's pqsort (src/pqsort.c, NetBSD's quicksort told which positions matter): GEOSEARCH
/// with COUNT and SORT BY with LIMIT sort only the positions `lrange...rrange` this way, and
/// elements that compare equal end up in the order this exact algorithm leaves them, which
/// clients see. `cmp` returns <0, 0 or >0 like a C comparator.
func partialQuickSort<T>(_ v: inout [T], _ lrange: Int, _ rrange: Int, _ cmp: (T, T) -> Int) {
    v.withUnsafeMutableBufferPointer { b in
        partialQuickSort(b, from: 0, count: b.count, lrange, rrange, cmp)
    }
}

/// _pqsort on the `count` elements from `from`: median-of-three (ninther above 40)
/// partitioning with the equal keys gathered at both ends, insertion sort below 7, and
/// only the parts overlapping lrange...rrange sorted further.
private func partialQuickSort<T>(_ v: UnsafeMutableBufferPointer<T>, from: Int, count: Int,
                                 _ lrange: Int, _ rrange: Int, _ cmp: (T, T) -> Int) {
    var a = from, n = count
    func med3(_ x: Int, _ y: Int, _ z: Int) -> Int {
        cmp(v[x], v[y]) < 0
            ? (cmp(v[y], v[z]) < 0 ? y : (cmp(v[x], v[z]) < 0 ? z : x))
            : (cmp(v[y], v[z]) > 0 ? y : (cmp(v[x], v[z]) < 0 ? x : z))
    }
    func vecswap(_ x: Int, _ y: Int, _ k: Int) {
        for i in 0..<max(k, 0) { v.swapAt(x + i, y + i) }
    }
    /// Whether the part [lo, lo + len) holds none of the wanted positions.
    func outside(_ lo: Int, _ len: Int) -> Bool {
        let hi = lo + len - 1
        return (lrange < lo && rrange < lo) || (lrange > hi && rrange > hi)
    }
    while true {
        if n < 7 {
            var pm = a + 1
            while pm < a + n {
                var pl = pm
                while pl > a && cmp(v[pl - 1], v[pl]) > 0 {
                    v.swapAt(pl, pl - 1)
                    pl -= 1
                }
                pm += 1
            }
            return
        }
        var pm = a + n / 2
        if n > 7 {
            var pl = a, pn = a + n - 1
            if n > 40 {
                let d = n / 8
                pl = med3(pl, pl + d, pl + 2 * d)
                pm = med3(pm - d, pm, pm + d)
                pn = med3(pn - 2 * d, pn - d, pn)
            }
            pm = med3(pl, pm, pn)
        }
        v.swapAt(a, pm)
        var pa = a + 1, pb = a + 1
        var pc = a + n - 1, pd = a + n - 1
        while true {
            while pb <= pc {
                let c = cmp(v[pb], v[a])
                if c > 0 { break }
                if c == 0 { v.swapAt(pa, pb); pa += 1 }
                pb += 1
            }
            while pb <= pc {
                let c = cmp(v[pc], v[a])
                if c < 0 { break }
                if c == 0 { v.swapAt(pc, pd); pd -= 1 }
                pc -= 1
            }
            if pb > pc { break }
            v.swapAt(pb, pc)
            pb += 1
            pc -= 1
        }
        let pn = a + n
        var r = min(pa - a, pb - pa)
        vecswap(a, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        vecswap(pb, pn - r, r)
        r = pb - pa
        if r > 1 && !outside(a, r) {
            partialQuickSort(v, from: a, count: r, lrange, rrange, cmp)
        }
        r = pd - pc
        if r > 1 {
            a = pn - r
            n = r
            if !outside(a, r) { continue }
        }
        return
    }
}
