import Glibc

/// Redis's geohash (src/geohash.c, geohash_helper.c): a position is stored in a sorted set
/// as the 52-bit interleaving of its latitude and longitude cells (26 bits each, latitude
/// in the even bits), so the score, the decoded coordinates and every search area are the
/// same doubles redis-server computes.

let geoLongitudeMin = -180.0
let geoLongitudeMax = 180.0
let geoLatitudeMin = -85.05112878
let geoLatitudeMax = 85.05112878
/// GEO_STEP_MAX: bits per coordinate in a stored score.
let geoStepMax: UInt8 = 26
/// EARTH_RADIUS_IN_METERS, the radius every distance is computed with.
let earthRadiusInMeters = 6372797.560856
/// MERCATOR_MAX, the width geohashEstimateStepsByRadius halves down from.
private let mercatorMax = 20037726.37

/// A cell: `bits` holds `step` * 2 interleaved bits (GeoHashBits).
struct GeohashBits: Equatable {
    var bits: UInt64
    var step: UInt8
    var isZero: Bool { bits == 0 && step == 0 }
    static let zero = GeohashBits(bits: 0, step: 0)
}

/// The coordinate ranges a cell covers (GeoHashArea).
struct GeohashArea {
    var longitudeMin = 0.0, longitudeMax = 0.0
    var latitudeMin = 0.0, latitudeMax = 0.0
}

/// Spreads the 32 bits of `v` to the even bits of a 64-bit word.
@inline(__always)
private func spreadBits(_ v: UInt32) -> UInt64 {
    var x = UInt64(v)
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F
    x = (x | (x << 2)) & 0x3333_3333_3333_3333
    x = (x | (x << 1)) & 0x5555_5555_5555_5555
    return x
}

/// Gathers the even bits of `v` into 32 bits (the inverse of `spreadBits`).
@inline(__always)
private func squashBits(_ v: UInt64) -> UInt64 {
    var x = v & 0x5555_5555_5555_5555
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF
    return x
}

/// geohashEncode over the given ranges; nil where Redis returns 0 (outside the ranges or
/// the indexable latitudes). The offsets are truncated to cells as C's uint32 conversion.
func geohashEncode(longitude: Double, latitude: Double, step: UInt8,
                   longitudeRange: (Double, Double) = (geoLongitudeMin, geoLongitudeMax),
                   latitudeRange: (Double, Double) = (geoLatitudeMin, geoLatitudeMax)) -> GeohashBits? {
    if longitude > geoLongitudeMax || longitude < geoLongitudeMin
        || latitude > geoLatitudeMax || latitude < geoLatitudeMin { return nil }
    if latitude < latitudeRange.0 || latitude > latitudeRange.1
        || longitude < longitudeRange.0 || longitude > longitudeRange.1 { return nil }
    var latOffset = (latitude - latitudeRange.0) / (latitudeRange.1 - latitudeRange.0)
    var longOffset = (longitude - longitudeRange.0) / (longitudeRange.1 - longitudeRange.0)
    let scale = Double(UInt64(1) << UInt64(step))
    latOffset *= scale
    longOffset *= scale
    let bits = spreadBits(UInt32(truncatingIfNeeded: UInt64(latOffset)))
        | (spreadBits(UInt32(truncatingIfNeeded: UInt64(longOffset))) << 1)
    return GeohashBits(bits: bits, step: step)
}

/// geohashDecode over the standard ranges; nil for the zero cell.
func geohashDecode(_ hash: GeohashBits) -> GeohashArea? {
    if hash.isZero { return nil }
    let lat = squashBits(hash.bits)
    let lon = squashBits(hash.bits >> 1)
    let cells = Double(UInt64(1) << UInt64(hash.step))
    let latScale = geoLatitudeMax - geoLatitudeMin
    let longScale = geoLongitudeMax - geoLongitudeMin
    var a = GeohashArea()
    a.latitudeMin = geoLatitudeMin + (Double(lat) * 1.0 / cells) * latScale
    a.latitudeMax = geoLatitudeMin + (Double(lat + 1) * 1.0 / cells) * latScale
    a.longitudeMin = geoLongitudeMin + (Double(lon) * 1.0 / cells) * longScale
    a.longitudeMax = geoLongitudeMin + (Double(lon + 1) * 1.0 / cells) * longScale
    return a
}

/// decodeGeohash: the (longitude, latitude) centre of the cell a stored score names.
func decodeGeoScore(_ score: Double) -> (Double, Double)? {
    guard let a = geohashDecode(GeohashBits(bits: UInt64(score), step: geoStepMax)) else { return nil }
    var lon = (a.longitudeMin + a.longitudeMax) / 2
    var lat = (a.latitudeMin + a.latitudeMax) / 2
    lon = min(max(lon, geoLongitudeMin), geoLongitudeMax)
    lat = min(max(lat, geoLatitudeMin), geoLatitudeMax)
    return (lon, lat)
}

/// geohashAlign52Bits: the cell's bits shifted to a 52-bit score.
@inline(__always)
func geohashAlign52(_ h: GeohashBits) -> UInt64 { h.bits << UInt64(52 - Int(h.step) * 2) }

/// The score GEOADD stores for a position already checked to be in range.
func geoScore(longitude: Double, latitude: Double) -> UInt64 {
    geohashAlign52(geohashEncode(longitude: longitude, latitude: latitude, step: geoStepMax)!)
}

/// geohash_move_x / geohash_move_y: the neighbouring cell `d` steps along longitude (x,
/// the odd bits) or latitude (y, the even bits), wrapping around.
private func geohashMove(_ h: GeohashBits, x: Bool, _ d: Int) -> GeohashBits {
    if d == 0 { return h }
    let shift = UInt64(64 - Int(h.step) * 2)
    let own: UInt64 = x ? 0xAAAA_AAAA_AAAA_AAAA : 0x5555_5555_5555_5555
    let other: UInt64 = x ? 0x5555_5555_5555_5555 : 0xAAAA_AAAA_AAAA_AAAA
    var v = h.bits & own
    let keep = h.bits & other
    let zz = other >> shift
    if d > 0 {
        v = v &+ (zz &+ 1)
    } else {
        v = v | zz
        v = v &- (zz &+ 1)
    }
    v &= own >> shift
    return GeohashBits(bits: v | keep, step: h.step)
}

/// The shape of a search (GeoShape): a circle of `radius` or a `width` x `height` box in
/// the request's unit, `conversion` metres per unit, centred at (longitude, latitude).
struct GeoShape {
    var longitude = 0.0, latitude = 0.0
    var isBox = false
    var radius = 0.0
    var width = 0.0, height = 0.0
    var conversion = 1.0
}

@inline(__always) private func degToRad(_ a: Double) -> Double { a * (Double.pi / 180.0) }
@inline(__always) private func radToDeg(_ a: Double) -> Double { a / (Double.pi / 180.0) }

/// geohashGetLatDistance: metres along a meridian.
@inline(__always)
func geoLatitudeDistance(_ lat1: Double, _ lat2: Double) -> Double {
    earthRadiusInMeters * abs(degToRad(lat2) - degToRad(lat1))
}

/// geohashGetDistance: haversine distance in metres, with Redis's shortcut when the
/// longitudes are the same.
func geoDistance(_ lon1: Double, _ lat1: Double, _ lon2: Double, _ lat2: Double) -> Double {
    let lon1r = degToRad(lon1), lon2r = degToRad(lon2)
    let v = sin((lon2r - lon1r) / 2)
    if v == 0.0 { return geoLatitudeDistance(lat1, lat2) }
    let lat1r = degToRad(lat1), lat2r = degToRad(lat2)
    let u = sin((lat2r - lat1r) / 2)
    let a = u * u + cos(lat1r) * cos(lat2r) * v * v
    return 2.0 * earthRadiusInMeters * asin(a.squareRoot())
}

extension GeoShape {
    /// geoWithinShape after decoding: the distance from the centre to (lon, lat) in metres
    /// when the point lies in the shape, else nil.
    func distanceIfWithin(_ lon: Double, _ lat: Double) -> Double? {
        if !isBox {
            let d = geoDistance(longitude, latitude, lon, lat)
            return d > radius * conversion ? nil : d
        }
        if geoLatitudeDistance(lat, latitude) > height * conversion / 2 { return nil }
        if geoDistance(lon, lat, longitude, lat) > width * conversion / 2 { return nil }
        return geoDistance(longitude, latitude, lon, lat)
    }

    /// geohashBoundingBox: min longitude, min latitude, max longitude, max latitude.
    private var boundingBox: (Double, Double, Double, Double) {
        let h = conversion * (isBox ? height / 2 : radius)
        let w = conversion * (isBox ? width / 2 : radius)
        let latDelta = radToDeg(h / earthRadiusInMeters)
        let longDeltaTop = radToDeg(w / earthRadiusInMeters / cos(degToRad(latitude + latDelta)))
        let longDeltaBottom = radToDeg(w / earthRadiusInMeters / cos(degToRad(latitude - latDelta)))
        let south = latitude < 0
        return (south ? longitude - longDeltaBottom : longitude - longDeltaTop,
                latitude - latDelta,
                south ? longitude + longDeltaBottom : longitude + longDeltaTop,
                latitude + latDelta)
    }

    /// geohashCalculateAreasByShapeWGS84: the centre cell and its eight neighbours (in
    /// membersOfAllNeighbors's order: self, N, S, E, W, NE, NW, SE, SW), zeroed where they
    /// cannot hold a match, at a step chosen so the nine cells cover the shape.
    func searchCells() -> [GeohashBits] {
        let (minLon, minLat, maxLon, maxLat) = boundingBox
        var radiusMeters = isBox ? ((width / 2) * (width / 2) + (height / 2) * (height / 2)).squareRoot() : radius
        radiusMeters *= conversion
        var step = geoEstimateSteps(radiusMeters, latitude)
        var hash = geohashEncode(longitude: longitude, latitude: latitude, step: step) ?? GeohashBits(bits: 0, step: step)
        var n = neighbours(hash)
        var area = geohashDecode(hash) ?? GeohashArea()

        var decrease = false
        let north = geohashDecode(n[1]) ?? GeohashArea(), south = geohashDecode(n[2]) ?? GeohashArea()
        let east = geohashDecode(n[3]) ?? GeohashArea(), west = geohashDecode(n[4]) ?? GeohashArea()
        if north.latitudeMax < maxLat { decrease = true }
        if south.latitudeMin > minLat { decrease = true }
        if east.longitudeMax < maxLon { decrease = true }
        if west.longitudeMin > minLon { decrease = true }
        if step > 1 && decrease {
            step -= 1
            hash = geohashEncode(longitude: longitude, latitude: latitude, step: step) ?? GeohashBits(bits: 0, step: step)
            n = neighbours(hash)
            area = geohashDecode(hash) ?? GeohashArea()
        }
        if step >= 2 {
            if area.latitudeMin < minLat { n[2] = .zero; n[8] = .zero; n[7] = .zero }
            if area.latitudeMax > maxLat { n[1] = .zero; n[5] = .zero; n[6] = .zero }
            if area.longitudeMin < minLon { n[4] = .zero; n[8] = .zero; n[6] = .zero }
            if area.longitudeMax > maxLon { n[3] = .zero; n[7] = .zero; n[5] = .zero }
        }
        return n
    }

    /// The cell itself then N, S, E, W, NE, NW, SE, SW.
    private func neighbours(_ h: GeohashBits) -> [GeohashBits] {
        [h,
         geohashMove(h, x: false, 1),
         geohashMove(h, x: false, -1),
         geohashMove(h, x: true, 1),
         geohashMove(h, x: true, -1),
         geohashMove(geohashMove(h, x: true, 1), x: false, 1),
         geohashMove(geohashMove(h, x: true, -1), x: false, 1),
         geohashMove(geohashMove(h, x: true, 1), x: false, -1),
         geohashMove(geohashMove(h, x: true, -1), x: false, -1)]
    }
}

/// geohashEstimateStepsByRadius: the coarsest step whose cells still cover the radius,
/// coarser towards the poles.
func geoEstimateSteps(_ rangeMeters: Double, _ lat: Double) -> UInt8 {
    if rangeMeters == 0 { return 26 }
    var r = rangeMeters
    var step = 1
    while r < mercatorMax {
        r *= 2
        step += 1
    }
    step -= 2
    if lat > 66 || lat < -66 {
        step -= 1
        if lat > 80 || lat < -80 { step -= 1 }
    }
    if step < 1 { step = 1 }
    if step > 26 { step = 26 }
    return UInt8(step)
}
