import Foundation
import SwampContracts

/// What one push did, with the conflicts it resolved locally.
public struct PushOutcome: Sendable {
    /// Files pushed (in the last round).
    public var pushed = 0
    /// What was renumbered, renamed or discarded so that nothing had to be overwritten.
    public var resolution = ConflictResolution()

    public init() {}
}

extension SyncGateway {
    /// How many times a push is retried after resolving a conflict.
    static let maximumPushRounds = 5

    /// Pushes, fenced by `locks`, and resolves locally what the push leaves to its caller
    /// (``SyncConflict``): versions whose numbers the remote already holds are renumbered, taken
    /// output record names renamed, half-written versions set aside — then it pushes again.
    /// After a renumbering it pulls the affected models, so the remote's versions under the old
    /// numbers arrive at once. Without a remote it only checks that `locks` are still held.
    ///
    /// The locks are checked right before each commit by a service that declares
    /// ``SyncCapabilities/fencedCommits`` (through ``CommitFence``), otherwise here, before the push.
    /// - Parameter repository: resolves conflicts; `nil`: a conflict is an error.
    public func push(
        _ scope: Scope = .all, deadline: Date? = nil, holding locks: [any DistributedLock], repository: DataRepository?
    ) async throws -> PushOutcome {
        guard let service else {
            for lock in locks { try await lock.checkHeld() }
            return PushOutcome()
        }
        let capabilities = capabilities
        let options = options(scope, deadline: deadline)
        try repository?.finishInterruptedRenumberings()
        if !capabilities.supportsFencedCommits {
            for lock in locks { try await lock.checkHeld() }
        }
        let fence = CommitFence.holding(locks)
        var outcome = PushOutcome()
        for round in 1...Self.maximumPushRounds {
            do {
                outcome.pushed = try await CommitFence.$current.withValue(fence) { try await service.pushChanged(options) }
                break
            } catch let conflict as SyncConflict {
                guard let repository, round < Self.maximumPushRounds else {
                    throw SwampError(
                        .syncFailed, "\(conflict)",
                        hint: "nothing was overwritten and the local work is kept (marked unpushed); run 'swamp datastore sync --push' again")
                }
                // Local changes for a model happen only while its lock is still ours (read: a
                // conflict means someone else committed).
                try await fence.verify()
                outcome.resolution.merge(try repository.resolve(conflict))
            }
        }
        let renumbered = outcome.resolution.models
        if !renumbered.isEmpty {
            try await pull(.models(renumbered))
        }
        return outcome
    }
}
