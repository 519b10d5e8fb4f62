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
    /// How the session ended, once it has: a session pushes and releases once.
    private enum End {
        case flushing
        case pushed(PushOutcome)
        case failed(any Error)
        case abandoned
    }
    private let state = Mutex<End?>(nil)

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
    /// A later call returns the first one's outcome, or throws its error; after ``abandon()``
    /// (the locks are gone) it throws.
    /// - Returns: what was pushed and renumbered.
    @discardableResult
    public func flush() async throws -> PushOutcome {
        let previous = state.withLock { state -> End? in
            if let state { return state }
            state = .flushing
            return nil
        }
        switch previous {
        case nil: break
        case .pushed(let outcome): return outcome
        case .failed(let error): throw error
        case .flushing, .abandoned:
            throw LockError(
                .lost, key: models.first.map(LockKey.model) ?? .global,
                message: "this session's locks were already released (or are being); nothing was pushed")
        }
        do {
            let outcome = try await sync.push(.models(models), holding: locks, repository: repository)
            state.withLock { $0 = .pushed(outcome) }
            await ModelLockCoordinator.releaseAll(locks)
            return outcome
        } catch {
            state.withLock { $0 = .failed(error) }
            await ModelLockCoordinator.releaseAll(locks)
            throw error
        }
    }

    /// Releases every lock without pushing (the operation failed before writing). Nothing
    /// happens if the session already ended.
    public func abandon() async {
        let first = state.withLock { state -> Bool in
            guard state == nil else { return false }
            state = .abandoned
            return true
        }
        if first { await ModelLockCoordinator.releaseAll(locks) }
    }
}
