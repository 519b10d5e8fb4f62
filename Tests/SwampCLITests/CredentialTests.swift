import Foundation
import S3Client
import SwampTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The AWS credential chain through real processes: the S3 test server with authentication
/// (real IAM keys, an assumable role, STS from moto), behind the fault proxy whose log names the
/// access key of every request; `scripts/credential-server.py` plays instance metadata, container
/// credentials and the SSO portal on loopback. Every `swamp` here logs at trace level, and no
/// secret may appear in what it prints. Instance metadata stays disabled (the harness sets
/// `AWS_EC2_METADATA_DISABLED`) except where a test points it at its own loopback server.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
struct CredentialTests {
    /// The authenticating S3 server, the proxy in front of it, and a home with `~/.aws`.
    struct World {
        let server: ScriptServer
        let proxy: FaultProxy
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-creds-\(UUID().uuidString)").path
        let bucket = "creds-\(UUID().uuidString.lowercased().prefix(12))"
        var home: String { "\(root)/home" }
        var key: String { server.info["access_key_id"] ?? "" }
        var secret: String { server.info["secret_access_key"] ?? "" }
        var key2: String { server.info["access_key_id_2"] ?? "" }
        var secret2: String { server.info["secret_access_key_2"] ?? "" }
        var roleArn: String { server.info["role_arn"] ?? "" }

        static func start() async throws -> World {
            let server = try await ScriptServer.start(script: "s3-server.py", ["--auth"])
            let proxy = try await FaultProxy.start(upstream: server.endpoint)
            let world = World(server: server, proxy: proxy)
            try FileManager.default.createDirectory(atPath: "\(world.home)/.aws", withIntermediateDirectories: true)
            let client = S3Client(
                configuration: S3ClientConfiguration(bucket: world.bucket, endpoint: URL(string: server.endpoint), forcePathStyle: true),
                credentials: S3Credentials(accessKeyId: world.key, secretAccessKey: world.secret))
            try await client.createBucket()
            return world
        }

        func stop() {
            proxy.stop()
            server.stop()
            try? FileManager.default.removeItem(atPath: root)
        }

        /// The environment of a user with no credentials of their own: the chain must find them.
        func environment(_ extra: [String: String]) -> [String: String] {
            var environment = [
                "HOME": home, "SWAMP_HOME": "\(root)/swamp-home", "SWAMP_LOG_LEVEL": "trace", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_CONFIG_FILE": "", "AWS_SHARED_CREDENTIALS_FILE": "",
                "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_REGION": "",
                "AWS_DEFAULT_REGION": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "", "AWS_ENDPOINT_URL_STS": "",
            ]
            environment.merge(extra) { $1 }
            return environment
        }

        /// Writes an executable script at `path` and returns the path.
        func executable(_ path: String, _ text: String) throws -> String {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            return path
        }

        func write(_ text: String, to name: String) throws {
            try text.write(toFile: "\(home)/.aws/\(name)", atomically: true, encoding: .utf8)
        }

        /// A repository with model `m`, set up on the bucket (through the proxy unless
        /// `endpoint` is false: then the AWS environment must name the endpoint) and run once.
        func repository(_ name: String, environment: [String: String], endpoint: Bool = true, extraConfig: String = "") async throws -> CLI {
            let cli = CLI(repo: "\(root)/\(name)", environment: self.environment(environment))
            try FileManager.default.createDirectory(atPath: cli.repo, withIntermediateDirectories: true)
            try #require(try await cli.run(["repo", "init"]).status == 0)
            try #require(try await cli.run(["model", "create", "command/shell", "m", "--set", "run=echo hello"]).status == 0)
            let place = endpoint ? #","endpoint":"\#(proxy.endpoint)","forcePathStyle":true"# : ""
            let setup = try await cli.run([
                "datastore", "setup", "s3", "--config", #"{"bucket":"\#(bucket)","prefix":"\#(name)"\#(place)\#(extraConfig)}"#,
            ])
            try #require(setup.status == 0, "setup: \(setup.stderr)")
            try expectNoSecret(setup)
            let run = try await cli.run(["model", "method", "run", "m", "execute"])
            #expect(run.status == 0, "run: \(run.stderr)")
            try expectNoSecret(run)
            return cli
        }

        /// Every secret this world knows, none of which may ever be printed.
        var secrets: [String] { [secret, secret2, "web-identity-token-\(bucket)", "Bearer container-\(bucket)", "sso-token-\(bucket)"] }

        func expectNoSecret(_ result: CLI.Result, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let printed = result.text + result.stderr
            if ProcessInfo.processInfo.environment["SWAMP_TEST_DUMP_TRACE"] != nil { print("TRACE>>>\n\(printed)\n<<<TRACE") }
            for secret in secrets where !secret.isEmpty {
                #expect(!printed.contains(secret), "a secret was printed", sourceLocation: sourceLocation)
                let hex = secret.utf8.map { String(format: "%02x", $0) }.joined()
                #expect(!printed.lowercased().contains(hex), "a secret was printed in hex", sourceLocation: sourceLocation)
            }
            // AsyncHTTPClient prints response bodies at trace level: never let it (STS answers hold credentials).
            #expect(!printed.contains("ahc-http-part=body"), "a response body was logged", sourceLocation: sourceLocation)
            #expect(!printed.contains("Signature="), "a signature was logged", sourceLocation: sourceLocation)
        }

        /// The S3 requests (not STS: those go to `/` by POST) the proxy saw, by access key.
        func s3Keys() async throws -> [String] {
            try await proxy.log().filter { !($0.method == "POST" && $0.path == "/") }.compactMap(\.key)
        }
    }

    static func status(_ cli: CLI, world: World) async throws -> String {
        let status = try await cli.run(["datastore", "status"])
        #expect(status.status == 0, "status: \(status.stderr)")
        try world.expectNoSecret(status)
        return status.text
    }

    @Test func webIdentityFromATokenFileAssumesTheRole() async throws {
        let world = try await World.start()
        defer { world.stop() }
        let token = "\(world.root)/oidc-token"
        try "web-identity-token-\(world.bucket)\n".write(toFile: token, atomically: true, encoding: .utf8)
        let cli = try await world.repository(
            "wi",
            environment: [
                "AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ROLE_ARN": world.roleArn, "AWS_ROLE_SESSION_NAME": "ci-run",
                "AWS_ENDPOINT_URL_STS": world.proxy.endpoint,
            ])
        let keys = Set(try await world.s3Keys())
        #expect(!keys.isEmpty && keys.allSatisfy { $0.hasPrefix("ASIA") && $0 != world.key }, "the assumed role's keys sign S3 requests: \(keys)")
        try await world.proxy.clearLog()
        let text = try await Self.status(cli, world: world)
        let sts = try await world.proxy.log().filter { $0.method == "POST" && $0.path == "/" }
        #expect(sts.count == 1 && sts.allSatisfy { $0.key == nil && $0.status == 200 }, "one unsigned AssumeRoleWithWebIdentity per command: \(sts)")
        #expect(text.contains("web identity (AWS_WEB_IDENTITY_TOKEN_FILE)") && text.contains("assumed-role/swamp-role/ci-run"), "\(text)")
        #expect(text.contains("expire"), "temporary credentials say when they expire: \(text)")
        let json = try await cli.run(["datastore", "status", "--json"])
        let details = try #require((try json.json()["health"] as? [String: Any])?["details"] as? [String: String], "\(json.text)")
        #expect(details["credentials"]?.contains("web identity") == true && details["credentialsExpire"] != nil, "\(details)")
        #expect(details["credentialsKey"]?.hasPrefix("ASIA") == true && details["region"] == "us-east-1", "\(details)")
        #expect(details["endpoint"] == world.proxy.endpoint, "the endpoint in use: \(details)")
        try world.expectNoSecret(json)
    }

    @Test func anAssumeRoleProfileChainedFromASourceProfileWithEndpointsFromTheEnvironment() async throws {
        let world = try await World.start()
        defer { world.stop() }
        try "[base]\naws_access_key_id = \(world.key)\naws_secret_access_key = \(world.secret)\n".write(
            toFile: "\(world.home)/.aws/credentials", atomically: true, encoding: .utf8)
        try world.write(
            """
            [profile deploy]
            role_arn = \(world.roleArn)
            source_profile = base
            role_session_name = deployer
            external_id = swamp-test
            duration_seconds = 900
            region = us-east-1
            """, to: "config")
        // No endpoint in the datastore config: AWS_ENDPOINT_URL serves S3 and STS, as for the CLI.
        let cli = try await world.repository("ar", environment: ["AWS_PROFILE": "deploy", "AWS_ENDPOINT_URL": world.proxy.endpoint], endpoint: false)
        let log = try await world.proxy.log()
        let sts = log.filter { $0.method == "POST" && $0.path == "/" }
        #expect(!sts.isEmpty && sts.allSatisfy { $0.key == world.key && $0.status == 200 }, "AssumeRole is signed by the source profile's key")
        let keys = Set(try await world.s3Keys())
        #expect(!keys.isEmpty && keys.allSatisfy { $0.hasPrefix("ASIA") }, "S3 sees only the role's keys: \(keys)")
        let text = try await Self.status(cli, world: world)
        #expect(text.contains("profile deploy") && text.contains("assumed-role/swamp-role/deployer"), "\(text)")

        // STS refuses the role (as AWS does when the trust policy does not name the source): the
        // error names the profile, the role and the likely cause.
        try await world.proxy.set([.init("error", method: "POST", path: "^/$", count: -1, status: 403, code: "AccessDenied")])
        let refused = try await cli.run(["datastore", "sync"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("profile deploy") && refused.stderr.contains(world.roleArn), "\(refused.stderr)")
        #expect(refused.stderr.contains("trust policy"), "\(refused.stderr)")
        try world.expectNoSecret(refused)
        // `status`, which failures send users to, still shows what it can, and why it is unhealthy.
        let status = try await cli.run(["datastore", "status"])
        #expect(status.status == 1)
        #expect(
            status.text.contains("UNHEALTHY") && status.text.contains("AssumeRole") && status.text.contains("locks:     unknown"), "\(status.text)")
        #expect(status.text.contains("catalog:   1 model(s)") && status.text.contains("endpoint:"), "\(status.text)")
    }

    @Test func anExpiredTokenAnswerFetchesNewCredentialsOnce() async throws {
        let world = try await World.start()
        defer { world.stop() }
        let counter = "\(world.root)/calls"
        let script = try world.executable(
            "\(world.root)/issue.sh",
            """
            #!/bin/sh
            echo x >> "\(counter)"
            printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "Expiration": "%s"}' \\
              "\(world.key)" "\(world.secret)" "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
            """)
        try world.write("[profile temp]\ncredential_process = \(script)\n", to: "config")
        let cli = try await world.repository("et", environment: ["AWS_PROFILE": "temp"])
        try FileManager.default.removeItem(atPath: counter)
        // The server's clock is ahead: it calls the credentials expired, once.
        try await world.proxy.set([.init("error", method: "GET", nth: 1, count: 1, status: 400, code: "ExpiredToken")])
        let sync = try await cli.run(["datastore", "sync"], environment: ["SWAMP_LOG_LEVEL": "info"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.stderr.contains("the server says the credentials expired"), "\(sync.stderr)")
        let calls = try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").count
        #expect(calls == 2, "fetched, then fetched again after the ExpiredToken answer: \(calls)")
    }

    @Test func credentialProcessSuppliesKeys() async throws {
        let world = try await World.start()
        defer { world.stop() }
        let script = try world.executable(
            "\(world.root)/issue creds.sh",
            """
            #!/bin/sh
            [ "$1" = "--for team" ] || { echo "unexpected arguments: $*" >&2; exit 2; }
            printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s"}' "\(world.key)" "\(world.secret)"
            """)
        try world.write("[profile tool]\ncredential_process = \"\(script)\" '--for team'\n", to: "config")
        let cli = try await world.repository("cp", environment: ["AWS_PROFILE": "tool"])
        #expect(Set(try await world.s3Keys()) == [world.key])
        let text = try await Self.status(cli, world: world)
        #expect(text.contains("profile tool (credential_process)"), "\(text)")

        // A process that fails: the error names the source and what the process said.
        try world.write("[profile tool]\ncredential_process = /bin/sh -c 'echo token expired >&2; exit 3'\n", to: "config")
        let failed = try await cli.run(["datastore", "sync"])
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("profile tool (credential_process)") && failed.stderr.contains("token expired"), "\(failed.stderr)")
    }

    @Test func containerCredentialsAreFetchedWithTheAuthorizationToken() async throws {
        let world = try await World.start()
        defer { world.stop() }
        let server = try await ScriptServer.start(
            script: "credential-server.py",
            ["--access-key-id", world.key, "--secret-access-key", world.secret, "--container-authorization", "Bearer container-\(world.bucket)"])
        defer { server.stop() }
        let tokenFile = "\(world.root)/container-token"
        try "Bearer container-\(world.bucket)".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let environment = [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "\(server.endpoint)/container/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
        ]
        let cli = try await world.repository("ct", environment: environment)
        #expect(Set(try await world.s3Keys()) == [world.key])
        let requests = try await Self.credentialLog(server)
        #expect(
            !requests.isEmpty && requests.allSatisfy { $0.path == "/container/credentials" && $0.status == 200 && $0.headers == ["Authorization"] })
        #expect(try await Self.status(cli, world: world).contains("container credentials"))

        try "Bearer wrong".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let refused = try await cli.run(["datastore", "sync"])
        #expect(refused.status != 0 && refused.stderr.contains("container credentials") && refused.stderr.contains("HTTP 401"), "\(refused.stderr)")
        // Plain HTTP to a host that is not loopback is refused before any request.
        let remote = try await cli.run(["datastore", "sync"], environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.1/creds"])
        #expect(remote.status != 0 && remote.stderr.contains("not loopback"), "\(remote.stderr)")
    }

    @Test func instanceMetadataUsesAnIMDSv2Token() async throws {
        let world = try await World.start()
        defer { world.stop() }
        let server = try await ScriptServer.start(
            script: "credential-server.py", ["--access-key-id", world.key, "--secret-access-key", world.secret])
        defer { server.stop() }
        let cli = try await world.repository(
            "im", environment: ["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint])
        #expect(Set(try await world.s3Keys()) == [world.key])
        let requests = try await Self.credentialLog(server)
        #expect(requests.first.map { $0.method == "PUT" && $0.path == "/latest/api/token" } == true, "a session token first")
        let gets = requests.filter { $0.method == "GET" }
        #expect(!gets.isEmpty && gets.allSatisfy { $0.headers.contains("X-aws-ec2-metadata-token") && $0.status == 200 }, "\(requests)")
        #expect(try await Self.status(cli, world: world).contains("EC2 instance metadata"))

        // With instance metadata disabled and nothing else, the error lists what was tried.
        let none = try await cli.run(["datastore", "sync"], environment: ["AWS_EC2_METADATA_DISABLED": "true"])
        #expect(
            none.status != 0 && none.stderr.contains("no credentials found") && none.stderr.contains("AWS_EC2_METADATA_DISABLED"), "\(none.stderr)")
    }

    @Test func ssoUsesTheCachedLoginOrSaysToLogIn() async throws {
        let world = try await World.start()
        defer { world.stop() }
        let server = try await ScriptServer.start(
            script: "credential-server.py",
            ["--access-key-id", world.key, "--secret-access-key", world.secret, "--sso-token", "sso-token-\(world.bucket)"])
        defer { server.stop() }
        try world.write(
            """
            [profile dev]
            sso_session = corp
            sso_account_id = 123456789012
            sso_role_name = Developer
            [sso-session corp]
            sso_start_url = https://corp.awsapps.com/start
            sso_region = eu-west-1
            """, to: "config")
        let cache = "\(world.home)/.aws/sso/cache"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        // The CLI names the file after the SHA-1 of the session name.
        let sha = try await CLI.exec(["-c", "printf corp | sha1sum | cut -c1-40"], environment: [:], cwd: world.root, executable: "/bin/sh")
        let cached = "\(cache)/\(sha.text.trimmingCharacters(in: .whitespacesAndNewlines)).json"
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        try #"{"accessToken": "sso-token-\#(world.bucket)", "expiresAt": "\#(later)"}"#.write(toFile: cached, atomically: true, encoding: .utf8)
        let cli = try await world.repository("sso", environment: ["AWS_PROFILE": "dev", "AWS_ENDPOINT_URL_SSO": server.endpoint])
        #expect(Set(try await world.s3Keys()) == [world.key])
        let portal = try await Self.credentialLog(server)
        #expect(!portal.isEmpty && portal.allSatisfy { $0.path == "/federation/credentials" && $0.status == 200 })
        #expect(try await Self.status(cli, world: world).contains("SSO, account 123456789012, role Developer"))

        let earlier = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-60))
        try #"{"accessToken": "sso-token-\#(world.bucket)", "expiresAt": "\#(earlier)"}"#.write(toFile: cached, atomically: true, encoding: .utf8)
        let expired = try await cli.run(["datastore", "sync"])
        #expect(expired.status != 0 && expired.stderr.contains("aws sso login --profile dev"), "\(expired.stderr)")
        try world.expectNoSecret(expired)
    }

    @Test func credentialsThatExpireDuringATransferAreRefreshedOnce() async throws {
        let world = try await World.start()
        defer { world.stop() }
        // The first credentials expire in 5 s; later ones (another key of the same user) in an hour.
        let counter = "\(world.root)/calls"
        let script = try world.executable(
            "\(world.root)/rotate.sh",
            """
            #!/bin/sh
            echo x >> "\(counter)"
            if [ "$(wc -l < "\(counter)")" -eq 1 ]; then
              id=\(world.key); secret=\(world.secret); expires=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
            else
              id=\(world.key2); secret=\(world.secret2); expires=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
            fi
            printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "Expiration": "%s"}' "$id" "$secret" "$expires"
            """)
        try world.write("[profile rotating]\ncredential_process = \(script)\n", to: "config")
        let cli = CLI(repo: "\(world.root)/rf", environment: world.environment(["AWS_PROFILE": "rotating", "SWAMP_LOG_LEVEL": "info"]))
        try FileManager.default.createDirectory(atPath: cli.repo, withIntermediateDirectories: true)
        try #require(try await cli.run(["repo", "init"]).status == 0)
        // 12 MB in three parts of 5 MiB; part 2 is held 7 s by the proxy, so the upload outlives the first credentials.
        let source = "\(world.root)/big.bin"
        _ = try await CLI.exec(["-c", "head -c 12000000 /dev/urandom > \"$0\"", source], environment: [:], cwd: world.root, executable: "/bin/sh")
        try #require(try await cli.run(["model", "create", "command/shell", "big", "--set", "run=cat '\(source)'"]).status == 0)
        let config =
            #"{"bucket":"\#(world.bucket)","prefix":"rf","endpoint":"\#(world.proxy.endpoint)","forcePathStyle":true,"multipartThreshold":5242880,"partSize":5242880}"#
        let setup = try await cli.run(["datastore", "setup", "s3", "--config", config])
        try #require(setup.status == 0, "\(setup.stderr)")
        try FileManager.default.removeItem(atPath: counter)  // the run starts with the short-lived key
        try await world.proxy.clearLog()
        try await world.proxy.set([.init("delay", method: "PUT", path: "partNumber=2&", nth: 1, count: 1, ms: 7000)])
        let run = try await cli.run(["model", "method", "run", "big", "execute"])
        #expect(run.status == 0, "\(run.stderr)")
        try world.expectNoSecret(run)
        #expect(run.stderr.components(separatedBy: "refreshing credentials").count - 1 == 1, "one refresh: \(run.stderr)")
        let log = try await world.proxy.log()
        #expect(log.filter { $0.method == "POST" && $0.path.hasSuffix("?uploads=") }.count == 1, "the upload was not restarted")
        let completion = log.filter { $0.method == "POST" && $0.path.contains("uploadId=") }
        #expect(completion.count == 1 && completion.allSatisfy { $0.key == world.key2 && $0.status == 200 }, "completed with the new key")
        #expect(log.contains { $0.key == world.key }, "the first key was used before the refresh")
    }

    @Test func aBucketInAnotherRegionIsFoundOnceAndRemembered() async throws {
        // The plain test server, with the proxy playing a bucket in eu-west-1 (AWS's 301 answer).
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        var team = S3Team()
        team.endpoint = proxy.endpoint
        defer { team.remove() }
        // Created in the server's own region, then played as a bucket in eu-west-1.
        try await team.client.createBucket()
        try await proxy.clearLog()
        try await proxy.set([.init("wrong_region", count: -1, region: "eu-west-1")])
        _ = try await team.start(models: ["m"], createBucket: false)
        let log = try await proxy.log()
        // Each command learnt it from a 301 to a request signed for us-east-1; every other request
        // was signed for eu-west-1 (A's setup, B's first sync).
        let redirects = log.filter { $0.status == 301 }
        #expect(!redirects.isEmpty && redirects.allSatisfy { $0.region == "us-east-1" })
        #expect(
            log.filter { $0.status != 301 }.allSatisfy { $0.region == "eu-west-1" },
            "\(log.filter { $0.region != "eu-west-1" }.map { "\($0.method) \($0.path) \($0.status) \($0.region ?? "-")" })")

        try await proxy.clearLog()
        let again = try await team.cli("a").run(["model", "method", "run", "m", "execute"])
        #expect(again.status == 0, "\(again.stderr)")
        let later = try await proxy.log()
        #expect(!later.isEmpty && later.allSatisfy { $0.region == "eu-west-1" && $0.status != 301 }, "remembered: no redirect")

        // AWS's other answer, 400 AuthorizationHeaderMalformed with the region in the body, for a new user.
        try await proxy.set([.init("wrong_region", count: -1, status: 400, region: "ap-south-1")])
        try await proxy.clearLog()
        let c = try team.clone("c")
        let sync = try await c.run(["datastore", "sync"])
        #expect(sync.status == 0, "\(sync.stderr)")
        let third = try await proxy.log()
        #expect(third.contains { $0.status == 400 }, "told the region by a 400")
        #expect(third.filter { $0.status != 400 }.allSatisfy { $0.region == "ap-south-1" }, "\(third.map { "\($0.status) \($0.region ?? "")" })")
    }

    struct CredentialRequest: Decodable {
        let method: String
        let path: String
        let status: Int
        let headers: [String]
    }

    static func credentialLog(_ server: ScriptServer) async throws -> [CredentialRequest] {
        let url = try #require(URL(string: "\(server.endpoint)/__log"))
        let (data, _) = try await URLSession.shared.data(from: url)
        return try JSONDecoder().decode([CredentialRequest].self, from: data)
    }
}
