import SwampContracts
import Synchronization

/// The per-model locks held for one operation, and the one push that ends it.
public final class ModelLockSession: Sendable {
    /// The models locked, sorted and de-duplicated.
    public let models: [ModelRef]
    /// Whether a pull succeeded (the catalog was invalidated).
    public let synced: Bool
    /// Whether the sync service took scoped pulls and pushes.
    public var scoped: Bool { sync.capabilities.supportsScopedSync }
    /// How many times acquisition restarted because the global lock was taken mid-way.
    public let restarts: Int
    private let locks: [any DistributedLock]
    private let sync: SyncGateway
    private let repository: DataRepository?
    /// Whether the locks were released (by a flush or an abandon): a session ends once.
    private let ended = Mutex<PushOutcome?>(nil)

    init(models: [ModelRef], locks: [any DistributedLock], synced: Bool, restarts: Int, sync: SyncGateway, repository: DataRepository?) {
        self.models = models
        self.locks = locks
        self.synced = synced
        self.restarts = restarts
        self.sync = sync
        self.repository = repository
    }

    /// Pushes once for all models (scoped when the service opted in, otherwise with no
    /// options), fenced by the locks, and releases every lock, also when the push throws.
    /// A version whose number a teammate took meanwhile is renumbered, not overwritten.
    /// A second call returns the first one's outcome and pushes nothing.
    /// - Returns: what was pushed and renumbered.
    @discardableResult
    public func flush() async throws -> PushOutcome {
        if let outcome = ended.withLock({ $0 }) { return outcome }
        do {
            let outcome = try await sync.push(.models(models), holding: locks, repository: repository)
            await end(outcome)
            return outcome
        } catch {
            await end(PushOutcome())
            throw error
        }
    }

    /// Releases every lock without pushing (the operation failed before writing).
    public func abandon() async {
        await end(PushOutcome())
    }

    private func end(_ outcome: PushOutcome) async {
        let first = ended.withLock { ended -> Bool in
            guard ended == nil else { return false }
            ended = outcome
            return true
        }
        if first { await ModelLockCoordinator.releaseAll(locks) }
    }
}
