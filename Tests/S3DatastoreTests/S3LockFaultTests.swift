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
}
