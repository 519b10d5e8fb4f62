import Foundation
import SwampContracts
import SwampSupport
import SwampTesting

@testable import SwampCore

enum Fixtures {
    static func model(_ name: String, type: String = "command/shell", id: String = UUID().uuidString.lowercased()) -> ModelDefinition {
        ModelDefinition(id: id, name: name, type: type, arguments: ["run": "true"], createdAt: Date(timeIntervalSince1970: 0))
    }

    /// Writes a version's files directly, as a pull from a teammate would.
    static func writeRemoteVersion(root: String, model: ModelDefinition, name: String, version: Int, content: Data) throws {
        let ref = model.ref
        let metadata = DataMetadata(
            name: name, version: version, modelId: ref.modelId, modelType: ref.modelType, modelName: model.name,
            contentType: "text/plain", size: Int64(content.count), sha256: ContentHash.sha256(content), createdAt: Date())
        let layout = DatastoreLayout(root: root)
        let yaml = try MetadataCoding.encode(metadata)
        try AtomicFile.write(yaml, to: layout.absolute(DatastoreLayout.metadataRel(ref, name, version)))
        try AtomicFile.write(content, to: layout.absolute(DatastoreLayout.rawRel(ref, name, version)))
        try AtomicFile.write(Data("\(version)\n".utf8), to: layout.absolute(DatastoreLayout.latestRel(ref, name)))
    }
}
