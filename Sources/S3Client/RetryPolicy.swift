/// When and how long to wait before retrying a failed request: exponential
/// backoff with full jitter, capped.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, including the first. Default: 5.
    public var maxAttempts: Int
    /// The backoff base. Default: 100 ms.
    public var baseDelay: Duration
    /// The longest single wait. Default: 3 s.
    public var maxDelay: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(3)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1), for a random draw `jitter` in 0...1.
    public func delay(afterAttempt attempt: Int, jitter: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 16)
        let ceiling = min(baseDelay * (1 << exponent), maxDelay)
        return ceiling * max(0, min(1, jitter))
    }
}
