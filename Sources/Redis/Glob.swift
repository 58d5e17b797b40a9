/// Glob-style matching for KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET: a line-by-line
/// port of redis 7.0's `stringmatchlen` (src/util.c, as shipped with the CVE-2024-31228
/// nesting limit), so that every odd pattern ("[", "[^", "[z-a]", a trailing "\\",
/// bytes >= 0x80 in ranges) matches exactly what redis-server matches.
///
/// `*` any run of bytes, `?` one byte, `[abc]` `[^abc]` `[a-z]` one byte of a set,
/// `\x` the byte x literally. `nocase` folds ASCII letters only (Redis never changes
/// LC_CTYPE from "C", so its tolower() is ASCII-only).
///
/// Like the C function, "*" does not match the empty string (the loop needs a byte of
/// string); KEYS and SCAN take every key for the pattern "*" without calling it, and our
/// callers must do the same to return the empty key.
func stringMatch(_ pattern: UnsafeRawBufferPointer, _ string: UnsafeRawBufferPointer, nocase: Bool) -> Bool {
    var skipLongerMatches = false
    return GlobMatcher(pattern: pattern, string: string, nocase: nocase)
        .match(p: 0, s: 0, skipLongerMatches: &skipLongerMatches, nesting: 0)
}

private struct GlobMatcher {
    let pattern: UnsafeRawBufferPointer
    let string: UnsafeRawBufferPointer
    let nocase: Bool

    /// C reads one byte past the pattern (sds strings end in '\0'): `pattern[1] == '*'` on
    /// the last byte, `*pattern == '*'` after the end, `pattern[0]` after "[" or "[^".
    /// Returning 0 there reproduces those reads without touching memory we do not own.
    @inline(__always) func pat(_ i: Int) -> UInt8 { i < pattern.count ? pattern[i] : 0 }

    /// The string is only read while bytes remain (the loop runs while stringLen > 0).
    @inline(__always) func str(_ i: Int) -> UInt8 { string[i] }

    /// Redis compares range bounds as `int` loaded from `char`, which is signed on x86-64:
    /// bytes >= 0x80 are negative, so "[a-\xff]" is the range -1...97. Kept for exactness.
    @inline(__always) static func signed(_ b: UInt8) -> Int { Int(Int8(bitPattern: b)) }

    /// tolower() in the "C" locale: only 'A'...'Z' change; negative chars pass through.
    @inline(__always) static func lower(_ c: Int) -> Int { c >= 65 && c <= 90 ? c + 32 : c }

    /// `p`/`s` are offsets into pattern/string; patternLen/stringLen are what remains, as in C.
    func match(p startP: Int, s startS: Int, skipLongerMatches: inout Bool, nesting: Int) -> Bool {
        // Protection against abusive patterns (each '*' recurses once per string position).
        if nesting > 1000 { return false }
        var p = startP
        var s = startS
        var patternLen = pattern.count - p
        var stringLen = string.count - s

        while patternLen > 0 && stringLen > 0 {
            switch pat(p) {
            case UInt8(ascii: "*"):
                while patternLen > 0 && pat(p + 1) == UInt8(ascii: "*") {
                    p += 1
                    patternLen -= 1
                }
                if patternLen == 1 { return true }
                while stringLen > 0 {
                    if match(p: p + 1, s: s, skipLongerMatches: &skipLongerMatches, nesting: nesting + 1) {
                        return true
                    }
                    if skipLongerMatches { return false }
                    s += 1
                    stringLen -= 1
                }
                // The rest of the pattern matches nowhere in the rest of the string, so no
                // earlier '*' can help by consuming more: tell every caller to give up.
                skipLongerMatches = true
                return false
            case UInt8(ascii: "?"):
                s += 1
                stringLen -= 1
            case UInt8(ascii: "["):
                p += 1
                patternLen -= 1
                let not = pat(p) == UInt8(ascii: "^")
                if not {
                    p += 1
                    patternLen -= 1
                }
                var matched = false
                while true {
                    if pat(p) == UInt8(ascii: "\\") && patternLen >= 2 {
                        p += 1
                        patternLen -= 1
                        // As in Redis, an escaped byte in a set ignores nocase.
                        if pat(p) == str(s) { matched = true }
                    } else if pat(p) == UInt8(ascii: "]") {
                        break
                    } else if patternLen == 0 {
                        // Unterminated set: step back so the increment below lands on the end.
                        p -= 1
                        patternLen += 1
                        break
                    } else if patternLen >= 3 && pat(p + 1) == UInt8(ascii: "-") {
                        var start = GlobMatcher.signed(pat(p))
                        var end = GlobMatcher.signed(pat(p + 2))
                        var c = GlobMatcher.signed(str(s))
                        if start > end { swap(&start, &end) }
                        if nocase {
                            start = GlobMatcher.lower(start)
                            end = GlobMatcher.lower(end)
                            c = GlobMatcher.lower(c)
                        }
                        p += 2
                        patternLen -= 2
                        if c >= start && c <= end { matched = true }
                    } else if !nocase {
                        if pat(p) == str(s) { matched = true }
                    } else if GlobMatcher.lower(GlobMatcher.signed(pat(p))) == GlobMatcher.lower(GlobMatcher.signed(str(s))) {
                        matched = true
                    }
                    p += 1
                    patternLen -= 1
                }
                if not { matched = !matched }
                if !matched { return false }
                s += 1
                stringLen -= 1
            default:
                // '\\' escapes the next byte, unless it is the last one (then it is literal).
                if pat(p) == UInt8(ascii: "\\") && patternLen >= 2 {
                    p += 1
                    patternLen -= 1
                }
                if !nocase {
                    if pat(p) != str(s) { return false }
                } else if GlobMatcher.lower(GlobMatcher.signed(pat(p))) != GlobMatcher.lower(GlobMatcher.signed(str(s))) {
                    return false
                }
                s += 1
                stringLen -= 1
            }
            p += 1
            patternLen -= 1
            if stringLen == 0 {
                // Trailing stars match the empty rest of the string.
                while pat(p) == UInt8(ascii: "*") {
                    p += 1
                    patternLen -= 1
                }
                break
            }
        }
        return patternLen == 0 && stringLen == 0
    }
}
