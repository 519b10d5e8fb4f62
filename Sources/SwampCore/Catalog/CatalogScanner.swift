import Foundation
import SwampContracts
import SwampSupport

/// Walks the datastore tier and reads every version's `metadata.yaml`.
///
/// A version directory counts only if it holds `metadata.yaml` (a lazily
/// hydrated version without `raw` still counts). Metadata that does not match
/// its location, or cannot be parsed, is reported in ``problems`` and skipped.
struct CatalogScanner {
    let layout: DatastoreLayout

    struct Result {
        var found: [DataMetadata] = []
        var problems: [String] = []
    }

    func scan() throws -> [DataMetadata] { try scanReportingProblems().found }

    func scanReportingProblems() throws -> Result {
        var result = Result()
        let dataRoot = layout.absolute("data")
        guard FileManager.default.fileExists(atPath: dataRoot) else { return result }
        guard let enumerator = FileManager.default.enumerator(atPath: dataRoot) else {
            throw FileSystemError("list", path: dataRoot, errno: EIO)
        }
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasSuffix("/metadata.yaml") else { continue }
            let segments = relative.split(separator: "/")
            // {type...}/{modelId}/{name}/{version}/metadata.yaml: at least 5 segments.
            guard segments.count >= 5, let version = Int(segments[segments.count - 2]) else { continue }
            let name = String(segments[segments.count - 3])
            let modelId = String(segments[segments.count - 4])
            let path = "\(dataRoot)/\(relative)"
            do {
                guard let data = try AtomicFile.readIfPresent(path) else { continue }
                let metadata = try MetadataCoding.decode(DataMetadata.self, from: data, path: path)
                guard metadata.version == version, metadata.name == name, metadata.modelId == modelId else {
                    result.problems.append("'\(path)' describes \(metadata.modelId)/\(metadata.name)@\(metadata.version), not its location")
                    continue
                }
                result.found.append(metadata)
            } catch {
                result.problems.append("\(error)")
            }
        }
        return result
    }
}
