import Foundation
import SwampContracts
import Testing

@testable import SwampTesting

/// The sync-service conformance kit, run against the in-memory reference double (it passes),
/// and against deliberately wrong doubles (each fails the check for its bug, with a message).
@Suite struct SyncServiceConformanceTests {
    /// Caches of one in-memory remote, in a temporary directory; `wrap` turns a correct service wrong.
    static func subject(
        scoped: Bool = true, wrap: @escaping @Sendable (InMemorySyncService) -> any DatastoreSyncService = { $0 }
    ) -> (SyncServiceSubject, TemporaryDirectory) {
        let directory = TemporaryDirectory("conformance")
        let remote = InMemoryRemote()
        let path = directory.path
        let subject = SyncServiceSubject(
            makeCache: { name in
                let root = "\(path)/\(name)-\(UUID().uuidString.prefix(6))"
                return (root, wrap(InMemorySyncService(root: root, remote: remote, scoped: scoped)))
            },
            makeLazyCache: { name in
                let root = "\(path)/\(name)-\(UUID().uuidString.prefix(6))"
                return (root, wrap(InMemorySyncService(root: root, remote: remote, scoped: scoped, lazy: true)))
            },
            plantRemoteEntry: { _, path, content in remote.plant(path, content) })
        return (subject, directory)
    }

    @Test(arguments: SyncServiceConformance.checks.map(\.name))
    func theReferenceDoubleConforms(check name: String) async throws {
        for scoped in [true, false] {
            let (subject, directory) = Self.subject(scoped: scoped)
            defer { directory.remove() }
            let check = try #require(SyncServiceConformance.checks.first { $0.name == name })
            try await check.run(subject)
        }
    }

    /// Advertises scoped sync, then ignores the context: pushes and pulls everything.
    struct ContextIgnoring: DatastoreSyncService {
        let inner: InMemorySyncService
        func capabilities() throws -> SyncCapabilities { SyncCapabilities(scopedSync: true) }
        func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int { try await inner.pullChanged(nil) }
        func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int { try await inner.pushChanged(nil) }
        func markDirty(_ options: DatastoreSyncOptions?) throws { try inner.markDirty(options) }
        func activity() -> SyncActivity? { inner.activity() }
    }

    /// Advertises lazy hydration, and "hydrates" by reporting a fetch that wrote nothing.
    struct EmptyReads: DatastoreSyncService {
        let inner: InMemorySyncService
        func capabilities() throws -> SyncCapabilities { try inner.capabilities() }
        func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int { try await inner.pullChanged(options) }
        func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int { try await inner.pushChanged(options) }
        func markDirty(_ options: DatastoreSyncOptions?) throws { try inner.markDirty(options) }
        func hydrateFile(_ relPath: String) async throws -> Bool { true }
    }

    /// Writes whatever the remote lists, dot segments included.
    struct Trusting: DatastoreSyncService {
        let inner: InMemorySyncService
        func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
            // (Not `..`: even a wrong double must not write outside the test's directory.)
            for path in inner.remote.paths where !path.contains("..") {
                let target = "\(inner.root)/\(path)"
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: target, contents: inner.remote.objects.withLock { $0[path] })
            }
            return 0
        }
        func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int { try await inner.pushChanged(options) }
        func markDirty(_ options: DatastoreSyncOptions?) throws { try inner.markDirty(options) }
    }

    static func failure(_ name: String, wrap: @escaping @Sendable (InMemorySyncService) -> any DatastoreSyncService) async throws -> String {
        let (subject, directory) = Self.subject(wrap: wrap)
        defer { directory.remove() }
        let check = try #require(SyncServiceConformance.checks.first { $0.name.hasPrefix(name) })
        do {
            try await check.run(subject)
        } catch let failure as ConformanceFailure {
            return failure.description
        }
        Issue.record("the wrong double passed '\(check.name)'")
        return ""
    }

    @Test func aServiceIgnoringItsContextFailsTheScopedCheck() async throws {
        let message = try await Self.failure("a scoped pull or push") { ContextIgnoring(inner: $0) }
        #expect(message == "scoped sync: a push scoped to x also pushed y", "\(message)")
    }

    @Test func aLazyServiceReturningEmptyReadsFailsTheLazyCheck() async throws {
        let message = try await Self.failure("lazy hydration") { EmptyReads(inner: $0) }
        #expect(message.hasPrefix("lazy hydration: hydrateFile left nil"), "\(message)")
    }

    @Test func aServiceTrustingRemotePathsFailsTheHostileCheck() async throws {
        let message = try await Self.failure("hostile remote paths") { Trusting(inner: $0) }
        #expect(message.hasPrefix("hostile remote paths: the remote path"), "\(message)")
        #expect(message.contains("was written"), "\(message)")
    }
}
