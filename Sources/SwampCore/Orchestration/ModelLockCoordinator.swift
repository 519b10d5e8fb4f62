import Foundation
import Logging
import SwampContracts

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
    public let syncService: (any DatastoreSyncService)?
    public let lockOptions: LockOptions
    /// Resolves what a push leaves to its caller (renumbering); `nil`: such a conflict is an error.
    public let repository: DataRepository?
    /// Called when a pull changed what the cache may hold; invalidates the catalog.
    private let invalidateCatalog: @Sendable () throws -> Void
    private let logger: Logger
    private let now: @Sendable () -> Date

    public init(
        provider: any DatastoreProvider, syncService: (any DatastoreSyncService)?, lockOptions: LockOptions,
        invalidateCatalog: @escaping @Sendable () throws -> Void, repository: DataRepository? = nil,
        logger: Logger = Logger(label: "swamp.orchestration", factory: { _ in SwiftLogNoOpLogHandler() }),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.provider = provider
        self.syncService = syncService
        self.lockOptions = lockOptions
        self.invalidateCatalog = invalidateCatalog
        self.repository = repository
        self.logger = logger
        self.now = now
    }

    /// Asks the sync service what it can do, once; a throwing service degrades to full sync.
    public func capabilities() -> SyncCapabilities {
        guard let syncService else { return .none }
        do {
            return try syncService.capabilities()
        } catch {
            logger.warning("sync service capabilities failed; using full sync", metadata: ["error": "\(error)"])
            return .none
        }
    }

    /// Takes the per-model locks for `models` and pulls what they need.
    /// - Returns: a session to ``ModelLockSession/flush()`` (or ``ModelLockSession/abandon()``) when done.
    public func acquireModelLocks(_ models: [ModelRef]) async throws -> ModelLockSession {
        let ordered = ModelRef.sortedUnique(models)
        let capabilities = capabilities()
        let scoped = capabilities.supportsScopedSync
        let global = try provider.createLock(.global, options: lockOptions)
        var restarts = 0

        attempt: while true {
            try await waitUntilFree(global, key: .global)
            var taken: [any DistributedLock] = []
            var synced = false
            do {
                for model in ordered {
                    let lock = try provider.createLock(.model(model), options: lockOptions)
                    try await lock.acquire()
                    taken.append(lock)
                    // TOCTOU: a structural command may have taken the global lock meanwhile.
                    if let holder = try await global.inspect(), !holder.isStale(at: now()) {
                        logger.info("global lock taken during acquisition; restarting", metadata: ["holder": "\(holder.holderDescription)"])
                        await Self.releaseAll(taken)
                        restarts += 1
                        continue attempt
                    }
                    if scoped, let syncService {
                        try await pull(syncService, .scoped(to: [model]))
                        synced = true
                    }
                }
                if !scoped, let syncService {
                    // A plain full pull covers every model: once, after all of them are locked.
                    try await pull(syncService, nil)
                    synced = true
                }
            } catch {
                await Self.releaseAll(taken)
                throw error
            }
            return ModelLockSession(
                models: ordered, locks: taken, synced: synced, capabilities: capabilities, restarts: restarts, syncService: syncService,
                repository: repository)
        }
    }

    /// Pulls, and invalidates the catalog whatever happens: what a pull applied must show in
    /// the next read even if the pull (or a later step, or a restart) throws.
    private func pull(_ service: any DatastoreSyncService, _ options: DatastoreSyncOptions?) async throws {
        do {
            _ = try await service.pullChanged(options)
        } catch {
            try? invalidateCatalog()
            throw error
        }
        try invalidateCatalog()
    }

    /// Runs `body` as a structural command: holds the global lock, with no
    /// per-model lock in flight, and releases it on return and on throw.
    public func withGlobalLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withGlobalLockHeld { _ in try await body() }
    }

    /// Like ``withGlobalLock(_:)``, handing `body` the held lock (to fence its pushes).
    public func withGlobalLockHeld<T: Sendable>(_ body: (any DistributedLock) async throws -> T) async throws -> T {
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

    /// Pushes through ``ResolvingPush``: fenced by `locks`, conflicts resolved by renumbering.
    public func push(_ options: DatastoreSyncOptions?, holding locks: [any DistributedLock]) async throws -> PushOutcome {
        guard let syncService else { return PushOutcome() }
        return try await ResolvingPush(service: syncService, repository: repository, locks: locks, capabilities: capabilities()).run(options)
    }

    /// Releases `locks` (last taken first), even in a cancelled task (after a Ctrl-C).
    static func releaseAll(_ locks: [any DistributedLock]) async {
        await uncancelled {
            for lock in locks.reversed() { try? await lock.release() }
        }
    }
}
