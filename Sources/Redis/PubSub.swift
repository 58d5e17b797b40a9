/// Channels and patterns with their subscribers.
struct PubSubState {}

/// One client's subscriptions.
final class Subscriptions {}

extension Engine {
    func pubsubClientClosed(_ c: Client) {}
}
