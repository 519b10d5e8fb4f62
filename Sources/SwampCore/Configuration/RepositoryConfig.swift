import SwampContracts

/// The contents of `.swamp.yaml`: the repository's id and its datastore.
public struct RepositoryConfig: Sendable, Equatable {
    /// The repository's stable id (names its default remote cache directory).
    public var repoId: String
    /// The configured datastore; `nil` means the filesystem default at `{repo}/.swamp`.
    public var datastore: DatastoreSpec?

    public init(repoId: String, datastore: DatastoreSpec? = nil) {
        self.repoId = repoId
        self.datastore = datastore
    }

    /// The marker file's name.
    public static let fileName = ".swamp.yaml"
}

/// Where the datastore configuration in effect came from.
public enum DatastoreSource: String, Sendable, Codable {
    case environment = "SWAMP_DATASTORE"
    case flag = "--datastore"
    case file = ".swamp.yaml"
    case `default` = "default"
}
