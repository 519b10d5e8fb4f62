/// How content is brought into a remote datastore's cache.
public enum HydrationStrategy: String, Hashable, Sendable, Codable, CaseIterable {
    /// Pulls fetch everything.
    case full
    /// Pulls fetch metadata; content is fetched on first read.
    case lazy
}

/// A datastore as configured: which type, and that type's settings.
public struct DatastoreSpec: Hashable, Sendable {
    /// The registry key, e.g. `filesystem` or `s3`.
    public var type: String
    /// The datastore directory, for path-based types.
    public var path: String?
    /// Type-specific settings (e.g. S3's bucket and endpoint), passed to the provider as is.
    public var config: JSONValue?
    /// How a remote datastore's cache is filled. Default: `full`.
    public var hydrationStrategy: HydrationStrategy
    /// Where a remote datastore keeps its local cache; `nil` for the default location.
    public var cachePath: String?

    public init(
        type: String,
        path: String? = nil,
        config: JSONValue? = nil,
        hydrationStrategy: HydrationStrategy = .full,
        cachePath: String? = nil
    ) {
        self.type = type
        self.path = path
        self.config = config
        self.hydrationStrategy = hydrationStrategy
        self.cachePath = cachePath
    }
}

/// What a provider factory knows about the repository it serves.
public struct DatastoreEnvironment: Sendable {
    /// The repository directory (holds `.swamp.yaml`).
    public var repoDir: String
    /// The repository's stable id, from `.swamp.yaml`.
    public var repoId: String
    /// Environment variables (credentials, `HOME`, `SWAMP_HOME`).
    public var variables: [String: String]

    public init(repoDir: String, repoId: String, variables: [String: String]) {
        self.repoDir = repoDir
        self.repoId = repoId
        self.variables = variables
    }
}
