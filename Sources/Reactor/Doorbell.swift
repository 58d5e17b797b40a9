import CURing
import Glibc
import Synchronization

/// Wakes a thread that may be asleep, at no cost while it is awake.
///
/// The sleeper announces itself (`prepareToSleep`), re-checks its queues, and only then
/// blocks on `fd` (an eventfd: the keyspace thread polls it, a reactor keeps a read armed on
/// its ring). A producer that published work calls `ring()`: it pays for a `write(2)` only
/// when the sleeper announced sleep, so under load there is no syscall per message.
///
/// Ordering (Dekker): the sleeper does store(sleeping) ; fence(seq_cst) ; load(queue index),
/// the producer does store(queue index, release) ; fence(seq_cst) ; load(sleeping). With
/// both fences, at least one side sees the other's store, so a wake-up is never lost.
public final class Doorbell: @unchecked Sendable {
    public let fd: Int32
    private let sleeping = Atomic<Bool>(false)

    /// A reactor reads its eventfd through io_uring, which wants a blocking descriptor (a
    /// non-blocking one completes at once with -EAGAIN); the engine polls a non-blocking one.
    public init(nonBlocking: Bool) {
        fd = eventfd(0, Int32(EFD_CLOEXEC) | (nonBlocking ? Int32(EFD_NONBLOCK) : 0))
        precondition(fd >= 0, "eventfd failed: errno \(errno)")
    }

    deinit { close(fd) }

    /// Sleeper side: call before the final re-check of the queues.
    @inline(__always)
    public func prepareToSleep() {
        sleeping.store(true, ordering: .relaxed)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    /// Sleeper side: call after waking (or when the re-check found work).
    @inline(__always)
    public func awake() {
        sleeping.store(false, ordering: .relaxed)
    }

    /// Producer side: call after publishing; writes the eventfd only if the peer sleeps.
    @inline(__always)
    public func ring() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if sleeping.load(ordering: .relaxed) {
            // exchange so that several producers wake the sleeper with one write only.
            if sleeping.exchange(false, ordering: .relaxed) {
                var one: UInt64 = 1
                _ = write(fd, &one, 8)
            }
        }
    }

    /// Sleeper side for a thread without a ring: blocks in poll(2) up to `timeoutMs`
    /// (-1: forever), then clears the eventfd counter.
    public func wait(timeoutMs: Int32) {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, timeoutMs)
        var value: UInt64 = 0
        _ = read(fd, &value, 8)
    }
}
