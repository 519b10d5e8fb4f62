/// Cumulative counters of what a sync service did; subtract two snapshots to
/// report one operation honestly.
public struct SyncActivity: Hashable, Sendable, Codable {
    /// Files downloaded into the cache.
    public var pulled: Int
    /// Files uploaded to the remote.
    public var pushed: Int
    /// Files deleted (remote deletions pushed plus local copies removed by pulls).
    public var deleted: Int
    /// Index entries a pull skipped because their object is missing or does not match its hash.
    public var skipped: Int
    /// Sync requests by kind (`GET`, `PUT`, `HEAD`, `DELETE`), retries included.
    public var requests: [String: Int]
    /// Lock requests (acquire, heartbeat, check, release, inspect) by kind, retries included:
    /// with ``requests``, everything the remote saw.
    public var lockRequests: [String: Int] = [:]
    public var bytesUp: Int64
    public var bytesDown: Int64
    /// Parts of multipart uploads sent, and ranges of large objects received (retries not
    /// included): large objects move in these.
    public var partsUp = 0
    public var partsDown = 0

    public init(
        pulled: Int = 0, pushed: Int = 0, deleted: Int = 0, skipped: Int = 0, requests: [String: Int] = [:], bytesUp: Int64 = 0,
        bytesDown: Int64 = 0
    ) {
        self.pulled = pulled
        self.pushed = pushed
        self.deleted = deleted
        self.skipped = skipped
        self.requests = requests
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
    }

    /// Every sync request, whatever its kind (lock requests not included).
    public var totalRequests: Int { requests.values.reduce(0, +) }

    /// Every request the remote saw: sync and lock.
    public var allRequests: Int { totalRequests + lockRequests.values.reduce(0, +) }

    public static func - (lhs: SyncActivity, rhs: SyncActivity) -> SyncActivity {
        func difference(_ lhs: [String: Int], _ rhs: [String: Int]) -> [String: Int] {
            var result: [String: Int] = [:]
            for (kind, count) in lhs where count - (rhs[kind] ?? 0) != 0 { result[kind] = count - (rhs[kind] ?? 0) }
            return result
        }
        let requests = difference(lhs.requests, rhs.requests)
        var result = SyncActivity(
            pulled: lhs.pulled - rhs.pulled, pushed: lhs.pushed - rhs.pushed, deleted: lhs.deleted - rhs.deleted,
            skipped: lhs.skipped - rhs.skipped, requests: requests, bytesUp: lhs.bytesUp - rhs.bytesUp, bytesDown: lhs.bytesDown - rhs.bytesDown)
        result.lockRequests = difference(lhs.lockRequests, rhs.lockRequests)
        result.partsUp = lhs.partsUp - rhs.partsUp
        result.partsDown = lhs.partsDown - rhs.partsDown
        return result
    }
}
