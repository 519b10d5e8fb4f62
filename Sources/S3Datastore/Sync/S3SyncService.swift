import Foundation
import Logging
import S3Client
import SwampContracts
import SwampCore
import Synchronization

/// Keeps a local cache in sync with an S3 bucket, scoped to the models an
/// operation is about (see docs/s3-layout.md for the remote layout and protocol).
///
/// - A scoped pull of model M is one conditional GET of M's index partition.
/// - An unscoped pull is one conditional GET of `_swamp/meta.json` when nothing changed.
/// - A push with nothing dirty makes no request; one modified file costs the upload,
///   the partition write and the meta write, each conditional.
public final class S3SyncService: DatastoreSyncService, SyncProgressReporting {
    let client: S3Client
    let remote: RemoteLayout
    let cache: DatastoreLayout
    let sidecar: SyncSidecar
    let settings: S3DatastoreConfig
    let hydration: HydrationStrategy
    let logger: Logger
    private let counters = Mutex(SyncActivity())
    private let progressHandler = Mutex<(@Sendable (SyncProgress) -> Void)?>(nil)

    init(
        client: S3Client, settings: S3DatastoreConfig, cacheRoot: String, hydration: HydrationStrategy,
        logger: Logger = Logger(label: "swamp.s3sync", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.client = client
        self.settings = settings
        remote = RemoteLayout(prefix: settings.prefix)
        cache = DatastoreLayout(root: cacheRoot)
        sidecar = SyncSidecar(cacheRoot: cacheRoot, remoteIdentity: "\(settings.bucket)/\(remote.prefix)")
        self.hydration = hydration
        self.logger = logger
    }

    public func capabilities() throws -> SyncCapabilities {
        SyncCapabilities(scopedSync: true, lazyHydration: hydration == .lazy)
    }

    public func activity() -> SyncActivity? {
        var activity = counters.withLock { $0 }
        let requests = client.accounting.snapshot
        activity.requests = requests.requests
        activity.bytesUp = requests.bytesUp
        activity.bytesDown = requests.bytesDown
        return activity
    }

    public func setProgressHandler(_ handler: (@Sendable (SyncProgress) -> Void)?) {
        progressHandler.withLock { $0 = handler }
    }

    /// Runs `body` over `items` in a sliding window, reporting progress as each completes.
    func transfer<Item: Sendable, Result: Sendable>(
        _ items: [Item], phase: String, limit: Int, _ body: @escaping @Sendable (Item) async throws -> Result
    ) async throws -> [Result] {
        guard let handler = progressHandler.withLock({ $0 }), !items.isEmpty else {
            return try await forEachConcurrently(items, limit: limit, body)
        }
        let done = Mutex(0)
        let total = items.count
        handler(SyncProgress(phase: phase, done: 0, total: total))
        return try await forEachConcurrently(items, limit: limit) { item in
            let result = try await body(item)
            let count = done.withLock { value -> Int in
                value += 1
                return value
            }
            handler(SyncProgress(phase: phase, done: count, total: total))
            return result
        }
    }

    func count(pulled: Int = 0, pushed: Int = 0, deleted: Int = 0) {
        counters.withLock {
            $0.pulled += pulled
            $0.pushed += pushed
            $0.deleted += deleted
        }
    }

    // MARK: markDirty

    public func markDirty(_ options: DatastoreSyncOptions?) throws {
        guard let relPath = options?.relPath else {
            try sidecar.markBulk()
            return
        }
        _ = try PathRules.validateRelativePath(relPath)
        try sidecar.appendDirty(relPath)
    }

    // MARK: Pull

    public func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        try await withDeadline(options?.deadline, operation: "pull") {
            if let models = options?.context?.models {
                // A model about to run gets its content in full, even in lazy mode.
                var pulled = 0
                for partition in Set(models.map(PartitionID.model)).sorted() {
                    pulled += try await self.pullPartition(partition, lazy: false)
                }
                return pulled
            }
            return try await self.pullEverything(lazy: self.hydration == .lazy || options?.metadataOnly == true)
        }
    }

    /// One conditional GET of the partition; applies it when it changed.
    func pullPartition(_ partition: PartitionID, lazy: Bool, knownETag: String? = nil) async throws -> Int {
        let state = sidecar.loadPartition(partition)
        if let knownETag, knownETag == state.etag { return 0 }
        switch try await client.get(remote.partitionKey(partition), ifNoneMatch: state.etag) {
        case .notFound:
            return 0
        case .notModified:
            // Unchanged remotely; a full pull still completes content a lazy pull skipped.
            guard !lazy, let index = state.index, hasMissingContent(index) else { return 0 }
            return try await apply(index, etag: state.etag, to: partition, state: state, lazy: false)
        case .found(let response):
            let index = try PartitionIndex.decode(response.body, expected: partition)
            return try await apply(index, etag: response.etag, to: partition, state: state, lazy: lazy)
        }
    }

    /// `GET meta.json` with `If-None-Match`; on a change, the partitions the recent
    /// commits name (or all of them, listed, when the cache fell out of the ring).
    func pullEverything(lazy: Bool) async throws -> Int {
        let state = sidecar.loadState()
        guard case .found(let response) = try await client.get(remote.metaKey, ifNoneMatch: state.pulledMetaETag) else { return 0 }
        let meta = try MetaIndex.decode(response.body)
        var pulled = 0
        if let seq = state.pulledThroughSeq, let changed = meta.partitionsChanged(after: seq) {
            for partition in changed { pulled += try await pullPartition(partition, lazy: lazy) }
        } else {
            for object in try await client.list(prefix: remote.indexPrefix) {
                guard let partition = remote.partition(fromKey: object.key) else { continue }
                pulled += try await pullPartition(partition, lazy: lazy, knownETag: object.etag)
            }
        }
        // Only now has the cache applied everything up to meta.seq.
        try sidecar.updateState {
            $0.pulledThroughSeq = meta.seq
            $0.pulledMetaETag = response.etag
            $0.knownMeta = meta
            $0.knownMetaETag = response.etag
        }
        return pulled
    }

    /// Whether a live entry of `index` has no local file (content a lazy pull skipped).
    func hasMissingContent(_ index: PartitionIndex) -> Bool {
        index.entries.contains { path, entry in !entry.isDeleted && LocalFile.stat(cache.absolute(path)) == nil }
    }

    /// Brings the cache in line with `index`: downloads changed files (hash-verified,
    /// atomic), removes tombstoned ones, and records what it applied.
    func apply(_ index: PartitionIndex, etag: String?, to partition: PartitionID, state: SyncSidecar.PartitionState, lazy: Bool)
        async throws -> Int
    {
        let unpushed = sidecar.readDirty(partition).paths ?? []
        var files = state.files
        var downloads: [(path: String, entry: IndexEntry)] = []
        var removed = 0
        for (path, entry) in index.entries.sorted(by: { $0.key < $1.key }) {
            let absolute = cache.absolute(path)
            let local = LocalFile.stat(absolute)
            if entry.isDeleted {
                if local != nil, !unpushed.contains(path) {
                    try AtomicFile.remove(absolute)
                    Self.removeEmptyParents(of: absolute, upTo: cache.root)
                    removed += 1
                }
                if local == nil || !unpushed.contains(path) { files[path] = nil }
                continue
            }
            if let local {
                let sha = try Self.hash(absolute, local, known: files[path])
                if sha == entry.sha256 {
                    files[path] = SyncSidecar.FileRecord(size: local.size, mtimeNs: local.mtimeNs, sha256: sha)
                    continue
                }
                if unpushed.contains(path) {
                    logger.warning("keeping an unpushed local change over the remote's", metadata: ["path": "\(path)"])
                    continue
                }
            } else if unpushed.contains(path) {
                continue  // deleted locally, deletion not pushed yet: do not bring it back
            }
            if lazy && path.hasSuffix("/raw") && path.hasPrefix("data/") {
                try AtomicFile.makeDirectories((absolute as NSString).deletingLastPathComponent)
                continue
            }
            downloads.append((path, entry))
        }
        let records = try await transfer(downloads, phase: "pull", limit: settings.pullConcurrency) { item in
            (item.path, try await self.download(item.path, expected: item.entry))
        }
        for (path, record) in records { files[path] = record }
        try sidecar.savePartition(partition, SyncSidecar.PartitionState(etag: etag, index: index, files: files))
        count(pulled: records.count, deleted: removed)
        return records.count
    }

    /// Downloads one object, checks it against the index hash, and writes it atomically.
    func download(_ path: String, expected: IndexEntry) async throws -> SyncSidecar.FileRecord {
        guard case .found(let response) = try await client.get(remote.objectKey(path)) else {
            throw S3SyncError(.corruptIndex, "the remote index lists '\(path)' but the object is missing; run 'swamp datastore verify'")
        }
        let sha = ContentHash.sha256(response.body)
        guard sha == expected.sha256, Int64(response.body.count) == expected.size else {
            throw S3SyncError(
                .hashMismatch,
                "the remote object '\(path)' does not match the index (sha256 \(sha.prefix(12))… ≠ \(expected.sha256.prefix(12))…); nothing was written"
            )
        }
        let absolute = cache.absolute(path)
        try AtomicFile.write(response.body, to: absolute)
        guard let local = LocalFile.stat(absolute) else { throw FileSystemError("stat", path: absolute, errno: ENOENT) }
        return SyncSidecar.FileRecord(size: local.size, mtimeNs: local.mtimeNs, sha256: sha)
    }

    // MARK: Hydration

    public func hydrateFile(_ relPath: String) async throws -> Bool {
        _ = try PathRules.validateRelativePath(relPath)
        let absolute = cache.absolute(relPath)
        if LocalFile.stat(absolute) != nil { return false }
        let partition = PartitionID.of(relPath)
        var entry = sidecar.loadPartition(partition).index?.entries[relPath]
        if entry == nil, case .found(let response) = try await client.get(remote.partitionKey(partition)) {
            entry = try PartitionIndex.decode(response.body, expected: partition).entries[relPath]
        }
        guard let entry, !entry.isDeleted else { return false }
        _ = try await download(relPath, expected: entry)
        count(pulled: 1)
        return true
    }

    // MARK: Verify

    public func verify() async throws -> DatastoreHealth {
        let started = ContinuousClock.now
        do {
            _ = try await client.headBucket()
            let meta = try await client.get(remote.metaKey)
            var details = ["bucket": settings.bucket, "prefix": remote.prefix]
            if case .found(let response) = meta { details["seq"] = String(try MetaIndex.decode(response.body).seq) }
            let elapsed = ContinuousClock.now - started
            return DatastoreHealth(
                healthy: true, message: "S3 bucket '\(settings.bucket)' is reachable", latencyMs: Self.milliseconds(elapsed), details: details)
        } catch {
            return DatastoreHealth(healthy: false, message: "\(error)", details: ["bucket": settings.bucket])
        }
    }

    // MARK: Helpers

    /// The file's sha256, reusing the recorded one when size and mtime are unchanged.
    static func hash(_ absolute: String, _ local: LocalFile, known: SyncSidecar.FileRecord?) throws -> String {
        if let known, known.size == local.size, known.mtimeNs == local.mtimeNs { return known.sha256 }
        return try ContentHash.sha256(ofFile: absolute).sha256
    }

    static func removeEmptyParents(of path: String, upTo root: String) {
        var directory = (path as NSString).deletingLastPathComponent
        while directory.count > root.count, directory.hasPrefix(root) {
            guard (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true else { return }
            try? FileManager.default.removeItem(atPath: directory)
            directory = (directory as NSString).deletingLastPathComponent
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// Runs `body`, failing with a timeout that lists the remedies once `deadline` passes.
    func withDeadline<T: Sendable>(_ deadline: Date?, operation: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let deadline else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(max(0, Int64(deadline.timeIntervalSinceNow * 1000))))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw S3SyncError(
                    .timeout,
                    "the \(operation) did not finish in time; nothing partial was recorded. Retry, raise --timeout, or check the network and 'swamp datastore status'"
                )
            }
            return value
        }
    }
}
