import Foundation

/// The two STS calls of the credential chain: `AssumeRole` (signed with source credentials)
/// and `AssumeRoleWithWebIdentity` (unsigned: the token is the proof).
struct STS: Sendable {
    let http: CredentialHTTP
    /// `AWS_ENDPOINT_URL_STS`/`AWS_ENDPOINT_URL`/`endpoint_url`, else STS in `region`.
    let endpoint: URL
    /// The signing region.
    let region: String
    let timeout: Duration
    let now: @Sendable () -> Date

    init(environment: AWSEnvironment, http: CredentialHTTP, timeout: Duration = .seconds(10), now: @escaping @Sendable () -> Date = { Date() }) {
        let region = environment.region.flatMap { BucketRegion.plausible($0) ? $0 : nil } ?? "us-east-1"
        self.region = region
        self.endpoint =
            environment.endpoint(for: "sts") ?? URL(string: "https://sts.\(region).\(BucketRegion.dnsSuffix(region))") ?? URL(fileURLWithPath: "/")
        self.http = http
        self.timeout = timeout
        self.now = now
    }

    struct Role {
        var arn: String
        var sessionName: String
        var externalId: String?
        var durationSeconds: Int?
    }

    /// - Parameter source: the profile, for messages; a refusal also names where `credentials` came from.
    func assumeRole(_ role: Role, with credentials: S3Credentials, source: String) async throws -> S3Credentials {
        var form = [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", role.arn), ("RoleSessionName", role.sessionName)]
        if let externalId = role.externalId { form.append(("ExternalId", externalId)) }
        if let duration = role.durationSeconds { form.append(("DurationSeconds", String(duration))) }
        let body = Data(Self.formEncode(form).utf8)
        let host = endpoint.port.map { "\(endpoint.host ?? ""):\($0)" } ?? (endpoint.host ?? "")
        var headers = [
            ("host", host), ("x-amz-date", SigV4Signer.amzDate(now())), ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        ]
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        let path = endpoint.path.isEmpty ? "/" : endpoint.path
        let signature = SigV4Signer(
            accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, region: region, service: "sts"
        )
        .sign(method: "POST", encodedPath: path, query: [], headers: headers, payload: .of(body))
        var sent = headers.filter { $0.0 != "host" }
        sent.append(("Authorization", signature.authorization))
        return try await call(body: body, headers: sent, action: "AssumeRole", role: role.arn, source: source, signer: credentials.source)
    }

    func assumeRoleWithWebIdentity(_ role: Role, token: String, source: String) async throws -> S3Credentials {
        var form = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", role.arn), ("RoleSessionName", role.sessionName),
            ("WebIdentityToken", token),
        ]
        if let duration = role.durationSeconds { form.append(("DurationSeconds", String(duration))) }
        let body = Data(Self.formEncode(form).utf8)
        return try await call(
            body: body, headers: [("content-type", "application/x-www-form-urlencoded; charset=utf-8")], action: "AssumeRoleWithWebIdentity",
            role: role.arn, source: source, signer: nil)
    }

    private func call(
        body: Data, headers: [(String, String)], action: String, role: String, source: String, signer: String?
    ) async throws -> S3Credentials {
        let url = endpoint.absoluteString.hasSuffix("/") ? endpoint.absoluteString : endpoint.absoluteString + "/"
        let answer: CredentialHTTP.Answer
        do {
            answer = try await http.send("POST", url, headers: headers, body: body, timeout: timeout)
        } catch let error as CredentialHTTP.Unreachable {
            throw CredentialError(
                source: source, message: "STS \(action) for \(role): \(error)", remedy: "check the network, or AWS_ENDPOINT_URL_STS", transient: true)
        }
        guard answer.status == 200 else {
            // `ErrorResponse/Error/…` from STS (`Response/Errors/Error/…` from some servers): any `Error/Code`.
            let elements = S3XML.Reader.read(answer.body) ?? []
            let code = elements.first { $0.path.hasSuffix("Error/Code") }?.text ?? "HTTP \(answer.status)"
            // STS's message for a bad signature quotes the canonical request — the session token
            // of the source credentials with it: only the code is kept then.
            let said = elements.first { $0.path.hasSuffix("Error/Message") }?.text ?? ""
            let message = code == "SignatureDoesNotMatch" || said.contains("Canonical") || said.count > 300 ? "" : said
            throw CredentialError(
                source: source,
                message: "STS \(action) for \(role)\(signer.map { " (signed with credentials from \($0))" } ?? "") was refused: \(code)"
                    + (message.isEmpty ? "" : ": \(message)"),
                remedy: Self.remedy(code: code, action: action), transient: answer.status >= 500 || code == "Throttling")
        }
        let result = "\(action)Response/\(action)Result"
        guard let elements = S3XML.Reader.read(answer.body) else {
            throw CredentialError(source: source, message: "STS \(action) answered a document that is not XML")
        }
        func text(_ path: String) -> String? { elements.first { $0.path == "\(result)/\(path)" }?.text }
        guard let id = text("Credentials/AccessKeyId"), let secret = text("Credentials/SecretAccessKey"), let token = text("Credentials/SessionToken")
        else {
            throw CredentialError(source: source, message: "STS \(action) answered without credentials")
        }
        guard let expiration = text("Credentials/Expiration").flatMap(ISO8601Timestamp.parse) else {
            throw CredentialError(source: source, message: "STS \(action) answered credentials without a readable Expiration")
        }
        let assumed = text("AssumedRoleUser/Arn") ?? role
        return S3Credentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: token, expiration: expiration, source: "\(source), role \(assumed)")
    }

    static func remedy(code: String, action: String) -> String {
        switch code {
        case "AccessDenied":
            action == "AssumeRole"
                ? "the role's trust policy refused these source credentials, or they may not call sts:AssumeRole; check both"
                : "the role's trust policy refused this web identity (check its audience and subject conditions)"
        case "InvalidIdentityToken", "ExpiredTokenException", "ExpiredToken":
            "the web identity token is invalid or expired; get a fresh one from the identity provider"
        case "InvalidClientTokenId", "SignatureDoesNotMatch":
            "the source credentials are not valid; check the source profile's keys"
        case "MalformedPolicyDocument", "ValidationError":
            "check role_arn, role_session_name and duration_seconds"
        default:
            "check the role and the source credentials"
        }
    }

    /// `application/x-www-form-urlencoded` with the unreserved set of RFC 3986.
    static func formEncode(_ fields: [(String, String)]) -> String {
        fields.map { "\(SigV4Signer.encode($0.0))=\(SigV4Signer.encode($0.1))" }.joined(separator: "&")
    }
}
