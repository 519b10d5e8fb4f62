import Foundation
import SwampContracts

/// Names a partition of the remote index: `models/{type}/{id}` for everything a model
/// owns (its `data/` and `outputs/` subtrees), `shared` for anything else.
public struct PartitionID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) { self.name = name }

    public static let shared = PartitionID("shared")

    /// The partition of a model.
    public static func model(_ ref: ModelRef) -> PartitionID { PartitionID("models/\(ref.modelType)/\(ref.modelId)") }

    /// The partition a cache-relative path belongs to: under `data/` or `outputs/`, the
    /// first model-id segment (a lower-case UUID) ends the model type; everything else is shared.
    public static func of(_ relPath: String) -> PartitionID {
        let segments = relPath.split(separator: "/")
        guard segments.count >= 3, segments[0] == "data" || segments[0] == "outputs" else { return .shared }
        for index in 2..<segments.count where DatastorePath.isModelId(String(segments[index])) {
            return PartitionID("models/\(segments[1..<index].joined(separator: "/"))/\(segments[index])")
        }
        return .shared
    }

    /// `name` if it is a partition name this layout produces — `shared`, or `models/{type}/{id}`
    /// with safe type segments and a lower-case UUID id — else `nil` (names read from the remote
    /// are untrusted).
    public static func validated(_ name: String) -> PartitionID? {
        if name == shared.name { return .shared }
        guard name.hasPrefix("models/"), name.utf8.count <= 512, let segments = try? PathRules.validateRelativePath(name), segments.count >= 3,
            let id = segments.last, DatastorePath.isModelId(String(id)),
            !segments.contains(where: { $0.hasPrefix(".") || $0.contains("~") }),
            !segments.dropFirst().dropLast().contains(where: { DatastorePath.isModelId(String($0)) })
        else { return nil }
        return PartitionID(name)
    }

    /// A file-name-safe form, for local sidecar files.
    var fileName: String { name.replacingOccurrences(of: "/", with: "~") }

    public var description: String { name }

    public static func < (lhs: PartitionID, rhs: PartitionID) -> Bool { lhs.name < rhs.name }
}

/// Object keys of the remote layout (see docs/s3-layout.md).
public struct RemoteLayout: Sendable, Equatable {
    /// The key prefix, without leading or trailing `/` (may be empty).
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
    }

    private func key(_ rest: String) -> String { prefix.isEmpty ? rest : "\(prefix)/\(rest)" }

    /// Where a cache file lives: `{prefix}/{relPath}`, readable by any S3 tool.
    public func objectKey(_ relPath: String) -> String { key(relPath) }

    public var metaKey: String { key("_swamp/meta.json") }

    public var indexPrefix: String { key("_swamp/index/") }

    public func partitionKey(_ partition: PartitionID) -> String { key("_swamp/index/\(partition.name).json") }

    /// The partition a listed index key names, or `nil` for anything else.
    public func partition(fromKey objectKey: String) -> PartitionID? {
        guard objectKey.hasPrefix(indexPrefix), objectKey.hasSuffix(".json") else { return nil }
        return PartitionID.validated(String(objectKey.dropFirst(indexPrefix.count).dropLast(".json".count)))
    }

    public var locksPrefix: String { key("_swamp/locks/") }

    public func lockKey(_ lock: LockKey) -> String {
        switch lock.scope {
        case .global: return key("_swamp/locks/global.json")
        case .model(let ref): return key("_swamp/locks/models/\(ref.modelType)/\(ref.modelId).json")
        }
    }

    /// The lock a listed lock key names, or `nil` for anything else.
    public func lock(fromKey objectKey: String) -> LockKey? {
        guard objectKey.hasPrefix(locksPrefix), objectKey.hasSuffix(".json") else { return nil }
        let rest = objectKey.dropFirst(locksPrefix.count).dropLast(".json".count)
        if rest == "global" { return .global }
        // A listed key is untrusted: it must name a model as a partition would (safe type, lower-case UUID).
        guard rest.hasPrefix("models/"), PartitionID.validated(String(rest)) != nil, let slash = rest.lastIndex(of: "/") else { return nil }
        let type = rest[rest.index(rest.startIndex, offsetBy: "models/".count)..<slash]
        return .model(ModelRef(modelType: String(type), modelId: String(rest[rest.index(after: slash)...])))
    }
}
