import Foundation
import Logging
import SwampContracts
import SwampSupport

/// Runs the lock-and-sync protocol around model operations (SPEC §3.1) and
/// around structural commands (§3.2).
///
/// For models: wait out the global lock → sort and de-duplicate → ask the sync
/// service for its capabilities once → per model: lock, re-check the global lock
/// (restart if it became held), pull → hand back a ``ModelLockSession`` whose
/// ``ModelLockSession/flush()`` pushes once and always releases the locks.
/// Whenever a pull succeeded the catalog is invalidated before this returns.
public struct ModelLockCoordinator: Sendable {
    public let provider: any DatastoreProvider
    /// How the backend is called for sync.
    public let sync: SyncGateway
    public let lockOptions: LockOptions
    /// Resolves what a push leaves to its caller (renumbering); `nil`: such a conflict is an error.
    public let repository: DataRepository?
    private let logger: Logger
    private let now: @Sendable () -> Date

    public init(
        provider: any DatastoreProvider, sync: SyncGateway, lockOptions: LockOptions, repository: DataRepository? = nil,
        logger: Logger = Logger(label: "swamp.orchestration", factory: { _ in SwiftLogNoOpLogHandler() }),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.provider = provider
        self.sync = sync
        self.lockOptions = lockOptions
        self.repository = repository
        self.logger = logger
        self.now = now
    }

    /// A coordinator with its own gateway over `syncService`.
    public init(
        provider: any DatastoreProvider, syncService: (any DatastoreSyncService)?, lockOptions: LockOptions,
        invalidateCatalog: @escaping @Sendable () throws -> Void, repository: DataRepository? = nil,
        logger: Logger = Logger(label: "swamp.orchestration", factory: { _ in SwiftLogNoOpLogHandler() }),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.init(
            provider: provider, sync: SyncGateway(service: syncService, invalidateCatalog: invalidateCatalog, logger: logger),
            lockOptions: lockOptions, repository: repository, logger: logger, now: now)
    }

    /// Runs `body` holding the per-model locks of `models`, after pulling what they need, and
    /// ends with one push: when `body` returns, its changes are pushed (unless it flushed the
    /// session itself) and the locks released; when it throws, or the task is cancelled, the
    /// locks are released without a push (the work stays marked unpushed for the next one).
    /// - Returns: what `body` returned, and what the final push did.
    public func withModelLocks<T: Sendable>(
        _ models: [ModelRef], _ body: (ModelLockSession) async throws -> T
    ) async throws -> (value: T, pushed: PushOutcome) {
        let session = try await acquireModelLocks(models)
        let value: T
        do {
            value = try await body(session)
        } catch {
            await session.abandon()
            throw error
        }
        return (value, try await session.flush())
    }

    /// Takes the per-model locks for `models` and pulls what they need.
    /// - Returns: a session to ``ModelLockSession/flush()`` (or ``ModelLockSession/abandon()``) when
    ///   done; prefer ``withModelLocks(_:_:)``, which cannot forget to.
    public func acquireModelLocks(_ models: [ModelRef]) async throws -> ModelLockSession {
        let ordered = ModelRef.sortedUnique(models)
        let scoped = sync.capabilities.supportsScopedSync
        let global = try provider.createLock(.global, options: lockOptions)
        var restarts = 0

        attempt: while true {
            // The first attempt does not look at the global lock before taking the model lock:
            // the check right after it (below) sees a global lock however it got there, so the
            // read before it would only cost a round trip. A restart waits for the global lock.
            if restarts > 0 { try await waitUntilFree(global, key: .global) }
            var taken: [any DistributedLock] = []
            do {
                for model in ordered {
                    let lock = try provider.createLock(.model(model), options: lockOptions)
                    try await lock.acquire()
                    taken.append(lock)
                }
                // Once every model lock is held: a structural command may hold the global lock
                // (taken before us or meanwhile); then let go and wait for it. A stale one (its
                // holder crashed) is released. The pull comes only after this read: a global
                // holder that finished before it has its commits in the pull. (Sent side by side,
                // a release landing between the two could leave the pull without a commit made
                // before the read saw the lock free; docs/s3-layout.md, *Locks*.)
                if let holder = try await global.inspect() {
                    if holder.isStale(at: now()) {
                        logger.info("releasing stale lock", metadata: ["key": "global", "holder": "\(holder.holderDescription)"])
                        _ = try await global.forceRelease(expectedNonce: holder.nonce)
                    } else {
                        logger.info("global lock held during acquisition; restarting", metadata: ["holder": "\(holder.holderDescription)"])
                        await Self.releaseAll(taken)
                        restarts += 1
                        continue attempt
                    }
                }
                let synced = try await pullLocked(ordered, scoped: scoped)
                return ModelLockSession(models: ordered, locks: taken, synced: synced, restarts: restarts, sync: sync, repository: repository)
            } catch {
                await Self.releaseAll(taken)
                throw error
            }
        }
    }

    /// The pull a model run needs under its locks: its models' partitions when the backend
    /// scopes, else everything (a plain full pull covers every model). Whether one was made.
    private func pullLocked(_ models: [ModelRef], scoped: Bool) async throws -> Bool {
        if scoped {
            try await sync.pull(.models(models))
            return true
        }
        guard sync.isRemote else { return false }
        try await sync.pull(.all)
        return true
    }

    /// Runs `body` as a structural command: holds the global lock, with no
    /// per-model lock in flight, and releases it on return and on throw.
    public func withGlobalLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withGlobalLockHeld { _ in try await body() }
    }

    /// Like ``withGlobalLock(_:)``, handing `body` the held lock (to fence its pushes).
    package func withGlobalLockHeld<T: Sendable>(_ body: (any DistributedLock) async throws -> T) async throws -> T {
        try await waitForModelLocks()
        let global = try provider.createLock(.global, options: lockOptions)
        try await global.acquire()
        do {
            // Per-model holders that started before we took the global lock finish first.
            try await waitForModelLocks()
            let value = try await body(global)
            try await global.checkHeld()
            try await global.release()
            return value
        } catch {
            await Self.releaseAll([global])
            throw error
        }
    }

    /// Waits (bounded) until `lock` is free; force-releases it by nonce when stale.
    private func waitUntilFree(_ lock: any DistributedLock, key: LockKey) async throws {
        var wait = LockWait(options: lockOptions)
        while let holder = try await lock.inspect() {
            if holder.isStale(at: now()) {
                logger.info("releasing stale lock", metadata: ["key": "\(key)", "holder": "\(holder.holderDescription)"])
                _ = try await lock.forceRelease(expectedNonce: holder.nonce)
                continue
            }
            if wait.expired { throw LockMessages.timeout(key, holder: holder, waited: lockOptions.waitTimeout) }
            try await wait.pause()
        }
    }

    /// Waits (bounded) until no fresh per-model lock is held.
    private func waitForModelLocks() async throws {
        var wait = LockWait(options: lockOptions)
        while true {
            let busy = try await provider.heldLocks().filter { $0.key.model != nil && !$0.info.isStale(at: now()) }
            guard let first = busy.first else { return }
            if wait.expired { throw LockMessages.timeout(first.key, holder: first.info, waited: lockOptions.waitTimeout) }
            try await wait.pause()
        }
    }

    /// Pushes everything, fenced by `locks`, conflicts resolved by renumbering.
    public func push(deadline: Date? = nil, holding locks: [any DistributedLock]) async throws -> PushOutcome {
        try await sync.push(.all, deadline: deadline, holding: locks, repository: repository)
    }

    /// Releases `locks` (last taken first), even in a cancelled task (after a Ctrl-C).
    static func releaseAll(_ locks: [any DistributedLock]) async {
        await uncancelled {
            for lock in locks.reversed() { try? await lock.release() }
        }
    }
}
