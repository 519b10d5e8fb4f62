import SwampContracts

/// The per-model locks held for one operation, and the one push that ends it.
public final class ModelLockSession: Sendable {
    /// The models locked, sorted and de-duplicated.
    public let models: [ModelRef]
    /// Whether a pull succeeded (the catalog was invalidated).
    public let synced: Bool
    /// Whether the sync service took scoped pulls and pushes.
    public let scoped: Bool
    /// How many times acquisition restarted because the global lock was taken mid-way.
    public let restarts: Int
    private let locks: [any DistributedLock]
    private let syncService: (any DatastoreSyncService)?

    init(models: [ModelRef], locks: [any DistributedLock], synced: Bool, scoped: Bool, restarts: Int, syncService: (any DatastoreSyncService)?) {
        self.models = models
        self.locks = locks
        self.synced = synced
        self.scoped = scoped
        self.restarts = restarts
        self.syncService = syncService
    }

    /// Pushes once for all models (scoped when the service opted in, otherwise
    /// with no options) and releases every lock, also when the push throws.
    /// - Returns: the number of files pushed.
    @discardableResult
    public func flush() async throws -> Int {
        do {
            for lock in locks { try await lock.checkHeld() }
            var pushed = 0
            if let syncService {
                pushed = try await syncService.pushChanged(scoped ? .scoped(to: models) : nil)
            }
            await ModelLockCoordinator.releaseAll(locks)
            return pushed
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
