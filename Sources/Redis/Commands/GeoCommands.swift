import Glibc

/// GEO* commands (src/geo.c): positions live in sorted sets scored by their 52-bit
/// geohash (Types/Geohash.swift), so every ZSET command works on them too.
let geoCommands: [(String, CommandHandler)] = [
    ("geoadd", { $0.geoadd($1) }),
    ("geopos", { $0.geopos($1) }),
    ("geodist", { $0.geodist($1) }),
    ("geohash", { $0.geohash($1) }),
    ("georadius", { $0.geoSearch($1, keyIndex: 1, mode: .radiusFromCoordinates, noStore: false) }),
    ("georadius_ro", { $0.geoSearch($1, keyIndex: 1, mode: .radiusFromCoordinates, noStore: true) }),
    ("georadiusbymember", { $0.geoSearch($1, keyIndex: 1, mode: .radiusFromMember, noStore: false) }),
    ("georadiusbymember_ro", { $0.geoSearch($1, keyIndex: 1, mode: .radiusFromMember, noStore: true) }),
    ("geosearch", { $0.geoSearch($1, keyIndex: 1, mode: .search, noStore: true) }),
    ("geosearchstore", { $0.geoSearch($1, keyIndex: 2, mode: .searchStore, noStore: false) }),
]

/// Which command family runs georadiusGeneric.
enum GeoSearchMode { case radiusFromCoordinates, radiusFromMember, search, searchStore }

/// One match of a search (geoPoint).
private struct GeoMatch {
    var member: [UInt8]
    var longitude: Double
    var latitude: Double
    var distance: Double
    var score: Double
}

/// `printf` of one double into bytes ("%.4f" distances, "%f" in error messages).
private func formatC(_ format: String, _ v: Double) -> [UInt8] {
    var buf = [CChar](repeating: 0, count: 400)
    let n = withVaList([v]) { vsnprintf(&buf, 400, format, $0) }
    return buf[0..<Int(min(max(n, 0), 399))].map { UInt8(bitPattern: $0) }
}

extension Engine {
    /// extractLongLatOrReply: two doubles, in the indexable range.
    private func longLatArguments(_ lonArg: UnsafeRawBufferPointer, _ latArg: UnsafeRawBufferPointer) -> (Double, Double)? {
        guard let lon = scoreArgument(lonArg), let lat = scoreArgument(latArg) else { return nil }
        if lon < geoLongitudeMin || lon > geoLongitudeMax || lat < geoLatitudeMin || lat > geoLatitudeMax {
            var m = Array("ERR invalid longitude,latitude pair ".utf8)
            m += formatC("%f", lon)
            m.append(UInt8(ascii: ","))
            m += formatC("%f", lat)
            replyError(bytes: m)
            return nil
        }
        return (lon, lat)
    }

    /// extractUnitOrReply: metres per unit, or nil after the error.
    private func unitArgument(_ u: UnsafeRawBufferPointer) -> Double? {
        if u.equalsIgnoringCase("m") { return 1 }
        if u.equalsIgnoringCase("km") { return 1000 }
        if u.equalsIgnoringCase("ft") { return 0.3048 }
        if u.equalsIgnoringCase("mi") { return 1609.34 }
        replyError("ERR unsupported unit provided. please use M, KM, FT, MI")
        return nil
    }

    /// addReplyDoubleDistance: "%.4f" as a bulk string.
    private func replyDistance(_ d: Double) { replyBulk(formatC("%.4f", d)) }

    /// addReplyHumanLongDouble: a coordinate as "%.17Lf" without trailing zeros, a bulk
    /// string in RESP2 and a double in RESP3.
    private func replyCoordinate(_ d: Double) {
        let text = formatLongDouble(Float80(d), humanFriendly: true)
        if resp3 {
            var b: [UInt8] = [UInt8(ascii: ",")]
            b += text
            b += [13, 10]
            replyRaw(b)
        } else {
            replyBulk(text)
        }
    }

    /// GEOADD key [NX|XX] [CH] longitude latitude member [...]: ZADD with the encoded
    /// positions as scores, and propagated as that ZADD (Redis rewrites the command).
    func geoadd(_ a: Arguments) {
        var xx = false, nx = false
        var first = 2
        while first < a.count {
            let o = a[first]
            if o.equalsIgnoringCase("nx") { nx = true }
            else if o.equalsIgnoringCase("xx") { xx = true }
            else if o.equalsIgnoringCase("ch") {}
            else { break }
            first += 1
        }
        if (a.count - first) % 3 != 0 || (xx && nx) { replySyntaxError(); return }
        let elements = (a.count - first) / 3
        var parts: [[UInt8]] = [Array("zadd".utf8)]
        for i in 1..<first { parts.append(Array(a[i])) }
        for i in 0..<elements {
            guard let (lon, lat) = longLatArguments(a[first + 3 * i], a[first + 3 * i + 1]) else { return }
            parts.append(Array(String(geoScore(longitude: lon, latitude: lat)).utf8))
            parts.append(Array(a[first + 3 * i + 2]))
        }
        let before = dirty
        OwnedArguments(parts).withArguments { zadd($0, increment: false) }
        if dirty != before { propagateInstead(parts) }
    }

    /// The sorted set at `key` (nil when missing), and whether WRONGTYPE was replied.
    private func geoSet(_ key: UnsafeRawBufferPointer) -> (SortedSetValue?, Bool) {
        var wrong = false
        let z = sortedSetForRead(key, wrongType: &wrong)
        return (z, wrong)
    }

    /// GEOPOS key member [...]: each member's decoded position, or a null array.
    func geopos(_ a: Arguments) {
        let (z, wrong) = geoSet(a[1])
        if wrong { return }
        replyArrayHeader(a.count - 2)
        for j in 2..<a.count {
            guard let s = z?.score(of: a[j]), let (lon, lat) = decodeGeoScore(s) else {
                replyNullArray()
                continue
            }
            replyArrayHeader(2)
            replyCoordinate(lon)
            replyCoordinate(lat)
        }
    }

    /// GEODIST key member1 member2 [unit]
    func geodist(_ a: Arguments) {
        var toMeter = 1.0
        if a.count == 5 {
            guard let u = unitArgument(a[4]) else { return }
            toMeter = u
        } else if a.count > 5 {
            replySyntaxError()
            return
        }
        let (z, wrong) = geoSet(a[1])
        if wrong { return }
        guard let z else { replyNull(); return }
        guard let s1 = z.score(of: a[2]), let s2 = z.score(of: a[3]),
              let (lon1, lat1) = decodeGeoScore(s1), let (lon2, lat2) = decodeGeoScore(s2) else {
            replyNull()
            return
        }
        replyDistance(geoDistance(lon1, lat1, lon2, lat2) / toMeter)
    }

    /// GEOHASH key member [...]: the standard 11-character geohash of each position
    /// (re-encoded over latitude -90...90, as Redis does).
    func geohash(_ a: Arguments) {
        let (z, wrong) = geoSet(a[1])
        if wrong { return }
        let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)
        replyArrayHeader(a.count - 2)
        for j in 2..<a.count {
            guard let s = z?.score(of: a[j]), let (lon, lat) = decodeGeoScore(s) else {
                replyNull()
                continue
            }
            let bits = geohashEncode(longitude: lon, latitude: lat, step: 26,
                                     longitudeRange: (-180, 180), latitudeRange: (-90, 90))?.bits ?? 0
            var text = [UInt8](repeating: 0, count: 11)
            for i in 0..<11 {
                let idx = i == 10 ? 0 : Int((bits >> UInt64(52 - (i + 1) * 5)) & 0x1f)
                text[i] = alphabet[idx]
            }
            replyBulk(text)
        }
    }

    /// georadiusGeneric: GEORADIUS[BYMEMBER][_RO] and GEOSEARCH[STORE]. Options are parsed
    /// in Redis's order so the same error wins; a missing source key still gets its
    /// options checked before the empty answer.
    func geoSearch(_ a: Arguments, keyIndex: Int, mode: GeoSearchMode, noStore: Bool) {
        let (z, wrong) = geoSet(a[keyIndex])
        if wrong { return }
        var shape = GeoShape()
        var storeKey: UnsafeRawBufferPointer?
        var storeDist = false
        let baseArgs: Int
        let isSearch = mode == .search || mode == .searchStore
        switch mode {
        case .radiusFromCoordinates:
            baseArgs = 6
            guard let (lon, lat) = longLatArguments(a[2], a[3]) else { return }
            shape.longitude = lon; shape.latitude = lat
            guard distanceArguments(a[4], a[5], &shape) else { return }
        case .radiusFromMember:
            baseArgs = 5
            if let z {
                guard let s = z.score(of: a[2]), let (lon, lat) = decodeGeoScore(s) else {
                    replyError("ERR could not decode requested zset member")
                    return
                }
                shape.longitude = lon; shape.latitude = lat
                guard distanceArguments(a[3], a[4], &shape) else { return }
            }
        case .search:
            baseArgs = 2
        case .searchStore:
            baseArgs = 3
            storeKey = a[1]
        }

        var withDist = false, withHash = false, withCoord = false
        var fromMember = false, fromLonLat = false, byRadius = false, byBox = false
        var sort = 0  // 0 none, 1 ascending, 2 descending
        var any = false
        var count = 0
        let remaining = a.count - baseArgs
        var i = 0
        while i < remaining {
            let arg = a[baseArgs + i]
            if arg.equalsIgnoringCase("withdist") { withDist = true }
            else if arg.equalsIgnoringCase("withhash") { withHash = true }
            else if arg.equalsIgnoringCase("withcoord") { withCoord = true }
            else if arg.equalsIgnoringCase("any") { any = true }
            else if arg.equalsIgnoringCase("asc") { sort = 1 }
            else if arg.equalsIgnoringCase("desc") { sort = 2 }
            else if arg.equalsIgnoringCase("count") && i + 1 < remaining {
                guard let n = integerArgument(a[baseArgs + i + 1]) else { return }
                if n <= 0 { replyError("ERR COUNT must be > 0"); return }
                count = n
                i += 1
            } else if arg.equalsIgnoringCase("store") && i + 1 < remaining && !noStore && !isSearch {
                storeKey = a[baseArgs + i + 1]
                storeDist = false
                i += 1
            } else if arg.equalsIgnoringCase("storedist") && i + 1 < remaining && !noStore && !isSearch {
                storeKey = a[baseArgs + i + 1]
                storeDist = true
                i += 1
            } else if arg.equalsIgnoringCase("storedist") && mode == .searchStore {
                storeDist = true
            } else if arg.equalsIgnoringCase("frommember") && i + 1 < remaining && isSearch && !fromLonLat {
                if let z {
                    guard let s = z.score(of: a[baseArgs + i + 1]), let (lon, lat) = decodeGeoScore(s) else {
                        replyError("ERR could not decode requested zset member")
                        return
                    }
                    shape.longitude = lon; shape.latitude = lat
                }
                fromMember = true
                i += 1
            } else if arg.equalsIgnoringCase("fromlonlat") && i + 2 < remaining && isSearch && !fromMember {
                guard let (lon, lat) = longLatArguments(a[baseArgs + i + 1], a[baseArgs + i + 2]) else { return }
                shape.longitude = lon; shape.latitude = lat
                fromLonLat = true
                i += 2
            } else if arg.equalsIgnoringCase("byradius") && i + 2 < remaining && isSearch && !byBox {
                guard distanceArguments(a[baseArgs + i + 1], a[baseArgs + i + 2], &shape) else { return }
                shape.isBox = false
                byRadius = true
                i += 2
            } else if arg.equalsIgnoringCase("bybox") && i + 3 < remaining && isSearch && !byRadius {
                guard let w = scoreArgument(a[baseArgs + i + 1], error: "ERR need numeric width"),
                      let h = scoreArgument(a[baseArgs + i + 2], error: "ERR need numeric height") else { return }
                if h < 0 || w < 0 { replyError("ERR height or width cannot be negative"); return }
                shape.width = w; shape.height = h
                guard let u = unitArgument(a[baseArgs + i + 3]) else { return }
                shape.conversion = u
                shape.isBox = true
                byBox = true
                i += 3
            } else {
                replySyntaxError()
                return
            }
            i += 1
        }

        if storeKey != nil && (withDist || withHash || withCoord) {
            if mode == .searchStore {
                replyError("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
            } else {
                replyError("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
            }
            return
        }
        if isSearch && !(fromMember || fromLonLat) {
            replyError(bytes: Array("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ".utf8) + Array(a[0]))
            return
        }
        if isSearch && !(byRadius || byBox) {
            replyError(bytes: Array("ERR exactly one of BYRADIUS and BYBOX can be specified for ".utf8) + Array(a[0]))
            return
        }
        if any && count == 0 { replyError("ERR the ANY argument requires COUNT argument"); return }

        guard let z else {
            if let storeKey {
                if deleteKey(storeKey) {
                    notify(NotifyClass.generic, "del", storeKey)
                    if mode != .searchStore { touchKey(storeKey) }
                }
                replyInteger(0)
            } else {
                replyEmptyArray()
            }
            return
        }
        if count != 0 && sort == 0 && !any { sort = 1 }

        var matches = geoMatches(z, shape, limit: any ? count : 0)
        if matches.isEmpty && storeKey == nil {
            replyEmptyArray()
            return
        }
        let returned = count == 0 || matches.count < count ? matches.count : count
        if sort != 0 {
            // sort_gp_asc / sort_gp_desc: qsort (glibc's merge sort, stable) for the whole
            // result, pqsort when COUNT keeps fewer, as Redis does.
            let descending = sort == 2
            if returned == matches.count {
                if descending { matches.sort { $0.distance > $1.distance } } else { matches.sort { $0.distance < $1.distance } }
            } else {
                partialQuickSort(&matches, 0, returned - 1) { x, y in
                    let c = x.distance > y.distance ? 1 : (x.distance == y.distance ? 0 : -1)
                    return descending ? -c : c
                }
            }
        }

        guard let storeKey else {
            let options = (withDist ? 1 : 0) + (withCoord ? 1 : 0) + (withHash ? 1 : 0)
            replyArrayHeader(returned)
            for k in 0..<returned {
                let m = matches[k]
                if options > 0 { replyArrayHeader(options + 1) }
                replyBulk(m.member)
                if withDist { replyDistance(m.distance / shape.conversion) }
                if withHash { replyInteger(Int(Int64(m.score))) }
                if withCoord {
                    replyArrayHeader(2)
                    replyCoordinate(m.longitude)
                    replyCoordinate(m.latitude)
                }
            }
            return
        }

        let before = dirty
        if returned > 0 {
            var longest = 0
            for k in 0..<returned { longest = max(longest, matches[k].member.count) }
            let result = SortedSetValue(expectedCount: returned, maxMemberLength: longest)
            for k in 0..<returned {
                let m = matches[k]
                let score = storeDist ? m.distance / shape.conversion : m.score
                m.member.withUnsafeBytes { result.insertNew($0, score: score) }
            }
            let hash = hashKey(storeKey)
            storeObject(storeKey, hash: hash, type: .zset, result, at: lookupWrite(storeKey, hash: hash))
            dirty += returned - 1
            notify(NotifyClass.zset, mode == .searchStore ? "geosearchstore" : "georadiusstore", storeKey)
        } else if deleteKey(storeKey) {
            notify(NotifyClass.generic, "del", storeKey)
        }
        // GEORADIUS's STORE key is not at a fixed position.
        if mode != .searchStore && dirty != before { touchKey(storeKey) }
        replyInteger(returned)
    }

    /// extractDistanceOrReply: radius and unit into `shape`.
    private func distanceArguments(_ r: UnsafeRawBufferPointer, _ u: UnsafeRawBufferPointer, _ shape: inout GeoShape) -> Bool {
        guard let radius = scoreArgument(r, error: "ERR need numeric radius") else { return false }
        if radius < 0 { replyError("ERR radius cannot be negative"); return false }
        shape.radius = radius
        guard let c = unitArgument(u) else { return false }
        shape.conversion = c
        return true
    }

    /// membersOfAllNeighbors: the members in the nine cells around the centre that lie in
    /// the shape, cell by cell in score order; with `limit`, stops once that many matched.
    private func geoMatches(_ z: SortedSetValue, _ shape: GeoShape, limit: Int) -> [GeoMatch] {
        let cells = shape.searchCells()
        var out: [GeoMatch] = []
        var lastProcessed = 0
        for i in 0..<cells.count {
            let cell = cells[i]
            if cell.isZero { continue }
            if lastProcessed != 0 && cell == cells[lastProcessed] { continue }
            if !out.isEmpty && limit != 0 && out.count >= limit { break }
            var next = cell
            next.bits += 1
            let range = ScoreRange(min: Double(geohashAlign52(cell)), max: Double(geohashAlign52(next)),
                                   minExclusive: false, maxExclusive: true)
            var p = z.firstInRange(range)
            while let pos = p {
                if !out.isEmpty && limit != 0 && out.count >= limit { break }
                let score = z.score(at: pos)
                if !range.belowMax(score) { break }
                if let (lon, lat) = decodeGeoScore(score), let d = shape.distanceIfWithin(lon, lat) {
                    out.append(GeoMatch(member: Array(z.member(at: pos)), longitude: lon, latitude: lat,
                                        distance: d, score: score))
                }
                p = z.next(pos)
            }
            lastProcessed = i
        }
        return out
    }
}
