import Foundation
import S3Client
import SwampContracts
import SwampSupport
import SwampTesting
import Synchronization
import Testing

@testable import S3Datastore
@testable import SwampCore

/// Large objects against the S3 test server, with 5 MiB parts from 5 MiB on: progress in bytes
/// part by part, parts counted, a file that changes while it is sent never becomes an object,
/// and a multipart completion is as conditional as a PUT.
@Suite struct LargeObjectTests {
    static let part = 5 << 20
    static let size = 12_000_000

    /// A cache on `bucket` whose large-object thresholds are small.
    static func cache(_ bucket: S3Bucket, _ label: String) throws -> Cache {
        var settings = try bucket.settings()
        settings.multipartThreshold = part
        settings.partSize = part
        // The bucket's 5 s suits small objects; a range of a large one read from a server shared
        // with every suite running in parallel needs the default.
        settings.requestTimeoutMs = 30_000
        let root = "\(bucket.directory.path)/\(label)"
        let provider = S3Provider(
            settings: settings, credentials: S3TestServer.credentials, cacheRoot: root, hydration: .full, logger: .init(label: "test"))
        return try Cache(root: root, provider: provider)
    }

    static func random(_ count: Int) throws -> Data {
        let handle = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        defer { try? handle.close() }
        return try #require(try handle.read(upToCount: count))
    }

    /// A fresh bucket and cache `a` holding one version of `Self.size` random bytes, unpushed.
    static func oneLargeVersion() async throws -> (S3Bucket, Cache, ModelDefinition, Data) {
        let bucket = try await S3Bucket.make()
        let a = try cache(bucket, "a")
        let model = Models.make("big")
        let content = try random(Self.size)
        try a.repository.writeVersion(of: model, name: "result", content: content)
        return (bucket, a, model, content)
    }

    /// Every progress report a sync made.
    final class Reports: Sendable {
        let all = Mutex<[SyncProgress]>([])
        var handler: @Sendable (SyncProgress) -> Void { { progress in self.all.withLock { $0.append(progress) } } }
    }

    @Test func progressCountsTheBytesOfLargeFilesPartByPart() async throws {
        let (bucket, a, model, content) = try await Self.oneLargeVersion()

        let pushing = Reports()
        a.sync.setProgressHandler(pushing.handler)
        let pushed = try await a.measure { _ = try await a.pushAll() }
        #expect(pushed.partsUp == 3, "12 MB in parts of 5 MiB")
        let up = pushing.all.withLock { $0 }
        let last = try #require(up.last)
        #expect(last.bytesTotal >= Int64(Self.size) && last.bytesDone == last.bytesTotal, "every byte counted once: \(last)")
        let partial = Set(up.map(\.bytesDone)).filter { $0 > 0 && $0 < last.bytesTotal }
        #expect(partial.count >= 2, "the bytes advanced part by part, before the file was done: \(up.map(\.bytesDone))")
        #expect(zip(up, up.dropFirst()).allSatisfy { $0.bytesDone <= $1.bytesDone }, "never backwards")

        let b = try Self.cache(bucket, "b")
        let pulling = Reports()
        b.sync.setProgressHandler(pulling.handler)
        let pulled = try await b.measure { _ = try await b.pullAll() }
        #expect(pulled.partsDown == 3, "three ranges")
        let down = try #require(pulling.all.withLock { $0 }.last)
        #expect(down.bytesDone == down.bytesTotal && down.bytesTotal >= Int64(Self.size))
        #expect(b.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == content)
    }

    /// The hash a streamed body is signed with is checked before its last byte goes: bytes that
    /// no longer hash to it never complete a PUT or a part, on any server.
    @Test func aFileThatChangedSinceItWasHashedIsNeverSent() async throws {
        let bucket = try await S3Bucket.make()
        let client = try bucket.client()
        let directory = TemporaryDirectory("changed")
        let path = "\(directory.path)/file"
        let content = try Self.random(2 << 20)
        try content.write(to: URL(fileURLWithPath: path))
        let stale = ContentHash.sha256(Data("what the file held when it was hashed".utf8))

        await #expect(throws: LocalFileError.self) {
            try await client.put("whole", file: FileSlice(path: path, length: Int64(content.count), sha256: stale))
        }
        #expect(try await client.head("whole") == nil, "no object from a body that did not hash to what was signed")

        let uploadId = try await client.createMultipartUpload("parts")
        await #expect(throws: LocalFileError.self) {
            _ = try await client.uploadPart(
                "parts", uploadId: uploadId, number: 1, slice: FileSlice(path: path, length: Int64(content.count), sha256: stale))
        }
        try await client.abortMultipartUpload("parts", uploadId: uploadId)

        // The right hash goes through, streamed.
        try await client.put("whole", file: FileSlice(path: path, length: Int64(content.count), sha256: ContentHash.sha256(content)))
        guard case .found(let response) = try await client.get("whole", maxBytes: 4 << 20) else {
            Issue.record("the object is not there")
            return
        }
        #expect(response.body == content)
    }

    /// A version path held by an object with other bytes that no commit references (an orphan):
    /// the completion is refused (`If-None-Match: *`), the orphan is claimed with `If-Match`, and
    /// the version that lands is ours.
    @Test func aMultipartCompletionIsAsConditionalAsAPut() async throws {
        let (bucket, a, model, content) = try await Self.oneLargeVersion()
        let rel = DatastoreLayout.rawRel(model.ref, "result", 1)
        let client = try bucket.client()
        try await client.put(rel, data: Data("an orphan with other bytes".utf8), metadata: ["sha256": "0"])

        _ = try await a.pushAll()
        let b = try Self.cache(bucket, "b")
        _ = try await b.pullAll()
        #expect(b.read(rel) == content, "the orphan was claimed: the version is ours")
        #expect(try await client.listMultipartUploads(prefix: "").isEmpty)

        // Against a changed ETag, the completion is refused (S3's If-Match, which the test server checks too).
        let temporary = TemporaryDirectory("part")
        let path = "\(temporary.path)/part"
        try content.prefix(Self.part).write(to: URL(fileURLWithPath: path))
        let uploadId = try await client.createMultipartUpload("guarded")
        try await client.put("guarded", data: Data("first".utf8))
        let etag = try await client.uploadPart(
            "guarded", uploadId: uploadId, number: 1,
            slice: FileSlice(path: path, length: Int64(Self.part), sha256: ContentHash.sha256(content.prefix(Self.part))))
        await #expect(throws: S3Error.self) {
            try await client.completeMultipartUpload("guarded", uploadId: uploadId, parts: [(1, etag)], condition: .ifMatch("\"not-the-etag\""))
        }
        await #expect(throws: S3Error.self) {
            try await client.completeMultipartUpload("guarded", uploadId: uploadId, parts: [(1, etag)], condition: .ifAbsent)
        }
        let head = try #require(try await client.head("guarded"))
        #expect(head.headers["content-length"] == "5", "the object is still the first one")
        try await client.completeMultipartUpload(
            "guarded", uploadId: uploadId, parts: [(1, etag)], condition: head.etag.map { .ifMatch($0) } ?? .none)
        #expect(try await client.head("guarded")?.headers["content-length"] == String(Self.part))
    }

    /// A file the push plan hashes is read once more, to be sent: the plan keeps its part
    /// hashes, and the upload signs and checks each part with them.
    @Test func aLargeFileIsReadOnceToPlanAndOnceToSend() async throws {
        let (bucket, a, model, content) = try await Self.oneLargeVersion()

        let pushed = try await a.measure { _ = try await a.pushAll() }
        #expect(pushed.partsUp == 3)
        let hashed = a.sync.bytesHashedForPush.withLock { $0 }
        #expect(
            (Int64(Self.size)..<Int64(Self.size) + 4096).contains(hashed),
            "the large file hashed by the plan only, not again by the upload (and the model's small files): \(hashed)")
        #expect(a.sync.plannedParts.withLock { $0.isEmpty }, "forgotten when the push ends")
        let b = try Self.cache(bucket, "b")
        _ = try await b.pullAll()
        #expect(b.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == content)
    }

    /// A version written from a file (a command's output) is hashed once, by its writer: the
    /// writer's record in the dirty log gives the push plan its hash, and the upload hashes each
    /// part just before it sends it, checking the whole before it completes.
    @Test func aWrittenFilesPushTakesItsHashFromItsWriter() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try Self.cache(bucket, "a")
        let model = Models.make("big")
        let content = try Self.random(Self.size)
        let output = "\(bucket.directory.path)/output"
        try content.write(to: URL(fileURLWithPath: output))
        try a.repository.writeVersion(of: model, name: "result", file: output)
        let rel = DatastoreLayout.rawRel(model.ref, "result", 1)
        let partition = PartitionID.of(rel)
        #expect(a.sync.sidecar.readDirty(partition).written[rel]?.sha256 == ContentHash.sha256(content), "the writer's record")

        let plan = try #require(try a.sync.plan(partition, walk: false))
        #expect(plan.uploads.first { $0.path == rel }?.sha256 == ContentHash.sha256(content))
        #expect(a.sync.bytesHashedForPush.withLock { $0 } < 4096, "the plan read none of the large file (only the small ones)")
        #expect(a.sync.plannedParts.withLock { $0.isEmpty }, "no part hashes planned: the upload takes them")

        let pushed = try await a.measure { _ = try await a.pushAll() }
        #expect(pushed.partsUp == 3)
        let hashed = a.sync.bytesHashedForPush.withLock { $0 }
        #expect((Int64(Self.size)..<Int64(Self.size) + 4096).contains(hashed), "the upload hashed its parts once: \(hashed)")
        #expect(a.sync.sidecar.readDirty(partition).paths?.isEmpty ?? true, "the record went with the dirty log")
        let b = try Self.cache(bucket, "b")
        _ = try await b.pullAll()
        #expect(b.read(rel) == content)
    }

    /// A writer's record is taken only for the file it describes, and a wrong one never commits
    /// wrong bytes: a file rewritten since (same size, new times) is hashed by the plan; a
    /// record that lies (forged into the dirty log with the file's own size and times) makes
    /// the upload fail its whole-file check, is withdrawn, and the next push hashes the file and
    /// succeeds; a record that does not parse leaves the path dirty, hashed.
    @Test func aWritersRecordIsTakenOnlyForTheFileItDescribes() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try Self.cache(bucket, "a")
        let model = Models.make("big")
        let output = "\(bucket.directory.path)/output"
        try Self.random(Self.size).write(to: URL(fileURLWithPath: output))
        try a.repository.writeVersion(of: model, name: "result", file: output)
        let rel = DatastoreLayout.rawRel(model.ref, "result", 1)
        let absolute = "\(a.root)/\(rel)"
        let partition = PartitionID.of(rel)

        // Rewritten in place after its write: same size and inode, other bytes, other times.
        var content = try #require(a.read(rel))
        content[content.count - 1] ^= 0xff
        let handle = try #require(FileHandle(forUpdatingAtPath: absolute))
        try handle.seek(toOffset: UInt64(Self.size - 1))
        try handle.write(contentsOf: Data([content[content.count - 1]]))
        try handle.close()
        let changed = try #require(try a.sync.plan(partition, walk: false))
        #expect(changed.uploads.first { $0.path == rel }?.sha256 == ContentHash.sha256(content), "hashed again, not taken from the record")
        #expect(a.sync.bytesHashedForPush.withLock { $0 } >= Int64(Self.size))
        a.sync.plannedParts.withLock { $0.removeAll() }

        // A record that lies about the file as it is now.
        let now = try #require(LocalFile.stat(absolute))
        let wrong = String(repeating: "a", count: 64)
        try a.sync.sidecar.appendDirty(rel, written: SyncSidecar.FileRecord(now, sha256: wrong))
        let error = await #expect(throws: S3SyncError.self) { _ = try await a.pushAll() }
        #expect(error?.code == .localFileChanged, "\(String(describing: error))")
        #expect(try await a.sync.client.head(a.sync.remote.objectKey(rel)) == nil, "no object from bytes that do not hash to the record")
        #expect(try await a.sync.client.listMultipartUploads(prefix: "").isEmpty, "the upload was aborted")
        #expect(a.sync.sidecar.readDirty(partition).written[rel] == nil, "the record was withdrawn")
        _ = try await a.pushAll()
        let b = try Self.cache(bucket, "b")
        _ = try await b.pullAll()
        #expect(b.read(rel) == content, "the next push hashed the file and sent its bytes")

        // Records that do not parse: the path is dirty all the same, and nothing is taken.
        let log = "\(a.root)/.swamp-sync/dirty/\(partition.fileName).log"
        for garbage in ["\t", "\tnot a record", "\t\(wrong) 1 2 3", "\t\(wrong) -1 2 3 4", "\t\(wrong.uppercased()) 1 2 3 4", "\t\(wrong) 1 2 3 4 5"]
        {
            try Data("\(rel)\(garbage)\n".utf8).write(to: URL(fileURLWithPath: log))
            let read = a.sync.sidecar.readDirty(partition)
            #expect(read.paths == [rel], "\(garbage.debugDescription)")
            #expect(read.written.isEmpty, "\(garbage.debugDescription)")
        }
        // A line an append left torn (a full disk) does not swallow the next one.
        let other = DatastoreLayout.metadataRel(model.ref, "result", 1)
        try Data("\(rel)\t\(wrong) 12".utf8).write(to: URL(fileURLWithPath: log))
        try a.sync.sidecar.appendDirty(other)
        #expect(a.sync.sidecar.readDirty(partition).paths == [rel, other])
    }

    /// A file changed after the plan hashed it never becomes an object, whether the change shows
    /// in its times (the upload hashes it again) or not (each part's bytes are checked against
    /// the planned hash as they go).
    @Test func aLargeFileChangedAfterItsPlanIsNeverCommitted() async throws {
        let (_, a, model, _) = try await Self.oneLargeVersion()
        let rel = DatastoreLayout.rawRel(model.ref, "result", 1)
        let absolute = "\(a.root)/\(rel)"
        let key = a.sync.remote.objectKey(rel)

        for unseen in [false, true] {
            let plan = try #require(try a.sync.plan(.model(model.ref), walk: true))
            let upload = try #require(plan.uploads.first { $0.path == rel })
            #expect(a.sync.plannedParts.withLock { $0[absolute]?.parts.count } == 3)
            // The last byte changes in place: same size, same inode.
            let handle = try #require(FileHandle(forUpdatingAtPath: absolute))
            try handle.seek(toOffset: UInt64(Self.size - 1))
            let last = try #require(try handle.read(upToCount: 1)).first ?? 0
            try handle.seek(toOffset: UInt64(Self.size - 1))
            try handle.write(contentsOf: Data([last ^ 0xff]))
            try handle.close()
            if unseen {
                // As if the change came within the file system's timestamp granularity.
                let now = try #require(LocalFile.stat(absolute))
                a.sync.plannedParts.withLock { plans in
                    guard let planned = plans[absolute] else { return }
                    plans[absolute] = PlannedParts(
                        file: SyncSidecar.FileRecord(now, sha256: planned.file.sha256), partSize: planned.partSize, parts: planned.parts)
                }
            }
            let hashedBefore = a.sync.bytesHashedForPush.withLock { $0 }
            let error = await #expect(throws: S3SyncError.self) { _ = try await a.sync.upload(upload) }
            #expect(error?.code == .localFileChanged, "\(String(describing: error))")
            let hashed = a.sync.bytesHashedForPush.withLock { $0 } - hashedBefore
            if unseen {
                #expect(hashed == 0, "the planned part hashes were used")
                #expect(error?.message.contains("what was signed") == true, "caught by a part's check: \(String(describing: error))")
            } else {
                #expect(hashed == Int64(Self.size), "the upload read the file itself: its times changed")
                #expect(error?.message.contains("what was planned") == true, "caught by the whole file's: \(String(describing: error))")
            }
            #expect(try await a.sync.client.head(key) == nil, "no object from bytes that are not the planned ones")
            #expect(try await a.sync.client.listMultipartUploads(prefix: "").isEmpty, "the upload was aborted")
        }
    }

    /// A pull killed while it downloaded a large file leaves its temporary file beside it; the
    /// next download of that file removes it — but never one a live pull holds (locked), nor a
    /// fresh one (a writer may not have locked it yet).
    @Test func aKilledDownloadsTemporaryFileIsRemovedByTheNextOne() async throws {
        let (bucket, a, model, content) = try await Self.oneLargeVersion()
        defer { bucket.directory.remove() }
        _ = try await a.pushAll()
        let b = try Self.cache(bucket, "b")
        let raw = DatastoreLayout.rawRel(model.ref, "result", 1)
        let destination = "\(b.root)/\(raw)"
        try AtomicFile.makeDirectories(AtomicFile.parent(of: destination))
        func plant(_ suffix: String, minutesOld: Int) throws -> String {
            let path = "\(AtomicFile.parent(of: destination))/.raw.tmp-\(suffix)"
            try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: path))
            let then = Date().addingTimeInterval(Double(-60 * minutesOld))
            try FileManager.default.setAttributes([.modificationDate: then], ofItemAtPath: path)
            return path
        }
        let abandoned = try plant("1", minutesOld: 10)
        // Modified "in ten minutes" (a writer whose clock runs ahead): fresh however long this
        // loaded machine takes to reach the sweep (a fresh one planted "now" was 5 s old by then
        // in a clean-clone CI run).
        let fresh = try plant("2", minutesOld: -10)
        let live = try plant("3", minutesOld: 10)
        let holder = open(live, O_RDONLY | O_CLOEXEC)
        #expect(holder >= 0 && flock(holder, LOCK_EX) == 0)
        defer { close(holder) }

        _ = try await b.pullAll()
        #expect(b.read(raw) == content)
        #expect(!FileManager.default.fileExists(atPath: abandoned), "an abandoned temporary file is left")
        #expect(FileManager.default.fileExists(atPath: fresh), "a fresh temporary file was removed")
        #expect(FileManager.default.fileExists(atPath: live), "a temporary file a live writer holds was removed")
        let left = try FileManager.default.contentsOfDirectory(atPath: AtomicFile.parent(of: destination)).filter { $0.contains(".tmp-") }
        #expect(Set(left) == [".raw.tmp-2", ".raw.tmp-3"], "\(left)")
    }

    @Test func partSizesAreValidatedAndGrowPastTenThousandParts() throws {
        func parse(_ extra: [String: JSONValue]) throws -> S3DatastoreConfig {
            try S3DatastoreConfig.parse(.object(["bucket": .string("b-1")].merging(extra) { $1 }))
        }
        #expect(throws: S3SyncError.self) { try parse(["partSize": .number(Double(1 << 20))]) }
        #expect(throws: S3SyncError.self) { try parse(["multipartThreshold": .number(1024)]) }
        let parsed = try parse(["partSize": .number(Double(16 << 20)), "multipartThreshold": .number(Double(128 << 20))])
        #expect(parsed.partSize == 16 << 20 && parsed.multipartThreshold == 128 << 20)
        #expect(S3DatastoreConfig(bucket: "b-1").partSize == 8 << 20 && S3DatastoreConfig(bucket: "b-1").multipartThreshold == 64 << 20)

        // S3 takes at most 10 000 parts: a 200 GiB object needs parts over 20 MiB.
        let sync = try Self.cache(S3Bucket(name: "b-1", endpoint: "http://127.0.0.1:9"), "sizes").sync
        #expect(sync.partSize(for: 1 << 30) == Int64(Self.part))
        let huge: Int64 = 200 << 30
        #expect(sync.partSize(for: huge) * 10_000 >= huge && sync.partSize(for: huge) < huge / 9_999 + 1)
    }
}
