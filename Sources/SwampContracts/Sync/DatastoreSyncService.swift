/// Moves changes between a local cache and a remote datastore.
///
/// Only ``pullChanged(_:)``, ``pushChanged(_:)`` and ``markDirty(_:)`` are
/// required; every other member has a default that means "not supported".
/// Callers never pass options a service did not opt into via ``capabilities()``.
public protocol DatastoreSyncService: Sendable {
    /// Brings remote changes into the cache. Returns the number of files pulled.
    /// - Parameter options: `nil` for a plain full pull.
    func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int

    /// Sends local changes to the remote. Returns the number of files pushed.
    /// - Parameter options: `nil` for a plain full push.
    func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int

    /// Records that the cache is about to change, before the change happens.
    ///
    /// With `options.relPath` one cache-relative, forward-slash path is affected;
    /// without it the change is bulk (and a bulk mark overrides per-path marks).
    /// A recorded path that is absent on disk at push time means "delete remotely".
    func markDirty(_ options: DatastoreSyncOptions?) throws

    /// What this service supports beyond full sync. The default is ``SyncCapabilities/none``.
    func capabilities() throws -> SyncCapabilities

    /// Downloads one not-yet-hydrated file into the cache (lazy hydration).
    /// Returns `true` when a download happened, `false` when the file was already local.
    func hydrateFile(_ relPath: String) async throws -> Bool

    /// Checks that the remote is reachable and consistent.
    func verify() async throws -> DatastoreHealth

    /// Cumulative counters of files and requests, or `nil` when the service does not count.
    func activity() -> SyncActivity?
}

extension DatastoreSyncService {
    public func capabilities() throws -> SyncCapabilities { .none }

    public func hydrateFile(_ relPath: String) async throws -> Bool { false }

    public func verify() async throws -> DatastoreHealth {
        DatastoreHealth(healthy: true, message: "sync service does not implement verification")
    }

    public func activity() -> SyncActivity? { nil }

    /// What the service did since `start` (an earlier ``activity()``), or `nil` when it does not count.
    public func activity(since start: SyncActivity?) -> SyncActivity? {
        guard let start, let now = activity() else { return nil }
        return now - start
    }
}
