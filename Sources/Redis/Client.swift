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
    /// Commands live as long as the engine's table: no reference counting per command.
    unowned(unsafe) var lastCommand: Command?
    /// Set by an error reply, for failed_calls.
    var commandFailed = false
    var protocolVersion = 2
    /// AUTH (or HELLO AUTH) succeeded, or no password was set when the connection opened
    /// (Redis's c->authenticated: later changes of requirepass do not touch it).
    var authenticated = false
    /// QUIT, CLIENT KILL or a protocol error: no more commands are executed.
    var closing = false
    /// MONITOR: fed every command; keyspace commands are refused (Monitor.swift).
    var isMonitor = false
    /// CLIENT REPLY OFF / SKIP: replies of this client are dropped (ClientReply.swift).
    var replyMode = ReplyMode.on

    /// MULTI state and watched keys (Transactions.swift); nil for most clients.
    var multiState: MultiState?
    /// What a blocked client waits for (Blocking.swift).
    var blockState: BlockState?
    /// Subscribed channels and patterns (PubSub.swift).
    var subscriptions: Subscriptions?
    /// This connection is a replica of ours, or our master's link (Replication/).
    var replicaLink: ReplicaLink?
    /// Requests that arrived while the client was blocked, run in order once it is not.
    @exclusivity(unchecked) var heldRequests: [OwnedArguments] = []
    /// Blocked or paused, or still working through requests held while it was: new requests queue
    /// behind those so each connection's commands run in the order sent.
    @inline(__always) var isHoldingRequests: Bool { blockState != nil || !heldRequests.isEmpty || pausedRequest != nil }
    /// The command CLIENT PAUSE (or a failover) holds until the pause ends (ClientPause.swift).
    var pausedRequest: OwnedArguments?

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
