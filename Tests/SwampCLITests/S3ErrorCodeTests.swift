import Foundation
import SwampTestSupport
import Testing

/// Every S3 failure a user can act on reaches `--json` with its own code, a message that says
/// what happened and a hint that says what to do — not a generic "error".
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
struct S3ErrorCodeTests {
    static let endpoint = ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] ?? ""
    static let credentials = ["AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true"]

    /// `swamp datastore setup s3 --config CONFIG --json` in a new repository: the error document.
    static func setupError(_ config: String, environment: [String: String] = credentials) async throws -> [String: Any] {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        let before = repo.snapshot()
        let home = ["SWAMP_HOME": "\(repo.path)/.home"]
        let result = try await repo.cli.run(
            ["datastore", "setup", "s3", "--config", config, "--json"], environment: environment.merging(home) { $1 })
        #expect(result.status == 1, "\(result.stderr)")
        #expect(repo.snapshot().filter { !$0.key.hasPrefix(".home") } == before, "a failed setup changed the repository")
        return try #require(try result.json()["error"] as? [String: Any], "\(result.text)")
    }

    @Test func aMissingBucketSaysItDoesNotExistAndHowToCreateIt() async throws {
        let error = try await Self.setupError(
            #"{"bucket":"no-such-bucket-\#(UUID().uuidString.prefix(8).lowercased())","endpoint":"\#(Self.endpoint)","forcePathStyle":true}"#)
        #expect(error["code"] as? String == "no_such_bucket")
        #expect((error["message"] as? String)?.contains("does not exist") == true, "\(error)")
        #expect((error["hint"] as? String)?.contains("aws s3 mb") == true, "\(error)")
    }

    /// Within seconds (retries bounded at 2 s for a server that cannot be reached), saying how
    /// many attempts were made and for how long.
    @Test func aRefusedConnectionIsConnectionFailedWithinSeconds() async throws {
        let started = ContinuousClock.now
        let error = try await Self.setupError(#"{"bucket":"some-bucket","endpoint":"http://127.0.0.1:1","forcePathStyle":true}"#)
        let elapsed = ContinuousClock.now - started
        #expect(error["code"] as? String == "connection_failed", "\(error)")
        #expect((error["hint"] as? String)?.contains("endpoint") == true, "\(error)")
        #expect((error["message"] as? String)?.contains("attempts in") == true, "\(error)")
        #expect(elapsed < .seconds(10), "took \(elapsed)")
    }

    @Test func noCredentialsAnywhereIsMissingCredentials() async throws {
        let error = try await Self.setupError(
            #"{"bucket":"some-bucket","endpoint":"\#(Self.endpoint)","forcePathStyle":true}"#,
            environment: [
                "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                "AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
            ])
        #expect(error["code"] as? String == "missing_credentials", "\(error)")
        #expect((error["hint"] as? String)?.contains("AWS_ACCESS_KEY_ID") == true, "\(error)")
    }

    @Test func wrongCredentialsAreAccessDenied() async throws {
        let auth = try #require(ProcessInfo.processInfo.environment["SWAMP_TEST_S3_AUTH_ENDPOINT"])
        let error = try await Self.setupError(
            #"{"bucket":"some-bucket","endpoint":"\#(auth)","forcePathStyle":true}"#,
            environment: ["AWS_ACCESS_KEY_ID": "AKIAUNKNOWN00000000", "AWS_SECRET_ACCESS_KEY": "wrong", "AWS_EC2_METADATA_DISABLED": "true"])
        // The check is a HEAD, which carries no error document: the status says it all.
        #expect(error["code"] as? String == "access_denied", "\(error)")
        #expect((error["hint"] as? String)?.contains("check the credentials") == true, "\(error)")
    }

    /// Through the fault proxy: a server that does not answer in time, one that keeps failing,
    /// and one that keeps throttling.
    @Test(arguments: [
        ("timeout", FaultProxy.Rule("hold", count: -1, timeout: 10)),
        ("server_error", FaultProxy.Rule("error", count: -1, status: 500, code: "InternalError")),
        ("throttled", FaultProxy.Rule("error", count: -1, status: 503, code: "SlowDown")),
    ])
    func aFailingServerHasItsOwnCode(expected: String, rule: FaultProxy.Rule) async throws {
        let proxy = try await FaultProxy.start(upstream: Self.endpoint)
        defer { proxy.stop() }
        try await proxy.set([rule])
        let error = try await Self.setupError(
            #"{"bucket":"some-bucket","endpoint":"\#(proxy.endpoint)","forcePathStyle":true,"requestTimeoutMs":1000}"#)
        #expect(error["code"] as? String == expected, "\(error)")
        #expect(error["hint"] is String, "\(error)")
        if expected != "timeout" {
            // Retried (5 attempts, within the 30 s budget), and the message says so.
            #expect((error["message"] as? String)?.contains("gave up after 5 attempts in") == true, "\(error)")
        }
    }
}
