import Reactor

/// What the engine knows of one connection. Created when a reactor reports the connection
/// open, dropped when it reports it closed; touched only on the engine thread.
final class Client {
    let id: Int
    let token: UInt64
    let reactor: Int
    let slot: Int
    let fd: Int32
    let peerAddress: String
    let localAddress: String
    let createdAt: Int64          // ms, unix time
    var lastInteraction: Int64    // ms, unix time
    var db = 0
    var name: [UInt8] = []
    var libName: [UInt8] = []
    var libVersion: [UInt8] = []
    /// The last command run (CLIENT LIST's cmd=).
    var lastCommand: Command?
    /// Set by an error reply, for failed_calls.
    var commandFailed = false
    var protocolVersion = 2
    /// QUIT, CLIENT KILL or a protocol error: no more commands are executed.
    var closing = false

    init(id: Int, token: UInt64, reactor: Int, fd: Int32, peer: String, local: String, now: Int64) {
        self.id = id
        self.token = token
        self.reactor = reactor
        self.slot = ConnectionToken(raw: token).slot
        self.fd = fd
        self.peerAddress = peer
        self.localAddress = local
        self.createdAt = now
        self.lastInteraction = now
    }
}
