import Foundation
import SwampContracts
import Synchronization
import Testing

@testable import S3Datastore

/// The two-clock staleness rule of S3 locks, with every clock injected: no server.
@Suite struct LockStalenessTests {
    final class ManualClock: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        var now: ContinuousClock.Instant { instant.withLock { $0 } }
        func advance(by duration: Duration) { instant.withLock { $0 += duration } }
    }

    static let now = Date(timeIntervalSince1970: 2_000_000_000)
    static func record(acquired: Date) -> LockInfo {
        LockInfo(holder: "a", hostname: "h", pid: 1, acquiredAt: acquired, ttlMs: 30_000, nonce: "n")
    }

    @Test func aVersionAgesOnlyWhileItIsSeenUnchanged() {
        let clock = ManualClock()
        let observations = LockObservations(now: { clock.now })
        #expect(observations.age(of: "lock#etag-1") == 0)
        clock.advance(by: .seconds(12))
        #expect(observations.age(of: "lock#etag-1") == 12)
        // A heartbeat changed the ETag: a new version, seen for the first time.
        #expect(observations.age(of: "lock#etag-2") == 0)
    }

    @Test func aServerDateSkewedAheadDoesNotMakeALiveLockStale() {
        // The server says 40 s since the last write; this process has seen the version for 0.4 s.
        let info = S3Lock.observed(
            Self.record(acquired: Self.now), serverDate: Self.now.addingTimeInterval(40), lastModified: Self.now, localAge: 0.4, now: Self.now)
        #expect(!info.isStale(at: Self.now))
        #expect(info.acquiredAt == Self.now.addingTimeInterval(-0.4))
    }

    @Test func anAbandonedLockIsStaleOnceBothClocksPassTheTTL() {
        let info = S3Lock.observed(
            Self.record(acquired: Self.now.addingTimeInterval(-100)), serverDate: Self.now, lastModified: Self.now.addingTimeInterval(-100),
            localAge: 31, now: Self.now)
        #expect(info.isStale(at: Self.now))
        // Seen for only 10 s here: not yet, however old the server says it is.
        let young = S3Lock.observed(
            Self.record(acquired: Self.now.addingTimeInterval(-100)), serverDate: Self.now, lastModified: Self.now.addingTimeInterval(-100),
            localAge: 10, now: Self.now)
        #expect(!young.isStale(at: Self.now))
    }

    @Test func withoutServerHeadersTheRecordsOwnTimeStandsInForTheServers() {
        let info = S3Lock.observed(
            Self.record(acquired: Self.now.addingTimeInterval(-5)), serverDate: nil, lastModified: nil, localAge: 100, now: Self.now)
        #expect(info.acquiredAt == Self.now.addingTimeInterval(-5))
        #expect(!info.isStale(at: Self.now))
    }
}
