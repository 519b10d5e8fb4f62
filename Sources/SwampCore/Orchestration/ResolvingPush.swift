import SwampContracts

/// What one push did, with the conflicts it resolved locally.
public struct PushOutcome: Sendable {
    /// Files pushed (in the last round).
    public var pushed = 0
    /// What was renumbered, renamed or discarded so that nothing had to be overwritten.
    public var resolution = ConflictResolution()

    public init() {}
}

/// Pushes through a sync service, fenced by the caller's locks, and resolves locally what the
/// push leaves to its caller (``SyncConflict``): it renumbers versions whose numbers the remote
/// already holds, renames taken output records, removes half-written versions, and pushes again.
/// After a renumbering it pulls the affected models, so the remote's versions under the old
/// numbers arrive at once.
struct ResolvingPush: Sendable {
    let service: any DatastoreSyncService
    /// Resolves conflicts; `nil`: a conflict is an error.
    let repository: DataRepository?
    /// The locks the caller holds: checked before each commit (by the service when it declares
    /// `fencedCommits`, otherwise here, before the push).
    let locks: [any DistributedLock]
    let capabilities: SyncCapabilities

    static let maximumRounds = 5

    func run(_ options: DatastoreSyncOptions?) async throws -> PushOutcome {
        try repository?.finishInterruptedRenumberings()
        if !capabilities.supportsFencedCommits {
            for lock in locks { try await lock.checkHeld() }
        }
        let fence = CommitFence.holding(locks)
        var outcome = PushOutcome()
        for round in 1...Self.maximumRounds {
            do {
                outcome.pushed = try await CommitFence.$current.withValue(fence) { try await service.pushChanged(options) }
                break
            } catch let conflict as SyncConflict {
                guard let repository, round < Self.maximumRounds else {
                    throw SwampError(
                        .syncFailed, "\(conflict)",
                        hint: "nothing was overwritten and the local work is kept (marked unpushed); run 'swamp datastore sync --push' again")
                }
                // Local changes for a model happen only while its lock is still ours.
                try await fence.check()
                outcome.resolution.merge(try repository.resolve(conflict))
            }
        }
        let renumbered = outcome.resolution.models
        if !renumbered.isEmpty {
            _ = try await service.pullChanged(capabilities.supportsScopedSync ? .scoped(to: renumbered) : nil)
            try repository?.catalog.invalidate()
        }
        return outcome
    }
}
