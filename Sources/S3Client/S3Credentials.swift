import Foundation

/// An access key pair, with an optional session token.
///
/// `description` never shows the secret or the token.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible {
    public let accessKeyId: String
    let secretAccessKey: String
    let sessionToken: String?
    /// Where these came from, for messages (`environment`, `profile default`).
    public let source: String

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, source: String = "explicit") {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.source = source
    }

    public var description: String { "credentials \(accessKeyId.prefix(4))… from \(source)" }

    /// The standard chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`,
    /// then the profile `AWS_PROFILE` (default `default`) of `AWS_SHARED_CREDENTIALS_FILE`
    /// (default `~/.aws/credentials`).
    public static func resolve(environment: [String: String]) throws -> S3Credentials {
        if let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw S3Error(
                    .missingCredentials, status: 0, message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
                    operation: "credentials")
            }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token, source: "environment")
        }
        let profile = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let home = environment["HOME"] ?? NSHomeDirectory()
        let file = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw S3Error(
                .missingCredentials, status: 0,
                message: "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with \(file)",
                operation: "credentials")
        }
        let sections = parseINI(text)
        guard let section = sections[profile] else {
            throw S3Error(
                .missingCredentials, status: 0,
                message: "profile '\(profile)' is not in \(file) (profiles: \(sections.keys.sorted().joined(separator: ", ")))",
                operation: "credentials")
        }
        guard let id = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] else {
            throw S3Error(
                .missingCredentials, status: 0, message: "profile '\(profile)' in \(file) lacks aws_access_key_id or aws_secret_access_key",
                operation: "credentials")
        }
        return S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: section["aws_session_token"], source: "profile \(profile)")
    }

    /// Parses an INI file into `[section: [key: value]]` (keys lower-cased, `#`/`;` comments).
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                var name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if name.hasPrefix("profile ") { name = String(name.dropFirst("profile ".count)).trimmingCharacters(in: .whitespaces) }
                current = name
                sections[name, default: [:]] = sections[name, default: [:]]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current, default: [:]][key] = value
        }
        return sections
    }
}
