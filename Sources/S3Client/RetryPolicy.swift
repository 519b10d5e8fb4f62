/// When and how long to wait before retrying a failed request: exponential
/// backoff with full jitter, capped — and bounded in time as well as in attempts, so a
/// request that cannot succeed fails within seconds instead of minutes.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, including the first. Default: 5.
    public var maxAttempts: Int
    /// The backoff base. Default: 100 ms.
    public var baseDelay: Duration
    /// The longest single wait. Default: 3 s.
    public var maxDelay: Duration
    /// No retry starts once this much time has passed since the first attempt (5xx,
    /// throttling: the server answered, so patience may pay). Default: 30 s.
    public var maxElapsed: Duration
    /// The same bound for a request that reached no server at all (refused, reset before any
    /// answer, DNS): waiting rarely helps, so give up sooner. Default: 2 s.
    public var maxElapsedUnreachable: Duration

    public init(
        maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(3), maxElapsed: Duration = .seconds(30),
        maxElapsedUnreachable: Duration = .seconds(2)
    ) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxElapsed = maxElapsed
        self.maxElapsedUnreachable = maxElapsedUnreachable
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1), for a random draw `jitter` in 0...1.
    public func delay(afterAttempt attempt: Int, jitter: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 16)
        let ceiling = min(baseDelay * (1 << exponent), maxDelay)
        return ceiling * max(0, min(1, jitter))
    }

    /// Whether another attempt may start after `attempt` attempts that took `elapsed` so far,
    /// waiting `delay` first; `unreachable` when the last one reached no server.
    public func allowsRetry(afterAttempt attempt: Int, elapsed: Duration, delay: Duration, unreachable: Bool) -> Bool {
        attempt < maxAttempts && elapsed + delay <= (unreachable ? maxElapsedUnreachable : maxElapsed)
    }
}
