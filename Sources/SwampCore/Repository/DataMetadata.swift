import Foundation

/// The metadata stored beside each version's content in `metadata.yaml`.
public struct DataMetadata: Hashable, Sendable, Codable {
    /// The data name, e.g. `result`.
    public var name: String
    public var version: Int
    public var modelId: String
    public var modelType: String
    public var modelName: String
    public var contentType: String
    /// Content size in bytes.
    public var size: Int64
    /// Lower-case hex SHA-256 of the content.
    public var sha256: String
    @YAMLTimestamp public var createdAt: Date
    public var tags: [String: String]
    /// The garbage-collection policy: `keep` (default; old versions collected by `data gc`) or `ephemeral`.
    public var lifetime: String
    /// The method that produced this version, e.g. `execute`.
    public var producedBy: String?

    public init(
        name: String, version: Int, modelId: String, modelType: String, modelName: String,
        contentType: String, size: Int64, sha256: String, createdAt: Date,
        tags: [String: String] = [:], lifetime: String = "keep", producedBy: String? = nil
    ) {
        self.name = name
        self.version = version
        self.modelId = modelId
        self.modelType = modelType
        self.modelName = modelName
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.createdAt = createdAt
        self.tags = tags
        self.lifetime = lifetime
        self.producedBy = producedBy
    }
}
