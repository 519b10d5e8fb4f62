import Foundation
import SwampCore

/// One data version as it appears in `--json` output.
struct DataItemJSON: Encodable {
    let model: ModelJSON
    let name: String
    let version: Int
    let size: Int64
    let sha256: String
    let contentType: String
    let createdAt: Date

    init(_ metadata: DataMetadata) {
        model = ModelJSON(name: metadata.modelName, type: metadata.modelType, id: metadata.modelId)
        name = metadata.name
        version = metadata.version
        size = metadata.size
        sha256 = metadata.sha256
        contentType = metadata.contentType
        createdAt = metadata.createdAt
    }
}
