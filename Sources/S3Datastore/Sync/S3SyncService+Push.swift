import Foundation
import S3Client
import SwampContracts
import SwampSupport

extension S3SyncService {
    public func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        try await withDeadline(options?.deadline, operation: "push") {
            let scope = options?.context?.models.map { Set($0.map(PartitionID.model)) }
            return try await self.push(scope: scope)
        }
    }

    /// Pushes the dirty state of `scope` (every partition when `nil`). See docs/s3-layout.md:
    ///
    /// 1. plan each partition from local state (``PushPlan``);
    /// 2. upload — version files and output records with `If-None-Match: *`, so nothing
    ///    committed is ever overwritten (a `412` whose object holds our bytes is ours; one whose
    ///    path no commit references is an orphan, claimed only after fencing its partition);
    /// 3. check the caller's locks (``CommitFence``), announce the commit in `meta.json`,
    ///    then write each partition with `If-Match` — on `412`, re-read, re-check the locks,
    ///    and merge only what does not collide;
    /// 4. record, then delete the objects of what is now tombstoned;
    /// 5. throw ``SyncConflict`` for the work the caller must resolve (renumber, rename,
    ///    complete), which stays marked dirty.
    func push(scope: Set<PartitionID>?) async throws -> Int {
        // The part hashes this push's plans kept are of no use to the next (it plans again).
        defer { plannedParts.withLock { $0.removeAll() } }
        let bulk = sidecar.isBulk
        var partitions = scope ?? Set(sidecar.dirtyPartitions())
        if scope == nil && bulk {
            partitions.formUnion(sidecar.knownPartitions())
            partitions.formUnion(localPartitions())
        }
        var plans = try await plan(partitions.sorted(), walk: bulk)
        for path in plans.flatMap(\.modifiedAfterCommit) {
            logger.warning(
                "not pushing a local change to a committed file (committed versions are immutable); the next pull that brings a change to its model restores the committed bytes",
                metadata: ["path": "\(path)"])
        }
        var conflict = plans.reduce(SyncConflict()) { $0 + $1.conflict }
        let fence = CommitFence.current

        // 1. Uploads, in one bounded sliding window (after aborting any multipart upload a
        //    killed process of this cache left: nothing to do, and no request, in the usual case).
        let uploads = plans.flatMap(\.uploads)
        if !uploads.isEmpty { await abortAbandonedUploads() }
        // The meta as it is now, read beside the uploads: the announcement then rarely meets a
        // meta changed since this cache last saw it (a teammate's commit), which would cost a
        // refused write and a read on the critical path.
        let refreshing = !uploads.isEmpty && plans.contains(where: \.changesRemote)
        async let refreshed: Void = refreshKnownMeta(if: refreshing)
        let pushing = transfers("push", width: settings.pushConcurrency)
        let results = try await transfer(uploads, in: pushing, sizes: uploads.map(\.size)) { upload -> (PushPlan.Upload, UploadResult) in
            if let lost = fence?.lostError() { throw lost }
            return (upload, try await self.upload(upload, transfers: pushing))
        }
        var uploaded: [String: SyncSidecar.FileRecord] = [:]
        var collisions: [PartitionID: [Collision]] = [:]
        for (upload, result) in results {
            switch result {
            case .uploaded(let record): uploaded[upload.path] = record
            case .collided(let etag): collisions[PartitionID.of(upload.path), default: []].append(Collision(upload: upload, etag: etag))
            }
        }
        // Paths held by objects of other bytes: claim the orphans, give up the taken.
        var fenced: [PartitionID: (etag: String?, index: PartitionIndex)] = [:]
        for index in plans.indices {
            guard let items = collisions[plans[index].partition] else { continue }
            let claim = try await claimOrphans(items, of: plans[index], fence: fence)
            uploaded.merge(claim.uploaded) { $1 }
            fenced[plans[index].partition] = claim.fenced
            conflict = conflict + plans[index].dropUnits(claim.taken, shape: IndexShape(claim.fenced.index.entries.keys))
        }

        // 2. Check the locks, announce, commit each partition.
        var commits: [PartitionID: PartitionCommit] = [:]
        let committing = plans.filter(\.changesRemote)
        if !committing.isEmpty {
            await refreshed
            try await fence?.check()
            let intent = try await announce(committing.map(\.partition), files: Self.hints(committing, uploaded: uploaded))
            // The partitions of one commit are independent: written side by side.
            let written = try await pushing.window.forEach(committing) { [uploaded, fenced] plan in
                (
                    plan.partition,
                    try await self.commitPartition(plan, uploaded: uploaded, seq: intent.seq, fence: fence, base: fenced[plan.partition])
                )
            }
            for (partition, commit) in written {
                commits[partition] = commit
                conflict = conflict + commit.conflict
            }
            if intent.builtOnPulled {
                // Nothing was announced between the state the cache had pulled and this commit.
                try sidecar.updateState {
                    if $0.pulledMetaETag == intent.pulledETag {
                        $0.pulledThroughSeq = intent.seq
                        $0.pulledMetaETag = intent.etag
                    }
                }
            }
        }
        Failpoint.hit("push.after-commit")

        // 3. Record what is now true, clear what was pushed (conflicts stay dirty).
        for plan in plans { try record(plan, commit: commits[plan.partition], uploaded: uploaded) }
        if scope == nil && bulk && conflict.isEmpty { try sidecar.clearBulk() }

        // 4. Only now delete the objects of tombstoned entries: a reader never meets an entry
        //    whose object is gone because of us. Best effort: `repair` removes leftovers.
        let tombstoned = commits.values.flatMap(\.tombstoned)
        _ = try? await transfer(tombstoned, in: transfers("delete", width: settings.pushConcurrency)) { path in
            do {
                try await self.client.delete(self.remote.objectKey(path))
            } catch {
                self.logger.warning("could not delete a collected object; 'swamp datastore repair' removes it", metadata: ["path": "\(path)"])
            }
        }
        let pushed = commits.values.reduce(0) { $0 + $1.written.count }
        count(pushed: pushed, deleted: tombstoned.count)
        if !conflict.isEmpty { throw conflict }
        return pushed + tombstoned.count
    }

    /// Reads `meta.json` (`If-None-Match` on the last one seen) and keeps it as the base of the
    /// next announcement. Best effort: the announcement still retries on `412` and re-reads.
    /// A cache that has seen no meta yet leaves the read to the announcement (it makes it anyway).
    func refreshKnownMeta(if wanted: Bool) async {
        guard wanted else { return }
        let known = sidecar.loadState()
        guard known.knownMeta != nil else { return }
        do {
            guard case .found(let response) = try await client.get(remote.metaKey, ifNoneMatch: known.knownMetaETag) else { return }
            let fresh = try MetaIndex.decode(response.body)
            try await BlockingFiles.run {
                try self.sidecar.updateState {
                    // Never older than what another local process announced meanwhile.
                    guard ($0.knownMeta?.seq ?? -1) <= fresh.seq else { return }
                    $0.knownMeta = fresh
                    $0.knownMetaETag = response.etag
                }
            }
        } catch {
            logger.debug("could not read the meta beside the uploads; the announcement reads it if needed", metadata: ["error": "\(error)"])
        }
    }

    /// The small files a commit of `plans` hints in the meta (``MetaIndex/Commit/files``): at
    /// most ``MetaIndex/hintsPerPartition`` per partition, none larger than
    /// ``MetaIndex/hintMaximumBytes``.
    static func hints(_ plans: [PushPlan], uploaded: [String: SyncSidecar.FileRecord]) -> [String: IndexEntry] {
        var hints: [String: IndexEntry] = [:]
        for plan in plans {
            let small = plan.uploads.map(\.path).sorted().compactMap { path -> (String, IndexEntry)? in
                guard let record = uploaded[path], record.size <= MetaIndex.hintMaximumBytes else { return nil }
                return (path, IndexEntry(size: record.size, sha256: record.sha256, seq: 0))
            }
            for (path, entry) in small.prefix(MetaIndex.hintsPerPartition) { hints[path] = entry }
        }
        return hints
    }

    /// An immutable upload whose path held an object with other bytes.
    struct Collision: Sendable {
        var upload: PushPlan.Upload
        /// The ETag of the object found there.
        var etag: String?
    }

    /// What claiming the collided paths of one partition came to.
    struct OrphanClaim: Sendable {
        var uploaded: [String: SyncSidecar.FileRecord] = [:]
        /// Units whose paths a commit references: renumber or rename them.
        var taken: Set<String> = []
        /// The partition as fenced (the base of this push's commit).
        var fenced: (etag: String?, index: PartitionIndex)
    }

    /// Plans `partitions` (in their order), side by side when there are several: hashing the
    /// files is most of it, one core's work each (a first push of 1 GiB over 100 models hashes
    /// all of it here).
    func plan(_ partitions: [PartitionID], walk: Bool) async throws -> [PushPlan] {
        guard partitions.count > 1 else { return try partitions.compactMap { try plan($0, walk: walk) } }
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return try await forEachConcurrently(partitions, limit: width) { partition in
            try await BlockingFiles.run { try self.plan(partition, walk: walk) }
        }.compactMap { $0 }
    }

    /// Decides what to push for one partition, from the dirty log (or a walk).
    func plan(_ partition: PartitionID, walk: Bool) throws -> PushPlan? {
        let state = sidecar.loadPartition(partition)
        let dirty = sidecar.readDirty(partition)
        var candidates = dirty.paths ?? []
        if walk || dirty.paths == nil {
            candidates.formUnion(localFiles(in: partition))
            candidates.formUnion(state.files.keys)
        }
        // Never send what every reader would refuse (it would deny them the whole partition).
        for path in candidates where (try? PartitionIndex.check(path, in: partition)) == nil {
            logger.warning("not pushing a path the remote layout does not allow", metadata: ["path": "\(PathRules.printable(path))"])
            candidates.remove(path)
        }
        guard !candidates.isEmpty else { return nil }
        return try PushPlan.make(
            partition: partition, state: state, dirtyLength: dirty.length, dirty: dirty.paths, candidates: candidates,
            local: CacheView(cache: cache, known: state.files, written: dirty.written, hashing: { try self.hashForPush($0, $1) }))
    }

    /// What one upload came to.
    enum UploadResult: Sendable {
        /// The remote holds these bytes at the path (uploaded now, or by an earlier attempt of ours).
        case uploaded(SyncSidecar.FileRecord)
        /// The path of an immutable file holds an object with other bytes (this ETag).
        case collided(String?)
    }

    /// Uploads one file, hashing exactly the bytes sent. An immutable file is created with
    /// `If-None-Match: *` (or, to claim an orphan, `If-Match` on the object examined) and carries
    /// its sha256 as user metadata, so that a `412` can tell our own earlier upload (adopted)
    /// from an object with other bytes (collided).
    func upload(_ upload: PushPlan.Upload, replacing orphan: String? = nil, transfers: Transfers? = nil) async throws -> UploadResult {
        if orphan == nil, let done = uploadedThisRun.withLock({ $0[upload.path] }), done.sha256 == upload.sha256 { return .uploaded(done) }
        let absolute = cache.absolute(upload.path)
        // Stat before reading: if the file is rewritten meanwhile, its new mtime differs from the
        // one recorded here, and the next push hashes it again.
        guard let before = LocalFile.stat(absolute) else {
            throw S3SyncError(.localFileChanged, "'\(upload.path)' disappeared during the push; nothing of it was sent. Run the push again")
        }
        let key = remote.objectKey(upload.path)
        let condition: S3Client.Condition = upload.immutable ? (orphan.map { .ifMatch($0) } ?? .ifAbsent) : .none
        let sha: String
        let send: @Sendable () async throws -> Void
        if before.size != upload.size {
            // Changed since it was planned (and hashed): it would not hash to what was planned,
            // and a file grown past the multipart threshold would need the window slot it holds.
            throw S3SyncError(.localFileChanged, "'\(upload.path)' changed during the push; nothing of it was sent. Run the push again")
        }
        if before.size >= Self.streamingBytes {
            // Streamed from disk, checked against the planned hash as it is read: a file that
            // changed since it was hashed is never completed remotely.
            sha = upload.sha256
            let transfers = transfers ?? self.transfers(nil, width: settings.pushConcurrency)
            send = { try await self.putFile(absolute, size: before.size, sha: sha, key: key, condition: condition, transfers: transfers) }
        } else {
            guard let data = try AtomicFile.readIfPresent(absolute) else {
                throw S3SyncError(.localFileChanged, "'\(upload.path)' disappeared during the push; nothing of it was sent. Run the push again")
            }
            sha = ContentHash.sha256(data)
            send = { try await self.client.put(key, data: data, condition: condition, metadata: ["sha256": sha]) }
        }
        var record = SyncSidecar.FileRecord(before, sha256: sha)
        record.size = before.size
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await send()
                break
            } catch let error as LocalFileError {
                // Its bytes are not the ones planned. Had the plan taken their hash from the
                // writer's record, that record is wrong: withdrawn, so that the next push hashes
                // the file (a plain line is the path's last).
                try? sidecar.appendDirty(upload.path)
                throw S3SyncError(
                    .localFileChanged,
                    "'\(upload.path)' is not the file the push planned to send (\(error.message)): it changed during the push, or after its writer recorded its hash. Nothing of it was committed; the next push hashes the file as it is"
                )
            } catch let error as S3Error
                where upload.immutable && (error.code == .preconditionFailed || error.code == .conditionalRequestConflict || error.code == .noSuchKey)
            {
                if let existing = try await client.head(key) {
                    if existing.userMetadata("sha256") == sha { break }
                    return .collided(existing.etag)
                }
                // Gone between the two requests (or a write in progress): try again, briefly.
                guard attempt < 4, orphan == nil else { return .collided(nil) }
                try await Task.sleep(for: .milliseconds(Int.random(in: 10...(50 * attempt))))
            }
        }
        uploadedThisRun.withLock { $0[upload.path] = record }
        return .uploaded(record)
    }

    /// Saves what a push established for one partition and clears the dirty paths it covered,
    /// keeping the ones of work left to the caller.
    func record(_ plan: PushPlan, commit: PartitionCommit?, uploaded: [String: SyncSidecar.FileRecord]) throws {
        var state = plan.state
        var keep = plan.keepDirty
        if let commit {
            state.etag = commit.etag
            state.index = commit.index
            state.stale = commit.stale ? true : nil
            for path in commit.written { state.files[path] = uploaded[path] }
            for path in commit.tombstoned { state.files[path] = nil }
            keep.formUnion(commit.dropped)
        } else {
            // Nothing committed: whatever needed the remote stays dirty.
            keep.formUnion(plan.uploads.map(\.path))
            keep.formUnion(plan.deletes.map(\.path))
        }
        for (path, record) in plan.adopted { state.files[path] = record }
        for path in plan.forgotten { state.files[path] = nil }
        try sidecar.savePartition(plan.partition, state)
        try sidecar.clearDirty(plan.partition, processedLength: plan.dirtyLength, keep: keep)
    }
}
