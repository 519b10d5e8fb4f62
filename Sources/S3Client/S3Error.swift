/// A failed S3 request, typed by the service's error code.
public struct S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The S3 error code (`NoSuchKey`, `PreconditionFailed`...) or a client-side one.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let noSuchKey = Code("NoSuchKey")
        public static let noSuchBucket = Code("NoSuchBucket")
        public static let preconditionFailed = Code("PreconditionFailed")
        public static let accessDenied = Code("AccessDenied")
        public static let signatureDoesNotMatch = Code("SignatureDoesNotMatch")
        public static let invalidAccessKeyId = Code("InvalidAccessKeyId")
        public static let slowDown = Code("SlowDown")
        public static let internalError = Code("InternalError")
        public static let serviceUnavailable = Code("ServiceUnavailable")
        public static let conditionalRequestConflict = Code("ConditionalRequestConflict")
        /// No response: connection refused or reset, DNS failure.
        public static let connectionFailed = Code("ConnectionFailed")
        /// No response within the per-request timeout.
        public static let timeout = Code("RequestTimeout")
        /// A response that could not be understood.
        public static let invalidResponse = Code("InvalidResponse")
        /// No usable credentials were found.
        public static let missingCredentials = Code("MissingCredentials")
        /// A response body over the limit the caller set (not read further).
        public static let tooLarge = Code("ResponseTooLarge")
    }

    public let code: Code
    /// The HTTP status, or 0 when there was no response.
    public let status: Int
    /// What went wrong, without secrets, signatures or payloads.
    public let message: String
    /// The operation and key, e.g. `PUT _swamp/meta.json`.
    public let operation: String

    public init(_ code: Code, status: Int, message: String, operation: String) {
        self.code = code
        self.status = status
        self.message = message
        self.operation = operation
    }

    /// Whether retrying the same request may succeed (5xx, throttling, timeouts, resets).
    public var isRetryable: Bool {
        if [.slowDown, .internalError, .serviceUnavailable, .connectionFailed, .timeout].contains(code) { return true }
        return status >= 500 || status == 429
    }

    /// Whether the failure is about who is asking rather than what was asked.
    public var isAuthenticationFailure: Bool {
        [.accessDenied, .signatureDoesNotMatch, .invalidAccessKeyId].contains(code) || status == 403
    }

    public var description: String {
        let statusText = status > 0 ? " (HTTP \(status))" : ""
        var text = "S3 \(operation) failed: \(code)\(statusText): \(message)"
        if isAuthenticationFailure {
            text += ". Check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and the bucket's permissions"
        }
        return text
    }
}
