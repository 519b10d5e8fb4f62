/// A lock shared by every process (and machine) that uses one datastore.
///
/// Holders refresh the lock by heartbeat every `ttl / 3`; a lock whose
/// `acquiredAt + ttl` has passed is stale and may be taken over. A holder that
/// loses its lock must stop and say so: ``checkHeld()`` throws once that happened.
public protocol DistributedLock: Sendable {
    /// The key this lock guards.
    var key: LockKey { get }

    /// Takes the lock, waiting (bounded by the options' `waitTimeout`) while
    /// another holder has it and taking it over when it is stale.
    /// - Throws: ``LockError`` with code `timeout` naming the holder when the wait runs out.
    func acquire() async throws

    /// Releases the lock if this instance holds it. Idempotent.
    func release() async throws

    /// The current holder, or `nil` when the lock is free.
    func inspect() async throws -> LockInfo?

    /// Removes the lock only if its nonce is still `expectedNonce`.
    /// Returns whether the lock was removed.
    func forceRelease(expectedNonce: String) async throws -> Bool

    /// Throws ``LockError`` with code `lost` when this holder's lock was taken
    /// over or removed since it was acquired (detected by heartbeat or on demand).
    func checkHeld() async throws

    /// The loss this holder's heartbeat already detected, if any. No I/O: cheap enough to ask
    /// before every remote write. The default (`nil`) means "not tracked"; ``checkHeld()`` still tells.
    var detectedLoss: LockError? { get }

    /// Until when (this process's monotonic clock) no other process can have taken this lock
    /// over: counted from the send of this holder's last write that landed (create or
    /// heartbeat), with margin. While it lasts, a commit fence needs no read of the lock.
    /// The default (`nil`) means "not tracked": the fence reads the lock (``checkHeld()``).
    var heldUntil: ContinuousClock.Instant? { get }
}

extension DistributedLock {
    public var detectedLoss: LockError? { nil }
    public var heldUntil: ContinuousClock.Instant? { nil }

    /// Runs `body` while holding the lock, and releases it on return and on throw.
    public func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        do {
            let value = try await body()
            try await release()
            return value
        } catch {
            // Released even when the task was cancelled (a Ctrl-C): in a task of its own.
            let lock = self
            await Task { try? await lock.release() }.value
            throw error
        }
    }
}
