import Foundation
import SwampContracts
import Testing

@testable import S3Datastore

/// Pull and push decisions, unit-tested from tables: no server, no disk.
@Suite struct SyncPlanTests {
    static let model = ModelRef(modelType: "command/shell", modelId: "aaaaaaaa-0000-4000-8000-000000000001")
    static let base = "data/command/shell/\(model.modelId)/result"
    static func raw(_ version: Int) -> String { "\(base)/\(version)/raw" }
    static func meta(_ version: Int) -> String { "\(base)/\(version)/metadata.yaml" }
    static let partition = PartitionID.of(raw(1))

    /// The cache as a table: path → sha256; `written`: what writers' records say the files
    /// hash to (taken only when a plan may take them).
    struct Table: LocalView {
        var files: [String: String]
        var written: [String: String] = [:]
        func file(_ path: String, takingWritersRecord: Bool) throws -> SyncSidecar.FileRecord? {
            guard let sha = files[path] else { return nil }
            return SyncSidecar.FileRecord(size: 1, mtimeNs: 1, sha256: takingWritersRecord ? written[path] ?? sha : sha)
        }
        func files(in directory: String) -> [String] {
            files.keys.filter { ($0 as NSString).deletingLastPathComponent == directory }.map { ($0 as NSString).lastPathComponent }.sorted()
        }
    }

    static func entry(_ sha: String) -> IndexEntry { IndexEntry(size: 1, sha256: sha, seq: 1) }
    static func record(_ sha: String) -> SyncSidecar.FileRecord { SyncSidecar.FileRecord(size: 1, mtimeNs: 1, sha256: sha) }

    static func index(_ entries: [String: IndexEntry]) -> PartitionIndex { PartitionIndex(partition: partition, seq: 1, entries: entries) }

    static func pull(_ entries: [String: IndexEntry], synced: [String: String] = [:], local: [String: String], lazy: Bool = false) throws -> PullPlan
    {
        var state = SyncSidecar.PartitionState()
        state.files = synced.mapValues(record)
        return try PullPlan.make(index: index(entries), state: state, dirty: [], lazy: lazy, local: Table(files: local))
    }

    @Test func aNewRemoteVersionIsDownloaded() throws {
        let plan = try Self.pull([Self.raw(1): Self.entry("r1"), Self.meta(1): Self.entry("m1")], local: [:])
        #expect(Set(plan.downloads.map(\.path)) == [Self.raw(1), Self.meta(1)])
        #expect(plan.keptLocal.isEmpty && plan.removals.isEmpty)
    }

    @Test func aLazyPullDefersContentButNotMetadata() throws {
        let plan = try Self.pull([Self.raw(1): Self.entry("r1"), Self.meta(1): Self.entry("m1")], local: [:], lazy: true)
        #expect(plan.downloads.map(\.path) == [Self.meta(1)])
        #expect(plan.lazyDirectories == ["\(Self.base)/1"])
    }

    @Test func unpushedLocalWorkInAVersionIsKeptWholeNeverMixed() throws {
        // The local v2 (a crash's residue or unpushed work) differs from the remote's v2.
        let plan = try Self.pull(
            [Self.raw(2): Self.entry("theirs-raw"), Self.meta(2): Self.entry("theirs-meta")], local: [Self.meta(2): "mine-meta"])
        #expect(plan.downloads.isEmpty, "a teammate's bytes would be mixed into the local version")
        #expect(plan.keptLocal == [Self.meta(2)])
    }

    /// A committed file this cache synced and then changed in place (an editor writing through
    /// the hard link `datastore setup` made) is not work to keep: the remote's bytes come back.
    /// Unsynced local bytes under a committed path stay kept (a conflict to renumber).
    @Test func aCommittedFileChangedInPlaceIsRestored() throws {
        let entries = [Self.raw(1): Self.entry("r1"), Self.meta(1): Self.entry("m1")]
        let plan = try Self.pull(entries, synced: [Self.raw(1): "r1", Self.meta(1): "m1"], local: [Self.raw(1): "edited", Self.meta(1): "m1"])
        #expect(plan.downloads.map(\.path) == [Self.raw(1)])
        #expect(plan.keptLocal.isEmpty)
        let unsynced = try Self.pull(entries, synced: [:], local: [Self.raw(1): "mine", Self.meta(1): "m1"])
        #expect(unsynced.downloads.isEmpty && unsynced.keptLocal == [Self.raw(1)])
    }

    @Test func aCollectionNotPushedYetIsNotBroughtBack() throws {
        let plan = try Self.pull(
            [Self.raw(1): Self.entry("r1"), Self.meta(1): Self.entry("m1")], synced: [Self.raw(1): "r1", Self.meta(1): "m1"], local: [:])
        #expect(plan.downloads.isEmpty)
    }

    @Test func aTombstoneRemovesTheLocalCopyAndMatchingFilesAreRecorded() throws {
        let plan = try Self.pull(
            [Self.raw(1): .tombstone(seq: 2), Self.meta(1): .tombstone(seq: 2), Self.raw(2): Self.entry("r2")],
            synced: [Self.raw(1): "r1", Self.meta(1): "m1"], local: [Self.raw(1): "r1", Self.meta(1): "m1", Self.raw(2): "r2"])
        #expect(Set(plan.removals) == [Self.raw(1), Self.meta(1)])
        #expect(Set(plan.forgotten) == [Self.raw(1), Self.meta(1)])
        #expect(plan.matched.keys.sorted() == [Self.raw(2)])
        #expect(plan.downloads.isEmpty)
    }

    @Test func aVersionTheRemoteCommittedDifferentlyIsAConflictToRenumber() throws {
        var state = SyncSidecar.PartitionState()
        state.index = Self.index([Self.raw(3): Self.entry("theirs"), Self.meta(3): Self.entry("theirs-meta")])
        let local = Table(files: [Self.raw(3): "mine", Self.meta(3): "mine-meta"])
        let plan = try PushPlan.make(
            partition: Self.partition, state: state, dirtyLength: 2, dirty: [Self.raw(3), Self.meta(3)], candidates: [Self.raw(3), Self.meta(3)],
            local: local)
        #expect(plan.uploads.isEmpty, "a committed version would be overwritten")
        #expect(plan.conflict.versions.map(\.version) == [3])
        #expect(plan.conflict.versions.first?.firstFree == 4)
    }

    /// A writer's record gives a file's hash only to a plan that can but upload it (the upload
    /// checks the bytes): beside a remote entry it is not taken, so a record that lies (the file
    /// changed in place since) never makes a plan adopt the file, or keep it, as the remote's.
    @Test func aWritersRecordIsNeverComparedWithTheRemote() throws {
        var state = SyncSidecar.PartitionState()
        state.index = Self.index([Self.raw(3): Self.entry("theirs"), Self.meta(3): Self.entry("meta")])
        let lying = Table(files: [Self.raw(3): "mine", Self.meta(3): "meta"], written: [Self.raw(3): "theirs"])
        let push = try PushPlan.make(
            partition: Self.partition, state: state, dirtyLength: 2, dirty: [Self.raw(3), Self.meta(3)], candidates: [Self.raw(3), Self.meta(3)],
            local: lying)
        #expect(push.adopted[Self.raw(3)] == nil, "adopted on the record's word")
        #expect(push.conflict.versions.map(\.version) == [3], "its bytes, read, are another version")
        let pull = try PullPlan.make(index: state.index ?? Self.index([:]), state: SyncSidecar.PartitionState(), dirty: [], lazy: false, local: lying)
        #expect(pull.matched[Self.raw(3)] == nil, "matched to the remote's on the record's word")

        // Where the remote has no entry, the record is taken: the upload checks it.
        let fresh = try PushPlan.make(
            partition: Self.partition, state: SyncSidecar.PartitionState(), dirtyLength: 2, dirty: [Self.raw(3), Self.meta(3)],
            candidates: [Self.raw(3), Self.meta(3)], local: lying)
        #expect(fresh.uploads.first { $0.path == Self.raw(3) }?.sha256 == "theirs")
    }

    @Test func aNewCompleteVersionIsUploadedAndAHalfWrittenOneIsNot() throws {
        let state = SyncSidecar.PartitionState()
        let complete = try PushPlan.make(
            partition: Self.partition, state: state, dirtyLength: 2, dirty: [Self.raw(1), Self.meta(1)], candidates: [Self.raw(1), Self.meta(1)],
            local: Table(files: [Self.raw(1): "r", Self.meta(1): "m"]))
        #expect(Set(complete.uploads.map(\.path)) == [Self.raw(1), Self.meta(1)])
        let half = try PushPlan.make(
            partition: Self.partition, state: state, dirtyLength: 2, dirty: [Self.raw(1), Self.meta(1)], candidates: [Self.raw(1), Self.meta(1)],
            local: Table(files: [Self.meta(1): "m"]))
        #expect(half.uploads.isEmpty)
        #expect(half.conflict.incomplete.map(\.version) == [1])
    }

    /// The meta hints the small files of its newest commits only (``MetaIndex/hintBudget`` in
    /// all, older commits lose theirs), the newest entry of a path wins, and a reader is given
    /// only hints it may fetch: malformed ones never make the meta unreadable.
    @Test func theMetaHintsTheNewestCommitsFilesWithinItsBudget() throws {
        let sha = String(repeating: "a", count: 64)
        var meta = MetaIndex()
        for version in 1...20 {
            let files = Dictionary(
                uniqueKeysWithValues: (0..<32).map { ("\(Self.base)/\(version)/f\($0)", IndexEntry(size: 1, sha256: sha, seq: 0)) })
            meta = try meta.committing([Self.partition], files: files)
        }
        #expect(meta.recent.compactMap(\.files).map(\.count).reduce(0, +) == MetaIndex.hintBudget)
        #expect(meta.recent.filter { $0.files != nil }.map(\.seq) == Array(17...20), "the newest four commits keep theirs")
        let newest = meta.hints(after: 19)
        #expect(newest[Self.partition]?.count == 32)
        #expect(newest[Self.partition]?.values.allSatisfy { $0.seq == 20 } == true)
        #expect(meta.hints(after: 0)[Self.partition]?.count == MetaIndex.hintBudget)
        #expect(meta.hints(after: 20).isEmpty)

        // A reader over its budget (a meta not trimmed as this swamp trims it) keeps the newest.
        var untrimmed = MetaIndex()
        for version in 1...10 {
            untrimmed.seq = version
            untrimmed.recent.append(
                MetaIndex.Commit(
                    seq: version, partitions: [Self.partition.name],
                    files: Dictionary(
                        uniqueKeysWithValues: (0..<32).map { ("\(Self.base)/\(version)/f\($0)", IndexEntry(size: 1, sha256: sha, seq: version)) })))
        }
        let kept = untrimmed.hints(after: 0)[Self.partition] ?? [:]
        #expect(kept.count == MetaIndex.hintBudget)
        #expect(Set(kept.values.map(\.seq)) == [7, 8, 9, 10])

        // A later commit's entry for the same path wins.
        meta = try meta.committing([Self.partition], files: ["\(Self.base)/20/f0": IndexEntry(size: 2, sha256: sha, seq: 0)])
        #expect(meta.hints(after: 19)[Self.partition]?["\(Self.base)/20/f0"]?.size == 2)

        // Read back from JSON: malformed hints are dropped (the meta stays readable); unsafe,
        // foreign, oversized and malformed entries are never handed to a reader.
        let partition = PartitionID("models/command/shell/0b0e0000-0000-4000-8000-000000000000")
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz/corpus/meta/hints.json")
        let decoded = try MetaIndex.decode(try Data(contentsOf: corpus))
        #expect(decoded.recent.map { $0.files?.count } == [nil, 4, nil])
        #expect(
            decoded.hints(after: 1) == [
                partition: [
                    "data/command/shell/0b0e0000-0000-4000-8000-000000000000/result/2/raw": IndexEntry(
                        size: 3, sha256: "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3", seq: 2)
                ]
            ])
        #expect(decoded.hints(after: 0).isEmpty == false)
    }
}
