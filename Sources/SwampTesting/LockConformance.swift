import Foundation
import SwampContracts
import Synchronization

/// The ``DistributedLock`` contract, as checks every lock implementation must pass.
///
/// A subject makes a fresh lock instance for a key and options; instances for the
/// same key must contend for the same underlying lock, as two processes would.
public enum LockConformance {
    /// Makes a lock instance (not acquired) for `key` with `options`.
    public typealias Factory = @Sendable (LockKey, LockOptions) throws -> any DistributedLock

    static let key = LockKey.model(ModelRef(modelType: "conformance/lock", modelId: "00000000-0000-4000-8000-000000000001"))
    static let quick = LockOptions(ttl: .seconds(30), waitTimeout: .milliseconds(300), pollInterval: .milliseconds(10), holder: "conformance")

    /// Every check.
    public static let checks: [ConformanceCheck<Factory>] = [
        ConformanceCheck("free lock inspects as nil", freeLockInspectsNil),
        ConformanceCheck("acquire records holder, TTL and nonce", acquireRecordsHolder),
        ConformanceCheck("contended acquire times out naming the holder", contendedAcquireTimesOut),
        ConformanceCheck("release twice is harmless and frees the lock", releaseIsIdempotent),
        ConformanceCheck("withLock releases on success", withLockReleasesOnSuccess),
        ConformanceCheck("withLock releases on error and rethrows", withLockReleasesOnError),
        ConformanceCheck("forceRelease removes only the expected nonce", forceReleaseChecksNonce),
        ConformanceCheck("stale lock is taken over; the old holder learns it lost", staleLockIsTakenOver),
        ConformanceCheck("concurrent holders never overlap", holdersNeverOverlap),
    ]

    /// Runs every check, throwing the first failure.
    public static func run(_ make: @escaping Factory) async throws {
        for check in checks { try await check.run(make) }
    }

    static func freeLockInspectsNil(_ make: Factory) async throws {
        let lock = try make(key, quick)
        let info = try await lock.inspect()
        try require(info == nil, "free lock", "inspect() returned \(String(describing: info)) for a lock nobody holds")
    }

    static func acquireRecordsHolder(_ make: Factory) async throws {
        let lock = try make(key, quick)
        try await lock.acquire()
        let info = try await lock.inspect()
        try require(info != nil, "acquire", "inspect() returned nil after acquire()")
        try require(info?.holder == "conformance", "acquire", "holder is \(info?.holder ?? "nil"), expected 'conformance'")
        try require(info?.ttlMs == 30_000, "acquire", "ttlMs is \(info?.ttlMs ?? -1), expected 30000")
        try require(info?.nonce.isEmpty == false, "acquire", "nonce is empty")
        try await lock.checkHeld()
        try await lock.release()
    }

    static func contendedAcquireTimesOut(_ make: Factory) async throws {
        let first = try make(key, quick)
        try await first.acquire()
        let nonce = try await first.inspect()?.nonce
        let second = try make(key, quick)
        do {
            try await second.acquire()
            try? await second.release()
            try? await first.release()
            throw ConformanceFailure("contention", "a second holder acquired a held lock")
        } catch let error as LockError {
            try? await first.release()
            try require(error.code == .timeout, "contention", "expected a timeout, got \(error.code)")
            try require(error.holder?.nonce == nonce, "contention", "the timeout does not name the holder")
        }
    }

    static func releaseIsIdempotent(_ make: Factory) async throws {
        let lock = try make(key, quick)
        try await lock.acquire()
        try await lock.release()
        try await lock.release()
        try require(try await lock.inspect() == nil, "release", "lock still held after release()")
        let other = try make(key, quick)
        try await other.acquire()
        try await lock.release()  // releasing again must not remove someone else's lock
        try require(try await other.inspect() != nil, "release", "a stale release() removed another holder's lock")
        try await other.release()
    }

    static func withLockReleasesOnSuccess(_ make: Factory) async throws {
        let lock = try make(key, quick)
        let value = try await lock.withLock { () async throws -> Int in
            try require(try await lock.inspect() != nil, "withLock", "lock not held inside withLock")
            return 42
        }
        try require(value == 42, "withLock", "withLock returned \(value), expected the body's 42")
        try require(try await lock.inspect() == nil, "withLock", "lock still held after withLock returned")
    }

    static func withLockReleasesOnError(_ make: Factory) async throws {
        struct Boom: Error {}
        let lock = try make(key, quick)
        do {
            _ = try await lock.withLock { () async throws -> Int in throw Boom() }
            throw ConformanceFailure("withLock", "the body's error was swallowed")
        } catch is Boom {}
        try require(try await lock.inspect() == nil, "withLock", "lock still held after the body threw")
    }

    static func forceReleaseChecksNonce(_ make: Factory) async throws {
        let lock = try make(key, quick)
        try await lock.acquire()
        let wrong = try await lock.forceRelease(expectedNonce: "not-the-nonce")
        try require(!wrong, "forceRelease", "forceRelease with a wrong nonce returned true")
        let info = try await lock.inspect()
        try require(info != nil, "forceRelease", "forceRelease with a wrong nonce removed the lock")
        let right = try await lock.forceRelease(expectedNonce: info?.nonce ?? "")
        try require(right, "forceRelease", "forceRelease with the right nonce returned false")
        try require(try await lock.inspect() == nil, "forceRelease", "lock still held after forceRelease")
        do {
            try await lock.checkHeld()
            throw ConformanceFailure("forceRelease", "checkHeld() did not report the forced release")
        } catch let error as LockError {
            try require(error.code == .lost, "forceRelease", "checkHeld() threw \(error.code), expected lost")
        }
        try await lock.release()
    }

    static func staleLockIsTakenOver(_ make: Factory) async throws {
        var stuck = quick
        stuck.ttl = .milliseconds(200)
        stuck.heartbeatOverride = .seconds(3600)
        let old = try make(key, stuck)
        try await old.acquire()
        let oldNonce = try await old.inspect()?.nonce
        var patient = quick
        patient.waitTimeout = .seconds(10)
        let new = try make(key, patient)
        try await new.acquire()
        let now = try await new.inspect()
        try require(now != nil && now?.nonce != oldNonce, "stale takeover", "the new holder does not hold the lock")
        do {
            try await old.checkHeld()
            throw ConformanceFailure("stale takeover", "the old holder's checkHeld() did not report the loss")
        } catch let error as LockError {
            try require(error.code == .lost, "stale takeover", "checkHeld() threw \(error.code), expected lost")
        }
        try await old.release()
        try require(try await new.inspect()?.nonce == now?.nonce, "stale takeover", "the old holder's release removed the new lock")
        try await new.release()
    }

    static func holdersNeverOverlap(_ make: Factory) async throws {
        var patient = quick
        patient.waitTimeout = .seconds(30)
        let inside = OverlapCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                let lock = try make(key, patient)
                group.addTask {
                    for _ in 0..<4 {
                        try await lock.withLock {
                            inside.enter()
                            try await Task.sleep(for: .milliseconds(2))
                            inside.leave()
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let result = inside.result
        try require(result.total == 24, "exclusion", "\(result.total) of 24 critical sections ran")
        try require(result.maximum == 1, "exclusion", "\(result.maximum) holders were inside at once")
    }
}

/// Counts how many holders are inside a critical section at once.
final class OverlapCounter: Sendable {
    private let state = Mutex((current: 0, maximum: 0, total: 0))

    func enter() {
        state.withLock {
            $0.current += 1
            $0.maximum = max($0.maximum, $0.current)
            $0.total += 1
        }
    }

    func leave() { state.withLock { $0.current -= 1 } }

    var result: (current: Int, maximum: Int, total: Int) { state.withLock { $0 } }
}
