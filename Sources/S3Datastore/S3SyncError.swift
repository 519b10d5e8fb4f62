import SwampContracts

/// Why an S3 sync operation failed, with what to do about it.
public struct S3SyncError: ReportableError, Equatable, ItemScopedError {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The remote index or meta object cannot be read.
        public static let corruptIndex = Code("corrupt_remote_index")
        /// The remote index names a path outside the cache or another partition.
        public static let hostilePath = Code("hostile_remote_path")
        /// A downloaded object does not match the hash in the index.
        public static let hashMismatch = Code("hash_mismatch")
        /// Conditional writes kept conflicting.
        public static let contention = Code("commit_contention")
        /// The configuration is invalid.
        public static let invalidConfig = Code("invalid_config")
        /// The operation's deadline passed.
        public static let timeout = Code("sync_timeout")
        /// The index lists an object the bucket does not hold.
        public static let objectMissing = Code("object_missing")
        /// A version was collected (garbage) on the remote after this cache last pulled.
        public static let collected = Code("collected")
        /// Content the operation needs cannot be read from the remote.
        public static let contentUnavailable = Code("content_unavailable")
        /// A local file changed or vanished while it was being pushed.
        public static let localFileChanged = Code("local_file_changed")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
    public var errorCode: String { code.rawValue }

    public var concernsOneItem: Bool { [.collected, .objectMissing, .hashMismatch].contains(code) }
}
