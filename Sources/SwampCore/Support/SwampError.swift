import SwampContracts

/// An error from the swamp libraries: a stable code, what happened, and what to do.
public struct SwampError: ReportableError, Equatable {
    /// A stable, machine-readable error code (printed in `--json` output).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let notARepository = Code("not_a_repository")
        public static let alreadyInitialized = Code("already_initialized")
        public static let invalidConfig = Code("invalid_config")
        public static let unknownModel = Code("unknown_model")
        public static let modelExists = Code("model_exists")
        public static let unknownModelType = Code("unknown_model_type")
        public static let unknownMethod = Code("unknown_method")
        public static let invalidArgument = Code("invalid_argument")
        public static let unknownData = Code("unknown_data")
        public static let corruptData = Code("corrupt_data")
        public static let contentMissing = Code("content_missing")
        public static let methodFailed = Code("method_failed")
        public static let syncFailed = Code("sync_failed")
        public static let catalog = Code("catalog_error")
        public static let unsupported = Code("unsupported")
        public static let nestedLock = Code("nested_lock")
    }

    public let code: Code
    /// What happened, in one sentence.
    public let message: String
    /// What the user can do about it, when there is something to say.
    public let hint: String?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
    public var errorCode: String { code.rawValue }
}
