import Foundation
import Logging
import SwampContracts
import Synchronization

/// The one place the core calls a backend's ``DatastoreSyncService``.
///
/// Every rule of how a backend is called for sync lives here, one concern each:
/// - ``capabilities`` is asked once; a service that throws is treated as full-sync only;
/// - options are gated: a service that did not opt into ``SyncCapabilities/scopedSync`` gets
///   `nil` — no context, no deadline — whatever the caller asked for;
/// - every pull, also one that fails after applying files, invalidates the catalog;
/// - pushes are fenced by the caller's locks and resolve conflicts by renumbering
///   (``push(_:deadline:holding:repository:)``);
/// - activity (files, requests, lock requests) is measured around an operation
///   (``measuring(_:)``), and progress is routed to one handler.
///
/// The coordinator, structural commands, migration, the repository (dirty marks, hydration)
/// and the CLI all go through a gateway; nothing else holds the raw service.
public final class SyncGateway: Sendable {
    /// What a sync covers.
    public enum Scope: Sendable, Equatable {
        /// Every model and the shared files.
        case all
        /// These models only (when the service supports scoped sync; otherwise everything).
        case models([ModelRef])
    }

    let service: (any DatastoreSyncService)?
    private let invalidateCatalog: @Sendable () throws -> Void
    private let logger: Logger
    private let asked = Mutex<SyncCapabilities?>(nil)

    /// - Parameters:
    ///   - service: the backend's sync service; `nil` for a datastore with nothing to sync.
    ///   - invalidateCatalog: called after every pull, applied or failed.
    public init(
        service: (any DatastoreSyncService)?, invalidateCatalog: @escaping @Sendable () throws -> Void,
        logger: Logger = Logger(label: "swamp.sync", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.service = service
        self.invalidateCatalog = invalidateCatalog
        self.logger = logger
    }

    /// Whether there is a remote to sync with.
    public var isRemote: Bool { service != nil }

    /// What the service supports, asked once; a service that throws degrades to full sync.
    public var capabilities: SyncCapabilities {
        guard let service else { return .none }
        return asked.withLock { asked in
            if let asked { return asked }
            let answer: SyncCapabilities
            do {
                answer = try service.capabilities()
            } catch {
                logger.warning("sync service capabilities failed; using full sync", metadata: ["error": "\(error)"])
                answer = .none
            }
            asked = answer
            return answer
        }
    }

    /// The options a call with `scope` and `deadline` may pass: none unless the service opted in.
    func options(_ scope: Scope, deadline: Date?) -> DatastoreSyncOptions? {
        guard capabilities.supportsScopedSync else { return nil }
        var options: DatastoreSyncOptions
        switch scope {
        case .all:
            guard deadline != nil else { return nil }
            options = DatastoreSyncOptions()
        case .models(let models):
            options = .scoped(to: models)
        }
        options.deadline = deadline
        return options
    }

    /// Brings remote changes into the cache and invalidates the catalog, also when the pull
    /// fails after applying part of its files. Returns the files pulled (0 without a remote).
    @discardableResult
    public func pull(_ scope: Scope = .all, deadline: Date? = nil) async throws -> Int {
        guard let service else { return 0 }
        let pulled: Int
        do {
            pulled = try await service.pullChanged(options(scope, deadline: deadline))
        } catch {
            try? invalidateCatalog()
            throw error
        }
        try invalidateCatalog()
        return pulled
    }

    /// Records that `relPath` (cache-relative) is about to change, before it does.
    public func markDirty(_ relPath: String) throws {
        try service?.markDirty(.path(relPath))
    }

    /// Tells a service with ``SyncCapabilities/contentHashes`` that the file now at `relPath`
    /// (just written, already marked dirty) hashes to `sha256`, so that its push need not read
    /// it to hash it. Only a hint: when it cannot be kept, the push hashes the file, so a
    /// failure is logged, never thrown (the write itself is done).
    public func recordWritten(_ relPath: String, sha256: String) {
        guard let service, capabilities.supportsContentHashes else { return }
        do {
            try service.markDirty(DatastoreSyncOptions(relPath: relPath, sha256: sha256))
        } catch {
            logger.warning("could not record a written file's hash; its push hashes it", metadata: ["path": "\(relPath)", "error": "\(error)"])
        }
    }

    /// Downloads one file a lazy cache has not hydrated yet; `false` when nothing was fetched.
    public func hydrate(_ relPath: String) async throws -> Bool {
        guard let service else { return false }
        return try await service.hydrateFile(relPath)
    }

    /// The remote's health, or `nil` without a remote.
    public func verify() async throws -> DatastoreHealth? {
        try await service?.verify()
    }

    /// The backend's index-against-objects checker, when it has one.
    public var consistency: (any ConsistencyChecking)? { service as? any ConsistencyChecking }

    /// Sends transfer progress to `handler` (when the service reports progress).
    public func reportProgress(to handler: (@Sendable (SyncProgress) -> Void)?) {
        (service as? any SyncProgressReporting)?.setProgressHandler(handler)
    }

    /// Runs `body` and returns what the service did meanwhile (files, requests, lock requests),
    /// or `nil` when it does not count.
    public func measuring<T>(_ body: () async throws -> T) async rethrows -> (value: T, activity: SyncActivity?) {
        let before = service?.activity()
        let value = try await body()
        return (value, service?.activity(since: before))
    }
}
