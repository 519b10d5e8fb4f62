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
