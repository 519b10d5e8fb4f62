import SwampContracts

/// A failed S3 request, typed by the service's error code.
public struct S3Error: ReportableError, Equatable {
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
        public static let requestTimeTooSkewed = Code("RequestTimeTooSkewed")
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
        [.accessDenied, .signatureDoesNotMatch, .invalidAccessKeyId, Code("ExpiredToken"), Code("InvalidToken")].contains(code) || status == 403
    }

    public var description: String {
        var text = errorMessage
        if isAuthenticationFailure, let hint { text += ". \(hint)" }
        return text
    }

    public var errorMessage: String {
        let statusText = status > 0 ? " (HTTP \(status))" : ""
        return "S3 \(operation) failed: \(code)\(statusText): \(message)"
    }

    /// A specific, stable code for each failure a user can act on (`--json`'s `error.code`).
    public var errorCode: String {
        switch code {
        case .noSuchBucket: "no_such_bucket"
        case .noSuchKey: "no_such_key"
        case .accessDenied: "access_denied"
        case .signatureDoesNotMatch: "signature_mismatch"
        case .invalidAccessKeyId: "invalid_access_key"
        case .preconditionFailed: "precondition_failed"
        case .conditionalRequestConflict: "conditional_request_conflict"
        case .slowDown: "throttled"
        case .internalError, .serviceUnavailable: "server_error"
        case .connectionFailed: "connection_failed"
        case .timeout: "timeout"
        case .invalidResponse: "invalid_response"
        case .requestTimeTooSkewed: "clock_skew"
        case .missingCredentials: "missing_credentials"
        case .tooLarge: "response_too_large"
        default: status == 403 ? "access_denied" : "s3_\(Self.snakeCase(code.rawValue))"
        }
    }

    public var hint: String? {
        switch code {
        case .requestTimeTooSkewed:
            "this machine's clock is too far from the server's; synchronise it (NTP) and try again"
        case .noSuchBucket:
            "create the bucket (e.g. 'aws s3 mb s3://BUCKET'), or fix bucket, region or endpoint in the datastore config"
        case .accessDenied, .signatureDoesNotMatch, .invalidAccessKeyId:
            Self.credentialsHint
        case .missingCredentials:
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/config, or run 'aws configure'"
        case .connectionFailed:
            "check the endpoint and the network"
        case .timeout:
            "the server did not answer in time; try again, or raise requestTimeoutMs in the datastore config"
        case .slowDown, .internalError, .serviceUnavailable:
            "the server is overloaded or failing; try again later"
        case .tooLarge:
            "the object is larger than allowed (maxIndexBytes for an index); if it is legitimate, raise the limit"
        default:
            isAuthenticationFailure
                ? Self.credentialsHint : nil
        }
    }

    static let credentialsHint =
        "check the credentials (the AWS chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, container or instance role;"
        + " 'swamp datastore status' names the source in use) and the bucket's permissions"

    /// `NoSuchUpload` → `no_such_upload`.
    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase, !result.isEmpty { result += "_" }
            result += character.lowercased()
        }
        return result
    }
}
