import Foundation
import S3Client
import SwampContracts
import SwampSupport
import SwampTesting
import Testing

@testable import S3Datastore
@testable import SwampCore

@Suite(.enabled(if: S3TestServer.available, "needs the S3 test server (scripts/test.sh)"))
struct S3SyncServiceTests {
    @Test func requestCountsOnTheFastPaths() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let model = Models.make("m")
        let written = try a.repository.writeVersion(of: model, name: "result", content: Data("one".utf8))
        let first = try await a.measure { _ = try await a.push([model]) }
        #expect(first.pushed == 2)  // metadata.yaml, raw (`latest` is derived, never pushed)
        #expect(first.requests == ["GET": 1, "PUT": 4])  // no meta yet; the two files, the meta, the partition

        let noopPush = try await a.measure { _ = try await a.pushAll() }
        #expect(noopPush.totalRequests == 0)
        let noopScopedPush = try await a.measure { _ = try await a.push([model]) }
        #expect(noopScopedPush.totalRequests == 0)

        _ = try await a.pullAll()
        let noopPull = try await a.measure { _ = try await a.pullAll() }
        #expect(noopPull.requests == ["GET": 1])
        let scopedPull = try await a.measure { _ = try await a.pull([model]) }
        #expect(scopedPull.requests == ["GET": 1])

        // A file outside the immutable layout, rewritten: the file, the meta, the partition.
        let state = "\(DatastoreLayout.modelDataRel(model.ref))/state.json"
        try a.rewrite(state, Data("two".utf8))
        let onePush = try await a.measure { _ = try await a.push([model]) }
        #expect(onePush.requests == ["GET": 1, "PUT": 3])  // the meta read beside the upload (304)
        #expect(onePush.pushed == 1)
        // The push sat directly on the pulled state, so the fingerprint moved with it.
        let afterPush = try await a.measure { _ = try await a.pullAll() }
        #expect(afterPush.requests == ["GET": 1])

        // A new version: its two files (created, never overwritten), the meta, the partition.
        try a.repository.writeVersion(of: model, name: "result", content: Data("three".utf8))
        let newVersion = try await a.measure { _ = try await a.push([model]) }
        #expect(newVersion.requests == ["GET": 1, "PUT": 4])
        #expect(newVersion.pushed == 2)
        _ = written
    }

    @Test func scopedSyncCostsTheSameWithFiveOrFiveHundredModels() async throws {
        var costs: [Int: (pull: SyncActivity, push: SyncActivity)] = [:]
        for size in [5, 500] {
            let bucket = try await S3Bucket.make()
            defer { bucket.directory.remove() }
            let a = try bucket.cache("a")
            let models = (0..<size).map { Models.make("m\($0)") }
            for model in models {
                try a.repository.writeVersion(of: model, name: "result", content: Data(model.id.utf8))
            }
            _ = try await a.pushAll()
            let target = models[size / 2]
            let pull = try await a.measure { _ = try await a.pull([target]) }
            try a.repository.writeVersion(of: target, name: "result", content: Data("changed".utf8))
            let push = try await a.measure { _ = try await a.push([target]) }
            costs[size] = (pull, push)
        }
        let small = try #require(costs[5])
        let large = try #require(costs[500])
        #expect(small.pull.requests == large.pull.requests)
        #expect(small.push.requests == large.push.requests)
        #expect(large.pull.totalRequests == 1)
        #expect(large.push.totalRequests == 5)  // metadata.yaml, raw, the meta (read beside them, then written), the partition
    }

    /// A push reads the meta beside its uploads, so a teammate's commit since this cache last
    /// saw the meta costs no refused announcement (a `412` and a read more, one after another).
    @Test func aTeammatesCommitCostsAPushNoRefusedAnnouncement() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let b = try bucket.cache("b")
        let (m, n) = (Models.make("m"), Models.make("n"))
        try a.repository.writeVersion(of: m, name: "result", content: Data("m1".utf8))
        try b.repository.writeVersion(of: n, name: "result", content: Data("n1".utf8))
        _ = try await a.pushAll()
        _ = try await b.pushAll()  // b's first announcement reads the meta a wrote
        try a.repository.writeVersion(of: m, name: "result", content: Data("m2".utf8))
        let push = try await a.measure { _ = try await a.push([m]) }
        // The two files, the meta read (200: b's commit) and written once, the partition.
        #expect(push.requests == ["GET": 1, "PUT": 4], "\(push.requests)")
        _ = try await b.pullAll()
        #expect(b.read(DatastoreLayout.rawRel(m.ref, "result", 2)) == Data("m2".utf8))
        // The meta a read beside its uploads is only the base of its announcement: a's pulls
        // still fetch b's commit, which a never pulled.
        _ = try await a.pullAll()
        #expect(a.read(DatastoreLayout.rawRel(n.ref, "result", 1)) == Data("n1".utf8))
    }

    /// The pull of a model a teammate changed reads the files the meta's commit hints beside
    /// the partition's index — one round trip less — and writes them because the index lists
    /// the same bytes.
    @Test func aPullReadsTheHintedFilesBesideTheIndex() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let b = try bucket.cache("b")
        let model = Models.make("m")
        try a.repository.writeVersion(of: model, name: "result", content: Data("one".utf8))
        _ = try await a.pushAll()
        _ = try await b.pullAll()
        try a.repository.writeVersion(of: model, name: "result", content: Data("two".utf8))
        _ = try await a.push([model])

        let pull = try await b.measure { _ = try await b.pullAll() }
        #expect(pull.requests == ["GET": 4], "\(pull.requests)")  // the meta; then the index, metadata.yaml and raw
        #expect(pull.pulled == 2)
        let hinted = b.sync.hintedFiles.withLock { $0 }
        #expect(hinted.read == 2 && hinted.matching == 2 && hinted.used == 2, "\(hinted)")
        #expect(b.read(DatastoreLayout.rawRel(model.ref, "result", 2)) == Data("two".utf8))
        #expect(b.read(DatastoreLayout.metadataRel(model.ref, "result", 2)) == a.read(DatastoreLayout.metadataRel(model.ref, "result", 2)))
    }

    /// A hint is never the truth. Files a commit announced but never wrote (its writer died
    /// between the meta and the partition) are read on the hint and not written; hints a hostile
    /// meta plants — outside the partition, unsafe, too large, malformed — are not even read.
    @Test func hintedFilesAreWrittenOnlyWhereTheIndexAgrees() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let b = try bucket.cache("b")
        let (model, other) = (Models.make("m"), Models.make("o"))
        try a.repository.writeVersion(of: model, name: "result", content: Data("one".utf8))
        try a.repository.writeVersion(of: other, name: "result", content: Data("o1".utf8))
        _ = try await a.pushAll()
        _ = try await b.pullAll()

        // A writer's uploads of v2 landed, and its announcement; its partition write did not.
        let client = try bucket.client()
        let raw = DatastoreLayout.rawRel(model.ref, "result", 2)
        let metadata = DatastoreLayout.metadataRel(model.ref, "result", 2)
        let bytes = Data("two".utf8)
        _ = try await client.put(raw, data: bytes)
        _ = try await client.put(metadata, data: Data("version: 2\n".utf8))
        let remote = RemoteLayout(prefix: "")
        guard case .found(let current) = try await client.get(remote.metaKey) else { throw CancellationError() }
        var meta = try MetaIndex.decode(current.body).committing(
            [.model(model.ref)],
            files: [
                raw: IndexEntry(size: Int64(bytes.count), sha256: ContentHash.sha256(bytes), seq: 0),
                metadata: IndexEntry(size: 11, sha256: ContentHash.sha256(Data("version: 2\n".utf8)), seq: 0),
            ])
        let good = try #require(meta.recent.last)
        // And a hostile commit after it: nothing it hints may be read.
        let sha = ContentHash.sha256(Data("x".utf8))
        meta.seq += 1
        meta.recent.append(
            MetaIndex.Commit(
                seq: meta.seq, partitions: [PartitionID.model(model.ref).name],
                files: [
                    "../../escape": IndexEntry(size: 1, sha256: sha, seq: meta.seq),
                    DatastoreLayout.rawRel(other.ref, "result", 1): IndexEntry(size: 2, sha256: sha, seq: meta.seq),  // another partition
                    DatastoreLayout.rawRel(model.ref, "result", 9): IndexEntry(size: 1 << 40, sha256: sha, seq: meta.seq),  // too large
                    DatastoreLayout.rawRel(model.ref, "result", 8): IndexEntry(size: 1, sha256: "not a hash", seq: meta.seq),
                    // Unsafe, though under the partition's prefix.
                    "\(DatastoreLayout.modelDataRel(model.ref))/../../../../x": IndexEntry(size: 1, sha256: sha, seq: meta.seq),
                ]))
        _ = try await client.put(remote.metaKey, data: try meta.encoded())
        #expect(good.files?.count == 2)

        let pull = try await b.measure { _ = try await b.pullAll() }
        let hinted = b.sync.hintedFiles.withLock { $0 }
        #expect(hinted.read == 2 && hinted.matching == 2 && hinted.used == 0, "\(hinted)")
        #expect(pull.requests == ["GET": 4], "\(pull.requests)")  // the meta; the index (304) and the two hinted files
        #expect(b.read(raw) == nil)
        #expect(b.read(metadata) == nil)
        #expect(b.sync.sidecar.loadState().pending?[PartitionID.model(model.ref).name] == meta.seq, "the commit stays pending")
    }

    /// Bytes read on a hint are written only if they hash to what the index lists: not when the
    /// index lists other bytes than the hint (they are downloaded, as always, and checked), and
    /// never bytes that do not hash to their hint, even where hint and index agree.
    @Test func hintedBytesAreWrittenOnlyIfTheyHashToTheIndex() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let b = try bucket.cache("b")
        let (first, second) = ("notes/first.txt", "notes/second.txt")
        for path in [first, second] { try a.rewrite(path, Data("synced".utf8)) }
        _ = try await a.pushAll()
        _ = try await b.pullAll()
        #expect(b.read(first) == Data("synced".utf8))

        // The bucket: `first` holds X, hinted as X, indexed as Z; `second` holds X, hinted and
        // indexed as Z. Neither may reach b: X is not what the index lists.
        let client = try bucket.client()
        let remote = RemoteLayout(prefix: "")
        let (x, z) = (Data("bytes X".utf8), Data("bytes Z".utf8))
        for path in [first, second] { _ = try await client.put(path, data: x) }
        guard case .found(let shared) = try await client.get(remote.partitionKey(.shared)),
            case .found(let current) = try await client.get(remote.metaKey)
        else { throw CancellationError() }
        var index = try PartitionIndex.decode(shared.body, expected: .shared)
        let meta = try MetaIndex.decode(current.body).committing(
            [.shared],
            files: [
                first: IndexEntry(size: Int64(x.count), sha256: ContentHash.sha256(x), seq: 0),
                second: IndexEntry(size: Int64(z.count), sha256: ContentHash.sha256(z), seq: 0),
            ])
        index.seq = meta.seq
        for path in [first, second] { index.entries[path] = IndexEntry(size: Int64(z.count), sha256: ContentHash.sha256(z), seq: meta.seq) }
        _ = try await client.put(remote.metaKey, data: try meta.encoded())
        _ = try await client.put(remote.partitionKey(.shared), data: try index.encoded())

        _ = try await b.pullAll()
        let hinted = b.sync.hintedFiles.withLock { $0 }
        #expect(hinted.read == 2 && hinted.matching == 1 && hinted.used == 0, "\(hinted)")
        #expect(b.read(first) == Data("synced".utf8), "the hint's bytes were written over what the index lists")
        #expect(b.read(second) == Data("synced".utf8), "bytes that do not hash to their hint were written")
    }

    /// A file outside the immutable layout (last writer wins) rewritten with the same size
    /// reaches the other cache: hashes, not sizes, decide.
    @Test func anEqualSizeRewriteReachesTheOtherCache() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let b = try bucket.cache("b")
        let model = Models.make("m")
        let state = "\(DatastoreLayout.modelDataRel(model.ref))/state.json"
        try a.rewrite(state, Data("aaaa".utf8))
        _ = try await a.push([model])
        _ = try await b.pull([model])
        #expect(b.read(state) == Data("aaaa".utf8))
        try a.rewrite(state, Data("bbbb".utf8))
        _ = try await a.push([model])
        let pulled = try await b.measure { _ = try await b.pull([model]) }
        #expect(pulled.pulled == 1)
        #expect(b.read(state) == Data("bbbb".utf8))
    }

    /// A committed version is immutable: a local rewrite of it is not pushed, and the next
    /// pull that applies the partition puts the committed bytes back.
    @Test func aLocalRewriteOfACommittedVersionIsNeverPushed() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let model = Models.make("m")
        try a.repository.writeVersion(of: model, name: "result", content: Data("aaaa".utf8))
        _ = try await a.push([model])
        let raw = DatastoreLayout.rawRel(model.ref, "result", 1)
        try a.rewrite(raw, Data("bbbb".utf8))
        let push = try await a.measure { _ = try await a.push([model]) }
        #expect(push.totalRequests == 0)
        guard case .found(let object) = try await bucket.client().get(raw) else {
            Issue.record("the committed object is gone")
            return
        }
        #expect(object.body == Data("aaaa".utf8))
        let fresh = try bucket.cache("fresh")
        _ = try await fresh.pull([model])
        #expect(fresh.read(raw) == Data("aaaa".utf8))
    }

    @Test func deletionsPropagateAndAFullPushDoesNotResurrectThem() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let b = try bucket.cache("b")
        let model = Models.make("m")
        for content in ["v1", "v2", "v3"] { try a.repository.writeVersion(of: model, name: "result", content: Data(content.utf8)) }
        _ = try await a.pushAll()
        _ = try await b.pullAll()
        let v1 = DatastoreLayout.rawRel(model.ref, "result", 1)
        #expect(b.read(v1) == Data("v1".utf8))

        let report = try a.repository.collectGarbage(keep: 1)
        #expect(report.deleted.map(\.version) == [1, 2])
        let pushed = try await a.measure { _ = try await a.pushAll() }
        #expect(pushed.deleted == 4)
        #expect(try await bucket.client().head(v1) == nil)

        // B still has the old versions until it pulls; a bulk full push from B must not bring them back.
        try b.sync.markDirty(nil)
        _ = try await b.pushAll()
        #expect(try await bucket.client().head(v1) == nil)
        _ = try await b.pullAll()
        #expect(b.read(v1) == nil)
        #expect(b.read(DatastoreLayout.rawRel(model.ref, "result", 3)) == Data("v3".utf8))
        #expect(!FileManager.default.fileExists(atPath: "\(b.root)/\(DatastoreLayout.versionRel(model.ref, "result", 1))"))
        // And B's catalog, rebuilt, lists only v3.
        try b.repository.catalog.invalidate()
        #expect(try b.repository.catalog.versions(modelId: model.id, name: "result").map(\.version) == [3])
    }

    @Test func aScopedPullCompletesLazyContentButNeverRestoresAnUnpushedDeletion() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let model = Models.make("m")
        for content in ["v1", "v2"] { try a.repository.writeVersion(of: model, name: "result", content: Data(content.utf8)) }
        _ = try await a.pushAll()

        // A lazy cache: the scoped pull before a run fetches the content the lazy pull skipped,
        // with no further index request (the partition is unchanged: one 304).
        let lazy = try bucket.cache("lazy", hydration: .lazy)
        _ = try await lazy.pullAll()
        #expect(lazy.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == nil)
        let scoped = try await lazy.measure { _ = try await lazy.pull([model]) }
        #expect(scoped.pulled == 2)
        #expect(scoped.requests == ["GET": 3])  // the partition (304) and the two raws
        #expect(lazy.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == Data("v1".utf8))

        // A deletion that is not pushed yet stays deleted through a scoped pull, then propagates.
        _ = try a.repository.collectGarbage(keep: 1)
        _ = try await a.pull([model])
        #expect(a.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == nil)
        _ = try await a.push([model])
        #expect(try await bucket.client().head(DatastoreLayout.rawRel(model.ref, "result", 1)) == nil)
    }

    @Test(arguments: ["../../escape", "/etc/evil", "data/../../escape", "outputs/command/shell/other/x", "data/x\u{0}y"])
    func hostileIndexPathsAreRefusedAndNothingIsWritten(path: String) async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let b = try bucket.cache("b")
        let model = Models.make("m")
        let partition = PartitionID.model(model.ref)
        let entry = IndexEntry(size: 4, sha256: ContentHash.sha256(Data("evil".utf8)), seq: 1)
        let index = PartitionIndex(partition: partition, seq: 1, entries: [path: entry, DatastoreLayout.rawRel(model.ref, "result", 1): entry])
        let client = try bucket.client()
        try await client.put(RemoteLayout(prefix: "").partitionKey(partition), data: try index.encoded())
        try await client.put("escape", data: Data("evil".utf8))
        let before = bucket.directory.snapshot()
        do {
            _ = try await b.pull([model])
            Issue.record("a hostile index was applied")
        } catch let error as S3SyncError {
            #expect(error.code == .hostilePath)
        }
        #expect(bucket.directory.snapshot() == before)
        #expect(!FileManager.default.fileExists(atPath: "\(bucket.directory.path)/escape"))
    }

    @Test func corruptRemoteIndexIsAClearErrorAndCorruptSidecarIsTheSlowPath() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let model = Models.make("m")
        try a.repository.writeVersion(of: model, name: "result", content: Data("safe".utf8))
        _ = try await a.pushAll()

        // Corrupt sidecar files in B: the sync re-reads and re-walks, and loses nothing.
        let b = try bucket.cache("b")
        _ = try await b.pullAll()
        try Data("{garbage".utf8).write(to: URL(fileURLWithPath: "\(b.root)/.swamp-sync/state.json"))
        for file in try FileManager.default.contentsOfDirectory(atPath: "\(b.root)/.swamp-sync/partitions") {
            try Data("not json".utf8).write(to: URL(fileURLWithPath: "\(b.root)/.swamp-sync/partitions/\(file)"))
        }
        try FileManager.default.createDirectory(atPath: "\(b.root)/.swamp-sync/dirty", withIntermediateDirectories: true)
        try Data("data/bad\0path\npartial".utf8).write(
            to: URL(fileURLWithPath: "\(b.root)/.swamp-sync/dirty/\(PartitionID.model(model.ref).fileName).log"))
        _ = try await b.pullAll()
        #expect(b.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == Data("safe".utf8))
        let slowPush = try await b.measure { _ = try await b.pushAll() }
        #expect(slowPush.pushed == 0)  // walked, found nothing new: nothing re-uploaded
        #expect(try await bucket.client().head(DatastoreLayout.rawRel(model.ref, "result", 1)) != nil)

        // A corrupt meta or partition on the remote: a clear error, local data untouched.
        let client = try bucket.client()
        let layout = RemoteLayout(prefix: "")
        try await client.put(layout.metaKey, data: Data("{oops".utf8))
        let c = try bucket.cache("c")
        await #expect(throws: S3SyncError.self) { _ = try await c.pullAll() }
        try await client.put(layout.partitionKey(.model(model.ref)), data: Data("[]".utf8))
        do {
            _ = try await c.pull([model])
            Issue.record("a corrupt partition was applied")
        } catch let error as S3SyncError {
            #expect(error.code == .corruptIndex)
            #expect(error.message.contains("not valid JSON"))
        }
        #expect(b.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == Data("safe".utf8))
    }

    @Test func aDownloadThatDoesNotMatchTheIndexHashIsRefused() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let model = Models.make("m")
        try a.repository.writeVersion(of: model, name: "result", content: Data("genuine".utf8))
        _ = try await a.pushAll()
        let raw = DatastoreLayout.rawRel(model.ref, "result", 1)
        try await bucket.client().put(raw, data: Data("tampered".utf8))
        let b = try bucket.cache("b")
        // A model about to run needs its latest version: the pull says so, after writing nothing wrong.
        do {
            _ = try await b.pull([model])
            Issue.record("a tampered latest version was not reported")
        } catch let error as S3SyncError {
            #expect(error.code == .contentUnavailable)
        }
        #expect(b.read(raw) == nil)
        #expect(b.read(DatastoreLayout.metadataRel(model.ref, "result", 1)) != nil)
        // An unscoped pull skips the entry (named in a warning), applies the rest, and succeeds.
        let c = try bucket.cache("c")
        let pull = try await c.measure { _ = try await c.pullAll() }
        #expect(pull.skipped == 1)
        #expect(c.read(raw) == nil)
        #expect(c.read(DatastoreLayout.metadataRel(model.ref, "result", 1)) != nil)
    }

    @Test func objectsAreReadableByTheAWSCLIByteForByte() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let model = Models.make("m")
        let content = Data((0..<4096).map { _ in UInt8.random(in: 0...255) })
        try a.repository.writeVersion(of: model, name: "blob", content: content)
        _ = try await a.pushAll()
        let target = "\(bucket.directory.path)/via-aws-cli"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "aws", "--endpoint-url", bucket.endpoint, "s3", "cp", "s3://\(bucket.name)/\(DatastoreLayout.rawRel(model.ref, "blob", 1))", target,
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        for await _ in exited.stream {}
        #expect(process.terminationStatus == 0)
        let identical = FileManager.default.contents(atPath: target) == content
        #expect(identical)
    }

    @Test func lazyPullsSkipContentAndHydrateOnRead() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let model = Models.make("m")
        let content = Data(repeating: 7, count: 5000)
        try a.repository.writeVersion(of: model, name: "result", content: content)
        _ = try await a.pushAll()
        let lazy = try bucket.cache("lazy", hydration: .lazy)
        let pulled = try await lazy.measure { _ = try await lazy.pullAll() }
        #expect(pulled.bytesDown < 5000)
        let raw = DatastoreLayout.rawRel(model.ref, "result", 1)
        #expect(lazy.read(raw) == nil)
        #expect(try lazy.repository.catalog.versions(modelId: model.id, name: "result").map(\.version) == [1])
        let read = try await lazy.repository.content(of: model, name: "result", version: nil)
        #expect(read.hydrated)
        #expect(read.data == content)
        // A full push from the lazy cache deletes nothing it merely has not fetched.
        try lazy.sync.markDirty(nil)
        _ = try await lazy.pushAll()
        #expect(try await bucket.client().head(raw) != nil)
    }
}
