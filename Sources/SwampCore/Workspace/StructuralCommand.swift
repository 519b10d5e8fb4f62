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
        let sync = workspace.sync
        let coordinator = workspace.coordinator
        if pull && !push && sync.isRemote {
            try workspace.refuseNestedWait(command: "swamp datastore sync --pull", needsGlobal: false)
            // A pull reads committed states only, each consistent by itself: no global lock.
            let (value, activity) = try await sync.measuring { () -> (T, Int) in
                let pulled = try await sync.pull(.all, deadline: deadline)
                return (try await body(), pulled)
            }
            return (value.0, SyncCounts(pulled: value.1, pushed: 0, activity: activity))
        }
        try workspace.refuseNestedWait(command: "swamp \(push && !pull ? "datastore sync --push" : "data gc / datastore sync")", needsGlobal: true)
        // Measured around the lock too: its waits, acquire and release are requests the remote saw.
        let (result, activity) = try await sync.measuring {
            try await coordinator.withGlobalLockHeld { global -> (T, SyncCounts) in
                var counts = SyncCounts(pulled: 0, pushed: 0, activity: nil)
                if pull { counts.pulled = try await sync.pull(.all, deadline: deadline) }
                let value = try await body()
                if push, sync.isRemote {
                    let outcome = try await coordinator.push(deadline: deadline, holding: [global])
                    counts.pushed = outcome.pushed
                    counts.resolution = outcome.resolution
                }
                return (value, counts)
            }
        }
        var counts = result.1
        counts.activity = activity
        return (result.0, counts)
    }
}
