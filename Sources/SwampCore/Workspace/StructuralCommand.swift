import Foundation
import SwampContracts

/// Runs a structural command (GC, explicit sync): under the global lock, with no
/// model running, between a full pull and a full push (SPEC §3.2).
public struct StructuralCommand: Sendable {
    public let workspace: Workspace

    public init(workspace: Workspace) { self.workspace = workspace }

    /// What the sync around the command moved.
    public struct SyncCounts: Sendable, Codable, Equatable {
        public var pulled: Int
        public var pushed: Int
        /// Files, requests and bytes, when the sync service counts them.
        public var activity: SyncActivity?
        /// What the push renumbered, renamed or discarded instead of overwriting.
        public var resolution = ConflictResolution()
    }

    /// Pulls, runs `body`, pushes; the global lock is released on return and on throw.
    public func run<T: Sendable>(pull: Bool = true, push: Bool = true, _ body: () async throws -> T) async throws -> T {
        try await runCounting(pull: pull, push: push, body).value
    }

    /// The default deadline of one sync direction: 5 minutes.
    public static let defaultTimeout: TimeInterval = 300

    /// Like ``run(pull:push:_:)``, also returning the honest sync counts.
    public func runCounting<T: Sendable>(
        pull: Bool = true, push: Bool = true, deadline: Date? = nil, _ body: () async throws -> T
    ) async throws -> (value: T, counts: SyncCounts) {
        let sync = workspace.syncService
        let catalog = workspace.catalog
        let before = sync?.activity()
        // A deadline is an option too: only services that opted into options get it.
        let options = deadline.flatMap { deadline in
            sync != nil && workspace.coordinator.capabilities().supportsScopedSync ? DatastoreSyncOptions(deadline: deadline) : nil
        }
        let coordinator = workspace.coordinator
        if pull && !push, let sync {
            try workspace.refuseNestedWait(command: "swamp datastore sync --pull", needsGlobal: false)
            // A pull reads committed states only, each consistent by itself: no global lock.
            var counts = SyncCounts(pulled: 0, pushed: 0, activity: nil)
            do {
                counts.pulled = try await sync.pullChanged(options)
            } catch {
                try? catalog.invalidate()  // whatever the pull applied before failing must show
                throw error
            }
            try catalog.invalidate()
            let value = try await body()
            counts.activity = sync.activity(since: before)
            return (value, counts)
        }
        try workspace.refuseNestedWait(command: "swamp \(push && !pull ? "datastore sync --push" : "data gc / datastore sync")", needsGlobal: true)
        return try await coordinator.withGlobalLockHeld { global in
            var counts = SyncCounts(pulled: 0, pushed: 0, activity: nil)
            if pull, let sync {
                do {
                    counts.pulled = try await sync.pullChanged(options)
                } catch {
                    try? catalog.invalidate()
                    throw error
                }
                try catalog.invalidate()
            }
            let value = try await body()
            if push, sync != nil {
                let outcome = try await coordinator.push(options, holding: [global])
                counts.pushed = outcome.pushed
                counts.resolution = outcome.resolution
            }
            counts.activity = sync?.activity(since: before)
            return (value, counts)
        }
    }
}
