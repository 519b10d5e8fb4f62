/// A factory for one kind of datastore, chosen by its `type` in configuration.
public protocol DatastoreProvider: Sendable {
    /// The configuration `type` this provider serves, e.g. `"filesystem"` or `"s3"`.
    var type: String { get }

    /// Creates a lock for `key`. Creating does not acquire.
    func createLock(_ key: LockKey, options: LockOptions) throws -> any DistributedLock

    /// Every lock currently held in the datastore, global and per-model.
    func heldLocks() async throws -> [(key: LockKey, info: LockInfo)]

    /// Creates the datastore's health check.
    func createVerifier() -> any DatastoreVerifier

    /// Creates the sync service for a remote datastore, or `nil` when the
    /// datastore is local and there is nothing to sync.
    func createSyncService(repoDir: String, cachePath: String) throws -> (any DatastoreSyncService)?

    /// The directory that holds the datastore tier for reads and writes: the
    /// datastore itself for a local datastore, the cache for a remote one.
    func resolveDatastorePath(repoDir: String) -> String

    /// The local cache directory of a remote datastore; `nil` for a local one.
    func resolveCachePath(repoDir: String) -> String?

    /// What names the remote this provider talks to (e.g. `s3://endpoint/bucket/prefix`), so
    /// that two providers on one remote share their locks; `nil` for a local datastore.
    var remoteIdentity: String? { get }
}

extension DatastoreProvider {
    public var remoteIdentity: String? { nil }
}
