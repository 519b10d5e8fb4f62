import Foundation
import SwampContracts
import SwampSupport

/// What sync planning needs to know of the local cache. ``CacheView`` reads the disk;
/// tests give plans a table instead.
protocol LocalView {
    /// Size, mtime and sha256 of a cache-relative file, or `nil` when it is absent.
    /// `takingWritersRecord`: whether its writer's record may give the hash. Only for a path the
    /// remote index has no entry for: such a file can only be uploaded, and an upload checks the
    /// bytes it sends against the hash. Compared with a remote entry, a record that lies (a file
    /// changed in place since its write) would have a plan adopt the file without reading it.
    func file(_ path: String, takingWritersRecord: Bool) throws -> SyncSidecar.FileRecord?
    /// The names of the files directly in a cache-relative directory (no dot or temporary files).
    func files(in directory: String) -> [String]
}

/// The cache on disk. A file is hashed only when its size, times or inode differ from the
/// record the cache kept when it last synced it, and from the one its writer left in the dirty
/// log (``SyncSidecar/DirtyRead/written``); `hashing` is how (a push plan's also keeps the
/// part hashes of large files).
struct CacheView: LocalView {
    let cache: DatastoreLayout
    let known: [String: SyncSidecar.FileRecord]
    var written: [String: SyncSidecar.FileRecord] = [:]
    var hashing: (String, LocalFile) throws -> String = { absolute, _ in try ContentHash.sha256(ofFile: absolute).sha256 }

    func file(_ path: String, takingWritersRecord: Bool) throws -> SyncSidecar.FileRecord? {
        let absolute = cache.absolute(path)
        guard let local = LocalFile.stat(absolute) else { return nil }
        let recorded = [known[path], takingWritersRecord ? written[path] : nil].lazy.compactMap { $0 }.first { $0.describes(local) }
        let sha = try recorded?.sha256 ?? hashing(absolute, local)
        return SyncSidecar.FileRecord(local, sha256: sha)
    }

    func files(in directory: String) -> [String] {
        let absolute = cache.absolute(directory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: absolute)) ?? []
        return names.filter { !$0.hasPrefix(".") && LocalFile.stat("\(absolute)/\($0)") != nil }.sorted()
    }
}

/// Index entries grouped the way the layout groups files: by version directory, and the
/// highest version number each data item has used.
struct IndexShape {
    /// Version directory → the cache-relative paths of its files.
    private(set) var units: [String: [String]] = [:]
    /// Data item directory (`data/…/{name}`) → the highest version number an entry names (live or not).
    private(set) var highestVersion: [String: Int] = [:]

    init(_ paths: some Sequence<String>) {
        for path in paths {
            let classified = DatastorePath(path)
            guard case .versionFile(_, _, let version, _) = classified.kind, let unit = classified.versionDirectory else { continue }
            units[unit, default: []].append(path)
            let item = Self.itemDirectory(ofUnit: unit)
            highestVersion[item] = max(highestVersion[item] ?? 0, version)
        }
    }

    /// `data/…/{name}` of a version directory `data/…/{name}/{version}`.
    static func itemDirectory(ofUnit unit: String) -> String {
        guard let slash = unit.lastIndex(of: "/") else { return unit }
        return String(unit[..<slash])
    }
}
