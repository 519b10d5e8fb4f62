import Foundation
import SwampContracts

/// The bounded, growing, jittered wait used between lock attempts (by every lock implementation).
public struct LockWait: Sendable {
    private var delay: Duration
    private let maximum: Duration
    let deadline: ContinuousClock.Instant
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameter now: the monotonic clock (a test's manual one).
    public init(
        options: LockOptions, timeout: Duration? = nil, now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        delay = options.pollInterval
        maximum = options.maxPollInterval
        self.now = now
        deadline = now() + (timeout ?? options.waitTimeout)
    }

    public var expired: Bool { now() >= deadline }

    /// The next pause: the current delay with jitter (`jitter` in 0.5…1), never past the deadline.
    package func nextPause(jitter: Double) -> Duration {
        let next = delay * jitter
        let remaining = deadline - now()
        return next > remaining ? max(remaining, .milliseconds(1)) : next
    }

    /// Sleeps for the next delay (never past the deadline) and grows it.
    public mutating func pause() async throws {
        try await Task.sleep(for: nextPause(jitter: Double.random(in: 0.5...1.0)))
        delay = min(delay * 2, maximum)
    }
}

/// Messages shared by every lock implementation, so users see one wording.
public enum LockMessages {
    /// The remedy for a lock held too long: how to release it by force.
    public static func releaseCommand(for key: LockKey) -> String {
        switch key.scope {
        case .global: return "swamp datastore lock release --force"
        case .model(let ref): return "swamp datastore lock release --force --model \(ref.sortKey)"
        }
    }

    /// The error thrown when waiting for `key` ran out.
    public static func timeout(_ key: LockKey, holder: LockInfo?, waited: Duration) -> LockError {
        let who = holder.map { "held by \($0.holderDescription) since \(UTCTime.iso8601($0.acquiredAt, milliseconds: false))" } ?? "held"
        return LockError(
            .timeout, key: key,
            message: """
                timed out after \(waited) waiting for the \(key) lock (\(who)). \
                If that process is gone, the lock expires by itself after its TTL; \
                to release it now run '\(releaseCommand(for: key))'. \
                To wait longer set SWAMP_LOCK_TIMEOUT_MS.
                """,
            holder: holder)
    }

    /// The error thrown when a holder finds its lock gone or taken over.
    public static func lost(_ key: LockKey, now: LockInfo?) -> LockError {
        let detail = now.map { "it is now held by \($0.holderDescription)" } ?? "it was removed"
        return LockError(
            .lost, key: key,
            message: "lost the \(key) lock (\(detail)); stopping so that no write happens without it. Run the command again.",
            holder: now)
    }
}

extension LockInfo {
    /// A fresh lock record for this process: holder from `options`, a new nonce, acquired `now`.
    public static func forThisProcess(options: LockOptions, now: Date) -> LockInfo {
        LockInfo(
            holder: options.holder, hostname: ProcessIdentity.hostname, pid: ProcessIdentity.pid, acquiredAt: now,
            ttlMs: options.ttlMilliseconds, nonce: ProcessIdentity.nonce())
    }
}

extension LockInfo {
    /// A record standing in for a lock whose stored bytes cannot be decoded (e.g. edited by
    /// hand): its nonce is derived from those bytes, so `forceRelease` can still name it.
    public static func unreadable(_ data: Data, holder: String, modified: Date, options: LockOptions) -> LockInfo {
        LockInfo(
            holder: holder, hostname: "unknown", pid: 0, acquiredAt: modified, ttlMs: options.ttlMilliseconds,
            nonce: "\(unreadablePrefix)\(ContentHash.sha256(data).prefix(16))")
    }

    static let unreadablePrefix = "corrupt-"

    /// Whether a nonce names an unreadable lock record (see ``unreadable(_:holder:modified:options:)``).
    public static func isUnreadableNonce(_ nonce: String) -> Bool { nonce.hasPrefix(unreadablePrefix) }
}

/// Facts about this process recorded in ``LockInfo``.
enum ProcessIdentity {
    static let hostname: String = ProcessInfo.processInfo.hostName
    static let pid: Int32 = ProcessInfo.processInfo.processIdentifier

    static func nonce() -> String { UUID().uuidString.lowercased() }
}
