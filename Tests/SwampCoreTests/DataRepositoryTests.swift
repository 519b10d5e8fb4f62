import Foundation
import SwampContracts
import SwampSupport
import Synchronization
import Testing

@testable import SwampCore
@testable import SwampTesting

@Suite struct DataRepositoryTests {
    struct Harness {
        let directory = TemporaryDirectory("repository")
        let repository: DataRepository
        let sync: RecordingSyncService
        /// For each marked path, whether its file existed when it was marked.
        let existsAtMark = Marks()
        final class Marks: Sendable { let value = Mutex<[String: Bool]>([:]) }
        var root: String { "\(directory.path)/store" }

        init() throws {
            let root = "\(directory.path)/store"
            let existsAtMark = self.existsAtMark
            sync = RecordingSyncService(
                capabilities: .returns(.none),
                onMarkDirty: { options in
                    guard let rel = options?.relPath else { return }
                    let exists = FileManager.default.fileExists(atPath: "\(root)/\(rel)")
                    existsAtMark.value.withLock { $0[rel] = exists }
                })
            let catalog = try Catalog(path: "\(directory.path)/catalog.db", layout: DatastoreLayout(root: root))
            repository = DataRepository(layout: DatastoreLayout(root: root), catalog: catalog, syncService: sync)
        }

        var dirtyPaths: [String] {
            sync.recorder.calls.compactMap { if case .markDirty(let options) = $0 { return options?.relPath } else { return nil } }
        }
    }

    @Test func versionsAreAllocatedInOrderWithTheLayoutOfTheSpec() throws {
        let harness = try Harness()
        defer { harness.directory.remove() }
        let model = Fixtures.model("m")
        let first = try harness.repository.writeVersion(of: model, name: "result", content: Data("one".utf8))
        let second = try harness.repository.writeVersion(of: model, name: "result", content: Data("two".utf8))
        #expect(first.version == 1)
        #expect(second.version == 2)
        #expect(second.sha256 == ContentHash.sha256(Data("two".utf8)))
        #expect(second.size == 3)
        let base = "\(harness.root)/data/command/shell/\(model.id)/result"
        #expect(FileManager.default.contents(atPath: "\(base)/1/raw") == Data("one".utf8))
        #expect(FileManager.default.contents(atPath: "\(base)/2/raw") == Data("two".utf8))
        #expect(FileManager.default.contents(atPath: "\(base)/latest") == Data("2\n".utf8))
        let metadata = try harness.repository.metadata(model.ref, "result", version: 2)
        #expect(metadata == second)
        #expect(metadata.modelName == "m" && metadata.modelType == "command/shell" && metadata.lifetime == "keep")
    }

    @Test func markDirtyPrecedesEveryWriteWithTheCacheRelativePathInWriteOrder() throws {
        let harness = try Harness()
        defer { harness.directory.remove() }
        let model = Fixtures.model("m")
        try harness.repository.writeVersion(of: model, name: "result", content: Data("x".utf8))
        let base = "data/command/shell/\(model.id)/result"
        #expect(harness.dirtyPaths == ["\(base)/1/metadata.yaml", "\(base)/1/raw", "\(base)/latest"])
        // Each path was marked while it did not exist yet: the mark precedes the write.
        #expect(harness.existsAtMark.value.withLock { $0 } == ["\(base)/1/metadata.yaml": false, "\(base)/1/raw": false, "\(base)/latest": false])
        let output = try harness.repository.writeOutput(
            OutputRecord(
                modelName: "m", modelId: model.id, modelType: model.type, method: "execute", startedAt: Date(), finishedAt: Date(),
                status: "succeeded", exitStatus: 0, stderr: "", timedOut: false, data: []),
            for: model.ref)
        #expect(output.hasPrefix("outputs/command/shell/\(model.id)/execute-"))
        #expect(harness.dirtyPaths.last == output)
        #expect(harness.existsAtMark.value.withLock { $0[output] } == false)
        // A second version marks `latest` while it exists (it is rewritten), raw and metadata before they do.
        try harness.repository.writeVersion(of: model, name: "result", content: Data("y".utf8))
        #expect(
            harness.existsAtMark.value.withLock { [$0["\(base)/2/raw"], $0["\(base)/2/metadata.yaml"], $0["\(base)/latest"]] } == [
                false, false, true,
            ])
    }

    @Test func aVersionExistingOnDiskIsNeverOverwritten() throws {
        let harness = try Harness()
        defer { harness.directory.remove() }
        let model = Fixtures.model("m")
        // A version directory that appeared without a latest marker (e.g. a crashed writer).
        try AtomicFile.makeDirectories("\(harness.root)/data/command/shell/\(model.id)/result/1")
        let written = try harness.repository.writeVersion(of: model, name: "result", content: Data("x".utf8))
        #expect(written.version == 2)
    }

    @Test(arguments: ["latest", "../x", "a/b", "a\0b", "", ".hidden"])
    func invalidDataNamesAreRefusedAndNothingIsWritten(name: String) throws {
        let harness = try Harness()
        defer { harness.directory.remove() }
        let before = harness.directory.snapshot()
        #expect(throws: ContractError.self) {
            try harness.repository.writeVersion(of: Fixtures.model("m"), name: name, content: Data("x".utf8))
        }
        #expect(harness.directory.snapshot() == before)
        #expect(harness.dirtyPaths.isEmpty)
    }

    @Test func contentReadsBackByteExactByVersionAndLatest() async throws {
        let harness = try Harness()
        defer { harness.directory.remove() }
        let model = Fixtures.model("m")
        let binary = Data((0..<256).map { UInt8($0) })
        try harness.repository.writeVersion(of: model, name: "blob", content: binary)
        try harness.repository.writeVersion(of: model, name: "blob", content: Data())
        #expect(try await harness.repository.content(of: model, name: "blob", version: 1).data == binary)
        let latest = try await harness.repository.content(of: model, name: "blob", version: nil)
        #expect(latest.data.isEmpty && latest.metadata.version == 2 && !latest.hydrated)
        await #expect(throws: SwampError.self) { _ = try await harness.repository.content(of: model, name: "blob", version: 9) }
        await #expect(throws: SwampError.self) { _ = try await harness.repository.content(of: model, name: "nothing", version: nil) }
    }

    @Test func garbageCollectionKeepsTheNewestAndMarksEveryDeletedFileDirty() throws {
        let harness = try Harness()
        defer { harness.directory.remove() }
        let model = Fixtures.model("m")
        for index in 1...4 { try harness.repository.writeVersion(of: model, name: "result", content: Data("v\(index)".utf8)) }
        let marksBefore = harness.dirtyPaths.count
        let report = try harness.repository.collectGarbage(keep: 2)
        #expect(report.deleted.map(\.version) == [1, 2])
        #expect(try harness.repository.existingVersions(model.ref, "result") == [3, 4])
        let base = "data/command/shell/\(model.id)/result"
        #expect(
            Array(harness.dirtyPaths.dropFirst(marksBefore)) == [
                "\(base)/1/metadata.yaml", "\(base)/1/raw", "\(base)/2/metadata.yaml", "\(base)/2/raw",
            ])
        #expect(try harness.repository.catalog.versions(modelId: model.id, name: "result").map(\.version) == [3, 4])
        #expect(throws: SwampError.self) { try harness.repository.collectGarbage(keep: 0) }
        #expect(try harness.repository.existingVersions(model.ref, "result") == [3, 4])
    }
}
