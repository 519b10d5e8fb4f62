import Foundation
import S3Client
import SwampContracts
import SwampSupport

/// Walking the cache: which files and partitions a push must look at when no dirty log says.
extension S3SyncService {
    /// Cache-relative paths of the files a partition owns (skipping local-only dot files).
    func localFiles(in partition: PartitionID) -> Set<String> {
        var roots: [String] = []
        if partition.name.hasPrefix("models/") {
            let model = partition.name.dropFirst("models/".count)
            roots = ["data/\(model)", "outputs/\(model)"]
        } else {
            let top = (try? FileManager.default.contentsOfDirectory(atPath: cache.root)) ?? []
            roots = top.filter { !$0.hasPrefix(".") && $0 != "data" && $0 != "outputs" }
        }
        var found = Set<String>()
        for root in roots {
            let absolute = cache.absolute(root)
            guard let enumerator = FileManager.default.enumerator(atPath: absolute) else { continue }
            while let relative = enumerator.nextObject() as? String {
                if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                let path = "\(root)/\(relative)"
                if LocalFile.stat(cache.absolute(path)) != nil, PartitionID.of(path) == partition { found.insert(path) }
            }
        }
        return found
    }

    /// Every partition with files in the cache.
    func localPartitions() -> Set<PartitionID> {
        var partitions = Set<PartitionID>()
        for top in ["data", "outputs"] {
            guard let enumerator = FileManager.default.enumerator(atPath: cache.absolute(top)) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let segments = relative.split(separator: "/")
                if let last = segments.last, DatastorePath.isModelId(String(last)), segments.count >= 2 {
                    partitions.insert(PartitionID.of("\(top)/\(relative)/x"))
                    enumerator.skipDescendants()
                }
            }
        }
        let top = (try? FileManager.default.contentsOfDirectory(atPath: cache.root)) ?? []
        if top.contains(where: { !$0.hasPrefix(".") && $0 != "data" && $0 != "outputs" && $0 != "catalog.db" }) { partitions.insert(.shared) }
        return partitions
    }
}
