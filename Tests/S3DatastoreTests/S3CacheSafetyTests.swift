import Foundation
import S3Client
import SwampContracts
import SwampSupport
import SwampTesting
import Testing

@testable import S3Datastore
@testable import SwampCore

/// One machine's cache: unpushed work is never treated as pushed, and a lazy cache's
/// collections and reads of collected versions behave.
@Suite(.enabled(if: S3TestServer.available, "needs the S3 test server (scripts/test.sh)"))
struct S3CacheSafetyTests {
    /// More dirty paths than the log keeps (12 000 over the default 10 000 with
    /// `SWAMP_TEST_LONG=1`; 120 over a limit of 100 otherwise — the same code, in CI time): a
    /// pull of a changed remote still overwrites none of the unpushed files, and the next push
    /// uploads them all.
    @Test func anOverflowingDirtyLogNeverMeansNothingUnpushed() async throws {
        let long = ProcessInfo.processInfo.environment["SWAMP_TEST_LONG"] == "1"
        let count = long ? 12_000 : 120
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a", dirtyLimit: long ? nil : 100)
        let b = try bucket.cache("b")
        let model = Models.make("m")
        let root = DatastoreLayout.modelDataRel(model.ref)
        func path(_ index: Int) -> String { "\(root)/notes/n\(index)" }
        for index in 0..<50 { try a.rewrite(path(index), Data("first \(index)".utf8)) }
        _ = try await a.push([model])
        _ = try await b.pull([model])

        for index in 0..<count { try a.rewrite(path(index), Data("a \(index)".utf8)) }
        #expect(a.sync.sidecar.readDirty(.model(model.ref)).paths == nil, "the log should overflow")
        for index in 0..<50 { try b.rewrite(path(index), Data("b \(index)".utf8)) }
        _ = try await b.push([model])

        _ = try await a.pull([model])
        for index in [0, 17, 49] { #expect(a.read(path(index)) == Data("a \(index)".utf8), "a pull overwrote unpushed \(path(index))") }
        let pushed = try await a.measure { _ = try await a.push([model]) }
        #expect(pushed.pushed == count)
        _ = try await b.pull([model])
        for index in [0, 49, count - 1] { #expect(b.read(path(index)) == Data("a \(index)".utf8)) }
    }

    /// A full cache that pushed v1–v3 of model m's `result`, and a lazy cache that pulled them
    /// (metadata only).
    static func threeVersionsAndALazyCache(_ bucket: S3Bucket) async throws -> (full: Cache, lazy: Cache, model: ModelDefinition) {
        let full = try bucket.cache("full")
        let model = Models.make("m")
        for content in ["v1", "v2", "v3"] { try full.repository.writeVersion(of: model, name: "result", content: Data(content.utf8)) }
        _ = try await full.pushAll()
        let lazy = try bucket.cache("lazy", hydration: .lazy)
        _ = try await lazy.pullAll()
        try lazy.repository.catalog.invalidate()
        return (full, lazy, model)
    }

    /// A collection in a lazy cache tombstones the versions' content it never fetched, so the
    /// content does not come back with the next pull (anyone's).
    @Test func aCollectionInALazyCacheTombstonesContentItNeverFetched() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let (full, lazy, model) = try await Self.threeVersionsAndALazyCache(bucket)
        #expect(lazy.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == nil)

        let report = try lazy.repository.collectGarbage(keep: 1)
        #expect(report.deleted.map(\.version) == [1, 2])
        _ = try await lazy.pushAll()
        for version in [1, 2] {
            #expect(try await bucket.client().head(DatastoreLayout.rawRel(model.ref, "result", version)) == nil)
            #expect(try await bucket.client().head(DatastoreLayout.metadataRel(model.ref, "result", version)) == nil)
        }
        _ = try await full.pullAll()
        #expect(full.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == nil)
        #expect(full.read(DatastoreLayout.rawRel(model.ref, "result", 3)) == Data("v3".utf8))
        _ = try await lazy.pullAll()
        #expect(!FileManager.default.fileExists(atPath: "\(lazy.root)/\(DatastoreLayout.versionRel(model.ref, "result", 1))"))
    }

    /// A lazy read of a version a teammate collected says it was collected; `hydrate` goes on
    /// past it and reports it.
    @Test func aLazyReadOfACollectedVersionSaysSoAndHydrateGoesOn() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let (full, lazy, model) = try await Self.threeVersionsAndALazyCache(bucket)
        _ = try full.repository.collectGarbage(keep: 2)
        _ = try await full.pushAll()

        do {
            _ = try await lazy.repository.content(of: model, name: "result", version: 1)
            Issue.record("a collected version was read")
        } catch let error as S3SyncError {
            #expect(error.code == .collected)
            #expect(error.message.contains("was collected"), "\(error.message)")
        }
        let report = try await lazy.repository.hydrate(modelIds: nil)
        #expect(report.hydrated == 2)
        #expect(report.skipped.keys.sorted() == [DatastoreLayout.rawRel(model.ref, "result", 1)])
        #expect(lazy.read(DatastoreLayout.rawRel(model.ref, "result", 3)) == Data("v3".utf8))
    }

    /// A file rewritten with the same size within the file system's timestamp granularity
    /// (mtime restored) is still seen as changed: the stat cache keys on ctime and inode too.
    @Test func aSameSizeRewriteWithTheSameMtimeIsStillPushed() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let a = try bucket.cache("a")
        let model = Models.make("m")
        let state = "\(DatastoreLayout.modelDataRel(model.ref))/state.json"
        try a.rewrite(state, Data("2\n".utf8))
        _ = try await a.push([model])
        let absolute = "\(a.root)/\(state)"
        let before = try FileManager.default.attributesOfItem(atPath: absolute)[.modificationDate] as? Date
        try a.rewrite(state, Data("3\n".utf8))
        try FileManager.default.setAttributes([.modificationDate: before as Any], ofItemAtPath: absolute)
        let pushed = try await a.measure { _ = try await a.push([model]) }
        #expect(pushed.pushed == 1)
        guard case .found(let object) = try await bucket.client().get(state) else {
            Issue.record("missing")
            return
        }
        #expect(object.body == Data("3\n".utf8))
    }
}
