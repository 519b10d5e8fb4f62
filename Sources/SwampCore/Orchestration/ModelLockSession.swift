import SwampContracts

/// The per-model locks held for one operation, and the one push that ends it.
public final class ModelLockSession: Sendable {
    /// The models locked, sorted and de-duplicated.
    public let models: [ModelRef]
    /// Whether a pull succeeded (the catalog was invalidated).
    public let synced: Bool
    /// Whether the sync service took scoped pulls and pushes.
    public var scoped: Bool { capabilities.supportsScopedSync }
    /// How many times acquisition restarted because the global lock was taken mid-way.
    public let restarts: Int
    private let capabilities: SyncCapabilities
    private let locks: [any DistributedLock]
    private let syncService: (any DatastoreSyncService)?
    private let repository: DataRepository?

    init(
        models: [ModelRef], locks: [any DistributedLock], synced: Bool, capabilities: SyncCapabilities, restarts: Int,
        syncService: (any DatastoreSyncService)?, repository: DataRepository?
    ) {
        self.models = models
        self.locks = locks
        self.synced = synced
        self.capabilities = capabilities
        self.restarts = restarts
        self.syncService = syncService
        self.repository = repository
    }

    /// Pushes once for all models (scoped when the service opted in, otherwise with no
    /// options), fenced by the locks, and releases every lock, also when the push throws.
    /// A version whose number a teammate took meanwhile is renumbered, not overwritten.
    /// - Returns: what was pushed and renumbered.
    @discardableResult
    public func flush() async throws -> PushOutcome {
        do {
            var outcome = PushOutcome()
            if let syncService {
                outcome = try await ResolvingPush(service: syncService, repository: repository, locks: locks, capabilities: capabilities)
                    .run(scoped ? .scoped(to: models) : nil)
            } else {
                for lock in locks { try await lock.checkHeld() }
            }
            await ModelLockCoordinator.releaseAll(locks)
            return outcome
        } catch {
            await ModelLockCoordinator.releaseAll(locks)
            throw error
        }
    }

    /// Releases every lock without pushing (the operation failed before writing).
    public func abandon() async {
        await ModelLockCoordinator.releaseAll(locks)
    }
}
