import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The small HTTP exchanges of credential sources (STS, SSO, container and instance metadata):
/// one attempt each, answered in full within a time limit. Nothing here logs a header or a
/// body, and AsyncHTTPClient gets no logger (at `trace` it prints every body: credentials).
struct CredentialHTTP: Sendable {
    let client: HTTPClient
    let logger = Logger(label: "swamp.credentials", factory: { _ in SwiftLogNoOpLogHandler() })

    struct Answer: Sendable {
        let status: Int
        let headers: [String: String]
        let body: Data
    }

    /// Raised when no answer came: the message says where and why, without any secret.
    struct Unreachable: Error, CustomStringConvertible {
        let url: String
        let reason: String
        var description: String { "no answer from \(url): \(reason)" }
    }

    func send(
        _ method: String, _ url: String, headers: [(String, String)] = [], body: Data? = nil, timeout: Duration, maxBytes: Int = 1 << 20
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Length", value: String(body.count))
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let nanoseconds = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let display = Self.withoutQuery(url)
        do {
            let response = try await client.execute(request, deadline: .now() + .nanoseconds(nanoseconds), logger: logger)
            let buffer = try await response.body.collect(upTo: maxBytes)
            var names: [String: String] = [:]
            for header in response.headers { names[header.name.lowercased()] = header.value }
            return Answer(status: Int(response.status.code), headers: names, body: Data(buffer.readableBytesView))
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw Unreachable(url: display, reason: "no answer within \(timeout)")
        } catch {
            throw Unreachable(url: display, reason: "\(error)")
        }
    }

    /// A URL without its query (SSO puts the account and role there; no secret, but noise).
    static func withoutQuery(_ url: String) -> String {
        url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    }
}

/// The JSON credentials of `credential_process`, container and instance metadata, and SSO.
struct JSONCredentials: Decodable {
    let accessKeyId: String?
    let secretAccessKey: String?
    let token: String?
    let expiration: String?
    let version: Int?
    let code: String?
    let message: String?

    enum CodingKeys: String, CodingKey {
        case accessKeyId = "AccessKeyId"
        case secretAccessKey = "SecretAccessKey"
        case token = "Token"
        case sessionToken = "SessionToken"
        case expiration = "Expiration"
        case version = "Version"
        case code = "Code"
        case message = "Message"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accessKeyId = try container.decodeIfPresent(String.self, forKey: .accessKeyId)
        secretAccessKey = try container.decodeIfPresent(String.self, forKey: .secretAccessKey)
        token = try container.decodeIfPresent(String.self, forKey: .sessionToken) ?? container.decodeIfPresent(String.self, forKey: .token)
        expiration = try container.decodeIfPresent(String.self, forKey: .expiration)
        version = try container.decodeIfPresent(Int.self, forKey: .version)
        code = try container.decodeIfPresent(String.self, forKey: .code)
        message = try container.decodeIfPresent(String.self, forKey: .message)
    }

    /// Where a document failed to decode, without quoting it (it may hold the secret).
    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted: return "not valid JSON"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "wrong type at \(path.isEmpty ? "the top level" : path)"
        default: return "unreadable"
        }
    }

    /// Decodes `data` into credentials attributed to `source`, or a ``CredentialError`` that says
    /// what was wrong (never quoting the document, which holds the secret).
    /// - Parameter version: the `Version` the document must carry (`credential_process`: 1).
    static func decode(_ data: Data, source: String, version: Int? = nil) throws -> S3Credentials {
        let document: JSONCredentials
        do {
            document = try JSONDecoder().decode(JSONCredentials.self, from: data)
        } catch {
            throw CredentialError(
                source: source, message: "the answer is not a JSON credentials document (\(data.count) bytes: \(Self.reason(error)))",
                remedy: "it must be a JSON object with AccessKeyId and SecretAccessKey (and Version 1 for credential_process)")
        }
        if let version, document.version != version {
            throw CredentialError(
                source: source, message: "the process printed credentials without \"Version\": \(version)", remedy: "fix the command's output")
        }
        if let code = document.code, code != "Success" {
            throw CredentialError(source: source, message: "the answer says \(code)\(document.message.map { ": \($0)" } ?? "")")
        }
        guard let id = document.accessKeyId, !id.isEmpty, let secret = document.secretAccessKey, !secret.isEmpty else {
            throw CredentialError(source: source, message: "the answer lacks AccessKeyId or SecretAccessKey")
        }
        var expiration: Date?
        if let text = document.expiration {
            guard let date = ISO8601Timestamp.parse(text) else {
                throw CredentialError(source: source, message: "the Expiration '\(text)' is not an ISO 8601 time")
            }
            expiration = date
        }
        return S3Credentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: document.token.flatMap { $0.isEmpty ? nil : $0 }, expiration: expiration,
            source: source)
    }
}
