import Foundation

/// Options a caller may pass to a sync service that opted into them.
///
/// Callers pass options only for capabilities the service advertised; a service
/// that advertised nothing is always called with no options at all (`nil`).
public struct DatastoreSyncOptions: Hashable, Sendable {
    /// The models the operation is about (only for services with `scopedSync`).
    public var context: SyncContext?
    /// A namespace (only for services with `namespacedSync`).
    public var namespace: String?
    /// One cache-relative, forward-slash path (for `markDirty` and `hydrateFile`).
    public var relPath: String?
    /// Fetch metadata only (only for services with `lazyHydration`).
    public var metadataOnly: Bool?
    /// The operation must finish by this time; past it the service throws a timeout.
    /// Cancellation is the calling task's cancellation.
    public var deadline: Date?
    /// For `markDirty` after a write (only for services with `contentHashes`): the sha256 of
    /// the file now at ``relPath``, taken from the very bytes written. A service keeps it only
    /// for the file as it is now (its size and times), so a later change is hashed again.
    public var sha256: String?

    public init(
        context: SyncContext? = nil,
        namespace: String? = nil,
        relPath: String? = nil,
        metadataOnly: Bool? = nil,
        deadline: Date? = nil,
        sha256: String? = nil
    ) {
        self.context = context
        self.namespace = namespace
        self.relPath = relPath
        self.metadataOnly = metadataOnly
        self.deadline = deadline
        self.sha256 = sha256
    }

    /// Options naming exactly these models.
    public static func scoped(to models: [ModelRef]) -> DatastoreSyncOptions {
        DatastoreSyncOptions(context: SyncContext(models: models))
    }

    /// Options naming one cache-relative path.
    public static func path(_ relPath: String) -> DatastoreSyncOptions {
        DatastoreSyncOptions(relPath: relPath)
    }
}
