import Synchronization

/// Counts requests by kind and bytes each way; shared by everything using one client.
public final class RequestAccounting: Sendable {
    /// A point-in-time copy of the counters; subtract two to get what happened between.
    public struct Snapshot: Sendable, Equatable, Codable {
        /// Requests by HTTP method (`GET`, `PUT`, `HEAD`, `DELETE`), retries included.
        public var requests: [String: Int] = [:]
        /// Body bytes sent.
        public var bytesUp: Int64 = 0
        /// Body bytes received.
        public var bytesDown: Int64 = 0

        public init() {}

        public var totalRequests: Int { requests.values.reduce(0, +) }

        public static func - (lhs: Snapshot, rhs: Snapshot) -> Snapshot {
            var result = Snapshot()
            for (method, count) in lhs.requests {
                let difference = count - (rhs.requests[method] ?? 0)
                if difference != 0 { result.requests[method] = difference }
            }
            result.bytesUp = lhs.bytesUp - rhs.bytesUp
            result.bytesDown = lhs.bytesDown - rhs.bytesDown
            return result
        }
    }

    private let state = Mutex(Snapshot())

    public init() {}

    func record(method: String, bytesUp: Int, bytesDown: Int) {
        state.withLock {
            $0.requests[method, default: 0] += 1
            $0.bytesUp += Int64(bytesUp)
            $0.bytesDown += Int64(bytesDown)
        }
    }

    func recordDownload(_ bytes: Int) {
        state.withLock { $0.bytesDown += Int64(bytes) }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}
