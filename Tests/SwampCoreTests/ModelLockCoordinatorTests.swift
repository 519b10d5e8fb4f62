import Foundation
import SwampContracts
import SwampSupport
import Synchronization
import Testing

@testable import SwampCore
@testable import SwampTesting

/// The orchestration of SPEC §3.1, pinned with the recording sync service.
@Suite struct ModelLockCoordinatorTests {
    let a = ModelRef(modelType: "command/shell", modelId: "aaaaaaaa-0000-4000-8000-000000000001")
    let b = ModelRef(modelType: "command/shell", modelId: "bbbbbbbb-0000-4000-8000-000000000002")
    let c = ModelRef(modelType: "aws/ec2/vpc", modelId: "cccccccc-0000-4000-8000-000000000003")

    /// A coordinator over in-memory locks, a catalog on a temporary datastore, and `sync`.
    struct Harness {
        let directory = TemporaryDirectory("coordinator")
        let store = InMemoryLockStore()
        let catalog: Catalog
        let coordinator: ModelLockCoordinator
        var root: String { "\(directory.path)/datastore" }

        init(sync: (any DatastoreSyncService)?, waitTimeout: Duration = .seconds(5), provider: ((InMemoryProvider) -> any DatastoreProvider)? = nil)
            throws
        {
            let root = "\(directory.path)/datastore"
            catalog = try Catalog(path: "\(directory.path)/catalog.db", layout: DatastoreLayout(root: root))
            let base = InMemoryProvider(root: root, store: store, syncService: sync)
            let catalog = self.catalog
            coordinator = ModelLockCoordinator(
                provider: provider?(base) ?? base, syncService: sync,
                lockOptions: LockOptions(waitTimeout: waitTimeout, pollInterval: .milliseconds(5), maxPollInterval: .milliseconds(20)),
                invalidateCatalog: { try catalog.invalidate() })
        }
    }

    @Test func scopedServiceGetsAllModelsSortedInOnePullAndOnePush() async throws {
        let sync = RecordingSyncService(capabilities: .returns(SyncCapabilities(scopedSync: true)))
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }

        let session = try await harness.coordinator.acquireModelLocks([b, a, c, b, a])
        #expect(session.synced)
        #expect(session.models == [c, a, b])  // "aws/..." < "command/shell/aaaa..." < "command/shell/bbbb..."
        try await session.flush()

        #expect(
            sync.recorder.transfers == [
                // One pull, once every model lock is held (the backend pulls the partitions
                // side by side), and one push.
                .pull(.scoped(to: [c, a, b])), .push(.scoped(to: [c, a, b])),
            ])
        #expect(sync.recorder.capabilityQueries == 1)
        #expect(harness.store.held.isEmpty)
    }

    @Test func serviceWithoutCapabilitiesGetsNoOptionsAtAll() async throws {
        let sync = LegacyRecordingSyncService()
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }

        let session = try await harness.coordinator.acquireModelLocks([a, b])
        #expect(session.synced)
        #expect(!session.scoped)
        try await session.flush()

        #expect(sync.recorder.transfers == [.pull(nil), .push(nil)])
        // `nil` is "no options", which is not the same as empty options.
        for call in sync.recorder.transfers {
            switch call {
            case .pull(let options), .push(let options):
                #expect(options == nil)
                #expect(options != DatastoreSyncOptions())
            default: Issue.record("unexpected \(call)")
            }
        }
    }

    @Test func serviceWithoutScopedSyncIsCalledWithoutOptionsToo() async throws {
        let sync = RecordingSyncService(capabilities: .returns(SyncCapabilities(lazyHydration: true)))
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }

        try await harness.coordinator.acquireModelLocks([a]).flush()
        #expect(sync.recorder.transfers == [.pull(nil), .push(nil)])
    }

    @Test func throwingCapabilitiesDegradesToFullSyncAndTheRunSucceeds() async throws {
        // The double reports 7 files pushed: the outcome must carry the service's count.
        let sync = RecordingSyncService(capabilities: .throwsError, onPush: { _ in 7 })
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }

        let session = try await harness.coordinator.acquireModelLocks([a, b])
        #expect(session.synced)
        let pushed = try await session.flush().pushed
        #expect(pushed == 7)
        #expect(sync.recorder.transfers == [.pull(nil), .push(nil)])
        #expect(sync.recorder.capabilityQueries == 1)
    }

    @Test func pulledDataBecomesVisibleInTheCatalog() async throws {
        let teammate = Fixtures.model("from-teammate", id: a.modelId)
        let rootBox = Mutex<String?>(nil)
        let sync = RecordingSyncService(
            capabilities: .returns(SyncCapabilities(scopedSync: true)),
            onPull: { _ in
                let root = rootBox.withLock { $0 } ?? ""
                try Fixtures.writeRemoteVersion(root: root, model: teammate, name: "result", version: 3, content: Data("from remote".utf8))
                return 3
            })
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }
        rootBox.withLock { $0 = harness.root }

        try harness.catalog.rebuild()
        #expect(try harness.catalog.latestItems().isEmpty)
        #expect(try !harness.catalog.isStale())

        let session = try await harness.coordinator.acquireModelLocks([a])
        #expect(session.synced)
        #expect(try harness.catalog.isStale())
        let items = try harness.catalog.latestItems()
        #expect(items.map(\.modelName) == ["from-teammate"])
        #expect(items.map(\.version) == [3])
        try await session.flush()
    }

    @Test func unscopedPullInvalidatesTheCatalogToo() async throws {
        let harness = try Harness(sync: LegacyRecordingSyncService())
        defer { harness.directory.remove() }
        try harness.catalog.rebuild()
        let session = try await harness.coordinator.acquireModelLocks([a])
        #expect(session.synced)
        #expect(try harness.catalog.isStale())
        try await session.flush()
    }

    @Test func withoutASyncServiceNothingIsSyncedAndTheCatalogIsKept() async throws {
        let harness = try Harness(sync: nil)
        defer { harness.directory.remove() }
        try harness.catalog.rebuild()
        let session = try await harness.coordinator.acquireModelLocks([a])
        #expect(!session.synced)
        #expect(try !harness.catalog.isStale())
        #expect(harness.store.held.map(\.key) == [.model(a)])
        try await session.flush()
        #expect(harness.store.held.isEmpty)
    }

    @Test func pushFailureStillReleasesEveryModelLock() async throws {
        let sync = RecordingSyncService(
            capabilities: .returns(SyncCapabilities(scopedSync: true)),
            onPush: { _ in throw RecordingSyncService.Failure("remote said no") })
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }

        let session = try await harness.coordinator.acquireModelLocks([a, b, c])
        #expect(harness.store.held.count == 3)
        await #expect(throws: RecordingSyncService.Failure.self) { try await session.flush() }
        #expect(harness.store.held.isEmpty)
        // And the models can be locked again at once.
        try await harness.coordinator.acquireModelLocks([a, b, c]).abandon()
    }

    @Test func pullFailureReleasesTheLocksTakenSoFar() async throws {
        let sync = RecordingSyncService(
            capabilities: .returns(SyncCapabilities(scopedSync: true)),
            onPull: { options in
                if options?.context?.models?.contains(ModelRef(modelType: "command/shell", modelId: "bbbbbbbb-0000-4000-8000-000000000002")) == true {
                    throw RecordingSyncService.Failure("pull of b failed")
                }
                return 0
            })
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }
        await #expect(throws: RecordingSyncService.Failure.self) { _ = try await harness.coordinator.acquireModelLocks([a, b]) }
        #expect(harness.store.held.isEmpty)
    }

    @Test func heldGlobalLockIsWaitedFor() async throws {
        // For each pull: whether the global lock had been let go when it was made.
        let released = Mutex(false)
        let pulls = Mutex<[Bool]>([])
        let sync = RecordingSyncService(
            capabilities: .returns(SyncCapabilities(scopedSync: true)),
            onPull: { _ in
                pulls.withLock { $0.append(released.withLock { $0 }) }
                return 0
            })
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }
        let global = InMemoryLock(key: .global, store: harness.store)
        try await global.acquire()
        let events = Mutex<[String]>([])

        async let session = harness.coordinator.acquireModelLocks([a])
        try await Task.sleep(for: .milliseconds(150))
        events.withLock { $0.append("global released") }
        released.withLock { $0 = true }
        try await global.release()
        let acquired = try await session
        events.withLock { $0.append("acquired") }

        #expect(events.withLock { $0 } == ["global released", "acquired"])
        // No pull while the global lock was held: the one pull came after the release.
        let made = pulls.withLock { $0 }
        #expect(made == [true], "\(made)")
        #expect(sync.recorder.transfers == [.pull(.scoped(to: [a]))])
        try await acquired.flush()
    }

    @Test func heldGlobalLockTimesOutNamingTheHolderAndHoldsNothing() async throws {
        let harness = try Harness(sync: LegacyRecordingSyncService(), waitTimeout: .milliseconds(200))
        defer { harness.directory.remove() }
        let global = InMemoryLock(key: .global, store: harness.store, options: LockOptions(holder: "swamp data gc"))
        try await global.acquire()
        do {
            _ = try await harness.coordinator.acquireModelLocks([a])
            Issue.record("acquired while the global lock was held")
        } catch let error as LockError {
            #expect(error.code == .timeout)
            #expect(error.message.contains("swamp data gc"))
            #expect(error.message.contains("swamp datastore lock release --force"))
        }
        #expect(harness.store.held.map(\.key) == [.global])
    }

    @Test func staleGlobalLockIsForceReleasedByNonce() async throws {
        let sync = LegacyRecordingSyncService()
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }
        let crashed = LockInfo(
            holder: "crashed gc", hostname: "h", pid: 9, acquiredAt: Date().addingTimeInterval(-3600), ttlMs: 30_000, nonce: "dead-nonce")
        harness.store.plant(.global, crashed)

        let session = try await harness.coordinator.acquireModelLocks([a])
        #expect(!harness.store.held.contains { $0.key == .global })
        #expect(harness.store.held.map(\.key) == [.model(a)])
        // Released by the crashed holder's nonce, and nothing else was force-released.
        #expect(harness.store.forceReleased.map(\.key) == [.global])
        #expect(harness.store.forceReleased.map(\.nonce) == ["dead-nonce"])
        try await session.flush()
    }

    @Test func globalLockTakenMidAcquisitionCausesReleaseAndRestart() async throws {
        let sync = RecordingSyncService(capabilities: .returns(SyncCapabilities(scopedSync: true)))
        let fired = Mutex(false)
        let harness = try Harness(sync: sync) { base in
            HookedProvider(base: base) { key, store in
                // The first time model b is locked, a structural command grabs the global lock and
                // finishes 50 ms later.
                guard key == .model(b),
                    !fired.withLock({
                        let was = $0
                        $0 = true
                        return was
                    })
                else { return }
                let gc = InMemoryLock(key: .global, store: store, options: LockOptions(holder: "gc"))
                try await gc.acquire()
                Task {
                    try? await Task.sleep(for: .milliseconds(50))
                    try? await gc.release()
                }
            }
        }
        defer { harness.directory.remove() }

        let session = try await harness.coordinator.acquireModelLocks([a, b])
        #expect(session.restarts == 1)
        #expect(Set(harness.store.held.map(\.key)) == [.model(a), .model(b)])
        // The read after both locks found the global lock: nothing was pulled before the restart.
        #expect(sync.recorder.transfers == [.pull(.scoped(to: [a, b]))])
        #expect(sync.recorder.capabilityQueries == 1)
        try await session.flush()
        #expect(harness.store.held.isEmpty)
    }

    @Test func lostLockStopsTheFlushBeforeThePush() async throws {
        let sync = RecordingSyncService(capabilities: .returns(SyncCapabilities(scopedSync: true)))
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }
        let session = try await harness.coordinator.acquireModelLocks([a])
        let mine = try #require(harness.store.held.first?.info)
        _ = try await InMemoryLock(key: .model(a), store: harness.store).forceRelease(expectedNonce: mine.nonce)
        await #expect(throws: LockError.self) { try await session.flush() }
        #expect(!sync.recorder.transfers.contains { if case .push = $0 { return true } else { return false } })
    }

    @Test func structuralCommandsWaitForModelLocksAndSyncWithoutOptions() async throws {
        let sync = RecordingSyncService(capabilities: .returns(SyncCapabilities(scopedSync: true)))
        let harness = try Harness(sync: sync)
        defer { harness.directory.remove() }
        let running = try await harness.coordinator.acquireModelLocks([a])
        let order = Mutex<[String]>([])
        async let structural: Void = harness.coordinator.withGlobalLock {
            order.withLock { $0.append("structural body") }
        }
        try await Task.sleep(for: .milliseconds(100))
        order.withLock { $0.append("model run finished") }
        try await running.flush()
        try await structural
        #expect(order.withLock { $0 } == ["model run finished", "structural body"])
        #expect(harness.store.held.isEmpty)
    }
}

/// Wraps a provider so a test can act right after a model lock is acquired.
struct HookedProvider: DatastoreProvider {
    let base: InMemoryProvider
    let afterAcquire: @Sendable (LockKey, InMemoryLockStore) async throws -> Void
    var type: String { base.type }

    func createLock(_ key: LockKey, options: LockOptions) throws -> any DistributedLock {
        HookedLock(inner: try base.createLock(key, options: options), store: base.store, afterAcquire: afterAcquire)
    }
    func heldLocks() async throws -> [(key: LockKey, info: LockInfo)] { try await base.heldLocks() }
    func createVerifier() -> any DatastoreVerifier { base.createVerifier() }
    func createSyncService(repoDir: String, cachePath: String) throws -> (any DatastoreSyncService)? { nil }
    func resolveDatastorePath(repoDir: String) -> String { base.root }
    func resolveCachePath(repoDir: String) -> String? { nil }
}

struct HookedLock: DistributedLock {
    let inner: any DistributedLock
    let store: InMemoryLockStore
    let afterAcquire: @Sendable (LockKey, InMemoryLockStore) async throws -> Void
    var key: LockKey { inner.key }

    func acquire() async throws {
        try await inner.acquire()
        try await afterAcquire(key, store)
    }
    func release() async throws { try await inner.release() }
    func inspect() async throws -> LockInfo? { try await inner.inspect() }
    func forceRelease(expectedNonce: String) async throws -> Bool { try await inner.forceRelease(expectedNonce: expectedNonce) }
    func checkHeld() async throws { try await inner.checkHeld() }
}
