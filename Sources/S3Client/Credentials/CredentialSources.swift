import Crypto
import Foundation
import SwampContracts

#if canImport(Glibc)
    import Glibc
#endif

/// `credential_process`: a command that prints credentials as JSON (`Version` 1), run without a
/// shell — its words split like the AWS CLI's (`shlex`): quotes and backslashes, no expansion.
struct ProcessCredentials: CredentialProvider {
    let command: String
    let profile: String
    let timeout: Duration
    var source: String { "profile \(profile) (credential_process)" }

    func fetch() async throws -> S3Credentials {
        let words = try Self.split(command, source: source)
        guard let program = words.first else { throw CredentialError(source: source, message: "credential_process is empty") }
        let process = Process()
        if program.contains("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(words.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = words
        }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw CredentialError(
                source: source, message: "cannot run '\(program)': \(error.localizedDescription)", remedy: "check the command in the profile")
        }
        // Read both pipes to the end off the cooperative pool (a chatty process must not block on a full pipe).
        async let out = Self.readAll(output.fileHandleForReading)
        async let err = Self.readAll(errors.fileHandleForReading)
        let pid = process.processIdentifier
        let timer = Task {
            try await Task.sleep(for: timeout)
            kill(pid, SIGTERM)
            try await Task.sleep(for: .seconds(2))
            kill(pid, SIGKILL)
        }
        let (stdout, stderr) = await (out, err)
        // Both pipes are closed: the process is exiting (polled: `waitUntilExit` spins a run loop).
        while process.isRunning { try? await Task.sleep(for: .milliseconds(5)) }
        timer.cancel()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let last = String(decoding: stderr, as: UTF8.self).split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
            let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)" : "was stopped (over \(timeout)?)"
            throw CredentialError(
                source: source, message: "'\(program)' \(how)\(last.isEmpty ? "" : ": \(last)")", remedy: "run it by hand to see why")
        }
        return try JSONCredentials.decode(stdout, source: source, version: 1)
    }

    static func readAll(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
        }
    }

    /// POSIX `shlex.split`: whitespace separates words; single quotes keep everything; double
    /// quotes keep everything but `\"` and `\\`; a backslash outside quotes escapes the next character.
    static func split(_ text: String, source: String) throws -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                if quote == "\"", character != "\"", character != "\\" { word.append("\\") }
                word.append(character)
                escaped = false
            } else if character == "\\", quote != "'" {
                escaped = true
                inWord = true
            } else if let open = quote {
                if character == open { quote = nil } else { word.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character.isWhitespace {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(character)
                inWord = true
            }
        }
        if quote != nil || escaped {
            throw CredentialError(source: source, message: "credential_process has an unclosed quote or a trailing backslash")
        }
        if inWord { words.append(word) }
        return words
    }
}

/// Container credentials (ECS tasks, EKS pod identity): `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
/// on 169.254.170.2, or `AWS_CONTAINER_CREDENTIALS_FULL_URI` — over plain HTTP only to a
/// loopback or container-metadata address — with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read
/// at each fetch) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
struct ContainerCredentials: CredentialProvider {
    let url: String
    let tokenFile: String?
    let token: String?
    let http: CredentialHTTP
    /// Scheme, host and port only: the path (an ECS task's id) and any user or query stay out of messages.
    var source: String {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, let host = parts.host else { return "container credentials" }
        return "container credentials (\(scheme)://\(host)\(parts.port.map { ":\($0)" } ?? ""))"
    }

    static func from(_ environment: AWSEnvironment, http: CredentialHTTP) throws -> ContainerCredentials? {
        let tokenFile = environment.value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        let token = environment.value("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        if let relative = environment.value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return ContainerCredentials(url: "http://169.254.170.2\(relative)", tokenFile: tokenFile, token: token, http: http)
        }
        guard let full = environment.value("AWS_CONTAINER_CREDENTIALS_FULL_URI") else { return nil }
        guard let url = URL(string: full), let scheme = url.scheme, let host = url.host else {
            throw CredentialError(source: "container credentials", message: "AWS_CONTAINER_CREDENTIALS_FULL_URI '\(full)' is not a URL")
        }
        if scheme == "http", !Self.allowedPlainHosts(host) {
            throw CredentialError(
                source: "container credentials", message: "AWS_CONTAINER_CREDENTIALS_FULL_URI '\(full)' is plain HTTP to a host that is not loopback",
                remedy: "use https, or a loopback or container-metadata address (127.0.0.1, ::1, 169.254.170.2, 169.254.170.23)")
        }
        return ContainerCredentials(url: full, tokenFile: tokenFile, token: token, http: http)
    }

    /// Loopback (127.0.0.0/8 as an IPv4 literal, `::1`, `localhost`) or the container-metadata
    /// addresses — parsed as addresses, so `127.attacker.example` is not loopback.
    static func allowedPlainHosts(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "169.254.170.2" || bare == "169.254.170.23" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, bare, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, bare, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        let loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
        let ecs: [UInt8] = [0xfd, 0x00, 0x0e, 0xc2] + Array(repeating: 0, count: 11) + [0x23]
        return bytes == loopback || bytes == ecs
    }

    func fetch() async throws -> S3Credentials {
        var headers: [(String, String)] = [("Accept", "application/json")]
        if let tokenFile {
            guard let data = AWSEnvironment.contents(of: tokenFile) else {
                throw CredentialError(source: source, message: "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(tokenFile)")
            }
            headers.append(("Authorization", String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        } else if let token {
            headers.append(("Authorization", token))
        }
        let answer: CredentialHTTP.Answer
        do {
            answer = try await http.send("GET", url, headers: headers, timeout: .seconds(2))
        } catch let error as CredentialHTTP.Unreachable {
            throw CredentialError(source: source, message: "\(error)", transient: true)
        }
        guard answer.status == 200 else {
            throw CredentialError(
                source: source, message: "HTTP \(answer.status)",
                remedy: answer.status == 401 || answer.status == 403 ? "check the container's authorization token" : nil,
                transient: answer.status >= 500)
        }
        return try JSONCredentials.decode(answer.body, source: source)
    }
}

/// EC2 instance metadata with IMDSv2: a session token (`PUT /latest/api/token`), then the role
/// name and its credentials. `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it (tests use loopback);
/// `AWS_EC2_METADATA_DISABLED=true` turns it off. One attempt, one second each, like the CLI.
struct InstanceMetadataCredentials: CredentialProvider {
    let endpoint: String
    let http: CredentialHTTP
    var timeout: Duration = .seconds(1)
    var source: String { "EC2 instance metadata (\(endpoint))" }

    static func endpoint(_ environment: AWSEnvironment) -> String {
        var endpoint = environment.value("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? "http://169.254.169.254"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        return endpoint
    }

    func fetch() async throws -> S3Credentials {
        do {
            let token = try await http.send(
                "PUT", "\(endpoint)/latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], body: Data(), timeout: timeout)
            guard token.status == 200, !token.body.isEmpty else {
                throw CredentialError(source: source, message: "the IMDSv2 token request answered HTTP \(token.status)")
            }
            let header = ("X-aws-ec2-metadata-token", String(decoding: token.body, as: UTF8.self))
            let base = "\(endpoint)/latest/meta-data/iam/security-credentials/"
            let roles = try await http.send("GET", base, headers: [header], timeout: timeout)
            guard roles.status == 200, let role = String(decoding: roles.body, as: UTF8.self).split(whereSeparator: \.isNewline).first else {
                throw CredentialError(
                    source: source, message: "the instance has no IAM role (HTTP \(roles.status))",
                    remedy: "attach an instance profile to the instance")
            }
            let answer = try await http.send("GET", base + String(role), headers: [header], timeout: timeout)
            guard answer.status == 200 else { throw CredentialError(source: source, message: "role \(role): HTTP \(answer.status)") }
            return try JSONCredentials.decode(answer.body, source: "\(source), role \(role)")
        } catch let error as CredentialHTTP.Unreachable {
            throw CredentialError(source: source, message: "\(error)", transient: true)
        }
    }
}

/// `AssumeRoleWithWebIdentity` with a token read from a file at each fetch (CI OIDC, EKS IRSA).
struct WebIdentityCredentials: CredentialProvider {
    let tokenFile: String
    let role: STS.Role
    let sts: STS
    let origin: String

    var source: String { "web identity (\(origin))" }

    func fetch() async throws -> S3Credentials {
        guard let data = AWSEnvironment.contents(of: tokenFile) else {
            throw CredentialError(
                source: source, message: "cannot read the token file \(tokenFile)", remedy: "check that the identity provider wrote it")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw CredentialError(source: source, message: "the token file \(tokenFile) is empty") }
        return try await sts.assumeRoleWithWebIdentity(role, token: token, source: source)
    }
}

/// `AssumeRole` with credentials from another provider (`source_profile`, `credential_source`),
/// which are themselves refreshed when temporary.
struct AssumeRoleCredentials: CredentialProvider {
    let profile: String
    let role: STS.Role
    let base: RefreshingCredentials
    let baseSource: String
    let sts: STS

    var source: String { "profile \(profile) (assume role \(role.arn) from \(baseSource))" }

    func fetch() async throws -> S3Credentials {
        let credentials = try await base.get()
        return try await sts.assumeRole(role, with: credentials, source: "profile \(profile)")
    }
}

/// IAM Identity Center (SSO): the access token `aws sso login` cached in `~/.aws/sso/cache`,
/// exchanged at the portal for the role's credentials. Without a valid token it says to log in.
struct SSOCredentials: CredentialProvider {
    let profile: String
    let cacheKey: String
    let region: String
    let accountId: String
    let roleName: String
    let cacheDirectory: String
    let portal: String
    let http: CredentialHTTP
    let now: @Sendable () -> Date

    var source: String { "profile \(profile) (SSO, account \(accountId), role \(roleName))" }
    var login: String { "run 'aws sso login --profile \(profile)'" }

    static func from(_ settings: [String: String], profile: String, environment: AWSEnvironment, http: CredentialHTTP) throws -> SSOCredentials? {
        let session = settings["sso_session"]
        guard session != nil || settings["sso_start_url"] != nil else { return nil }
        var merged = settings
        if let session {
            guard let values = environment.ssoSessions[session] else {
                throw CredentialError(
                    source: "profile \(profile)",
                    message: "sso_session '\(session)' has no [sso-session \(session)] section in \(environment.configFile)")
            }
            merged.merge(values) { profileValue, _ in profileValue }
        }
        guard let account = merged["sso_account_id"], let role = merged["sso_role_name"], let region = merged["sso_region"] else {
            throw CredentialError(
                source: "profile \(profile)", message: "an SSO profile needs sso_account_id, sso_role_name and sso_region",
                remedy: "run 'aws configure sso --profile \(profile)'")
        }
        let home = environment.value("HOME") ?? NSHomeDirectory()
        let portal = environment.endpoint(for: "sso")?.absoluteString ?? "https://portal.sso.\(region).amazonaws.com"
        return SSOCredentials(
            profile: profile, cacheKey: session ?? merged["sso_start_url"] ?? "", region: region, accountId: account, roleName: role,
            cacheDirectory: "\(home)/.aws/sso/cache", portal: portal.hasSuffix("/") ? String(portal.dropLast()) : portal, http: http,
            now: { Date() })
    }

    struct CachedToken: Decodable {
        let accessToken: String?
        let expiresAt: String?
    }

    func fetch() async throws -> S3Credentials {
        let name = SigV4Signer.hex(Insecure.SHA1.hash(data: Data(cacheKey.utf8))) + ".json"
        let path = "\(cacheDirectory)/\(name)"
        guard let data = AWSEnvironment.contents(of: path) else {
            throw CredentialError(source: source, message: "no SSO login is cached (\(path))", remedy: login)
        }
        // `2026-11-27T12:00:00Z`, or the older `2026-11-27T12:00:00UTC`.
        guard let cached = try? JSONDecoder().decode(CachedToken.self, from: data), let token = cached.accessToken,
            let expiresAt = cached.expiresAt.flatMap({ ISO8601Timestamp.parse($0.hasSuffix("UTC") ? String($0.dropLast(3)) + "Z" : $0) })
        else {
            throw CredentialError(source: source, message: "the cached SSO login \(path) is unreadable", remedy: login)
        }
        guard expiresAt > now() else {
            throw CredentialError(
                source: source, message: "the SSO login expired at \(UTCTime.iso8601(expiresAt, milliseconds: false))", remedy: login)
        }
        let query = "role_name=\(SigV4Signer.encode(roleName))&account_id=\(SigV4Signer.encode(accountId))"
        let answer: CredentialHTTP.Answer
        do {
            answer = try await http.send(
                "GET", "\(portal)/federation/credentials?\(query)", headers: [("x-amz-sso_bearer_token", token)], timeout: .seconds(10))
        } catch let error as CredentialHTTP.Unreachable {
            throw CredentialError(source: source, message: "\(error)", transient: true)
        }
        guard answer.status == 200 else {
            let unauthorized = answer.status == 401 || answer.status == 403
            throw CredentialError(
                source: source, message: "the SSO portal answered HTTP \(answer.status)",
                remedy: unauthorized ? "\(login); check that the account and role are assigned to you" : nil, transient: answer.status >= 500)
        }
        struct Document: Decodable {
            struct Role: Decodable {
                let accessKeyId: String
                let secretAccessKey: String
                let sessionToken: String?
                let expiration: Double?
            }
            let roleCredentials: Role
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: answer.body) else {
            throw CredentialError(source: source, message: "the SSO portal's answer is not a credentials document")
        }
        let role = document.roleCredentials
        return S3Credentials(
            accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey, sessionToken: role.sessionToken,
            expiration: role.expiration.map { Date(timeIntervalSince1970: $0 / 1000) }, source: source)
    }
}
