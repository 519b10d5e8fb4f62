import Foundation

/// What a cache-relative path of the datastore tier is, by the layout every backend shares:
///
/// ```
/// data/{type}/{modelId}/{dataName}/{version}/{file}   a file of one immutable version
/// data/{type}/{modelId}/{dataName}/latest             the local `latest` marker (derived)
/// outputs/{type}/{modelId}/{record}                   one immutable method-run record
/// ```
///
/// Model ids are UUIDs, so the first UUID segment after `data/` or `outputs/` ends the
/// type. Anything else is ``Kind/other``: a file a backend syncs last-writer-wins.
public struct DatastorePath: Hashable, Sendable {
    /// The kinds of path the layout distinguishes.
    public enum Kind: Hashable, Sendable {
        /// `data/…/{dataName}/{version}/{file}`: immutable once committed.
        case versionFile(model: ModelRef, dataName: String, version: Int, file: String)
        /// `data/…/{dataName}/latest`: derived locally from the versions, never synced.
        case latest(model: ModelRef, dataName: String)
        /// `outputs/…/{record}`: immutable once committed.
        case outputRecord(model: ModelRef, file: String)
        /// Anything else.
        case other
    }

    /// The cache-relative path.
    public let relPath: String
    public let kind: Kind

    public init(_ relPath: String) {
        self.relPath = relPath
        kind = Self.classify(relPath)
    }

    /// The model the path belongs to, if any.
    public var model: ModelRef? {
        switch kind {
        case .versionFile(let model, _, _, _), .latest(let model, _), .outputRecord(let model, _): return model
        case .other: return nil
        }
    }

    /// Whether a committed copy of this path may never be overwritten (version files and output records).
    public var isImmutable: Bool {
        switch kind {
        case .versionFile, .outputRecord: return true
        case .latest, .other: return false
        }
    }

    /// For a version file, the version directory (`data/…/{dataName}/{version}`) that groups it with its siblings.
    public var versionDirectory: String? {
        guard case .versionFile = kind, let slash = relPath.lastIndex(of: "/") else { return nil }
        return String(relPath[..<slash])
    }

    private static func classify(_ relPath: String) -> Kind {
        let segments = relPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard segments.count >= 3, segments[0] == "data" || segments[0] == "outputs" else { return .other }
        guard let idIndex = (2..<segments.count).first(where: { isModelId(segments[$0]) }) else { return .other }
        let model = ModelRef(modelType: segments[1..<idIndex].joined(separator: "/"), modelId: segments[idIndex])
        let rest = Array(segments[(idIndex + 1)...])
        if segments[0] == "outputs" {
            return rest.count == 1 && !rest[0].isEmpty ? .outputRecord(model: model, file: rest[0]) : .other
        }
        if rest.count == 2, rest[1] == "latest", !rest[0].isEmpty { return .latest(model: model, dataName: rest[0]) }
        if rest.count == 3, !rest[0].isEmpty, !rest[2].isEmpty, let version = Int(rest[1]), (1...maximumVersion).contains(version),
            String(version) == rest[1]
        {
            return .versionFile(model: model, dataName: rest[0], version: version, file: rest[2])
        }
        return .other
    }

    /// The highest version number the layout knows (far from any integer limit: `+ 1` never traps).
    public static let maximumVersion = 1_000_000_000_000_000

    /// Whether `segment` is a model id: a lower-case UUID.
    public static func isModelId(_ segment: String) -> Bool {
        segment.count == 36 && segment == segment.lowercased() && UUID(uuidString: segment) != nil
    }
}
