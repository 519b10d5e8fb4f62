import Foundation
import S3Client
import SwampContracts
import SwampCore

extension S3SyncService {
    public func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        try await withDeadline(options?.deadline, operation: "push") {
            let scope = options?.context?.models.map { Set($0.map(PartitionID.model)) }
            return try await self.push(scope: scope)
        }
    }

    /// Pushes the dirty state of `scope` (every partition when `nil`).
    func push(scope: Set<PartitionID>?) async throws -> Int {
        let bulk = sidecar.isBulk
        var partitions = scope ?? Set(sidecar.dirtyPartitions())
        if scope == nil && bulk {
            partitions.formUnion(sidecar.knownPartitions())
            partitions.formUnion(localPartitions())
        }
        var plans: [PushPlan] = []
        for partition in partitions.sorted() {
            if let plan = try plan(partition, walk: bulk) { plans.append(plan) }
        }
        let remoteChanges = plans.filter(\.changesRemote)
        if remoteChanges.isEmpty {
            // Nothing to tell the remote: zero requests. Record what was learnt locally.
            for plan in plans { try record(plan, etag: plan.state.etag, index: plan.state.index) }
            if scope == nil && bulk { try sidecar.clearBulk() }
            return 0
        }

        // 1. Transfer: uploads and deletes, in one bounded sliding window.
        enum Transfer: Sendable {
            case upload(String, String)
            case delete(String)
        }
        let transfers =
            remoteChanges.flatMap { plan in plan.uploads.map { Transfer.upload($0.path, $0.sha256) } }
            + remoteChanges.flatMap { plan in plan.deletes.map(Transfer.delete) }
        let uploaded = try await transfer(transfers, phase: "push", limit: settings.pushConcurrency) {
            transfer -> (String, SyncSidecar.FileRecord?) in
            switch transfer {
            case .upload(let path, let planned):
                return (path, try await self.upload(path, planned: planned))
            case .delete(let path):
                try await self.client.delete(self.remote.objectKey(path))
                return (path, nil)
            }
        }
        var uploadedRecords: [String: SyncSidecar.FileRecord] = [:]
        for case (let path, let record?) in uploaded { uploadedRecords[path] = record }

        // 2. Commit each touched partition (If-Match / If-None-Match: *), then the meta.
        let seq = (sidecar.loadState().knownMeta?.seq ?? 0) + 1
        var committed: [(PushPlan, String?, PartitionIndex)] = []
        for plan in remoteChanges {
            let (etag, index) = try await commitPartition(plan, records: uploadedRecords, seq: seq)
            committed.append((plan, etag, index))
        }
        try await commitMeta(touching: remoteChanges.map(\.partition))

        // 3. Only now is the push durable: record it and clear the dirty state.
        for (plan, etag, index) in committed { try record(plan, etag: etag, index: index, uploaded: uploadedRecords) }
        for plan in plans where !plan.changesRemote { try record(plan, etag: plan.state.etag, index: plan.state.index) }
        if scope == nil && bulk { try sidecar.clearBulk() }
        let deletes = remoteChanges.reduce(0) { $0 + $1.deletes.count }
        count(pushed: uploadedRecords.count, deleted: deletes)
        return uploadedRecords.count + deletes
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
        guard !candidates.isEmpty else { return nil }
        var plan = PushPlan(partition: partition, state: state, dirtyLength: dirty.length)
        for path in candidates.sorted() {
            let absolute = cache.absolute(path)
            let local = LocalFile.stat(absolute)
            let sha = try local.map { try Self.hash(absolute, $0, known: state.files[path]) }
            plan.decide(path: path, local: local, sha256: sha, dirty: dirty.paths?.contains(path) ?? false)
        }
        return plan
    }

    /// Uploads one file, hashing exactly the bytes sent.
    func upload(_ path: String, planned: String) async throws -> SyncSidecar.FileRecord {
        let absolute = cache.absolute(path)
        guard let data = try AtomicFile.readIfPresent(absolute), let local = LocalFile.stat(absolute) else {
            throw S3SyncError(.corruptIndex, "'\(path)' disappeared during the push; run the push again")
        }
        try await client.put(remote.objectKey(path), data: data)
        return SyncSidecar.FileRecord(size: Int64(data.count), mtimeNs: local.mtimeNs, sha256: ContentHash.sha256(data))
    }

    /// Writes the partition with our changes on top of the remote's current entries.
    func commitPartition(_ plan: PushPlan, records: [String: SyncSidecar.FileRecord], seq: Int) async throws -> (String?, PartitionIndex) {
        var base = plan.state.index ?? PartitionIndex(partition: plan.partition)
        var etag = plan.state.etag
        let key = remote.partitionKey(plan.partition)
        for attempt in 1...12 {
            var next = base
            next.seq = seq
            for upload in plan.uploads {
                let record = records[upload.path]
                next.entries[upload.path] = IndexEntry(size: record?.size ?? upload.size, sha256: record?.sha256 ?? upload.sha256, seq: seq)
            }
            for path in plan.deletes { next.entries[path] = .tombstone(seq: seq) }
            do {
                let response = try await client.put(
                    key, data: try next.encoded(), contentType: "application/json", condition: etag.map { .ifMatch($0) } ?? .ifAbsent)
                return (response.etag, next)
            } catch let error as S3Error where error.code == .preconditionFailed || error.code == .conditionalRequestConflict {
                logger.debug("partition changed underneath; merging", metadata: ["partition": "\(plan.partition)", "attempt": "\(attempt)"])
                switch try await client.get(key) {
                case .found(let response):
                    base = try PartitionIndex.decode(response.body, expected: plan.partition)
                    etag = response.etag
                case .notFound, .notModified:
                    base = PartitionIndex(partition: plan.partition)
                    etag = nil
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...(20 * attempt))))
            }
        }
        throw S3SyncError(
            .contention, "could not commit index partition '\(plan.partition)' after 12 attempts; other writers keep changing it. Run the push again")
    }

    /// Bumps `_swamp/meta.json` with `If-Match`; on 412 re-reads, merges and retries. The
    /// pulled-through fingerprint advances only when this commit sat directly on the state
    /// the cache had fully applied (first try, built on that very ETag).
    func commitMeta(touching partitions: [PartitionID]) async throws {
        let state = sidecar.loadState()
        var base = state.knownMeta
        var etag = state.knownMetaETag
        if base == nil {
            if case .found(let response) = try await client.get(remote.metaKey) {
                base = try MetaIndex.decode(response.body)
                etag = response.etag
            }
        }
        var firstTry = true
        for attempt in 1...20 {
            let current = base ?? MetaIndex()
            let next = current.committing(partitions)
            do {
                let response = try await client.put(
                    remote.metaKey, data: try next.encoded(), contentType: "application/json", condition: etag.map { .ifMatch($0) } ?? .ifAbsent)
                let builtOnPulled = firstTry && etag != nil && etag == state.pulledMetaETag && current.seq == state.pulledThroughSeq
                let builtOnEmpty = firstTry && etag == nil && state.pulledThroughSeq == nil
                try sidecar.updateState {
                    $0.knownMeta = next
                    $0.knownMetaETag = response.etag
                    let unchangedSinceRead = $0.pulledMetaETag == state.pulledMetaETag
                    if (builtOnPulled || builtOnEmpty) && unchangedSinceRead {
                        $0.pulledThroughSeq = next.seq
                        $0.pulledMetaETag = response.etag
                    }
                }
                return
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

    /// Saves what a push established for one partition and clears the dirty paths it covered.
    func record(_ plan: PushPlan, etag: String?, index: PartitionIndex?, uploaded: [String: SyncSidecar.FileRecord] = [:]) throws {
        var state = plan.state
        state.etag = etag
        state.index = index
        for (path, record) in plan.adopted { state.files[path] = record }
        for upload in plan.uploads { state.files[upload.path] = uploaded[upload.path] }
        for path in plan.deletes + plan.forgotten { state.files[path] = nil }
        try sidecar.savePartition(plan.partition, state)
        try sidecar.clearDirty(plan.partition, processedLength: plan.dirtyLength)
    }

    // MARK: Walking the cache

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
                if let last = segments.last, UUID(uuidString: String(last)) != nil, segments.count >= 2 {
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
