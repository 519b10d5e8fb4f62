import Synchronization

/// Runs `body` over `items` with at most `limit` in flight: a sliding window, so a
/// slow transfer never holds up the start of the next one (no barrier batches).
/// The first error cancels the rest and is rethrown.
public func forEachConcurrently<Item: Sendable, Result: Sendable>(
    _ items: [Item], limit: Int, _ body: @escaping @Sendable (Item) async throws -> Result
) async throws -> [Result] {
    guard !items.isEmpty else { return [] }
    return try await withThrowingTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: items.count)
        var next = 0
        let width = max(1, min(limit, items.count))
        while next < width {
            let index = next
            group.addTask { (index, try await body(items[index])) }
            next += 1
        }
        while let (index, result) = try await group.next() {
            results[index] = result
            if next < items.count {
                let index = next
                group.addTask { (index, try await body(items[index])) }
                next += 1
            }
        }
        return results.compactMap { $0 }
    }
}

/// A bound on the requests in flight shared by every transfer of one operation: the
/// partitions of a pull (their index reads, then their downloads) or the uploads and
/// commits of a push draw from one window, so no partition waits for another to finish
/// (no barrier between them) and the total in flight never exceeds `width`.
public final class TransferWindow: Sendable {
    public let width: Int
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>
    /// A window whose slot each slot of this one also takes (a narrower window inside a wider one).
    private let parent: TransferWindow?

    /// - Parameter parent: a window every slot of this one also holds a slot of (taken second:
    ///   nothing holding a slot of `parent` ever waits for this one, so the two never dead-lock).
    public init(width: Int, within parent: TransferWindow? = nil) {
        self.width = max(1, width)
        self.parent = parent
        state = Mutex(State(free: max(1, width)))
    }

    /// Runs `body` holding one of the window's slots (waiting for one first).
    public func withSlot<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        try Task.checkCancellation()
        if let parent { return try await parent.withSlot(body) }
        return try await body()
    }

    /// Runs `body` holding a slot only if more than `reserve` are free right now (never waits):
    /// `nil` when none was taken. For work worth doing only while the window is idle — it then
    /// never delays the work that queues for slots.
    public func withSlotIfFree<T: Sendable>(reserving reserve: Int, _ body: () async throws -> T) async throws -> T? {
        let taken = state.withLock { state -> Bool in
            guard state.free > reserve, state.waiting.isEmpty else { return false }
            state.free -= 1
            return true
        }
        guard taken else { return nil }
        defer { release() }
        try Task.checkCancellation()
        if let parent { return try await parent.withSlot(body) }
        return try await body()
    }

    /// Runs `body` over `items`, each holding a slot while it runs; results in order.
    public func forEach<Item: Sendable, Result: Sendable>(
        _ items: [Item], _ body: @escaping @Sendable (Item) async throws -> Result
    ) async throws -> [Result] {
        try await forEachConcurrently(items, limit: width) { item in try await self.withSlot { try await body(item) } }
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                guard state.free > 0 else {
                    state.waiting.append(continuation)
                    return false
                }
                state.free -= 1
                return true
            }
            if granted { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.free += 1
                return nil
            }
            // The slot passes straight to the first waiter.
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
