import Foundation
import Logging
import S3Client
import SwampContracts
import SwampSupport
import Synchronization

/// Pull: scoped (one conditional GET per partition) or unscoped (meta first, then only the
/// partitions it names as changed); each partition applied by `PullPlan`, objects verified
/// against the index before they are written.
extension S3SyncService {
    public func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        try await withDeadline(options?.deadline, operation: "pull") {
            if let models = options?.context?.models {
                // A model about to run gets its content in full, even in lazy mode; its
                // partitions are pulled side by side, their transfers in one window.
                let transfers = self.transfers("pull", width: self.settings.pullConcurrency)
                let partitions = Set(models.map(PartitionID.model)).sorted()
                let results = try await forEachConcurrently(partitions, limit: partitions.count) { partition in
                    try await self.pullPartition(partition, lazy: false, transfers: transfers)
                }
                let pulled = results.reduce(0) { $0 + $1.pulled }
                let unavailable = results.flatMap(\.neededSkipped)
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
    /// holds of it is not fully applied). The files the meta `hints` are read beside it (see
    /// ``MetaIndex/Commit/files``), and used only where the index lists the same bytes.
    func pullPartition(
        _ partition: PartitionID, lazy: Bool, knownETag: String? = nil, hints: [String: IndexEntry] = [:], transfers: Transfers
    ) async throws -> PartitionPull {
        let state = sidecar.loadPartition(partition)
        if let knownETag, knownETag == state.etag, state.stale != true { return PartitionPull(seq: state.index?.seq ?? 0) }
        let wanted = hints.filter { path, entry in
            state.files[path]?.sha256 != entry.sha256 && !(lazy && PullPlan.isLazyContent(path))
        }
        async let early = prefetch(wanted, transfers: transfers)
        let outcome = try await transfers.window.withSlot {
            try await client.get(remote.partitionKey(partition), ifNoneMatch: state.etag, maxBytes: settings.maxIndexBytes)
        }
        // Awaited whatever the index says: requests in flight are waited for, not abandoned.
        let fetched = await early
        switch outcome {
        case .notFound:
            return PartitionPull()
        case .notModified:
            // Unchanged remotely; still apply what the cache holds but has not applied (a merge,
            // a skipped entry, content a lazy pull skipped before a full one).
            guard let index = state.index else { return PartitionPull() }
            guard state.stale == true || (!lazy && hasMissingContent(index)) else { return PartitionPull(seq: index.seq) }
            return try await apply(index, etag: state.etag, to: partition, state: state, lazy: lazy, transfers: transfers, early: fetched)
        case .found(let response):
            let index = try PartitionIndex.decode(response.body, expected: partition)
            return try await apply(index, etag: response.etag, to: partition, state: state, lazy: lazy, transfers: transfers, early: fetched)
        }
    }

    /// Reads the hinted files `hints` side by side, each bounded by its hinted size, and keeps
    /// those whose bytes hash to their hint (by path). Best effort, and never in the way of the
    /// reads that decide: a hinted file is read only while more than half the window is free
    /// (it never queues for a slot), in one attempt (never retried); a file missing, different,
    /// unreadable or not read is simply not kept (the index, read meanwhile, decides what is
    /// downloaded).
    func prefetch(_ hints: [String: IndexEntry], transfers: Transfers) async -> [String: EarlyFile] {
        guard !hints.isEmpty else { return [:] }
        let reserve = max(1, transfers.window.width / 2)
        let found = try? await forEachConcurrently(hints.sorted(by: { $0.key < $1.key }), limit: hints.count) { path, entry -> EarlyFile? in
            let outcome = try? await transfers.window.withSlotIfFree(reserving: reserve) {
                try await self.client.get(self.remote.objectKey(path), maxBytes: Int(entry.size), expectedBytes: Int(entry.size), retrying: false)
            }
            guard case .found(let response)? = outcome, ContentHash.sha256(response.body) == entry.sha256 else { return nil }
            return EarlyFile(path: path, sha256: entry.sha256, body: response.body)
        }
        var kept: [String: EarlyFile] = [:]
        for case let file? in found ?? [] { kept[file.path] = file }
        hintedFiles.withLock {
            $0.read += hints.count
            $0.matching += kept.count
        }
        return kept
    }

    /// A file read on a hint, before the index that decides whether it is written.
    struct EarlyFile: Sendable {
        var path: String
        /// What `body` hashes to.
        var sha256: String
        var body: Data
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
        var hints: [PartitionID: [String: IndexEntry]] = [:]
        var meta: (index: MetaIndex, etag: String?)?
        if case .found(let response) = try await client.get(remote.metaKey, ifNoneMatch: state.pulledMetaETag) {
            let index = try MetaIndex.decode(response.body)
            meta = (index, response.etag)
            let commits: [MetaIndex.Commit]
            if let seq = state.pulledThroughSeq, let recent = index.commits(after: seq) {
                commits = recent
                hints = index.hints(after: seq)
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
        // Every partition at once (a bounded number of them in memory), all their requests in
        // one window: a partition's downloads start as soon as its index is read, and no
        // partition waits for another to finish.
        let transfers = transfers("pull", width: settings.pullConcurrency)
        let partitions = wanted.sorted(by: { $0.key < $1.key })
        let outcomes = try await forEachConcurrently(partitions, limit: max(16, 2 * settings.pullConcurrency)) {
            [listed, hints] partition, announced in
            (
                partition, announced,
                try await self.pullIsolated(partition, lazy: lazy, knownETag: listed[partition], hints: hints[partition] ?? [:], transfers: transfers)
            )
        }
        var pulled = 0
        var pending: [String: Int] = [:]
        var refused: [(PartitionID, S3SyncError)] = []
        for (partition, announced, outcome) in outcomes {
            switch outcome {
            case .success(let result):
                pulled += result.pulled
                if result.seq < announced { pending[partition.name] = announced }
            case .failure(let error):
                refused.append((partition, error))
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

    /// ``pullPartition(_:lazy:knownETag:hints:transfers:)``, with a hostile or broken partition's
    /// failure returned rather than thrown: it stops its own pull, not everyone else's.
    func pullIsolated(
        _ partition: PartitionID, lazy: Bool, knownETag: String?, hints: [String: IndexEntry], transfers: Transfers
    ) async throws -> Result<PartitionPull, S3SyncError> {
        do {
            return .success(try await pullPartition(partition, lazy: lazy, knownETag: knownETag, hints: hints, transfers: transfers))
        } catch let error as S3SyncError where error.code == .corruptIndex || error.code == .hostilePath {
            return .failure(error)
        } catch let error as S3Error where error.code == .tooLarge {
            return .failure(S3SyncError(.corruptIndex, "the remote index partition '\(partition)' is larger than the maxIndexBytes limit"))
        }
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
    ///
    /// `early` holds files already read (``prefetch(_:transfers:)``), by path: written instead
    /// of downloaded where the index lists the same sha256.
    func apply(
        _ index: PartitionIndex, etag: String?, to partition: PartitionID, state: SyncSidecar.PartitionState, lazy: Bool, transfers: Transfers,
        early: [String: EarlyFile] = [:]
    ) async throws -> PartitionPull {
        let dirty = sidecar.readDirty(partition)
        let plan = try PullPlan.make(
            index: index, state: state, dirty: dirty.paths, lazy: lazy, local: CacheView(cache: cache, known: state.files, written: dirty.written))
        for path in plan.keptLocal {
            logger.warning("keeping an unpushed local change over the remote's; the next push resolves it", metadata: ["path": "\(path)"])
        }
        var files = state.files
        for (path, record) in plan.matched { files[path] = record }
        for path in plan.removals {
            let absolute = cache.absolute(path)
            try AtomicFile.remove(absolute)
            // rmdir only: never a directory another partition's pull is writing into.
            AtomicFile.removeEmptyDirectories(from: AtomicFile.parent(of: absolute), upTo: cache.root)
        }
        for path in plan.forgotten { files[path] = nil }
        for unit in plan.lazyDirectories.sorted() { try AtomicFile.makeDirectories(cache.absolute(unit)) }
        let results = try await transfer(plan.downloads, in: transfers, sizes: plan.downloads.map(\.entry.size)) {
            item -> (String, SyncSidecar.FileRecord?) in
            do {
                return (item.path, try await self.download(item.path, expected: item.entry, transfers: transfers, early: early[item.path]))
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
        let applied = SyncSidecar.PartitionState(etag: etag, index: index, files: files, stale: incomplete ? true : nil)
        try await BlockingFiles.run {
            try self.sidecar.savePartition(partition, applied)
            try self.deriveLatest(from: index)
        }
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
}
