import Foundation
import SwampContracts
import SwampSupport
import Synchronization
import Testing

@testable import SwampCore
@testable import SwampTesting

/// The rules of calling a backend for sync, pinned at the gateway and through the commands that
/// used to call the service themselves: structural commands and migration.
@Suite struct SyncGatewayTests {
    let a = ModelRef(modelType: "command/shell", modelId: "aaaaaaaa-0000-4000-8000-000000000001")
    let deadline = Date(timeIntervalSince1970: 2_000_000_000)

    final class Counter: Sendable {
        let value = Mutex(0)
        func increment() throws { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    @Test func aServiceThatDidNotOptInGetsNoOptionsNotEvenADeadline() async throws {
        let sync = LegacyRecordingSyncService()
        let gateway = SyncGateway(service: sync, invalidateCatalog: {})
        try await gateway.pull(.models([a]), deadline: deadline)
        _ = try await gateway.push(.models([a]), deadline: deadline, holding: [], repository: nil)
        #expect(sync.recorder.transfers == [.pull(nil), .push(nil)])
    }

    @Test func aScopedServiceGetsItsContextAndTheDeadline() async throws {
        let sync = RecordingSyncService(capabilities: .returns(SyncCapabilities(scopedSync: true)))
        let gateway = SyncGateway(service: sync, invalidateCatalog: {})
        try await gateway.pull(.models([a]), deadline: deadline)
        try await gateway.pull(.all, deadline: deadline)
        try await gateway.pull(.all)
        var scoped = DatastoreSyncOptions.scoped(to: [a])
        scoped.deadline = deadline
        #expect(sync.recorder.transfers == [.pull(scoped), .pull(DatastoreSyncOptions(deadline: deadline)), .pull(nil)])
        #expect(sync.recorder.capabilityQueries == 1)
    }

    /// A written file's hash goes only to a service that asked for it (``SyncCapabilities/contentHashes``),
    /// as a second dirty mark; a service that fails to keep it fails nothing (it is only a hint).
    @Test func aWrittenFilesHashGoesOnlyToAServiceThatAskedForIt() async throws {
        let sha = String(repeating: "ab", count: 32)
        for capabilities in [SyncCapabilities.none, SyncCapabilities(scopedSync: true)] {
            let sync = RecordingSyncService(capabilities: .returns(capabilities))
            SyncGateway(service: sync, invalidateCatalog: {}).recordWritten("data/x/raw", sha256: sha)
            #expect(sync.recorder.calls.filter { if case .markDirty = $0 { true } else { false } }.isEmpty, "\(capabilities)")
        }
        let legacy = LegacyRecordingSyncService()
        SyncGateway(service: legacy, invalidateCatalog: {}).recordWritten("data/x/raw", sha256: sha)
        #expect(legacy.recorder.calls.isEmpty)

        let asked = RecordingSyncService(
            capabilities: .returns(SyncCapabilities(contentHashes: true)), onMarkDirty: { _ in throw RecordingSyncService.Failure("disk full") })
        SyncGateway(service: asked, invalidateCatalog: {}).recordWritten("data/x/raw", sha256: sha)
        #expect(asked.recorder.calls.contains(.markDirty(DatastoreSyncOptions(relPath: "data/x/raw", sha256: sha))))
    }

    @Test func everyPullInvalidatesTheCatalogAlsoOneThatFails() async throws {
        let invalidations = Counter()
        let failing = RecordingSyncService(
            capabilities: .returns(.none), onPull: { _ in throw RecordingSyncService.Failure("network gone after 3 files") })
        let gateway = SyncGateway(service: failing, invalidateCatalog: { try invalidations.increment() })
        await #expect(throws: RecordingSyncService.Failure.self) { try await gateway.pull() }
        #expect(invalidations.count == 1)
        let working = SyncGateway(service: RecordingSyncService(capabilities: .returns(.none)), invalidateCatalog: { try invalidations.increment() })
        try await working.pull()
        #expect(invalidations.count == 2)
    }

    @Test func withoutARemoteNothingIsCalledAndLostLocksStillStopThePush() async throws {
        let gateway = SyncGateway(service: nil, invalidateCatalog: { Issue.record("nothing was pulled") })
        #expect(try await gateway.pull() == 0)
        #expect(try await gateway.verify() == nil)
        #expect(gateway.consistency == nil)
        let store = InMemoryLockStore()
        let lock = InMemoryLock(key: .model(a), store: store)
        try await lock.acquire()
        store.entries.withLock { $0[.model(a)]?.nonce = "a successor" }
        await #expect(throws: LockError.self) { _ = try await gateway.push(holding: [lock], repository: nil) }
    }

    @Test func measuringCountsWhatTheServiceDidMeanwhile() async throws {
        let sync = CountingSyncService()
        let gateway = SyncGateway(service: sync, invalidateCatalog: {})
        try await gateway.pull()
        let (pulled, activity) = try await gateway.measuring { try await gateway.pull() + gateway.pull() }
        #expect(pulled == 6)
        #expect(activity?.pulled == 6)
        #expect(activity?.requests == ["GET": 2])
    }

    @Test func withModelLocksReleasesOnReturnOnThrowAndOnCancellation() async throws {
        let store = InMemoryLockStore()
        let sync = RecordingSyncService(capabilities: .returns(SyncCapabilities(scopedSync: true)), onPush: { _ in 2 })
        let coordinator = ModelLockCoordinator(
            provider: InMemoryProvider(root: "/nonexistent", store: store, syncService: sync), syncService: sync,
            lockOptions: LockOptions(waitTimeout: .seconds(5), pollInterval: .milliseconds(5)), invalidateCatalog: {})

        let (value, pushed) = try await coordinator.withModelLocks([a]) { session in
            #expect(store.held.map(\.key) == [.model(a)])
            return session.models.count
        }
        #expect(value == 1 && pushed.pushed == 2)
        #expect(store.held.isEmpty)

        await #expect(throws: RecordingSyncService.Failure.self) {
            _ = try await coordinator.withModelLocks([a]) { _ in throw RecordingSyncService.Failure("the model's command failed") }
        }
        #expect(store.held.isEmpty)
        // Thrown bodies are not pushed: one push so far.
        #expect(sync.recorder.transfers.filter { if case .push = $0 { true } else { false } }.count == 1)

        let task = Task {
            try await coordinator.withModelLocks([a]) { _ in try await Task.sleep(for: .seconds(30)) }
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(store.held.isEmpty)
    }

    @Test func aSessionEndsOnceAFailedPushStaysFailedAndAnAbandonedOneCannotPush() async throws {
        let store = InMemoryLockStore()
        let pushes = Counter()
        let sync = RecordingSyncService(
            capabilities: .returns(SyncCapabilities(scopedSync: true)),
            onPush: { _ in
                try pushes.increment()
                throw RecordingSyncService.Failure("the network went away")
            })
        let coordinator = ModelLockCoordinator(
            provider: InMemoryProvider(root: "/nonexistent", store: store, syncService: sync), syncService: sync,
            lockOptions: LockOptions(waitTimeout: .seconds(5), pollInterval: .milliseconds(5)), invalidateCatalog: {})
        let failing = try await coordinator.acquireModelLocks([a])
        await #expect(throws: RecordingSyncService.Failure.self) { try await failing.flush() }
        await #expect(throws: RecordingSyncService.Failure.self) { try await failing.flush() }
        #expect(pushes.count == 1)
        #expect(store.held.isEmpty)
        let abandoned = try await coordinator.acquireModelLocks([a])
        await abandoned.abandon()
        await #expect(throws: LockError.self) { try await abandoned.flush() }
        #expect(pushes.count == 1)
    }

    // MARK: Through the commands

    /// A repository whose datastore is the in-memory type, synced by `sync`.
    struct Repository {
        let directory = TemporaryDirectory("gateway")
        let store = InMemoryLockStore()
        let workspace: Workspace

        init(sync: any DatastoreSyncService) throws {
            let root = "\(directory.path)/datastore"
            try Workspace.initialize(repoDir: directory.path)
            var registry = Workspace.builtInDatastores
            let store = store
            registry.register("memory") { _, _ in InMemoryProvider(root: root, store: store, syncService: sync) }
            workspace = try Workspace(repoDir: directory.path, datastoreFlag: "memory:{}", environment: [:], datastores: registry)
        }
    }

    @Test func structuralCommandsPassADeadlineOnlyToServicesThatOptedIn() async throws {
        let legacy = LegacyRecordingSyncService()
        let plain = try Repository(sync: legacy)
        defer { plain.directory.remove() }
        _ = try await StructuralCommand(workspace: plain.workspace).runCounting(deadline: deadline) {}
        _ = try await StructuralCommand(workspace: plain.workspace).runCounting(push: false, deadline: deadline) {}
        #expect(legacy.recorder.transfers == [.pull(nil), .push(nil), .pull(nil)])

        let scoped = RecordingSyncService(capabilities: .returns(SyncCapabilities(scopedSync: true)), onPush: { _ in 4 })
        let modern = try Repository(sync: scoped)
        defer { modern.directory.remove() }
        let (_, counts) = try await StructuralCommand(workspace: modern.workspace).runCounting(deadline: deadline) {}
        #expect(counts.pushed == 4)
        let options = DatastoreSyncOptions(deadline: deadline)
        #expect(scoped.recorder.transfers == [.pull(options), .push(options)])
        #expect(scoped.recorder.capabilityQueries == 1)
        #expect(modern.store.held.isEmpty)
    }

    /// Setup's hint for a version's content is the hash its metadata records, for a version new
    /// to the remote only, and only while the file has the recorded size.
    @Test func setupHintsAVersionsHashOnlyForANewVersionOfTheRecordedSize() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-hint-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let model = Fixtures.model("m")
        let content = Data("the version's bytes".utf8)
        try Fixtures.writeRemoteVersion(root: root, model: model, name: "result", version: 1, content: content)
        let raw = DatastoreLayout.rawRel(model.ref, "result", 1)
        let metadata = DatastoreLayout.metadataRel(model.ref, "result", 1)
        let both: Set<String> = [raw, metadata]
        #expect(DatastoreMigration.recordedHash(of: raw, under: root, copied: both) == ContentHash.sha256(content))
        #expect(DatastoreMigration.recordedHash(of: raw, under: root, copied: [raw]) == nil, "the pull brought its metadata: the remote holds it")
        #expect(DatastoreMigration.recordedHash(of: metadata, under: root, copied: both) == nil, "the content's only")
        try AtomicFile.write(content + Data("!".utf8), to: "\(root)/\(raw)")
        #expect(DatastoreMigration.recordedHash(of: raw, under: root, copied: both) == nil, "not the recorded size")
        try AtomicFile.write(Data("name: [".utf8), to: "\(root)/\(metadata)")
        #expect(DatastoreMigration.recordedHash(of: raw, under: root, copied: both) == nil, "metadata that does not parse")
    }

    @Test func migrationSyncsThroughTheGatewayWithoutOptions() async throws {
        let legacy = LegacyRecordingSyncService()
        let repository = try Repository(sync: legacy)
        defer { repository.directory.remove() }
        let result = try await DatastoreMigration(workspace: repository.workspace).moveToRemote(
            DatastoreSpec(type: "memory"),
            registry: {
                // Another remote (its own lock store), so the setup takes that remote's global lock.
                var registry = Workspace.builtInDatastores
                let store = InMemoryLockStore()
                let root = "\(repository.directory.path)/datastore"
                registry.register("memory") { _, _ in InMemoryProvider(root: root, store: store, syncService: legacy) }
                return registry
            }(), progress: { _ in })
        #expect(result.pushed == 0 && result.pulled == 0)
        // The structural command's pull-less, push-less frame, then the setup's own pull and push.
        #expect(legacy.recorder.transfers == [.pull(nil), .push(nil)])
        #expect(repository.store.held.isEmpty)
    }
}

/// Counts like a real backend: three files and one GET per pull.
final class CountingSyncService: DatastoreSyncService {
    let total = Mutex(SyncActivity())
    func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        total.withLock {
            $0.pulled += 3
            $0.requests["GET", default: 0] += 1
        }
        return 3
    }
    func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int { 0 }
    func markDirty(_ options: DatastoreSyncOptions?) throws {}
    func activity() -> SyncActivity? { total.withLock { $0 } }
}
