import Foundation

/// Who holds a lock, since when, and how to take it over when it goes stale.
public struct LockInfo: Hashable, Sendable, Codable {
    /// A human-readable holder description, e.g. `"swamp model method run"`.
    public var holder: String
    public var hostname: String
    public var pid: Int32
    /// When the lock was taken or last refreshed by a heartbeat.
    public var acquiredAt: Date
    /// How long after ``acquiredAt`` the lock counts as stale, in milliseconds.
    public var ttlMs: Int
    /// A random value unique to this acquisition; release and takeover check it.
    public var nonce: String

    public init(holder: String, hostname: String, pid: Int32, acquiredAt: Date, ttlMs: Int, nonce: String) {
        self.holder = holder
        self.hostname = hostname
        self.pid = pid
        self.acquiredAt = acquiredAt
        self.ttlMs = ttlMs
        self.nonce = nonce
    }

    /// When the lock becomes stale unless refreshed.
    public var expiresAt: Date { acquiredAt.addingTimeInterval(Double(ttlMs) / 1000) }

    /// Whether `acquiredAt + ttl` has passed at `now`.
    public func isStale(at now: Date) -> Bool { now >= expiresAt }

    /// `"holder (pid 123 on host)"` for messages.
    public var holderDescription: String { "\(holder) (pid \(pid) on \(hostname))" }

    /// Whether the record's fields are in range (a record read from shared storage is untrusted:
    /// one that is not is treated as unreadable, released by the name derived from its bytes).
    public var isPlausible: Bool {
        (1...86_400_000).contains(ttlMs) && (1...200).contains(nonce.utf8.count) && holder.utf8.count <= 1000
            && hostname.utf8.count <= 255 && pid >= 0 && acquiredAt.timeIntervalSince1970.isFinite
    }
}
