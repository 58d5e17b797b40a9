import Glibc

let expireCommands: [(String, CommandHandler)] = [
    ("expire", { $0.expire($1, base: $0.now, seconds: true) }),
    ("pexpire", { $0.expire($1, base: $0.now, seconds: false) }),
    ("expireat", { $0.expire($1, base: 0, seconds: true) }),
    ("pexpireat", { $0.expire($1, base: 0, seconds: false) }),
    ("ttl", { $0.ttl($1, milliseconds: false, absolute: false) }),
    ("pttl", { $0.ttl($1, milliseconds: true, absolute: false) }),
    ("expiretime", { $0.ttl($1, milliseconds: false, absolute: true) }),
    ("pexpiretime", { $0.ttl($1, milliseconds: true, absolute: true) }),
    ("persist", { e, a in
        guard let link = e.lookupWrite(a[1], hash: e.hashKey(a[1])), Entry(link.pointee!).isVolatile else {
            e.replyInteger(0)
            return
        }
        e.setExpiry(at: link, nil)
        e.notify(NotifyClass.generic, "persist", a[1])
        e.replyInteger(1)
    }),
]

extension Engine {
    /// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT]: Redis 7.0's
    /// expireGenericCommand. `base` is added to the (ms) time: now for the relative forms.
    func expire(_ a: Arguments, base: Int64, seconds: Bool) {
        var nx = false, xx = false, gt = false, lt = false
        var j = 3
        while j < a.count {
            let o = a[j]
            if o.equalsIgnoringCase("nx") { nx = true }
            else if o.equalsIgnoringCase("xx") { xx = true }
            else if o.equalsIgnoringCase("gt") { gt = true }
            else if o.equalsIgnoringCase("lt") { lt = true }
            else {
                replyError(bytes: Array("ERR Unsupported option ".utf8) + truncatedForError(o, Int.max))
                return
            }
            j += 1
        }
        if nx && (xx || gt || lt) {
            replyError("ERR NX and XX, GT or LT options at the same time are not compatible")
            return
        }
        if gt && lt {
            replyError("ERR GT and LT options at the same time are not compatible")
            return
        }
        guard let n = integerArgument(a[2]) else { return }
        var when = Int64(n)
        if seconds {
            if when > Int64.max / 1000 || when < Int64.min / 1000 {
                replyInvalidExpireTime()
                return
            }
            when *= 1000
        }
        if when > Int64.max - base {
            replyInvalidExpireTime()
            return
        }
        when += base

        let key = a[1]
        guard let link = lookupWrite(key, hash: hashKey(key)) else {
            replyInteger(0)
            return
        }
        let e = Entry(link.pointee!)
        let current: Int64? = e.isVolatile ? e.expireAt : nil
        if nx && current != nil { replyInteger(0); return }
        if xx && current == nil { replyInteger(0); return }
        // No TTL counts as an infinite one: GT never passes, LT always does.
        if gt, current == nil || when <= current! { replyInteger(0); return }
        if lt, let current, when >= current { replyInteger(0); return }

        if when <= now {
            db.table.remove(at: link)   // a time in the past deletes the key
            dirty += 1
            notify(NotifyClass.generic, "del", key)
            propagateInstead([Array("DEL".utf8), Array(key)])
        } else {
            setExpiry(at: link, when)
            notify(NotifyClass.generic, "expire", key)
            // Replicas must expire at the same instant, whatever their clock says now.
            propagateInstead([Array("PEXPIREAT".utf8), Array(key), Array(String(when).utf8)])
        }
        replyInteger(1)
    }

    /// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 for a missing key, -1 without expiry.
    func ttl(_ a: Arguments, milliseconds: Bool, absolute: Bool) {
        guard let e = lookupReadNoTouch(a[1], hash: hashKey(a[1])) else {
            replyInteger(-2)
            return
        }
        guard e.isVolatile else {
            replyInteger(-1)
            return
        }
        var t = absolute ? e.expireAt : e.expireAt - now
        if t < 0 { t = 0 }
        replyInteger(Int(milliseconds ? t : (t + 500) / 1000))
    }
}
