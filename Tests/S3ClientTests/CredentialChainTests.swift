import Foundation
import Testing

@testable import S3Client

/// Which source the chain picks, mirroring the AWS CLI's documented order (no request is sent:
/// choosing reads variables and files only).
@Suite struct CredentialChainTests {
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("chain-\(UUID().uuidString)").path

    init() throws {
        try FileManager.default.createDirectory(atPath: "\(home)/.aws", withIntermediateDirectories: true)
        try """
        [default]
        aws_access_key_id = AKIACREDFILE
        aws_secret_access_key = s1
        [both]
        aws_access_key_id = AKIABOTH
        aws_secret_access_key = s2
        """.write(toFile: "\(home)/.aws/credentials", atomically: true, encoding: .utf8)
        try """
        [profile role]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = default
        [profile both]
        credential_process = /bin/echo {}
        [profile process]
        credential_process = /bin/echo {}
        aws_access_key_id = AKIACONFIGFILE
        aws_secret_access_key = s3
        [profile configkeys]
        aws_access_key_id = AKIACONFIGFILE
        aws_secret_access_key = s3
        [profile loop]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = loop2
        [profile ghostsource]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = ghost
        [profile notarn]
        role_arn = not-an-arn
        source_profile = default
        [profile loop2]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = loop
        [profile sso]
        sso_start_url = https://x.awsapps.com/start
        sso_region = us-east-1
        sso_account_id = 1
        sso_role_name = R
        [profile webid]
        role_arn = arn:aws:iam::123456789012:role/w
        web_identity_token_file = /tmp/token
        [profile mfa]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = default
        mfa_serial = arn:aws:iam::123456789012:mfa/me
        [profile default]
        region = ap-northeast-1
        [profile eks] # a comment after the header
        role_arn = arn:aws:iam::123456789012:role/eks
        web_identity_token_file = /var/run/token
        [profile crossaccount]
        role_arn = arn:aws:iam::210987654321:role/deploy
        source_profile = eks
        [profile keysandrole]
        role_arn = arn:aws:iam::123456789012:role/other
        aws_access_key_id = AKIAKEYSANDROLE
        aws_secret_access_key = s4
        [profile fromkeysandrole]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = keysandrole
        [profile self]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = self
        aws_access_key_id = AKIASELF
        aws_secret_access_key = s5
        [profile endpoints]
        endpoint_url = http://127.0.0.1:3
        services = local
        [services local]
        sts =
          endpoint_url = http://127.0.0.1:4
        [profile nested]
        region = eu-central-1
        s3 =
          addressing_style = path
        """.write(toFile: "\(home)/.aws/config", atomically: true, encoding: .utf8)
    }

    func source(_ variables: [String: String]) throws -> String {
        var variables = variables
        variables["HOME"] = home
        variables["AWS_EC2_METADATA_DISABLED"] = variables["AWS_EC2_METADATA_DISABLED"] ?? "true"
        return try CredentialChain.provider(try AWSEnvironment(variables: variables)).source
    }

    func failure(_ variables: [String: String]) -> String {
        do {
            return "chose \(try source(variables))"
        } catch {
            return "\(error)"
        }
    }

    @Test func environmentKeysComeFirst() throws {
        #expect(try source(["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "x", "AWS_PROFILE": "role"]) == "environment")
        #expect(failure(["AWS_SECRET_ACCESS_KEY": "x"]).contains("AWS_ACCESS_KEY_ID is not"))
    }

    @Test func aRoleProfileComesBeforeWebIdentityFromTheEnvironment() throws {
        let web = ["AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/t", "AWS_ROLE_ARN": "arn:aws:iam::1:role/x"]
        #expect(try source(web.merging(["AWS_PROFILE": "role"]) { $1 }).hasPrefix("profile role (assume role"))
        #expect(try source(web) == "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)", "web identity beats the default profile's keys")
        #expect(try source(["AWS_PROFILE": "webid"]) == "web identity (profile webid)")
        #expect(failure(["AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/t"]).contains("no role"))
    }

    @Test func withinAProfileCredentialsFileKeysThenProcessThenConfigFileKeys() throws {
        #expect(try source([:]) == "profile default")
        #expect(try source(["AWS_PROFILE": "both"]) == "profile both", "keys in ~/.aws/credentials beat credential_process")
        #expect(try source(["AWS_PROFILE": "process"]) == "profile process (credential_process)", "credential_process beats config-file keys")
        #expect(try source(["AWS_PROFILE": "configkeys"]) == "profile configkeys")
        #expect(try source(["AWS_PROFILE": "sso"]).hasPrefix("profile sso (SSO"))
        #expect(try source(["AWS_DEFAULT_PROFILE": "both"]) == "profile both", "AWS_DEFAULT_PROFILE when AWS_PROFILE is unset")
    }

    @Test func containerThenInstanceMetadataLast() throws {
        let noProfile = ["AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"]
        let container = noProfile.merging(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds"]) { $1 }
        #expect(try source(container) == "container credentials (http://127.0.0.1:9)", "scheme, host and port: the path stays out of messages")
        #expect(try source(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds"]) == "profile default", "a profile comes first")
        let imds = noProfile.merging(["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/"]) { $1 }
        #expect(try source(imds) == "EC2 instance metadata (http://127.0.0.1:9)")
        let none = failure(noProfile)
        #expect(none.contains("no credentials found") && none.contains("AWS_EC2_METADATA_DISABLED=true") && none.contains("container"), "\(none)")
    }

    @Test func sourceProfilesResolveLikeBotocore() throws {
        // The EKS pattern: a web identity profile as the source of a cross-account role.
        #expect(
            try source(["AWS_PROFILE": "crossaccount"])
                == "profile crossaccount (assume role arn:aws:iam::210987654321:role/deploy from web identity (profile eks))")
        // A source with keys of its own uses them, even if it also names a role.
        #expect(try source(["AWS_PROFILE": "fromkeysandrole"]).hasSuffix("from profile keysandrole)"))
        // A profile may name itself as its source only to use its own keys.
        #expect(try source(["AWS_PROFILE": "self"]).hasSuffix("from profile self)"))
        let environment = try AWSEnvironment(variables: ["HOME": home])
        #expect(environment.profile("eks")?["role_arn"] == "arn:aws:iam::123456789012:role/eks", "a comment after a header is ignored")
        #expect(
            environment.profile("default")?["region"] == "ap-northeast-1" && environment.profile("default")?["aws_access_key_id"] == "AKIACREDFILE")
    }

    @Test func aMalformedFileIsAnErrorNamingItsLine() throws {
        let config = "\(home)/broken-config"
        for (text, line, reason) in [
            ("[profile ok]\nregion = x\n[profile broken\nrole_arn = y\n", 3, "without ']'"), ("region = x\n", 1, "before any [section]"),
            ("[default]\n\nthis is not ini\n", 3, "not 'key = value'"),
        ] {
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let error = failure(["AWS_CONFIG_FILE": config])
            #expect(error.contains("cannot parse \(config), line \(line)") && error.contains(reason), "\(error)")
        }
        // An indented line after a value continues it (the CLI's multi-line values), so this role has no source.
        try "[profile cont]\nrole_arn = arn:aws:iam::1:role/r\n  source_profile = default\n".write(toFile: config, atomically: true, encoding: .utf8)
        #expect(failure(["AWS_CONFIG_FILE": config, "AWS_PROFILE": "cont"]).contains("role_arn needs source_profile"))
    }

    /// `/dev/null` (how scripts and benchmarks turn the files off) and pipes have no size:
    /// they read as empty or as their text, never as "cannot read".
    @Test func filesWithoutASizeAreRead() throws {
        let empty = try AWSEnvironment(variables: ["AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"])
        #expect(empty.profiles.isEmpty)
        #expect(
            try source([
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_ACCESS_KEY_ID": "AKIAE",
                "AWS_SECRET_ACCESS_KEY": "s",
            ]) == "environment")
        let fifo = "\(home)/config-fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = Thread {
            if let handle = FileHandle(forWritingAtPath: fifo) {
                handle.write(Data("[profile piped]\nregion = eu-north-1\n".utf8))
                try? handle.close()
            }
        }
        writer.start()
        let piped = try AWSEnvironment(variables: ["AWS_CONFIG_FILE": fifo, "AWS_PROFILE": "piped"])
        #expect(piped.region == "eu-north-1")
    }

    @Test func credentialProcessOutputMustSayVersionOne() throws {
        let keys = #""AccessKeyId": "AKIAP", "SecretAccessKey": "sekrit""#
        #expect(try JSONCredentials.decode(Data("{\"Version\": 1, \(keys)}".utf8), source: "p", version: 1).accessKeyId == "AKIAP")
        for document in ["{\(keys)}", "{\"Version\": 2, \(keys)}"] {
            do {
                _ = try JSONCredentials.decode(Data(document.utf8), source: "p", version: 1)
                Issue.record("accepted \(document)")
            } catch let error as CredentialError {
                #expect(error.message.contains("Version") && !error.description.contains("sekrit"), "\(error)")
            }
        }
    }

    @Test func plainHTTPContainerCredentialsOnlyToLoopbackAddresses() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"] {
            #expect(ContainerCredentials.allowedPlainHosts(host), "\(host)")
        }
        for host in ["127.attacker.example", "10.0.0.1", "128.0.0.1", "example.com", "::2", "169.254.169.254"] {
            #expect(!ContainerCredentials.allowedPlainHosts(host), "\(host)")
        }
    }

    @Test func profileErrorsNameTheProfile() throws {
        #expect(failure(["AWS_PROFILE": "nope"]).contains("the profile 'nope' is in neither"))
        #expect(failure(["AWS_PROFILE": "loop"]).contains("credentials from profile loop: source profiles form a cycle: loop → loop2 → loop"))
        #expect(failure(["AWS_PROFILE": "ghostsource"]).contains("its source_profile 'ghost' is in neither"))
        #expect(failure(["AWS_PROFILE": "notarn"]).contains("role_arn 'not-an-arn' is not an ARN"))
        #expect(failure(["AWS_PROFILE": "mfa"]).contains("MFA"))
        #expect(
            failure([
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.0.0.1/x", "AWS_CONFIG_FILE": "/nonexistent",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            ]).contains("not loopback"))
    }

    @Test func endpointsAndRegionLikeTheCLI() throws {
        let environment = try AWSEnvironment(variables: [
            "HOME": home, "AWS_PROFILE": "nested", "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:2",
        ])
        #expect(environment.endpoint(for: "s3")?.absoluteString == "http://127.0.0.1:1")
        #expect(environment.endpoint(for: "sts")?.absoluteString == "http://127.0.0.1:2")
        #expect(environment.region == "eu-central-1")
        #expect(environment.profile("nested")?["s3.addressing_style"] == "path")
        let ignored = try AWSEnvironment(variables: [
            "HOME": home, "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        ])
        #expect(ignored.endpoint(for: "s3") == nil)
        #expect(try AWSEnvironment(variables: ["HOME": home, "AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "us-west-2"]).region == "sa-east-1")
        // The profile's own: its services section for one service, endpoint_url for the others.
        let profile = try AWSEnvironment(variables: ["HOME": home, "AWS_PROFILE": "endpoints"])
        #expect(profile.endpoint(for: "sts")?.absoluteString == "http://127.0.0.1:4")
        #expect(profile.endpoint(for: "s3")?.absoluteString == "http://127.0.0.1:3")
        let overridden = try AWSEnvironment(variables: ["HOME": home, "AWS_PROFILE": "endpoints", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5"])
        #expect(overridden.endpoint(for: "s3")?.absoluteString == "http://127.0.0.1:5", "the environment beats the profile")
    }

    @Test func processCommandsSplitLikeShlex() throws {
        #expect(try ProcessCredentials.split(#"/bin/tool --a "b c" 'd "e"' f\ g"#, source: "t") == ["/bin/tool", "--a", "b c", #"d "e""#, "f g"])
        #expect(throws: CredentialError.self) { try ProcessCredentials.split(#"tool "open"#, source: "t") }
    }

    @Test func temporaryCredentialsAreRefreshedOnceBeforeTheyExpire() async throws {
        final class Issuer: CredentialProvider, @unchecked Sendable {
            let lock = NSLock()
            var calls = 0
            var failing = false
            let now: @Sendable () -> Date
            init(now: @escaping @Sendable () -> Date) { self.now = now }
            var source: String { "test issuer" }
            func fetch() async throws -> S3Credentials {
                let (call, fail) = lock.withLock {
                    calls += 1
                    return (calls, failing)
                }
                try await Task.sleep(for: .milliseconds(50))
                if fail { throw CredentialError(source: source, message: "down") }
                return S3Credentials(accessKeyId: "ASIA\(call)", secretAccessKey: "s", expiration: now().addingTimeInterval(10), source: source)
            }
        }
        let time = TimeBox(Date(timeIntervalSince1970: 1_000_000))
        let issuer = Issuer(now: { time.value })
        let credentials = RefreshingCredentials(logger: .init(label: "t"), now: { time.value }, resolve: { issuer })
        #expect(try await credentials.get().accessKeyId == "ASIA1")
        time.value += 4  // 6 s left of 10: more than half the lifetime
        #expect(try await credentials.get().accessKeyId == "ASIA1")
        time.value += 2  // 4 s left: refresh, once, however many requests ask at the same time
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await credentials.get().accessKeyId } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        // The first starts the refresh and waits; the others go on with the still-valid key meanwhile.
        #expect(keys.contains("ASIA2") && keys.isSubset(of: ["ASIA1", "ASIA2"]), "\(keys)")
        #expect(try await credentials.get().accessKeyId == "ASIA2")
        #expect(issuer.lock.withLock { issuer.calls } == 2 && credentials.refreshCount == 1)
        time.value += 7  // past the new ones' margin, and the source now fails: the old ones go on, and it is not asked again for 30 s
        issuer.lock.withLock { issuer.failing = true }
        #expect(try await credentials.get().accessKeyId == "ASIA2")
        #expect(try await credentials.get().accessKeyId == "ASIA2")
        #expect(issuer.lock.withLock { issuer.calls } == 3, "one failed refresh, then a pause")
        time.value += 4  // expired: the failure is the request's
        await #expect(throws: CredentialError.self) { try await credentials.get() }

        // A source that hands out credentials already expired is an error, not a silent 403 later.
        let expired = S3Credentials(accessKeyId: "ASIAOLD", secretAccessKey: "s", expiration: Date(timeIntervalSince1970: 0), source: "stale")
        let stale = RefreshingCredentials(logger: .init(label: "t"), now: { time.value }, resolve: { StaticCredentials(expired) })
        await #expect(throws: CredentialError.self) { try await stale.get() }
    }
}

/// A mutable date for a test clock.
final class TimeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Date
    init(_ value: Date) { stored = value }
    var value: Date {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
