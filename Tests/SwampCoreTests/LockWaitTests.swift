import Foundation
import SwampContracts
import SwampSupport
import Synchronization
import Testing

@testable import SwampCore

/// A monotonic clock a test moves by hand.
final class ManualClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
    func advance(by duration: Duration) { instant.withLock { $0 += duration } }
}

@Suite struct LockWaitTests {
    @Test func aWaitExpiresAtItsTimeoutByTheInjectedClock() {
        let clock = ManualClock()
        let wait = LockWait(options: LockOptions(waitTimeout: .seconds(60)), now: { clock.now })
        #expect(!wait.expired)
        clock.advance(by: .seconds(59))
        #expect(!wait.expired)
        clock.advance(by: .seconds(1))
        #expect(wait.expired)
    }

    @Test func aPauseNeverSleepsPastTheDeadline() {
        let clock = ManualClock()
        let options = LockOptions(waitTimeout: .seconds(10), pollInterval: .seconds(4), maxPollInterval: .seconds(8))
        let wait = LockWait(options: options, now: { clock.now })
        #expect(wait.nextPause(jitter: 1) == .seconds(4))
        #expect(wait.nextPause(jitter: 0.5) == .seconds(2))
        clock.advance(by: .seconds(9))
        #expect(wait.nextPause(jitter: 1) == .seconds(1))
        clock.advance(by: .seconds(5))
        #expect(wait.nextPause(jitter: 1) == .milliseconds(1))
    }
}
