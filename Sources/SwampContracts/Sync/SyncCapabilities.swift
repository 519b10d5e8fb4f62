/// What a sync service can do beyond plain full pulls and pushes.
///
/// Every field is optional; absent means `false`. Capabilities live on the sync
/// service (they may depend on runtime configuration), not on the provider.
public struct SyncCapabilities: Hashable, Sendable, Codable {
    /// Pull and push accept a ``SyncContext`` and do work proportional to its models.
    public var scopedSync: Bool?
    /// Pulls can fetch metadata only and content on first read (`hydrateFile`).
    public var lazyHydration: Bool?
    /// Pull and push accept a namespace.
    public var namespacedSync: Bool?
    /// Pushes can be split into `preparePush` and `commitPush`.
    public var twoPhaseSync: Bool?
    /// The push calls ``CommitFence/current`` immediately before each commit write, so the
    /// caller need not check its locks before the push (and a lock lost mid-push stops it).
    public var fencedCommits: Bool?
    /// `markDirty` accepts, right after a write, the sha256 of the file now in place
    /// (``DatastoreSyncOptions/sha256``): the next push may use it instead of reading the file
    /// again to hash it.
    public var contentHashes: Bool?

    public init(
        scopedSync: Bool? = nil, lazyHydration: Bool? = nil, namespacedSync: Bool? = nil, twoPhaseSync: Bool? = nil, fencedCommits: Bool? = nil,
        contentHashes: Bool? = nil
    ) {
        self.scopedSync = scopedSync
        self.lazyHydration = lazyHydration
        self.namespacedSync = namespacedSync
        self.twoPhaseSync = twoPhaseSync
        self.fencedCommits = fencedCommits
        self.contentHashes = contentHashes
    }

    /// "Nothing special": the capabilities of a service that does not declare any.
    public static let none = SyncCapabilities()

    public var supportsScopedSync: Bool { scopedSync == true }
    public var supportsLazyHydration: Bool { lazyHydration == true }
    public var supportsNamespacedSync: Bool { namespacedSync == true }
    public var supportsTwoPhaseSync: Bool { twoPhaseSync == true }
    public var supportsFencedCommits: Bool { fencedCommits == true }
    public var supportsContentHashes: Bool { contentHashes == true }
}
