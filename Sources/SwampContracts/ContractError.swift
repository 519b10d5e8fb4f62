/// An error raised by contract-level validation (names, types, lock keys).
public struct ContractError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a stable machine-readable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidModelType = Code("invalid_model_type")
        public static let invalidName = Code("invalid_name")
        public static let invalidPath = Code("invalid_path")
        public static let unknownDatastoreType = Code("unknown_datastore_type")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
