import Foundation
import S3Client
import SwampContracts
import SwampSupport

/// `swamp datastore verify` and `swamp datastore repair` for S3: the index against the objects.
extension S3SyncService: ConsistencyChecking {
    /// Everything a consistency check reads: the meta, every partition, every object.
    struct RemoteSnapshot {
        var meta: MetaIndex?
        var partitions: [PartitionID: PartitionIndex] = [:]
        /// Objects of the datastore tier (relPath → listing), outside `_swamp/`.
        var objects: [String: S3ObjectSummary] = [:]
        /// Multipart uploads in progress under the prefix (keys relative to it).
        var uploads: [MultipartUploadSummary] = []
        var findings: [ConsistencyFinding] = []
    }

    public func checkConsistency(_ options: RepairOptions) async throws -> ConsistencyReport {
        let snapshot = try await takeSnapshot()
        let findings = snapshot.findings + Self.findings(in: snapshot, options: options, now: Date())
        let entries = snapshot.partitions.values.reduce(0) { $0 + $1.entries.count }
        return ConsistencyReport(findings: findings, checkedEntries: entries, checkedObjects: snapshot.objects.count)
    }

    /// Fixes what can be fixed safely; the caller holds the global lock. Per affected partition:
    /// one commit (announced first, like every commit) that tombstones entries whose objects are
    /// gone and re-announces a pending or unannounced partition; only after that commit — which
    /// fences out any writer that read the partition before it — are orphan objects deleted.
    public func repair(_ options: RepairOptions) async throws -> ConsistencyReport {
        let snapshot = try await takeSnapshot()
        var findings = snapshot.findings + Self.findings(in: snapshot, options: options, now: Date())
        guard !options.dryRun else { return ConsistencyReport(findings: findings, checkedObjects: snapshot.objects.count) }
        var affected = Set<PartitionID>()
        for finding in findings
        where finding.repairable && finding.kind != ConsistencyFinding.deletedObjectLeft && finding.kind != ConsistencyFinding.unfinishedUpload {
            affected.insert(
                finding.kind == ConsistencyFinding.pendingCommit || finding.kind == ConsistencyFinding.unannouncedPartition
                    ? PartitionID(finding.key) : PartitionID.of(finding.key))
        }
        var committed: [PartitionID: PartitionIndex] = [:]
        var unitLeftovers: [String] = []
        if !affected.isEmpty {
            let intent = try await announce(affected.sorted())
            let dangling = Set(findings.filter { $0.kind == ConsistencyFinding.danglingEntry && $0.repairable }.map(\.key))
            for partition in affected.sorted() {
                let before = snapshot.partitions[partition]?.entries ?? [:]
                let written = try await recommit(partition, tombstoning: dangling, seq: intent.seq)
                committed[partition] = written
                // The other files of versions tombstoned as a unit: their objects go too.
                for (path, entry) in written.entries where entry.isDeleted && before[path]?.isDeleted == false && !dangling.contains(path) {
                    if snapshot.objects[path] != nil { unitLeftovers.append(path) }
                }
            }
        }
        for path in unitLeftovers.sorted() { try await client.delete(remote.objectKey(path)) }
        for index in findings.indices where findings[index].repairable {
            let finding = findings[index]
            switch finding.kind {
            case ConsistencyFinding.danglingEntry:
                findings[index].fixed = committed[PartitionID.of(finding.key)]?.entries[finding.key]?.isDeleted == true
            case ConsistencyFinding.pendingCommit, ConsistencyFinding.unannouncedPartition:
                findings[index].fixed = committed[PartitionID(finding.key)] != nil
            case ConsistencyFinding.orphanObject:
                // Still unreferenced by the index as this repair committed it?
                let partition = PartitionID.of(finding.key)
                guard let written = committed[partition], written.entries[finding.key] == nil else {
                    findings[index].fixed = false
                    continue
                }
                try await client.delete(remote.objectKey(finding.key))
                findings[index].fixed = true
            case ConsistencyFinding.deletedObjectLeft:
                try await client.delete(remote.objectKey(finding.key))
                findings[index].fixed = true
            case ConsistencyFinding.unfinishedUpload:
                // Its parts never become an object: aborting loses nothing (a writer still
                // sending them would fail its completion and send the version again).
                guard let split = finding.key.range(of: Self.uploadIdMarker) else { continue }
                try await client.abortMultipartUpload(
                    remote.objectKey(String(finding.key[..<split.lowerBound])), uploadId: String(finding.key[split.upperBound...]))
                findings[index].fixed = true
            default:
                findings[index].fixed = false
            }
        }
        return ConsistencyReport(findings: findings, checkedObjects: snapshot.objects.count)
    }

    /// Rewrites one partition under a repair's commit: tombstones for `dangling` paths it
    /// lists live, `seq` raised to the commit's. `If-Match`; on `412`, re-read and redo.
    func recommit(_ partition: PartitionID, tombstoning dangling: Set<String>, seq: Int) async throws -> PartitionIndex {
        let key = remote.partitionKey(partition)
        for attempt in 1...12 {
            var base = PartitionIndex(partition: partition)
            var etag: String?
            if case .found(let response) = try await client.get(key) {
                base = try PartitionIndex.decode(response.body, expected: partition)
                etag = response.etag
            }
            var next = base
            next.seq = max(base.seq, seq)
            next.fence = nil
            // A version goes as a unit: once one of its files is gone, the whole version is.
            let units = Set(dangling.compactMap { DatastorePath($0).versionDirectory })
            for (path, entry) in base.entries where !entry.isDeleted {
                if dangling.contains(path) || DatastorePath(path).versionDirectory.map(units.contains) == true {
                    next.entries[path] = .tombstone(seq: seq)
                }
            }
            do {
                try await client.put(
                    key, data: try next.encoded(), contentType: "application/json", condition: etag.map { .ifMatch($0) } ?? .ifAbsent)
                return next
            } catch let error as S3Error where error.code == .preconditionFailed || error.code == .conditionalRequestConflict {
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...(20 * attempt))))
            }
        }
        throw S3SyncError(.contention, "could not rewrite index partition '\(partition)' after 12 attempts; other writers keep changing it")
    }

    /// Reads the meta, every partition and the list of every object.
    func takeSnapshot() async throws -> RemoteSnapshot {
        var snapshot = RemoteSnapshot()
        if case .found(let response) = try await client.get(remote.metaKey) {
            do {
                snapshot.meta = try MetaIndex.decode(response.body)
            } catch let error as S3SyncError {
                snapshot.findings.append(
                    ConsistencyFinding(kind: ConsistencyFinding.corruptIndex, key: "_swamp/meta.json", detail: error.message, repairable: false))
            }
        }
        let prefix = remote.prefix.isEmpty ? "" : "\(remote.prefix)/"
        for object in try await client.list(prefix: prefix) {
            let key = String(object.key.dropFirst(prefix.count))
            if key.hasPrefix("_swamp/") {
                guard let partition = remote.partition(fromKey: object.key) else { continue }
                guard case .found(let response) = try await client.get(object.key) else { continue }
                do {
                    snapshot.partitions[partition] = try PartitionIndex.decode(response.body, expected: partition)
                } catch let error as S3SyncError {
                    snapshot.findings.append(
                        ConsistencyFinding(kind: ConsistencyFinding.corruptIndex, key: object.key, detail: error.message, repairable: false))
                }
            } else {
                snapshot.objects[key] = object
            }
        }
        for upload in try await client.listMultipartUploads(prefix: prefix) where upload.key.hasPrefix(prefix) {
            var relative = upload
            relative.key = String(upload.key.dropFirst(prefix.count))
            snapshot.uploads.append(relative)
        }
        return snapshot
    }

    /// Separates the path from the upload id in the key of an ``ConsistencyFinding/unfinishedUpload`` finding.
    static let uploadIdMarker = "?uploadId="

    /// The inconsistencies between a snapshot's index and objects.
    static func findings(in snapshot: RemoteSnapshot, options: RepairOptions, now: Date) -> [ConsistencyFinding] {
        var findings: [ConsistencyFinding] = []
        var indexed = Set<String>()
        for (_, index) in snapshot.partitions.sorted(by: { $0.key < $1.key }) {
            for (path, entry) in index.entries.sorted(by: { $0.key < $1.key }) {
                indexed.insert(path)
                let object = snapshot.objects[path]
                if entry.isDeleted {
                    guard let object else { continue }
                    let old = Self.age(object, now: now) >= options.minimumOrphanAge
                    let immutable = DatastorePath(path).isImmutable
                    findings.append(
                        ConsistencyFinding(
                            kind: ConsistencyFinding.deletedObjectLeft, key: path,
                            detail: "the index tombstones it but the object is still there (a deletion that did not finish)",
                            repairable: immutable || old))
                } else if let object {
                    if object.size != entry.size {
                        findings.append(
                            ConsistencyFinding(
                                kind: ConsistencyFinding.danglingEntry, key: path,
                                detail: "the object has \(object.size) bytes, the index says \(entry.size): it was overwritten outside swamp",
                                repairable: true))
                    }
                } else {
                    findings.append(
                        ConsistencyFinding(
                            kind: ConsistencyFinding.danglingEntry, key: path,
                            detail: "the index lists it (\(entry.size) bytes) but the object is missing; pulls skip it", repairable: true))
                }
            }
        }
        for (path, object) in snapshot.objects.sorted(by: { $0.key < $1.key }) where !indexed.contains(path) {
            let age = Self.age(object, now: now)
            let old = age >= options.minimumOrphanAge
            findings.append(
                ConsistencyFinding(
                    kind: ConsistencyFinding.orphanObject, key: path,
                    detail: old
                        ? "no index entry references it (an upload whose commit never happened, \(Int(age.components.seconds)) s old)"
                        : "no index entry references it yet (\(Int(age.components.seconds)) s old: maybe an upload in progress; left alone)",
                    repairable: old))
        }
        for upload in snapshot.uploads.sorted(by: { ($0.key, $0.uploadId) < ($1.key, $1.uploadId) }) {
            let age: Duration = upload.initiated.map { .milliseconds(Int64(max(0, now.timeIntervalSince($0)) * 1000)) } ?? .seconds(0)
            let old = age >= options.minimumOrphanAge
            findings.append(
                ConsistencyFinding(
                    kind: ConsistencyFinding.unfinishedUpload, key: "\(upload.key)\(uploadIdMarker)\(upload.uploadId)",
                    detail: old
                        ? "a multipart upload started \(Int(age.components.seconds)) s ago was never completed or aborted (its writer was killed); its parts take storage"
                        : "a multipart upload started \(Int(age.components.seconds)) s ago (maybe in progress; left alone)",
                    repairable: old))
        }
        guard let meta = snapshot.meta else { return findings }
        // Commits announced whose partitions never got them.
        var announced: [PartitionID: Int] = [:]
        for commit in meta.recent {
            for name in commit.partitions {
                guard let partition = PartitionID.validated(name) else { continue }
                announced[partition] = max(announced[partition] ?? 0, commit.seq)
            }
        }
        for (partition, seq) in announced.sorted(by: { $0.key < $1.key }) where (snapshot.partitions[partition]?.seq ?? 0) < seq {
            findings.append(
                ConsistencyFinding(
                    kind: ConsistencyFinding.pendingCommit, key: partition.name,
                    detail:
                        "_swamp/meta.json announced commit \(seq) for it but the partition is at \(snapshot.partitions[partition]?.seq ?? 0) (a writer died mid-commit); every unscoped pull checks it again",
                    repairable: true))
        }
        // Partitions changed without an announcement (an older client that died between its writes).
        let oldest = meta.recent.first?.seq ?? meta.seq + 1
        for (partition, index) in snapshot.partitions.sorted(by: { $0.key < $1.key }) {
            let listed = meta.recent.contains { $0.seq == index.seq && $0.partitions.contains(partition.name) }
            if index.seq > meta.seq || (index.seq >= oldest && !listed) {
                findings.append(
                    ConsistencyFinding(
                        kind: ConsistencyFinding.unannouncedPartition, key: partition.name,
                        detail:
                            "the partition is at commit \(index.seq), which _swamp/meta.json (at \(meta.seq)) does not announce for it: incremental pulls miss it",
                        repairable: true))
            }
        }
        return findings
    }

    static func age(_ object: S3ObjectSummary, now: Date) -> Duration {
        guard let modified = object.lastModified else { return .seconds(0) }
        return .milliseconds(Int64(max(0, now.timeIntervalSince(modified)) * 1000))
    }
}
