/// What must still hold when a push makes its work visible: the caller's locks.
///
/// The orchestration sets ``current`` around a push. A service that declares
/// ``SyncCapabilities/fencedCommits`` calls ``check`` immediately before every remote write
/// that commits (an index or meta write), and ``lostError`` — which costs nothing — before
/// each transfer, so that a holder whose heartbeat found its lock gone stops before its
/// next remote write.
public struct CommitFence: Sendable {
    /// Verifies that every lock is still held; throws ``LockError`` if not. A lock within its
    /// lease may be trusted without a read.
    public let check: @Sendable () async throws -> Void
    /// Verifies against the lock storage itself, lease or not: for the moments that suggest a
    /// successor may exist (a commit refused with `412`, orphans about to be claimed).
    public let verify: @Sendable () async throws -> Void
    /// The loss a heartbeat already recorded, if any (no I/O).
    public let lostError: @Sendable () -> (any Error)?

    public init(
        check: @escaping @Sendable () async throws -> Void, verify: (@Sendable () async throws -> Void)? = nil,
        lostError: @escaping @Sendable () -> (any Error)?
    ) {
        self.check = check
        self.verify = verify ?? check
        self.lostError = lostError
    }

    /// The fence of the push running in this task (and its child tasks), if any.
    @TaskLocal public static var current: CommitFence?

    /// A fence over `locks`: reports the first loss a heartbeat recorded; a lock still within
    /// its lease (``DistributedLock/heldUntil``) needs no read, any other is read (``DistributedLock/checkHeld()``).
    public static func holding(_ locks: [any DistributedLock]) -> CommitFence {
        CommitFence(
            check: {
                for lock in locks {
                    if let lost = lock.detectedLoss { throw lost }
                    if let until = lock.heldUntil, ContinuousClock.now < until { continue }
                    try await lock.checkHeld()
                }
            },
            verify: { for lock in locks { try await lock.checkHeld() } },
            lostError: { locks.lazy.compactMap { $0.detectedLoss }.first })
    }
}
