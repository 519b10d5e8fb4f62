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
    /// What this service uploaded during its life (one command): a push retried after the caller
    /// resolved a conflict does not send those bytes again.
    let uploadedThisRun = Mutex<[String: SyncSidecar.FileRecord]>([:])
    private let progressHandler = Mutex<(@Sendable (SyncProgress) -> Void)?>(nil)

    /// The accounting of the client the locks use (their requests are reported too).
    let lockAccounting: RequestAccounting?

    init(
        client: S3Client, settings: S3DatastoreConfig, cacheRoot: String, hydration: HydrationStrategy, lockAccounting: RequestAccounting? = nil,
        dirtyLimit: Int = 10_000, logger: Logger = Logger(label: "swamp.s3sync", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.client = client
        self.lockAccounting = lockAccounting
        self.settings = settings
        remote = RemoteLayout(prefix: settings.prefix)
        cache = DatastoreLayout(root: cacheRoot)
        sidecar = SyncSidecar(cacheRoot: cacheRoot, remoteIdentity: "\(settings.bucket)/\(remote.prefix)", dirtyLimit: dirtyLimit)
        self.hydration = hydration
        self.logger = logger
    }

    public func capabilities() throws -> SyncCapabilities {
        SyncCapabilities(scopedSync: true, lazyHydration: hydration == .lazy, fencedCommits: true)
    }

    public func activity() -> SyncActivity? {
        var activity = counters.withLock { $0 }
        let requests = client.accounting.snapshot
        activity.requests = requests.requests
        activity.bytesUp = requests.bytesUp
        activity.bytesDown = requests.bytesDown
        activity.lockRequests = lockAccounting?.snapshot.requests ?? [:]
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

    func count(pulled: Int = 0, pushed: Int = 0, deleted: Int = 0, skipped: Int = 0) {
        counters.withLock {
            $0.pulled += pulled
            $0.pushed += pushed
            $0.deleted += deleted
            $0.skipped += skipped
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
                var unavailable: [String] = []
                for partition in Set(models.map(PartitionID.model)).sorted() {
                    let result = try await self.pullPartition(partition, lazy: false)
                    pulled += result.pulled
                    unavailable += result.neededSkipped
                }
                if !unavailable.isEmpty {
                    throw S3SyncError(
                        .contentUnavailable,
                        "the latest version of \(unavailable.count == 1 ? "a data item" : "\(unavailable.count) data items") of this model cannot be read from the remote (\(unavailable.prefix(3).joined(separator: ", "))): its object is missing or does not match the index. Everything else was pulled. Run 'swamp datastore verify', then 'swamp datastore repair'"
                    )
                }
                return pulled
            }
            return try await self.pullEverything(lazy: self.hydration == .lazy || options?.metadataOnly == true)
        }
    }

    /// What pulling one partition did.
    struct PartitionPull: Sendable {
        var pulled = 0
        /// The commit sequence of the partition's index the cache now holds (0: none).
        var seq = 0
        /// Entries skipped because their object is missing or does not match, that are the
        /// latest version of their data item.
        var neededSkipped: [String] = []
    }

    /// One conditional GET of the partition; applies it when it changed (or when what the cache
    /// holds of it is not fully applied).
    func pullPartition(_ partition: PartitionID, lazy: Bool, knownETag: String? = nil) async throws -> PartitionPull {
        let state = sidecar.loadPartition(partition)
        if let knownETag, knownETag == state.etag, state.stale != true { return PartitionPull(seq: state.index?.seq ?? 0) }
        switch try await client.get(remote.partitionKey(partition), ifNoneMatch: state.etag, maxBytes: settings.maxIndexBytes) {
        case .notFound:
            return PartitionPull()
        case .notModified:
            // Unchanged remotely; still apply what the cache holds but has not applied (a merge,
            // a skipped entry, content a lazy pull skipped before a full one).
            guard let index = state.index else { return PartitionPull() }
            guard state.stale == true || (!lazy && hasMissingContent(index)) else { return PartitionPull(seq: index.seq) }
            return try await apply(index, etag: state.etag, to: partition, state: state, lazy: lazy)
        case .found(let response):
            let index = try PartitionIndex.decode(response.body, expected: partition)
            return try await apply(index, etag: response.etag, to: partition, state: state, lazy: lazy)
        }
    }

    /// `GET meta.json` with `If-None-Match`; on a change, the partitions the commits since the
    /// cache's fingerprint name (or every partition, listed, when the cache fell out of the
    /// ring). A commit the meta announced whose partition is not written yet (in flight, or its
    /// writer died) stays *pending*: every later pull checks that partition again, so the
    /// change is seen as soon as it lands, and the pull never waits for it.
    func pullEverything(lazy: Bool) async throws -> Int {
        let state = sidecar.loadState()
        var wanted: [PartitionID: Int] = [:]
        for (name, seq) in state.pending ?? [:] {
            if let partition = PartitionID.validated(name) { wanted[partition] = seq }
        }
        var listed: [PartitionID: String] = [:]
        var meta: (index: MetaIndex, etag: String?)?
        if case .found(let response) = try await client.get(remote.metaKey, ifNoneMatch: state.pulledMetaETag) {
            let index = try MetaIndex.decode(response.body)
            meta = (index, response.etag)
            let commits: [MetaIndex.Commit]
            if let seq = state.pulledThroughSeq, let recent = index.commits(after: seq) {
                commits = recent
            } else {
                commits = index.recent
                for object in try await client.list(prefix: remote.indexPrefix) {
                    guard let partition = remote.partition(fromKey: object.key) else { continue }
                    listed[partition] = object.etag
                    wanted[partition] = max(wanted[partition] ?? 0, 0)
                }
            }
            for commit in commits {
                for name in commit.partitions {
                    guard let partition = PartitionID.validated(name) else {
                        logger.warning("ignoring an invalid partition name in the remote meta", metadata: ["name": "\(PathRules.printable(name))"])
                        continue
                    }
                    wanted[partition] = max(wanted[partition] ?? 0, commit.seq)
                }
            }
        }
        guard !wanted.isEmpty || meta != nil else { return 0 }
        var pulled = 0
        var pending: [String: Int] = [:]
        var refused: [(PartitionID, S3SyncError)] = []
        for (partition, announced) in wanted.sorted(by: { $0.key < $1.key }) {
            do {
                let result = try await pullPartition(partition, lazy: lazy, knownETag: listed[partition])
                pulled += result.pulled
                if result.seq < announced { pending[partition.name] = announced }
            } catch let error as S3SyncError where error.code == .corruptIndex || error.code == .hostilePath {
                // A hostile or broken partition stops its own pull, not everyone else's.
                refused.append((partition, error))
                pending[partition.name] = max(announced, 1)
            } catch let error as S3Error where error.code == .tooLarge {
                refused.append(
                    (partition, S3SyncError(.corruptIndex, "the remote index partition '\(partition)' is larger than the maxIndexBytes limit")))
                pending[partition.name] = max(announced, 1)
            }
        }
        if !pending.isEmpty {
            logger.info("commits announced but not written yet", metadata: ["partitions": "\(pending.keys.sorted())"])
        }
        try sidecar.updateState {
            if let meta {
                // Only now has the cache applied everything up to meta.seq (pending commits aside).
                $0.pulledThroughSeq = meta.index.seq
                $0.pulledMetaETag = meta.etag
                $0.knownMeta = meta.index
                $0.knownMetaETag = meta.etag
            }
            $0.pending = pending.isEmpty ? nil : Self.bounded(pending)
        }
        if let (partition, first) = refused.first {
            let others = refused.count > 1 ? " (and \(refused.count - 1) other partition(s))" : ""
            throw S3SyncError(
                first.code, "\(first.message)\(others); nothing of '\(partition)' was applied, every other partition was pulled")
        }
        return pulled
    }

    /// At most 64 pending commits are tracked (the newest); `swamp datastore repair` heals the rest.
    static func bounded(_ pending: [String: Int]) -> [String: Int] {
        guard pending.count > 64 else { return pending }
        return Dictionary(uniqueKeysWithValues: pending.sorted { $0.value > $1.value }.prefix(64).map { ($0.key, $0.value) })
    }

    /// Whether a live entry of `index` has no local file (content a lazy pull skipped).
    func hasMissingContent(_ index: PartitionIndex) -> Bool {
        index.entries.contains { path, entry in
            guard !entry.isDeleted else { return false }
            if case .latest = DatastorePath(path).kind { return false }
            return LocalFile.stat(cache.absolute(path)) == nil
        }
    }

    /// Brings the cache in line with `index` (see ``PullPlan``): downloads changed files
    /// (hash-verified, atomic), removes tombstoned ones, keeps unpushed local work, derives
    /// the `latest` markers, and records what it applied. An entry whose object is missing
    /// or does not match is skipped with a warning; the rest is applied.
    func apply(_ index: PartitionIndex, etag: String?, to partition: PartitionID, state: SyncSidecar.PartitionState, lazy: Bool)
        async throws -> PartitionPull
    {
        let dirty = sidecar.readDirty(partition)
        let plan = try PullPlan.make(
            index: index, state: state, dirty: dirty.paths, lazy: lazy, local: CacheView(cache: cache, known: state.files))
        for path in plan.keptLocal {
            logger.warning("keeping an unpushed local change over the remote's; the next push resolves it", metadata: ["path": "\(path)"])
        }
        var files = state.files
        for (path, record) in plan.matched { files[path] = record }
        for path in plan.removals {
            let absolute = cache.absolute(path)
            try AtomicFile.remove(absolute)
            Self.removeEmptyParents(of: absolute, upTo: cache.root)
        }
        for path in plan.forgotten { files[path] = nil }
        for unit in plan.lazyDirectories.sorted() { try AtomicFile.makeDirectories(cache.absolute(unit)) }
        let results = try await transfer(plan.downloads, phase: "pull", limit: settings.pullConcurrency) {
            item -> (String, SyncSidecar.FileRecord?) in
            do {
                return (item.path, try await self.download(item.path, expected: item.entry))
            } catch let error as S3SyncError where error.code == .objectMissing || error.code == .hashMismatch {
                self.logger.warning("skipped an index entry that cannot be read", metadata: ["path": "\(item.path)", "reason": "\(error.message)"])
                return (item.path, nil)
            }
        }
        var skipped: [String] = []
        for (path, record) in results {
            if let record { files[path] = record } else { skipped.append(path) }
        }
        if !plan.removals.isEmpty || results.count > skipped.count { DatastoreGeneration.bump(cache) }
        let incomplete = !skipped.isEmpty || !plan.keptLocal.isEmpty
        try sidecar.savePartition(partition, SyncSidecar.PartitionState(etag: etag, index: index, files: files, stale: incomplete ? true : nil))
        try deriveLatest(from: index)
        count(pulled: results.count - skipped.count, deleted: plan.removals.count, skipped: skipped.count)
        return PartitionPull(pulled: results.count - skipped.count, seq: index.seq, neededSkipped: Self.latestVersionFiles(skipped, in: index))
    }

    /// The paths among `paths` that are files of their data item's highest live version.
    static func latestVersionFiles(_ paths: [String], in index: PartitionIndex) -> [String] {
        guard !paths.isEmpty else { return [] }
        var highest: [String: Int] = [:]
        for (path, entry) in index.entries where !entry.isDeleted {
            let classified = DatastorePath(path)
            guard case .versionFile(_, _, let version, _) = classified.kind, let unit = classified.versionDirectory else { continue }
            let item = IndexShape.itemDirectory(ofUnit: unit)
            highest[item] = max(highest[item] ?? 0, version)
        }
        return paths.filter { path in
            let classified = DatastorePath(path)
            guard case .versionFile(_, _, let version, _) = classified.kind, let unit = classified.versionDirectory else { return false }
            return highest[IndexShape.itemDirectory(ofUnit: unit)] == version
        }
    }

    /// Raises each data item's local `latest` marker to the highest live version the cache now
    /// holds (its `metadata.yaml` is local). `latest` is derived, never synced, and never lowered.
    func deriveLatest(from index: PartitionIndex) throws {
        var units: [String: Int] = [:]
        for (path, entry) in index.entries where !entry.isDeleted {
            let classified = DatastorePath(path)
            guard case .versionFile(_, _, let version, _) = classified.kind, let unit = classified.versionDirectory else { continue }
            units[unit] = version
        }
        var highest: [String: Int] = [:]
        for (unit, version) in units where LocalFile.stat(cache.absolute("\(unit)/metadata.yaml")) != nil {
            let item = IndexShape.itemDirectory(ofUnit: unit)
            highest[item] = max(highest[item] ?? 0, version)
        }
        for (item, version) in highest {
            let path = cache.absolute("\(item)/latest")
            let current = (try AtomicFile.readIfPresent(path)).flatMap {
                Int(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if (current ?? 0) < version { try AtomicFile.write(Data("\(version)\n".utf8), to: path) }
        }
    }

    /// Downloads one object, checks it against the index hash, and writes it atomically.
    func download(_ path: String, expected: IndexEntry) async throws -> SyncSidecar.FileRecord {
        let outcome: S3Client.GetOutcome
        do {
            // Never read more than the index says, and give it the time its size needs.
            outcome = try await client.get(remote.objectKey(path), maxBytes: Int(expected.size), expectedBytes: Int(expected.size))
        } catch let error as S3Error where error.code == .tooLarge {
            throw S3SyncError(
                .hashMismatch, "the remote object '\(path)' is larger than the index says (\(expected.size) bytes); nothing was written")
        }
        guard case .found(let response) = outcome else {
            throw S3SyncError(.objectMissing, "the remote index lists '\(path)' but the bucket does not hold it; nothing was written")
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
        return SyncSidecar.FileRecord(local, sha256: sha)
    }

    // MARK: Hydration

    public func hydrateFile(_ relPath: String) async throws -> Bool {
        _ = try PathRules.validateRelativePath(relPath)
        let absolute = cache.absolute(relPath)
        if LocalFile.stat(absolute) != nil { return false }
        let partition = PartitionID.of(relPath)
        var entry = sidecar.loadPartition(partition).index?.entries[relPath]
        if entry == nil { entry = try await freshEntry(relPath, in: partition) }
        guard let entry, !entry.isDeleted else { return false }
        do {
            _ = try await download(relPath, expected: entry)
        } catch let error as S3SyncError where error.code == .objectMissing {
            // Collected by a teammate since this cache last pulled? Then say so.
            if let fresh = try await freshEntry(relPath, in: partition), fresh.isDeleted {
                throw S3SyncError(
                    .collected,
                    "'\(relPath)' was collected on the remote ('swamp data gc') after this cache last pulled; run 'swamp datastore sync --pull' to see what remains"
                )
            }
            throw error
        }
        count(pulled: 1)
        return true
    }

    /// The entry for `relPath` in the partition as the remote holds it now.
    func freshEntry(_ relPath: String, in partition: PartitionID) async throws -> IndexEntry? {
        guard case .found(let response) = try await client.get(remote.partitionKey(partition)) else { return nil }
        return try PartitionIndex.decode(response.body, expected: partition).entries[relPath]
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
            return .failed(error, details: ["bucket": settings.bucket])
        }
    }

    // MARK: Helpers

    /// The file's sha256, reusing the recorded one when size, mtime, ctime and inode are unchanged.
    static func hash(_ absolute: String, _ local: LocalFile, known: SyncSidecar.FileRecord?) throws -> String {
        if let known, known.describes(local) { return known.sha256 }
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
