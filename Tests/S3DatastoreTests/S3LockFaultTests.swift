import Foundation
import S3Client
import SwampContracts
import SwampTestSupport
import Testing

@testable import S3Datastore

/// `S3Lock` through a proxy that loses responses and delays requests: a lock is never leaked,
/// never waited on by its own holder, and never reported lost while it is held.
@Suite(.enabled(if: S3TestServer.available, "needs the S3 test server (scripts/test.sh)"))
struct S3LockFaultTests {
    struct Fixture {
        let bucket: S3Bucket
        let proxy: FaultProxy
        let provider: S3Provider

        static func make() async throws -> Fixture {
            let bucket = try await S3Bucket.make()
            let proxy = try await FaultProxy.start(upstream: bucket.endpoint)
            var settings = try bucket.settings()
            settings.endpoint = URL(string: proxy.endpoint)
            let provider = S3Provider(
                settings: settings, credentials: S3TestServer.credentials, cacheRoot: bucket.directory.path, hydration: .full,
                logger: .init(label: "t"))
            return Fixture(bucket: bucket, proxy: proxy, provider: provider)
        }

        func lock(ttl: Duration = .seconds(30), heartbeat: Duration? = nil) throws -> S3Lock {
            let options = LockOptions(ttl: ttl, waitTimeout: .seconds(25), heartbeatOverride: heartbeat)
            return try #require(try provider.createLock(.global, options: options) as? S3Lock)
        }

        /// The lock object as the server holds it (bypassing the proxy).
        func stored() async throws -> LockInfo? {
            guard case .found(let response) = try await bucket.client().get(provider.remote.lockKey(.global)) else { return nil }
            return try JSONDecoder.lock.decode(LockInfo.self, from: response.body)
        }

        func remove() {
            proxy.stop()
            bucket.directory.remove()
        }
    }

    /// The create reached the server but its response was lost: the retry gets 412 on our own
    /// object, and the lock is ours at once — no waiting on ourselves.
    @Test func aLostAcquireResponseDoesNotMakeTheHolderWaitOnItself() async throws {
        let fixture = try await Fixture.make()
        defer { fixture.remove() }
        let lock = try fixture.lock()
        try await fixture.proxy.set([.init("drop_response", method: "PUT", path: "_swamp/locks/")])
        let started = ContinuousClock.now
        try await lock.acquire()
        // Waiting on itself would last until its own lock went stale (30 s) or the wait ran out (25 s).
        #expect(ContinuousClock.now - started < .seconds(10))
        let log = try await fixture.proxy.log()
        #expect(log.filter { $0.method == "PUT" }.map(\.status) == [0, 412], "\(log.map { "\($0.method) \($0.status)" })")
        try await lock.checkHeld()
        try await lock.release()
        #expect(try await fixture.stored() == nil)
    }

    /// A heartbeat whose response was lost is retried and gets 412 on our own refreshed object:
    /// still held, not lost.
    @Test func aLostHeartbeatResponseIsNotALoss() async throws {
        let fixture = try await Fixture.make()
        defer { fixture.remove() }
        let lock = try fixture.lock(ttl: .seconds(3), heartbeat: .milliseconds(200))
        try await lock.acquire()
        try await fixture.proxy.clearLog()
        try await fixture.proxy.set([.init("drop_response", method: "PUT", path: "_swamp/locks/")])
        // Several heartbeats: the first one's response lost, its retry refused (412) on our own refresh.
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, try await fixture.proxy.log().filter({ $0.method == "PUT" && $0.status == 200 }).count < 2 {
            try await Task.sleep(for: .milliseconds(100))
        }
        let puts = try await fixture.proxy.log().filter { $0.method == "PUT" }
        #expect(puts.first?.status == 0 && puts.contains { $0.status == 412 }, "\(puts.map(\.status))")
        #expect(lock.detectedLoss == nil)
        try await lock.checkHeld()
        try await lock.release()
        #expect(try await fixture.stored() == nil)
    }

    /// A heartbeat in flight when the holder releases: the release waits for it and deletes the
    /// lock whatever ETag the heartbeat left — nothing leaks until the TTL.
    @Test func aHeartbeatInFlightAtReleaseDoesNotLeakTheLock() async throws {
        let fixture = try await Fixture.make()
        defer { fixture.remove() }
        let lock = try fixture.lock(ttl: .seconds(30), heartbeat: .milliseconds(300))
        try await lock.acquire()
        try await fixture.proxy.set([.init("delay", method: "PUT", path: "_swamp/locks/", ms: 800)])
        try await Task.sleep(for: .milliseconds(500))  // the first heartbeat is now held by the proxy
        try await lock.release()
        try await Task.sleep(for: .milliseconds(1000))  // let the delayed refresh reach the server
        #expect(try await fixture.stored() == nil, "the lock leaked")
    }

    /// Two holders in turn: the second takes over a stale lock; the first's heartbeat then finds
    /// another nonce and records the loss (its commit would be refused).
    @Test func aTakenOverLockIsReportedLostByItsOldHolder() async throws {
        let fixture = try await Fixture.make()
        defer { fixture.remove() }
        let first = try fixture.lock(ttl: .milliseconds(600), heartbeat: .seconds(60))
        try await first.acquire()
        try await Task.sleep(for: .milliseconds(800))
        let second = try fixture.lock(ttl: .seconds(30))
        try await second.acquire()
        await #expect(throws: LockError.self) { try await first.checkHeld() }
        #expect(first.detectedLoss?.code == .lost)
        try await first.release()
        #expect(try await fixture.stored()?.nonce != nil, "the old holder's release removed the new holder's lock")
        try await second.release()
        #expect(try await fixture.stored() == nil)
    }

    /// The commit fence reads the lock only once its lease (half a TTL from the send of our
    /// last write that landed) may have run out; a heartbeat renews the lease; and past the
    /// lease a lock taken over is found lost by the read.
    @Test func theFenceReadsTheLockOnlyPastItsLease() async throws {
        let fixture = try await Fixture.make()
        defer { fixture.remove() }
        // No heartbeat during the test: the lease ends 1 s after the acquire was sent.
        let lock = try fixture.lock(ttl: .seconds(2), heartbeat: .seconds(60))
        try await lock.acquire()
        let fence = CommitFence.holding([lock])
        try await fixture.proxy.clearLog()
        try await fence.check()
        #expect(try await fixture.proxy.log().isEmpty, "a fresh lease needs no request")

        try await Task.sleep(for: .milliseconds(1200))
        try await fence.check()
        #expect(try await fixture.proxy.log().map(\.method) == ["GET"], "past the lease the fence reads the lock")

        // Taken over behind our back (the record replaced with another holder's).
        let other = LockInfo(holder: "other", hostname: "h", pid: 1, acquiredAt: Date(), ttlMs: 30_000, nonce: "someone-else")
        _ = try await fixture.bucket.client().put(
            fixture.provider.remote.lockKey(.global), data: try JSONEncoder.lock.encode(other), contentType: "application/json")
        await #expect(throws: LockError.self) { try await fence.check() }
        #expect(lock.heldUntil == nil, "a lost lock has no lease")
    }

    /// A heartbeat that lands moves the lease on.
    @Test func aHeartbeatRenewsTheLease() async throws {
        let fixture = try await Fixture.make()
        defer { fixture.remove() }
        let lock = try fixture.lock(ttl: .seconds(2), heartbeat: .milliseconds(300))
        try await lock.acquire()
        let first = try #require(lock.heldUntil)
        let deadline = ContinuousClock.now + .seconds(10)
        while let current = lock.heldUntil, current == first, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let later = try #require(lock.heldUntil)
        #expect(later >= first + .milliseconds(300), "a heartbeat (sent 300 ms or more after the acquire) renewed it")
        #expect(try await fixture.proxy.log().contains { $0.method == "PUT" && $0.status == 200 && $0.path.contains("_swamp/locks/") })
        try await lock.release()
        #expect(lock.heldUntil == nil)
    }

    /// A heartbeat whose write landed but whose response was lost finds our nonce on its retry's
    /// 412: the lock is still ours, but which of our writes landed, sent when, is unknown — the
    /// lease is not moved on by it (the next beat answered in full does that).
    @Test func aHeartbeatWithALostResponseDoesNotMoveTheLease() async throws {
        let fixture = try await Fixture.make()
        defer { fixture.remove() }
        let lock = try fixture.lock(ttl: .seconds(9), heartbeat: .seconds(1))
        try await lock.acquire()
        let leased = try #require(lock.heldUntil)
        // The first heartbeat: forwarded, its response cut.
        try await fixture.proxy.set([.init("drop_response", method: "PUT", path: "_swamp/locks/")])
        try await Self.waitFor { try await fixture.proxy.log().contains { $0.method == "GET" && $0.path.contains("_swamp/locks/") } }
        try await fixture.proxy.set([])
        try await Task.sleep(for: .milliseconds(200))
        #expect(lock.heldUntil == leased, "moved by a write whose send time is unknown")
        #expect(lock.detectedLoss == nil, "still ours")
        // The next heartbeat, answered, moves it.
        try await Self.waitFor { (lock.heldUntil ?? leased) > leased }
        try await lock.release()
    }

    static func waitFor(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
