/// Role, replication ids and offsets, backlog, attached replicas, link to a master.
final class ReplicationState {
    /// Our link to the master we replicate, nil while we are a master (ReplicaSide.swift).
    var master: MasterLink?
}

/// A connection that is a replica of ours, or our link to our master.
final class ReplicaLink {}

extension Engine {
    /// Appends a write to the replication stream (backlog and every online replica),
    /// preceded by SELECT when the database differs from the stream's.
    func replicationFeed(_ args: Arguments, database: Int) {}

    func replicationClientClosed(_ c: Client) {}
}
