import Foundation
import SwampContracts

/// An access key pair, with an optional session token and expiry.
///
/// `description` never shows the secret or the token.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible {
    public let accessKeyId: String
    let secretAccessKey: String
    let sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-lived keys.
    public let expiration: Date?
    /// Where these came from, for messages (`environment`, `profile dev (assumed role …)`).
    public let source: String

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil, source: String = "explicit") {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    /// `AKIA…WXYZ`: enough to tell keys apart, never enough to use one.
    public var maskedKeyId: String { accessKeyId.count > 8 ? "\(accessKeyId.prefix(4))…\(accessKeyId.suffix(4))" : "\(accessKeyId.prefix(2))…" }

    public var description: String { "credentials \(maskedKeyId) from \(source)" }
}

/// A credential source that failed: which one, why, and what to do.
public struct CredentialError: ReportableError {
    /// The source tried (`web identity (AWS_WEB_IDENTITY_TOKEN_FILE)`, `profile dev`).
    public let source: String
    public let message: String
    /// What the user can do (`run 'aws sso login --profile dev'`).
    public let remedy: String?
    /// Whether trying again later may help (a metadata server that did not answer in time).
    public let transient: Bool

    /// Whether no source supplied credentials at all (`missing_credentials`), rather than one failing.
    public let missing: Bool

    public init(source: String, message: String, remedy: String? = nil, transient: Bool = false, missing: Bool = false) {
        self.source = source
        self.message = message
        self.remedy = remedy
        self.transient = transient
        self.missing = missing
    }

    public var description: String { "credentials from \(source): \(message)" }
    /// `missing_credentials` when nothing supplied any, else `credentials_failed`.
    public var errorCode: String { missing ? "missing_credentials" : "credentials_failed" }
    public var hint: String? { remedy }
}

/// Something that produces credentials, again whenever asked (temporary ones are fetched anew).
public protocol CredentialProvider: Sendable {
    /// Where the credentials come from, for messages; never a secret.
    var source: String { get }
    func fetch() async throws -> S3Credentials
}

/// Fixed credentials.
public struct StaticCredentials: CredentialProvider {
    let credentials: S3Credentials
    public var source: String { credentials.source }
    public init(_ credentials: S3Credentials) { self.credentials = credentials }
    public func fetch() async throws -> S3Credentials { credentials }
}
