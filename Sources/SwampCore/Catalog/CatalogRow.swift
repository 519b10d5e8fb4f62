import Foundation
import GRDB

/// One row of the catalog's `dataItem` table: one version of one data item.
struct CatalogRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "dataItem"

    var modelType: String
    var modelId: String
    var modelName: String
    var name: String
    var version: Int
    var contentType: String
    var size: Int64
    var sha256: String
    var createdAt: Date
    var producedBy: String?
    /// The full metadata (tags, lifetime...), so reads return exactly what was written.
    var metadataJSON: Data

    init(_ metadata: DataMetadata) throws {
        modelType = metadata.modelType
        modelId = metadata.modelId
        modelName = metadata.modelName
        name = metadata.name
        version = metadata.version
        contentType = metadata.contentType
        size = metadata.size
        sha256 = metadata.sha256
        createdAt = metadata.createdAt
        producedBy = metadata.producedBy
        metadataJSON = try JSONEncoder().encode(metadata)
    }

    func metadata() throws -> DataMetadata {
        try JSONDecoder().decode(DataMetadata.self, from: metadataJSON)
    }
}
