import Foundation
import SwampContracts
import SwampSupport
import SwampTesting
import Testing

@testable import SwampCore

@Suite struct CatalogTests {
    @Test func writesGoThroughAndReadsShowTheLatestPerItem() throws {
        let directory = TemporaryDirectory("catalog")
        defer { directory.remove() }
        let layout = DatastoreLayout(root: "\(directory.path)/store")
        let catalog = try Catalog(path: "\(directory.path)/catalog.db", layout: layout)
        let repository = DataRepository(layout: layout, catalog: catalog, syncService: nil)
        let alpha = Fixtures.model("alpha")
        let beta = Fixtures.model("beta")
        try repository.writeVersion(of: alpha, name: "result", content: Data("1".utf8))
        try repository.writeVersion(of: alpha, name: "result", content: Data("22".utf8))
        try repository.writeVersion(of: beta, name: "state", content: Data("333".utf8))
        let latest = try catalog.latestItems()
        #expect(latest.map { "\($0.modelName)/\($0.name)@\($0.version):\($0.size)" } == ["alpha/result@2:2", "beta/state@1:3"])
        #expect(try catalog.latestItems(modelId: beta.id).map(\.name) == ["state"])
        #expect(try catalog.versions(modelId: alpha.id, name: "result").map(\.version) == [1, 2])
        let counts = try catalog.counts()
        #expect(counts.models == 2 && counts.items == 2 && counts.versions == 3)
    }

    @Test func invalidateRebuildsFromTheDatastoreTier() throws {
        let directory = TemporaryDirectory("catalog")
        defer { directory.remove() }
        let root = "\(directory.path)/store"
        let catalog = try Catalog(path: "\(directory.path)/catalog.db", layout: DatastoreLayout(root: root))
        try catalog.rebuild()
        let model = Fixtures.model("teammate")
        try Fixtures.writeRemoteVersion(root: root, model: model, name: "result", version: 7, content: Data("x".utf8))
        #expect(try catalog.latestItems().isEmpty)  // not stale: written behind its back
        try catalog.invalidate()
        #expect(try catalog.latestItems().map(\.version) == [7])
        #expect(try !catalog.isStale())
    }

    @Test func aVersionWithoutRawStillCountsButOneWithoutMetadataDoesNot() throws {
        let directory = TemporaryDirectory("catalog")
        defer { directory.remove() }
        let root = "\(directory.path)/store"
        let model = Fixtures.model("lazy")
        try Fixtures.writeRemoteVersion(root: root, model: model, name: "result", version: 1, content: Data("x".utf8))
        try AtomicFile.remove("\(root)/\(DatastoreLayout.rawRel(model.ref, "result", 1))")
        try AtomicFile.makeDirectories("\(root)/\(DatastoreLayout.versionRel(model.ref, "result", 2))")
        let catalog = try Catalog(path: "\(directory.path)/catalog.db", layout: DatastoreLayout(root: root))
        #expect(try catalog.versions(modelId: model.id, name: "result").map(\.version) == [1])
    }

    @Test func corruptOrMisplacedMetadataIsSkippedNotFatal() throws {
        let directory = TemporaryDirectory("catalog")
        defer { directory.remove() }
        let root = "\(directory.path)/store"
        let good = Fixtures.model("good")
        try Fixtures.writeRemoteVersion(root: root, model: good, name: "result", version: 1, content: Data("x".utf8))
        let bad = Fixtures.model("bad")
        try AtomicFile.write(Data(": : not yaml [".utf8), to: "\(root)/\(DatastoreLayout.metadataRel(bad.ref, "result", 1))")
        // Metadata claiming another version than its directory.
        try Fixtures.writeRemoteVersion(root: root, model: bad, name: "state", version: 2, content: Data("y".utf8))
        try FileManager.default.moveItem(
            atPath: "\(root)/\(DatastoreLayout.versionRel(bad.ref, "state", 2))", toPath: "\(root)/\(DatastoreLayout.versionRel(bad.ref, "state", 5))"
        )
        let scan = try CatalogScanner(layout: DatastoreLayout(root: root)).scanReportingProblems()
        #expect(scan.found.map(\.modelName) == ["good"])
        #expect(scan.problems.count == 2)
    }

    @Test func aDeletedCatalogIsRebuiltOnOpen() throws {
        let directory = TemporaryDirectory("catalog")
        defer { directory.remove() }
        let root = "\(directory.path)/store"
        try Fixtures.writeRemoteVersion(root: root, model: Fixtures.model("m"), name: "result", version: 1, content: Data("x".utf8))
        let catalog = try Catalog(path: "\(directory.path)/fresh.db", layout: DatastoreLayout(root: root))
        #expect(try catalog.isStale())
        #expect(try catalog.latestItems().count == 1)
    }
}
