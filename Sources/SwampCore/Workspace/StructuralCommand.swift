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
    }

    /// Pulls, runs `body`, pushes; the global lock is released on return and on throw.
    public func run<T: Sendable>(pull: Bool = true, push: Bool = true, _ body: () async throws -> T) async throws -> T {
        try await runCounting(pull: pull, push: push, body).value
    }

    /// Like ``run(pull:push:_:)``, also returning the honest sync counts.
    public func runCounting<T: Sendable>(
        pull: Bool = true, push: Bool = true, _ body: () async throws -> T
    ) async throws -> (value: T, counts: SyncCounts) {
        let sync = workspace.syncService
        let catalog = workspace.catalog
        return try await workspace.coordinator.withGlobalLock {
            var counts = SyncCounts(pulled: 0, pushed: 0)
            if pull, let sync {
                counts.pulled = try await sync.pullChanged(nil)
                try catalog.invalidate()
            }
            let value = try await body()
            if push, let sync {
                counts.pushed = try await sync.pushChanged(nil)
            }
            return (value, counts)
        }
    }
}
