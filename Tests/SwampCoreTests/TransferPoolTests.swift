import SwampSupport
import Testing

@testable import SwampCore

@Suite struct TransferPoolTests {
    @Test func transferPoolKeepsAtMostLimitInFlightAndPreservesOrder() async throws {
        let counter = InFlight()
        let results = try await forEachConcurrently(Array(0..<20), limit: 3) { item -> Int in
            await counter.enter()
            try await Task.sleep(for: .milliseconds(Int.random(in: 1...5)))
            await counter.leave()
            return item * 2
        }
        #expect(results == (0..<20).map { $0 * 2 })
        #expect(await counter.maximum == 3)
    }
}

actor InFlight {
    private var current = 0
    private(set) var maximum = 0
    func enter() {
        current += 1
        maximum = max(maximum, current)
    }
    func leave() { current -= 1 }
}
