import Foundation
import SwampContracts
import Synchronization

/// Lock state shared by every ``InMemoryLock`` made from it: one "datastore" in memory.
public final class InMemoryLockStore: Sendable {
    let entries = Mutex<[LockKey: LockInfo]>([:])
    let released = Mutex<[(key: LockKey, nonce: String)]>([])

    public init() {}

    /// Every lock removed by ``InMemoryLock/forceRelease(expectedNonce:)``, in order: its key and nonce.
    public var forceReleased: [(key: LockKey, nonce: String)] { released.withLock { $0 } }

    /// Puts a lock in place directly (e.g. one left by a crashed holder).
    public func plant(_ key: LockKey, _ info: LockInfo) { entries.withLock { $0[key] = info } }

    /// Every held lock.
    public var held: [(key: LockKey, info: LockInfo)] {
        entries.withLock { $0.map { (key: $0.key, info: $0.value) } }.sorted { $0.key.description < $1.key.description }
    }
}

/// A ``DistributedLock`` test double with the contract's semantics (no heartbeat:
/// a holder's lock stays fresh until its TTL passes on the injected clock).
public final class InMemoryLock: DistributedLock {
    public let key: LockKey
    private let store: InMemoryLockStore
    private let options: LockOptions
    private let now: @Sendable () -> Date
    private let held = Mutex<LockInfo?>(nil)

    public init(key: LockKey, store: InMemoryLockStore, options: LockOptions = LockOptions(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.key = key
        self.store = store
        self.options = options
        self.now = now
    }

    public func acquire() async throws {
        guard held.withLock({ $0 == nil }) else { return }
        let deadline = ContinuousClock.now + options.waitTimeout
        while true {
            let info = LockInfo(
                holder: options.holder, hostname: "memory", pid: 0, acquiredAt: now(), ttlMs: options.ttlMilliseconds,
                nonce: UUID().uuidString)
            let current: LockInfo? = store.entries.withLock { entries in
                if let existing = entries[key], !existing.isStale(at: now()) { return existing }
                entries[key] = info
                return nil
            }
            guard let current else {
                held.withLock { $0 = info }
                return
            }
            if ContinuousClock.now >= deadline {
                throw LockError(
                    .timeout, key: key, message: "timed out waiting for the \(key) lock held by \(current.holderDescription)", holder: current)
            }
            try await Task.sleep(for: options.pollInterval)
        }
    }

    public func release() async throws {
        guard
            let mine = held.withLock({ value -> LockInfo? in
                defer { value = nil }
                return value
            })
        else { return }
        store.entries.withLock { entries in
            if entries[key]?.nonce == mine.nonce { entries[key] = nil }
        }
    }

    public func inspect() async throws -> LockInfo? { store.entries.withLock { $0[key] } }

    public func forceRelease(expectedNonce: String) async throws -> Bool {
        store.entries.withLock { entries in
            guard entries[key]?.nonce == expectedNonce else { return false }
            entries[key] = nil
            store.released.withLock { $0.append((key: key, nonce: expectedNonce)) }
            return true
        }
    }

    public func checkHeld() async throws {
        guard let mine = held.withLock({ $0 }) else {
            throw LockError(.lost, key: key, message: "the \(key) lock is not held by this holder")
        }
        let current = store.entries.withLock { $0[key] }
        if current?.nonce != mine.nonce {
            throw LockError(.lost, key: key, message: "lost the \(key) lock", holder: current)
        }
    }
}

/// A ``DatastoreProvider`` test double whose locks live in memory and whose sync
/// service is whatever the test passes.
public struct InMemoryProvider: DatastoreProvider {
    public let type = "memory"
    public let store: InMemoryLockStore
    public let root: String
    private let syncService: (any DatastoreSyncService)?
    private let now: @Sendable () -> Date

    public init(
        root: String, store: InMemoryLockStore = InMemoryLockStore(), syncService: (any DatastoreSyncService)?,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.root = root
        self.store = store
        self.syncService = syncService
        self.now = now
    }

    public func createLock(_ key: LockKey, options: LockOptions) throws -> any DistributedLock {
        InMemoryLock(key: key, store: store, options: options, now: now)
    }

    public func heldLocks() async throws -> [(key: LockKey, info: LockInfo)] { store.held }

    public func createVerifier() -> any DatastoreVerifier { AlwaysHealthyVerifier() }

    public func createSyncService(repoDir: String, cachePath: String) throws -> (any DatastoreSyncService)? { syncService }

    public func resolveDatastorePath(repoDir: String) -> String { root }

    public func resolveCachePath(repoDir: String) -> String? { root }
}

struct AlwaysHealthyVerifier: DatastoreVerifier {
    func verify() async throws -> DatastoreHealth { DatastoreHealth(healthy: true, message: "in-memory datastore") }
}
