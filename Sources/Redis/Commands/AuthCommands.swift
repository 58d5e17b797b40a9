/// AUTH and ACL WHOAMI: the one user Redis 7.0 has without ACL rules, `default`, whose
/// password is `requirepass` (none when empty: Redis's "nopass" default user).
let authCommands: [(String, CommandHandler)] = [
    ("auth", { $0.auth($1) }),
    ("acl|whoami", { e, _ in e.replyBulk("default") }),
]

/// The text of Redis's failed-authentication error, shared by AUTH and HELLO AUTH.
let wrongPassError: StaticString = "WRONGPASS invalid username-password pair or user is disabled."

/// The reply to a command of a client that has not authenticated.
let noAuthError: [UInt8] = Array("NOAUTH Authentication required.".utf8)

extension Engine {
    /// Whether the running client must authenticate before this command: a password is
    /// set, the client has not authenticated, and the command is not one of the no_auth
    /// ones (AUTH, HELLO, QUIT, RESET). Commands run by EXEC were admitted when queued.
    @inline(__always)
    func deniedForAuthentication(_ c: Client, _ cmd: Command) -> Bool {
        !c.authenticated && !config.requirepass.isEmpty && !cmd.flags.contains(.noAuth)
            && !transactions.executingTransaction
    }

    /// AUTH [username] password (Redis's authCommand): `default` is the only user. The
    /// one-argument form is refused when no password is set, to point at a misconfiguration.
    func auth(_ a: Arguments) {
        if a.count > 3 {
            replySyntaxError()
            return
        }
        if a.count == 2 && config.requirepass.isEmpty {
            replyError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            return
        }
        let user = a.count == 3 ? a[1] : nil
        if authenticate(user: user, password: a[a.count - 1]) {
            replyOK()
        } else {
            replyError(wrongPassError)
        }
    }

    /// Checks credentials and, when they are right, marks the running client
    /// authenticated (Redis's ACLAuthenticateUser). `user` nil means `default`. With no
    /// password set any password of `default` is right. A failure leaves the client as it
    /// was: an authenticated client stays so.
    func authenticate(user: UnsafeRawBufferPointer?, password: UnsafeRawBufferPointer) -> Bool {
        if let user, !user.elementsEqual("default".utf8) { return false }
        let required = config.requirepass
        if !required.isEmpty {
            let matches = Array(required.utf8).withUnsafeBytes { timeIndependentEquals(password, $0) }
            if !matches { return false }
        }
        client.authenticated = true
        return true
    }
}

/// Compares a password with the configured one in a time that does not depend on where
/// they differ (only on their lengths), so that response times do not reveal how much
/// of a guess is right. Redis compares SHA-256 digests for the same reason.
func timeIndependentEquals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    var diff = UInt(bitPattern: a.count ^ b.count)
    let n = max(a.count, b.count)
    var i = 0
    while i < n {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        diff |= UInt(x ^ y)
        i += 1
    }
    return diff == 0
}
