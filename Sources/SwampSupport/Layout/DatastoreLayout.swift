import SwampContracts

/// Paths of the datastore tier, relative to its root and absolute.
///
/// ```
/// data/{typeDir}/{modelId}/{dataName}/{version}/raw
/// data/{typeDir}/{modelId}/{dataName}/{version}/metadata.yaml
/// data/{typeDir}/{modelId}/{dataName}/latest
/// outputs/{typeDir}/{modelId}/{method}-{timestamp}.yaml
/// ```
public struct DatastoreLayout: Sendable, Hashable {
    /// The absolute datastore root.
    public let root: String

    public init(root: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    /// The name of the per-model lock file inside a model's data directory.
    public static let modelLockName = ".lock"
    /// The name of the global lock file at the datastore root.
    public static let globalLockName = ".datastore.lock"

    // MARK: Relative paths (forward slashes; what markDirty receives)

    public static func modelDataRel(_ model: ModelRef) -> String {
        "data/\(model.modelType)/\(model.modelId)"
    }

    public static func itemRel(_ model: ModelRef, _ name: String) -> String {
        "\(modelDataRel(model))/\(name)"
    }

    public static func versionRel(_ model: ModelRef, _ name: String, _ version: Int) -> String {
        "\(itemRel(model, name))/\(version)"
    }

    public static func rawRel(_ model: ModelRef, _ name: String, _ version: Int) -> String {
        "\(versionRel(model, name, version))/raw"
    }

    public static func metadataRel(_ model: ModelRef, _ name: String, _ version: Int) -> String {
        "\(versionRel(model, name, version))/metadata.yaml"
    }

    public static func latestRel(_ model: ModelRef, _ name: String) -> String {
        "\(itemRel(model, name))/latest"
    }

    public static func outputsRel(_ model: ModelRef) -> String {
        "outputs/\(model.modelType)/\(model.modelId)"
    }

    // MARK: Absolute paths

    /// The absolute path of a cache-relative path.
    public func absolute(_ relPath: String) -> String { "\(root)/\(relPath)" }

    public func modelLockPath(_ model: ModelRef) -> String {
        absolute("\(Self.modelDataRel(model))/\(Self.modelLockName)")
    }

    public var globalLockPath: String { absolute(Self.globalLockName) }
}
