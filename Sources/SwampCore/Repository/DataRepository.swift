import Foundation
import SwampContracts
import SwampSupport
import Synchronization

/// Versioned data of models in the datastore tier.
///
/// Every mutation first tells the sync gateway (``SyncGateway/markDirty(_:)``)
/// which cache-relative path is about to change, then writes atomically, then
/// writes through to the catalog. Write order for a new version:
/// markDirty → `metadata.yaml` → `raw` → `latest` → catalog row.
public final class DataRepository: Sendable {
    public let layout: DatastoreLayout
    public let catalog: Catalog
    /// Where dirty marks and hydration go (a gateway without a remote for a local datastore).
    let sync: SyncGateway
    private let now: @Sendable () -> Date

    public init(
        layout: DatastoreLayout, catalog: Catalog, sync: SyncGateway, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.layout = layout
        self.catalog = catalog
        self.sync = sync
        self.now = now
    }

    /// A repository with its own gateway over `syncService` (pulls invalidate `catalog`).
    public convenience init(
        layout: DatastoreLayout, catalog: Catalog, syncService: (any DatastoreSyncService)?, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.init(
            layout: layout, catalog: catalog, sync: SyncGateway(service: syncService, invalidateCatalog: { try catalog.invalidate() }), now: now)
    }

    // MARK: Writing

    /// Writes `content` as a new version of data `name` of `model` and returns its metadata.
    /// - Throws: ``ContractError`` for an invalid or reserved name; ``FileSystemError`` on I/O failure.
    @discardableResult
    public func writeVersion(
        of model: ModelDefinition, name: String, content: Data, contentType: String = "application/octet-stream",
        tags: [String: String] = [:], producedBy: String? = nil
    ) throws -> DataMetadata {
        try PathRules.validateDataName(name)
        let ref = model.ref
        let version = try allocateVersion(ref, name)
        let metadata = DataMetadata(
            name: name, version: version, modelId: ref.modelId, modelType: ref.modelType, modelName: model.name,
            contentType: contentType, size: Int64(content.count), sha256: ContentHash.sha256(content),
            createdAt: now(), tags: tags, producedBy: producedBy)
        try writeFile(MetadataCoding.encode(metadata), rel: DatastoreLayout.metadataRel(ref, name, version))
        Failpoint.hit("data.after-metadata")
        try writeFile(content, rel: DatastoreLayout.rawRel(ref, name, version))
        if (try latestVersion(ref, name) ?? 0) < version {
            try writeFile(Data("\(version)\n".utf8), rel: DatastoreLayout.latestRel(ref, name))
        }
        try catalog.upsert(metadata, generation: DatastoreGeneration.bump(layout))
        return metadata
    }

    /// Writes the file at `source` as a new version of data `name` of `model`, moving it into
    /// place (a rename; a streamed copy across file systems): its size does not matter.
    @discardableResult
    public func writeVersion(
        of model: ModelDefinition, name: String, file source: String, contentType: String = "application/octet-stream",
        tags: [String: String] = [:], producedBy: String? = nil
    ) throws -> DataMetadata {
        try PathRules.validateDataName(name)
        let ref = model.ref
        let hashed = LocalFile.stat(source)
        let (sha256, size) = try ContentHash.sha256(ofFile: source)
        let version = try allocateVersion(ref, name)
        let metadata = DataMetadata(
            name: name, version: version, modelId: ref.modelId, modelType: ref.modelType, modelName: model.name,
            contentType: contentType, size: size, sha256: sha256, createdAt: now(), tags: tags, producedBy: producedBy)
        try writeFile(MetadataCoding.encode(metadata), rel: DatastoreLayout.metadataRel(ref, name, version))
        Failpoint.hit("data.after-metadata")
        let rawRel = DatastoreLayout.rawRel(ref, name, version)
        try sync.markDirty(rawRel)
        try AtomicFile.move(source, to: layout.absolute(rawRel))
        Failpoint.hit("data.after-raw")
        // The file in place is the one just hashed (moved by a rename: the same inode, size and
        // mtime as before the hash; a process still writing to it would have changed them), so
        // its push need not read it again to hash it.
        func unchanged() -> Bool {
            guard let hashed, hashed.size == size, let placed = LocalFile.stat(layout.absolute(rawRel)) else { return false }
            return placed.size == hashed.size && placed.mtimeNs == hashed.mtimeNs && placed.inode == hashed.inode
        }
        if unchanged() {
            sync.recordWritten(rawRel, sha256: sha256)
            // The service took the file's times after the check above: if it changed meanwhile,
            // the record may name the changed file. A plain mark withdraws it.
            if !unchanged() { try sync.markDirty(rawRel) }
        }
        Failpoint.hit("data.after-record")
        if (try latestVersion(ref, name) ?? 0) < version {
            try writeFile(Data("\(version)\n".utf8), rel: DatastoreLayout.latestRel(ref, name))
        }
        try catalog.upsert(metadata, generation: DatastoreGeneration.bump(layout))
        return metadata
    }

    /// Writes a method-run record under `outputs/` and returns its cache-relative path.
    @discardableResult
    public func writeOutput(_ record: OutputRecord, for model: ModelRef) throws -> String {
        let stamp = OutputRecord.timestamp(record.startedAt)
        let base = "\(DatastoreLayout.outputsRel(model))/\(record.method)-\(stamp)"
        var rel = "\(base).yaml"
        var attempt = 1
        while FileManager.default.fileExists(atPath: layout.absolute(rel)) {
            attempt += 1
            rel = "\(base)-\(attempt).yaml"
        }
        try writeFile(MetadataCoding.encode(record), rel: rel)
        return rel
    }

    /// Creates the next version directory exclusively, retrying on collision.
    private func allocateVersion(_ ref: ModelRef, _ name: String) throws -> Int {
        var candidate = (try existingVersions(ref, name).last ?? 0) + 1
        while true {
            let directory = layout.absolute(DatastoreLayout.versionRel(ref, name, candidate))
            if try AtomicFile.makeDirectoryExclusively(directory) { return candidate }
            candidate += 1
        }
    }

    func writeFile(_ data: Data, rel: String) throws {
        try sync.markDirty(rel)
        try AtomicFile.write(data, to: layout.absolute(rel))
    }

    // MARK: Reading

    /// The version numbers present on disk for one data item, ascending.
    public func existingVersions(_ ref: ModelRef, _ name: String) throws -> [Int] {
        let directory = layout.absolute(DatastoreLayout.itemRel(ref, name))
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return entries.compactMap { entry in Int(entry).flatMap { $0 > 0 && String($0) == entry ? $0 : nil } }.sorted()
    }

    /// The version the `latest` marker names, or `nil` when the item has none.
    public func latestVersion(_ ref: ModelRef, _ name: String) throws -> Int? {
        let path = layout.absolute(DatastoreLayout.latestRel(ref, name))
        guard let data = try AtomicFile.readIfPresent(path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let version = Int(text), version > 0 else {
            throw SwampError(.corruptData, "the latest marker '\(path)' does not hold a version number")
        }
        return version
    }

    /// The metadata of one version.
    public func metadata(_ ref: ModelRef, _ name: String, version: Int) throws -> DataMetadata {
        let path = layout.absolute(DatastoreLayout.metadataRel(ref, name, version))
        guard let data = try AtomicFile.readIfPresent(path) else {
            throw SwampError(.unknownData, "\(ref.modelType)/\(ref.modelId) has no version \(version) of data '\(name)'")
        }
        return try MetadataCoding.decode(DataMetadata.self, from: data, path: path)
    }

    /// The content of one version (the latest when `version` is `nil`), hydrating it first
    /// when the cache does not hold it and the sync service can fetch it.
    public func content(of model: ModelDefinition, name: String, version: Int?) async throws -> ContentRead {
        let file = try await contentFile(of: model, name: name, version: version)
        guard let data = try AtomicFile.readIfPresent(file.path) else {
            throw SwampError(
                .contentMissing, "the content of '\(model.name)/\(name)' version \(file.metadata.version) is not in the datastore",
                hint: "run 'swamp datastore sync --pull' or 'swamp datastore verify'")
        }
        return ContentRead(metadata: file.metadata, data: data, hydrated: file.hydrated)
    }

    /// The file holding one version's content (the latest when `version` is `nil`), hydrating
    /// it first when needed: for reading in chunks, whatever its size.
    public func contentFile(of model: ModelDefinition, name: String, version: Int?) async throws -> (
        metadata: DataMetadata, path: String, hydrated: Bool
    ) {
        try PathRules.validateDataName(name)
        let ref = model.ref
        guard let resolved = try version ?? latestVersion(ref, name) else {
            throw SwampError(
                .unknownData, "model '\(model.name)' has no data named '\(name)'",
                hint: "list its data with: swamp data list \(model.name)")
        }
        let metadata = try metadata(ref, name, version: resolved)
        let rel = DatastoreLayout.rawRel(ref, name, resolved)
        let path = layout.absolute(rel)
        var hydrated = false
        if !FileManager.default.fileExists(atPath: path) {
            hydrated = try await sync.hydrate(rel)
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw SwampError(
                .contentMissing, "the content of '\(model.name)/\(name)' version \(resolved) is not in the datastore",
                hint: "run 'swamp datastore sync --pull' or 'swamp datastore verify'")
        }
        return (metadata, path, hydrated)
    }

    // MARK: Hydration

    /// What ``hydrate(modelIds:concurrency:progress:)`` did.
    public struct HydrationReport: Sendable {
        public var checked = 0
        public var hydrated = 0
        /// Content that could not be fetched (collected on the remote, missing, corrupt): cache-relative path → why.
        public var skipped: [String: String] = [:]
    }

    /// Fetches every version's content the cache does not hold yet (of `modelIds` only, when
    /// given). Content that cannot be fetched (a version collected by a teammate since the last
    /// pull, say) is skipped and reported; the rest is fetched.
    public func hydrate(
        modelIds: Set<String>?, concurrency: Int = 8, progress: (@Sendable (SyncProgress) -> Void)? = nil
    ) async throws -> HydrationReport {
        var missing: [String] = []
        var checked = 0
        for item in try catalog.latestItems() where modelIds?.contains(item.modelId) ?? true {
            let ref = ModelRef(modelType: item.modelType, modelId: item.modelId)
            for version in try catalog.versions(modelId: item.modelId, name: item.name) {
                checked += 1
                let rel = DatastoreLayout.rawRel(ref, item.name, version.version)
                if !FileManager.default.fileExists(atPath: layout.absolute(rel)) { missing.append(rel) }
            }
        }
        var report = HydrationReport(checked: checked)
        let sync = self.sync
        guard sync.isRemote, !missing.isEmpty else { return report }
        let done = Mutex(0)
        let total = missing.count
        progress?(SyncProgress(phase: "hydrate", done: 0, total: total))
        let results = try await forEachConcurrently(missing, limit: concurrency) { rel -> (String, Bool, String?) in
            var outcome: (String, Bool, String?)
            do {
                outcome = (rel, try await sync.hydrate(rel), nil)
            } catch let error as any ItemScopedError where error.concernsOneItem {
                outcome = (rel, false, "\(error)")
            }
            let count = done.withLock { value -> Int in
                value += 1
                return value
            }
            progress?(SyncProgress(phase: "hydrate", done: count, total: total))
            return outcome
        }
        for (rel, hydrated, skipped) in results {
            if hydrated { report.hydrated += 1 }
            if let skipped { report.skipped[rel] = skipped }
        }
        return report
    }

    // MARK: Garbage collection

    /// Deletes all but the newest `keep` versions of every data item (the latest is always kept).
    /// Each deleted file is marked dirty first, so a remote sync deletes it too.
    public func collectGarbage(keep: Int) throws -> GarbageReport {
        guard keep >= 1 else {
            throw SwampError(.invalidArgument, "garbage collection must keep at least 1 version of each item, not \(keep)")
        }
        var report = GarbageReport()
        for item in try catalog.latestItems() {
            let ref = ModelRef(modelType: item.modelType, modelId: item.modelId)
            let versions = try existingVersions(ref, item.name)
            let latest = try latestVersion(ref, item.name) ?? versions.last ?? 0
            let doomed = versions.dropLast(keep).filter { $0 != latest }
            for version in doomed {
                let versionRel = DatastoreLayout.versionRel(ref, item.name, version)
                let directory = layout.absolute(versionRel)
                let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                for file in files.sorted() where !AtomicFile.isTemporaryName(file) {
                    let rel = "\(versionRel)/\(file)"
                    try sync.markDirty(rel)
                    report.bytesFreed += Int64((try? FileManager.default.attributesOfItem(atPath: layout.absolute(rel))[.size] as? Int) ?? 0)
                    try AtomicFile.remove(layout.absolute(rel))
                }
                try? FileManager.default.removeItem(atPath: directory)
                try catalog.remove(modelId: ref.modelId, name: item.name, version: version, generation: DatastoreGeneration.bump(layout))
                report.deleted.append(.init(modelName: item.modelName, name: item.name, version: version))
            }
        }
        return report
    }
}

/// What ``DataRepository/content(of:name:version:)`` read.
public struct ContentRead: Sendable {
    public let metadata: DataMetadata
    public let data: Data
    /// Whether the content had to be fetched from the remote first.
    public let hydrated: Bool
}

/// What ``DataRepository/collectGarbage(keep:)`` deleted.
public struct GarbageReport: Sendable, Codable, Equatable {
    public struct Deleted: Sendable, Codable, Equatable {
        public let modelName: String
        public let name: String
        public let version: Int
    }
    public var deleted: [Deleted] = []
    public var bytesFreed: Int64 = 0
}
