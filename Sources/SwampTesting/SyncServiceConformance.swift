import Foundation
import SwampContracts
import SwampCore
import SwampSupport

/// The ``DatastoreSyncService`` contract, as checks every sync backend must pass.
///
/// A subject makes caches — one user's machine each — that all sync with one remote the
/// subject owns. Data is written the way swamp writes it (``DataRepository``: a dirty mark before
/// every file), so a backend sees exactly what it will see in production.
public struct SyncServiceSubject: Sendable {
    /// A new, empty cache of the subject's remote: its root directory and its sync service.
    public typealias MakeCache = @Sendable (_ name: String) async throws -> (root: String, service: any DatastoreSyncService)

    /// Makes a fully hydrated cache.
    public var makeCache: MakeCache
    /// Makes a lazily hydrated cache; required when the service advertises `lazyHydration`.
    public var makeLazyCache: MakeCache?
    /// Makes the remote list `path` (among `owner`'s data) with `content`, behind every client's
    /// back, as a hostile or broken writer could; `nil` when the backend offers no way to.
    public var plantRemoteEntry: (@Sendable (_ owner: ModelRef, _ path: String, _ content: Data) async throws -> Void)?

    public init(
        makeCache: @escaping MakeCache, makeLazyCache: MakeCache? = nil,
        plantRemoteEntry: (@Sendable (ModelRef, String, Data) async throws -> Void)? = nil
    ) {
        self.makeCache = makeCache
        self.makeLazyCache = makeLazyCache
        self.plantRemoteEntry = plantRemoteEntry
    }
}

public enum SyncServiceConformance {
    /// Every check.
    public static let checks: [ConformanceCheck<SyncServiceSubject>] = [
        ConformanceCheck("a pushed version reads back byte for byte in another cache", roundTrip),
        ConformanceCheck("nothing changed costs nothing: no files pushed or pulled, no bytes moved", noOpCosts),
        ConformanceCheck("collected versions disappear from other caches", deletions),
        ConformanceCheck("a scoped pull or push touches only its context's models", scopedSyncIsHonoured),
        ConformanceCheck("hostile remote paths are never written", hostileRemotePaths),
        ConformanceCheck("lazy hydration defers content and fetches it on first read", lazyHydration),
    ]

    /// Runs every check, throwing the first failure.
    public static func run(_ subject: SyncServiceSubject) async throws {
        for check in checks { try await check.run(subject) }
    }

    /// One user: a cache, its sync service, and a repository that writes through it.
    struct User {
        let root: String
        let service: any DatastoreSyncService
        let repository: DataRepository

        init(_ made: (root: String, service: any DatastoreSyncService)) throws {
            root = made.root
            service = made.service
            let catalog = try Catalog(path: "\(made.root).conformance-catalog.db", layout: DatastoreLayout(root: made.root))
            repository = DataRepository(layout: DatastoreLayout(root: made.root), catalog: catalog, syncService: made.service)
        }

        func read(_ path: String) -> Data? { FileManager.default.contents(atPath: "\(root)/\(path)") }

        func write(_ model: ModelDefinition, _ content: String) throws {
            try repository.writeVersion(of: model, name: "result", content: Data(content.utf8))
        }

        var capabilities: SyncCapabilities { (try? service.capabilities()) ?? .none }
    }

    static func model(_ name: String) -> ModelDefinition {
        ModelDefinition(id: UUID().uuidString.lowercased(), name: name, type: "command/shell", arguments: [:], createdAt: Date())
    }

    static func raw(_ model: ModelDefinition, _ version: Int) -> String { DatastoreLayout.rawRel(model.ref, "result", version) }

    static func roundTrip(_ subject: SyncServiceSubject) async throws {
        let check = "round trip"
        let a = try User(try await subject.makeCache("a"))
        let m = model("m")
        try a.write(m, "first")
        try a.write(m, "second\u{0}bytes\n")
        let pushed = try await a.service.pushChanged(nil)
        try require(pushed > 0, check, "pushChanged(nil) reported \(pushed) files after two new versions")
        let b = try User(try await subject.makeCache("b"))
        _ = try await b.service.pullChanged(nil)
        try require(b.read(raw(m, 1)) == Data("first".utf8), check, "another cache reads \(String(describing: b.read(raw(m, 1)))) for v1")
        try require(b.read(raw(m, 2)) == Data("second\u{0}bytes\n".utf8), check, "another cache does not read v2's exact bytes")
        let metadata = DatastoreLayout.metadataRel(m.ref, "result", 2)
        try require(b.read(metadata) == a.read(metadata), check, "v2's metadata.yaml differs between the caches")
    }

    static func noOpCosts(_ subject: SyncServiceSubject) async throws {
        let check = "no-op costs"
        let a = try User(try await subject.makeCache("a"))
        try a.write(model("m"), "x")
        _ = try await a.service.pushChanged(nil)
        let b = try User(try await subject.makeCache("b"))
        _ = try await b.service.pullChanged(nil)
        let beforePush = a.service.activity()
        let pushed = try await a.service.pushChanged(nil)
        try require(pushed == 0, check, "a push with nothing changed pushed \(pushed) files")
        if let moved = a.service.activity(since: beforePush) {
            try require(
                moved.pushed == 0 && moved.bytesUp == 0, check, "a push with nothing changed moved \(moved.pushed) files, \(moved.bytesUp) bytes")
            try require(moved.requests.values.reduce(0, +) == 0, check, "a push with nothing changed made requests: \(moved.requests)")
        }
        let beforePull = b.service.activity()
        let pulled = try await b.service.pullChanged(nil)
        try require(pulled == 0, check, "a pull with nothing changed pulled \(pulled) files")
        if let moved = b.service.activity(since: beforePull) {
            try require(
                moved.pulled == 0 && moved.bytesDown == 0, check, "a pull with nothing changed moved \(moved.pulled) files, \(moved.bytesDown) bytes")
        }
    }

    static func deletions(_ subject: SyncServiceSubject) async throws {
        let check = "deletions"
        let a = try User(try await subject.makeCache("a"))
        let m = model("m")
        for content in ["one", "two", "three"] { try a.write(m, content) }
        _ = try await a.service.pushChanged(nil)
        let b = try User(try await subject.makeCache("b"))
        _ = try await b.service.pullChanged(nil)
        try require(b.read(raw(m, 1)) != nil, check, "v1 did not arrive before the collection")
        _ = try a.repository.collectGarbage(keep: 1)
        _ = try await a.service.pushChanged(nil)
        _ = try await b.service.pullChanged(nil)
        for version in [1, 2] { try require(b.read(raw(m, version)) == nil, check, "collected v\(version) is still in another cache after a pull") }
        try require(b.read(raw(m, 3)) == Data("three".utf8), check, "the kept v3 is gone")
        let fresh = try User(try await subject.makeCache("fresh"))
        _ = try await fresh.service.pullChanged(nil)
        try require(fresh.read(raw(m, 1)) == nil && fresh.read(raw(m, 3)) != nil, check, "a fresh cache sees collected versions, or not the kept one")
    }

    static func scopedSyncIsHonoured(_ subject: SyncServiceSubject) async throws {
        let check = "scoped sync"
        let a = try User(try await subject.makeCache("a"))
        let (x, y) = (model("x"), model("y"))
        try a.write(x, "x1")
        try a.write(y, "y1")
        guard a.capabilities.supportsScopedSync else {
            // Not advertised: the service is only ever called without options, and must sync everything.
            _ = try await a.service.pushChanged(nil)
            let b = try User(try await subject.makeCache("b"))
            _ = try await b.service.pullChanged(nil)
            try require(b.read(raw(x, 1)) != nil && b.read(raw(y, 1)) != nil, check, "a pull without options did not bring every model")
            return
        }
        _ = try await a.service.pushChanged(.scoped(to: [x.ref]))
        let c = try User(try await subject.makeCache("c"))
        _ = try await c.service.pullChanged(nil)
        try require(c.read(raw(x, 1)) == Data("x1".utf8), check, "a push scoped to x did not push x")
        try require(c.read(raw(y, 1)) == nil, check, "a push scoped to x also pushed y")
        _ = try await a.service.pushChanged(.scoped(to: [y.ref]))
        let d = try User(try await subject.makeCache("d"))
        _ = try await d.service.pullChanged(.scoped(to: [x.ref]))
        try require(d.read(raw(x, 1)) == Data("x1".utf8), check, "a pull scoped to x did not bring x")
        try require(d.read(raw(y, 1)) == nil, check, "a pull scoped to x also brought y")
        // The cost of a scoped pull does not depend on the other models (when the service counts).
        let one = try User(try await subject.makeCache("one"))
        let few = one.service.activity()
        _ = try await one.service.pullChanged(.scoped(to: [x.ref]))
        let costWithOne = one.service.activity(since: few)
        for index in 0..<5 { try a.write(model("z\(index)"), "z") }
        _ = try await a.service.pushChanged(nil)
        let many = try User(try await subject.makeCache("many"))
        let before = many.service.activity()
        _ = try await many.service.pullChanged(.scoped(to: [x.ref]))
        if let small = costWithOne, let large = many.service.activity(since: before) {
            try require(
                small.requests == large.requests && small.pulled == large.pulled, check,
                "a pull scoped to x cost \(small.requests) with one other model and \(large.requests) with six")
        }
    }

    static func hostileRemotePaths(_ subject: SyncServiceSubject) async throws {
        let check = "hostile remote paths"
        guard let plant = subject.plantRemoteEntry else {
            throw ConformanceFailure(
                check, "the subject gives no plantRemoteEntry: hostile paths cannot be checked (give one, or run the other checks by name)")
        }
        let a = try User(try await subject.makeCache("a"))
        let (m, n) = (model("m"), model("n"))
        try a.write(m, "v1")
        try a.write(n, "n1")
        _ = try await a.service.pushChanged(nil)
        let base = DatastoreLayout.modelDataRel(m.ref)
        let hostile = ["\(base)/.swamp-sync/dirty/forged.log", "\(base)/result/../../../../../../escape", "\(base)/result/1/.hidden"]
        for path in hostile { try await plant(m.ref, path, Data("evil".utf8)) }
        let victim = try User(try await subject.makeCache("victim"))
        _ = try? await victim.service.pullChanged(nil)
        for path in hostile {
            let standardized = ("\(victim.root)/\(path)" as NSString).standardizingPath
            try require(FileManager.default.contents(atPath: standardized) != Data("evil".utf8), check, "the remote path '\(path)' was written")
        }
        // The control: the pull did run, and a model nobody tampered with arrived whole.
        try require(
            victim.read(raw(n, 1)) == Data("n1".utf8), check, "the untouched model n did not arrive: one hostile entry stopped the whole pull")
    }

    static func lazyHydration(_ subject: SyncServiceSubject) async throws {
        let check = "lazy hydration"
        let a = try User(try await subject.makeCache("a"))
        let m = model("m")
        try a.write(m, "content")
        _ = try await a.service.pushChanged(nil)
        guard let makeLazy = subject.makeLazyCache else {
            try require(!a.capabilities.supportsLazyHydration, check, "the service advertises lazyHydration but the subject gives no makeLazyCache")
            return
        }
        let lazy = try User(try await makeLazy("lazy"))
        try require(lazy.capabilities.supportsLazyHydration, check, "makeLazyCache gave a service that does not advertise lazyHydration")
        _ = try await lazy.service.pullChanged(nil)
        try require(lazy.read(DatastoreLayout.metadataRel(m.ref, "result", 1)) != nil, check, "a lazy pull did not bring the metadata")
        try require(lazy.read(raw(m, 1)) == nil, check, "a lazy pull brought the content: nothing was deferred")
        let fetched = try await lazy.service.hydrateFile(raw(m, 1))
        try require(fetched, check, "hydrateFile reported nothing fetched for content the cache did not have")
        try require(
            lazy.read(raw(m, 1)) == Data("content".utf8), check, "hydrateFile left \(String(describing: lazy.read(raw(m, 1)))), not the content")
        let again = try await lazy.service.hydrateFile(raw(m, 1))
        try require(!again, check, "hydrateFile fetched a file the cache already had")
    }
}
