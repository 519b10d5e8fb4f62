import Foundation

/// The environment and shared files the AWS CLI reads: `AWS_*` variables, `~/.aws/config`
/// (`AWS_CONFIG_FILE`) and `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`).
///
/// Missing files are empty; a file that exists but cannot be read is an error naming it.
public struct AWSEnvironment: Sendable {
    public let variables: [String: String]
    public let configFile: String
    public let credentialsFile: String
    /// Profiles by name: the config file's `[default]` and `[profile x]`, merged with the
    /// credentials file's `[x]` (whose values win, as in the AWS CLI).
    let profiles: [String: [String: String]]
    /// Each file's profiles alone (keys in one beat `credential_process`, in the other they do not).
    let configProfiles: [String: [String: String]]
    let credentialsProfiles: [String: [String: String]]
    /// The config file's `[sso-session x]` sections.
    let ssoSessions: [String: [String: String]]
    /// The config file's `[services x]` sections.
    let services: [String: [String: String]]

    public init(variables: [String: String]) throws {
        self.variables = variables
        let home = variables["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        configFile = Self.expand(variables["AWS_CONFIG_FILE"], home: home) ?? "\(home)/.aws/config"
        credentialsFile = Self.expand(variables["AWS_SHARED_CREDENTIALS_FILE"], home: home) ?? "\(home)/.aws/credentials"
        var configProfiles: [String: [String: String]] = [:]
        var ssoSessions: [String: [String: String]] = [:]
        var services: [String: [String: String]] = [:]
        let sections = try Self.read(configFile)
        // `[default]` first, so that `[profile default]`, when both exist, wins whatever the order.
        if let values = sections["default"] { configProfiles["default"] = values }
        for (name, values) in sections {
            if let profile = Self.suffix(of: name, after: "profile") {
                configProfiles[profile, default: [:]].merge(values) { _, new in new }
            } else if let session = Self.suffix(of: name, after: "sso-session") {
                ssoSessions[session] = values
            } else if let service = Self.suffix(of: name, after: "services") {
                services[service] = values
            }
        }
        let credentialsProfiles = try Self.read(credentialsFile)
        var profiles = configProfiles
        for (name, values) in credentialsProfiles {
            profiles[name, default: [:]].merge(values) { _, new in new }
        }
        self.configProfiles = configProfiles
        self.credentialsProfiles = credentialsProfiles
        self.profiles = profiles
        self.ssoSessions = ssoSessions
        self.services = services
    }

    /// A variable's value, `nil` when unset or empty.
    public func value(_ name: String) -> String? {
        variables[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether a boolean variable is set to `true` (any case).
    func flag(_ name: String) -> Bool { value(name)?.lowercased() == "true" }

    /// `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`.
    public var profileName: String { value("AWS_PROFILE") ?? value("AWS_DEFAULT_PROFILE") ?? "default" }

    /// Whether the profile was named by the user (a named profile that does not exist is an error;
    /// a missing `default` is not).
    var profileNamed: Bool { value("AWS_PROFILE") != nil || value("AWS_DEFAULT_PROFILE") != nil }

    /// The settings of profile `name`, `nil` when neither file has it.
    public func profile(_ name: String) -> [String: String]? { profiles[name] }

    /// Every profile name, sorted (for messages).
    var profileNames: [String] { profiles.keys.sorted() }

    /// The region the CLI would use: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`.
    public var region: String? {
        value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? profile(profileName)?["region"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The endpoint configured for `service` (`s3`, `sts`, `sso`): `AWS_ENDPOINT_URL_{SERVICE}`,
    /// `AWS_ENDPOINT_URL`, then the profile's `services` section and `endpoint_url` — none when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
    public func endpoint(for service: String) -> URL? {
        if flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") { return nil }
        let profile = profile(profileName)
        if profile?["ignore_configured_endpoint_urls"]?.lowercased() == "true" { return nil }
        let candidates = [
            value("AWS_ENDPOINT_URL_\(service.uppercased())"), value("AWS_ENDPOINT_URL"),
            profile?["services"].flatMap { services[$0]?["\(service).endpoint_url"] }, profile?["endpoint_url"],
        ]
        for case let text? in candidates where !text.isEmpty {
            if let url = URL(string: text), url.scheme != nil, url.host != nil { return url }
        }
        return nil
    }

    // MARK: Files

    static func expand(_ path: String?, home: String) -> String? {
        guard let path, !path.isEmpty else { return nil }
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst() }
        return path
    }

    /// A file's bytes, read to its end: also `/dev/null` (empty, as users point `AWS_CONFIG_FILE`
    /// at it), pipes and other files with no size (`FileManager.contents(atPath:)` gives nil for
    /// those); nil when it cannot be opened or read.
    static func contents(of path: String) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            return nil
        }
    }

    static func suffix(of name: String, after word: String) -> String? {
        guard name.hasPrefix(word + " ") || name.hasPrefix(word + "\t") else { return nil }
        let rest = name.dropFirst(word.count).trimmingCharacters(in: .whitespaces)
        return rest.isEmpty ? nil : rest
    }

    /// A file's sections; a missing file has none. A line that is not a section, a setting, a
    /// comment or a continuation is an error naming the file and line, as in the AWS CLI.
    static func read(_ path: String) throws -> [String: [String: String]] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let data = contents(of: path), let text = String(data: data, encoding: .utf8) else {
            throw CredentialError(source: path, message: "cannot read \(path)", remedy: "check the file's permissions and that it is UTF-8 text")
        }
        do {
            return try parseINI(text)
        } catch let error as ParseError {
            throw CredentialError(
                source: path, message: "cannot parse \(path), line \(error.line): \(error.reason)",
                remedy: "fix the file (sections are '[profile name]', settings 'key = value')")
        }
    }

    struct ParseError: Error {
        let line: Int
        let reason: String
    }

    /// The AWS CLI's INI dialect: `[section]`, `key = value`, `#`/`;` comment lines, and nested
    /// settings — a key with an empty value followed by indented `key = value` lines — read as
    /// `parent.key` (e.g. `s3.addressing_style`).
    static func parseINI(_ text: String) throws -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        var parent: String?
        var last: String?
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let indented = rawLine.first == " " || rawLine.first == "\t"
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                // What follows the `]` (a comment) is ignored, as by the CLI's parser.
                guard let close = line.firstIndex(of: "]") else { throw ParseError(line: index + 1, reason: "a section header without ']'") }
                let name = String(line[line.index(after: line.startIndex)..<close]).trimmingCharacters(in: .whitespaces)
                current = name
                parent = nil
                last = nil
                sections[name, default: [:]] = sections[name, default: [:]]
                continue
            }
            guard let current else { throw ParseError(line: index + 1, reason: "a setting before any [section]") }
            if indented, parent == nil, let last {
                // A continuation of the previous value (configparser's multi-line values).
                sections[current, default: [:]][last, default: ""] += "\n" + line
                continue
            }
            guard let equals = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw ParseError(line: index + 1, reason: "not 'key = value'")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if indented, let parent {
                sections[current, default: [:]]["\(parent).\(key)"] = value
            } else {
                sections[current, default: [:]][key] = value
                parent = value.isEmpty ? key : nil
                last = key
            }
        }
        return sections
    }
}
