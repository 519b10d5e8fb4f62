/// How a lock is held and waited for.
public struct LockOptions: Hashable, Sendable {
    /// How long a lock stays valid without a heartbeat. Default: 30 s.
    public var ttl: Duration
    /// How long ``DistributedLock/acquire()`` waits for a held lock. Default: 60 s.
    public var waitTimeout: Duration
    /// The first delay between attempts while waiting; it grows to ``maxPollInterval``. Default: 25 ms.
    public var pollInterval: Duration
    /// The longest delay between attempts while waiting. Default: 500 ms.
    public var maxPollInterval: Duration
    /// Recorded in ``LockInfo/holder``. Default: `"swamp"`.
    public var holder: String
    /// Overrides the heartbeat period (default `nil`: a third of the TTL). Tests use a
    /// period longer than the TTL to stand for a holder that stopped responding.
    public var heartbeatOverride: Duration?

    public init(
        ttl: Duration = .seconds(30),
        waitTimeout: Duration = .seconds(60),
        pollInterval: Duration = .milliseconds(25),
        maxPollInterval: Duration = .milliseconds(500),
        holder: String = "swamp",
        heartbeatOverride: Duration? = nil
    ) {
        self.ttl = ttl
        self.waitTimeout = waitTimeout
        self.pollInterval = pollInterval
        self.maxPollInterval = maxPollInterval
        self.holder = holder
        self.heartbeatOverride = heartbeatOverride
    }

    /// The heartbeat period: a third of the TTL unless overridden.
    public var heartbeatInterval: Duration { heartbeatOverride ?? ttl / 3 }

    /// The TTL in whole milliseconds, as stored in ``LockInfo/ttlMs``.
    public var ttlMilliseconds: Int {
        let (seconds, attoseconds) = ttl.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
