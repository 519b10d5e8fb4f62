/// Why a lock operation failed, with what to do about it.
public struct LockError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Waiting for a held lock ran out of time.
        public static let timeout = Code("lock_timeout")
        /// This holder's lock was taken over or removed.
        public static let lost = Code("lock_lost")
        /// The lock's stored state cannot be read.
        public static let corrupt = Code("lock_corrupt")
        /// The lock storage failed (I/O, permissions, network).
        public static let storage = Code("lock_storage")
    }

    public let code: Code
    public let key: LockKey
    public let message: String
    /// The holder at the time of the failure, when known.
    public let holder: LockInfo?

    public init(_ code: Code, key: LockKey, message: String, holder: LockInfo? = nil) {
        self.code = code
        self.key = key
        self.message = message
        self.holder = holder
    }

    public var description: String { message }
}
