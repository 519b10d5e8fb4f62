import Foundation
import S3Client
import SwampContracts
import SwampSupport

/// A commit announced in `meta.json`.
struct CommitIntent: Sendable {
    /// The commit's sequence number (every partition it writes carries at least this seq).
    var seq: Int
    /// The meta's ETag after the announcement.
    var etag: String?
    /// Whether the announcement sat directly on the meta the cache had fully pulled (first try).
    var builtOnPulled: Bool
    /// The cache's pulled fingerprint when the announcement was built.
    var pulledETag: String?
}

/// What committing one partition wrote.
struct PartitionCommit: Sendable {
    var etag: String?
    var index: PartitionIndex
    /// The index holds entries (a teammate's, merged on a `412`) the cache has not applied.
    var stale: Bool
    /// Paths whose uploads the commit references.
    var written: [String] = []
    /// Paths tombstoned by the commit (their objects are deleted after it).
    var tombstoned: [String] = []
    /// Paths of units dropped because the remote committed their numbers meanwhile.
    var dropped: Set<String> = []
    var conflict = SyncConflict()
}

extension S3SyncService {
    /// Paths of `plan` held by objects with other bytes. A path the partition's current index
    /// references is taken: its unit is dropped (renumbered or renamed by the caller). A path no
    /// commit references is an orphan — an upload whose writer's commit never happened. Before
    /// replacing orphans with our bytes, the partition is *fenced*: rewritten (`If-Match`) with a
    /// new fence token, so that any writer still holding an older view of it — the orphans'
    /// owner resumed past its lock, say — has its commit refused. Only then are the orphans
    /// overwritten, each `If-Match` on the object it examined.
    func claimOrphans(_ collisions: [Collision], of plan: PushPlan, fence: CommitFence?) async throws -> OrphanClaim {
        let key = remote.partitionKey(plan.partition)
        for attempt in 1...8 {
            var index = PartitionIndex(partition: plan.partition)
            var etag: String?
            if case .found(let response) = try await client.get(key) {
                index = try PartitionIndex.decode(response.body, expected: plan.partition)
                etag = response.etag
            }
            var claim = OrphanClaim(fenced: (etag, index))
            let unitPaths = Dictionary(grouping: plan.uploads, by: \.unit)
            for collision in collisions where unitPaths[collision.upload.unit, default: []].contains(where: { index.entries[$0.path] != nil }) {
                claim.taken.insert(collision.upload.unit)
            }
            let orphans = collisions.filter { !claim.taken.contains($0.upload.unit) }
            guard !orphans.isEmpty else { return claim }
            try await fence?.verify()
            var fencedIndex = index
            fencedIndex.fence = UUID().uuidString.lowercased()
            do {
                let response = try await client.put(
                    key, data: try fencedIndex.encoded(), contentType: "application/json", condition: etag.map { .ifMatch($0) } ?? .ifAbsent)
                claim.fenced = (response.etag, fencedIndex)
            } catch let error as S3Error where error.code == .preconditionFailed || error.code == .conditionalRequestConflict {
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...(20 * attempt))))
                continue
            }
            for orphan in orphans {
                switch try await self.upload(orphan.upload, replacing: orphan.etag) {
                case .uploaded(let record): claim.uploaded[orphan.upload.path] = record
                case .collided: claim.taken.insert(orphan.upload.unit)
                }
            }
            return claim
        }
        throw S3SyncError(.contention, "could not fence index partition '\(plan.partition)'; other writers keep changing it. Run the push again")
    }

    /// Announces a commit touching `partitions`: `PUT meta.json` with `If-Match` on the last
    /// meta seen; on `412`, re-read and retry. The announcement comes *before* the partition
    /// writes, so a partition never changes without the meta naming it: a writer that dies
    /// between the two leaves a commit announced but not written, which readers treat as
    /// pending (see ``pullEverything(lazy:)``), never a change they could miss.
    ///
    /// `files` are hinted in the commit (``MetaIndex/Commit/files``): readers fetch them beside
    /// the partitions, and use them only where the partitions, written next, agree.
    func announce(_ partitions: [PartitionID], files: [String: IndexEntry] = [:]) async throws -> CommitIntent {
        let state = sidecar.loadState()
        var base = state.knownMeta
        var etag = state.knownMetaETag
        if base == nil, case .found(let response) = try await client.get(remote.metaKey) {
            base = try MetaIndex.decode(response.body)
            etag = response.etag
        }
        var firstTry = true
        for attempt in 1...20 {
            let current = base ?? MetaIndex()
            let next = try current.committing(partitions, files: files)
            do {
                let response = try await client.put(
                    remote.metaKey, data: try next.encoded(), contentType: "application/json", condition: etag.map { .ifMatch($0) } ?? .ifAbsent)
                let onPulled = etag != nil && etag == state.pulledMetaETag && current.seq == state.pulledThroughSeq
                let onEmpty = etag == nil && state.pulledThroughSeq == nil
                try sidecar.updateState {
                    $0.knownMeta = next
                    $0.knownMetaETag = response.etag
                }
                return CommitIntent(
                    seq: next.seq, etag: response.etag, builtOnPulled: firstTry && (onPulled || onEmpty), pulledETag: state.pulledMetaETag)
            } catch let error as S3Error where error.code == .preconditionFailed || error.code == .conditionalRequestConflict {
                firstTry = false
                switch try await client.get(remote.metaKey) {
                case .found(let response):
                    base = try MetaIndex.decode(response.body)
                    etag = response.etag
                case .notFound, .notModified:
                    base = nil
                    etag = nil
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...(20 * attempt))))
            }
        }
        throw S3SyncError(.contention, "could not commit _swamp/meta.json after 20 attempts; other writers keep changing it. Run the push again")
    }

    /// Writes one partition with this push's entries, `If-Match` on the ETag the cache holds
    /// (`If-None-Match: *` when new). On `412` someone else wrote it: re-read it, check the
    /// caller still holds its locks (a successor's commit stops us, work kept dirty), and merge
    /// only what does not collide — a version or record the remote now holds with other bytes
    /// is dropped and becomes a conflict; a tombstone whose entry changed is not written.
    func commitPartition(
        _ plan: PushPlan, uploaded: [String: SyncSidecar.FileRecord], seq: Int, fence: CommitFence?,
        base fenced: (etag: String?, index: PartitionIndex)? = nil
    ) async throws -> PartitionCommit {
        var base = fenced?.index ?? plan.state.index ?? PartitionIndex(partition: plan.partition)
        var etag = fenced.map(\.etag) ?? plan.state.etag
        var stale = plan.state.stale == true || (fenced.map { $0.index.entries != plan.state.index?.entries } ?? false)
        var dropped = Set<String>()
        let key = remote.partitionKey(plan.partition)
        for attempt in 1...12 {
            // Units whose paths the remote now holds with other bytes (or tombstoned).
            for upload in plan.uploads where upload.immutable && !dropped.contains(upload.unit) {
                guard let record = uploaded[upload.path], let existing = base.entries[upload.path] else { continue }
                if existing.isDeleted || existing.sha256 != record.sha256 { dropped.insert(upload.unit) }
            }
            // A record names version numbers: once a version is held back, so are the records.
            let versionHeld = dropped.contains { if case .versionFile = DatastorePath("\($0)/raw").kind { return true } else { return false } }
            let heldRecords = versionHeld ? Set(plan.uploads.filter(\.isOutputRecord).map(\.path)) : []
            var next = base
            next.seq = max(base.seq, seq)
            // `latest` is derived locally; entries for it (older clients) are dropped.
            next.entries = next.entries.filter { if case .latest = DatastorePath($0.key).kind { return false } else { return true } }
            var written: [String] = []
            var clashing = Set<String>()
            let shape = plan.uploads.contains { !$0.immutable } ? TreeShape(base) : nil
            for upload in plan.uploads where !dropped.contains(upload.unit) && !heldRecords.contains(upload.path) {
                guard let record = uploaded[upload.path] else { continue }
                // A teammate's file where ours is a directory, or the reverse: every reader would refuse
                // the partition, so ours waits (a warning says why) instead.
                if !upload.immutable, shape?.clashes(upload.path) == true {
                    logger.warning("not pushing: the remote has a file or directory in the way", metadata: ["path": "\(upload.path)"])
                    clashing.insert(upload.path)
                    continue
                }
                next.entries[upload.path] = IndexEntry(size: record.size, sha256: record.sha256, seq: seq)
                written.append(upload.path)
            }
            var tombstoned: [String] = []
            for delete in plan.deletes {
                guard let existing = base.entries[delete.path], !existing.isDeleted, existing.sha256 == delete.expected else { continue }
                next.entries[delete.path] = .tombstone(seq: seq)
                tombstoned.append(delete.path)
            }
            let droppedPaths = Set(plan.uploads.filter { dropped.contains($0.unit) }.map(\.path)).union(heldRecords).union(clashing)
            let conflict = PushPlan.conflict(for: dropped, highest: IndexShape(base.entries.keys))
            guard !written.isEmpty || !tombstoned.isEmpty else {
                return PartitionCommit(etag: etag, index: base, stale: stale, dropped: droppedPaths, conflict: conflict)
            }
            do {
                let response = try await client.put(
                    key, data: try next.encoded(), contentType: "application/json", condition: etag.map { .ifMatch($0) } ?? .ifAbsent)
                return PartitionCommit(
                    etag: response.etag, index: next, stale: stale, written: written, tombstoned: tombstoned, dropped: droppedPaths,
                    conflict: conflict)
            } catch let error as S3Error where error.code == .preconditionFailed || error.code == .conditionalRequestConflict {
                logger.debug("partition changed underneath", metadata: ["partition": "\(plan.partition)", "attempt": "\(attempt)"])
                switch try await client.get(key) {
                case .found(let response):
                    base = try PartitionIndex.decode(response.body, expected: plan.partition)
                    etag = response.etag
                case .notFound, .notModified:
                    base = PartitionIndex(partition: plan.partition)
                    etag = nil
                }
                stale = true
                // Whoever wrote it, we go on only while we still hold our locks — read, not
                // trusted from the lease: a refused commit is when a successor may exist.
                try await fence?.verify()
                try await ensureObjectsExist(plan.uploads.filter { !dropped.contains($0.unit) && base.entries[$0.path] == nil }.map(\.path))
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...(20 * attempt))))
            }
        }
        throw S3SyncError(
            .contention, "could not commit index partition '\(plan.partition)' after 12 attempts; other writers keep changing it. Run the push again")
    }

    /// After a partition changed underneath a commit: the objects the commit is about to
    /// reference must still be there (a concurrent `repair` removes old orphan uploads).
    func ensureObjectsExist(_ paths: [String]) async throws {
        for path in paths where try await client.head(remote.objectKey(path)) == nil {
            uploadedThisRun.withLock { $0[path] = nil }
            throw S3SyncError(
                .contention, "'\(path)' vanished from the remote before its commit (a concurrent repair?); nothing was committed. Run the push again")
        }
    }
}
