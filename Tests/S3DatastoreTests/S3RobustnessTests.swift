import Foundation
import S3Client
import SwampContracts
import SwampSupport
import SwampTestSupport
import SwampTesting
import Testing

@testable import S3Datastore
@testable import SwampCore

/// Runs whether or not the servers exist: the S3 suites are never skipped silently.
@Suite struct S3SuitesAreNeverSkippedSilently {
    @Test func theTestScriptAlwaysProvidesTheServersAndPlainRunsSaySo() {
        if ProcessInfo.processInfo.environment["SWAMP_TEST_SCRIPT"] == "1" {
            // Under scripts/test.sh the S3 suites must run: a missing server is a failure.
            #expect(S3TestServer.endpoint != nil, "scripts/test.sh did not provide SWAMP_TEST_S3_ENDPOINT")
            #expect(S3TestServer.authEndpoint != nil, "scripts/test.sh did not provide SWAMP_TEST_S3_AUTH_ENDPOINT")
        } else if !S3TestServer.available {
            FileHandle.standardError.write(
                Data(
                    """

                    ************************************************************************
                    * SKIPPED: every S3 suite (S3DatastoreTests and the S3 CLI tests) needs *
                    * the S3 test server. Run 'bash scripts/test.sh' to run them.          *
                    ************************************************************************

                    """.utf8))
        }
    }
}

@Suite(.enabled(if: S3TestServer.available, "needs the S3 test server (scripts/test.sh)"))
struct S3RobustnessTests {
    /// A body limit is for the object asked for: a 404's error document is not "too large" for
    /// a 2-byte object (which made a collected lazy version read as a hash mismatch).
    @Test func aMissingObjectUnderASmallLimitIsMissingNotTooLarge() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let outcome = try await bucket.client().get("data/never/written/1/raw", maxBytes: 2, expectedBytes: 2)
        guard case .notFound = outcome else {
            Issue.record("expected notFound, got \(outcome)")
            return
        }
    }

    /// The auth server checks SigV4 signatures with the real secret: the right key works,
    /// a wrong secret or an unknown key is a clear authentication error.
    @Test func signaturesAreCheckedAndWrongCredentialsAreAClearError() async throws {
        let environment = ProcessInfo.processInfo.environment
        let endpoint = try #require(S3TestServer.authEndpoint.flatMap(URL.init(string:)))
        let id = try #require(environment["SWAMP_TEST_S3_AUTH_KEY_ID"])
        let secret = try #require(environment["SWAMP_TEST_S3_AUTH_SECRET"])
        let bucket = "auth-\(UUID().uuidString.lowercased().prefix(12))"
        let configuration = S3ClientConfiguration(bucket: bucket, endpoint: endpoint, forcePathStyle: true)
        let good = S3Client(configuration: configuration, credentials: S3Credentials(accessKeyId: id, secretAccessKey: secret))
        try await good.createBucket()
        try await good.put("data/a b/x~y/raw", data: Data("signed".utf8), condition: .ifAbsent)
        guard case .found(let response) = try await good.get("data/a b/x~y/raw") else {
            Issue.record("object not found with the right key")
            return
        }
        #expect(response.body == Data("signed".utf8))
        // (A prefix holding `/` is refused by moto's checker even from the AWS CLI: list everything.)
        #expect(try await good.list(prefix: "").map(\.key) == ["data/a b/x~y/raw"])

        for (wrong, code) in [
            (S3Credentials(accessKeyId: id, secretAccessKey: secret + "x"), "signature_mismatch"),
            (S3Credentials(accessKeyId: "AKIAUNKNOWN00000000", secretAccessKey: secret), "invalid_access_key"),
        ] {
            let bad = S3Client(configuration: configuration, credentials: wrong)
            do {
                _ = try await bad.get("data/a b/x~y/raw")
                Issue.record("a wrong key was accepted")
            } catch let error as S3Error {
                #expect(error.isAuthenticationFailure)
                #expect(error.errorCode == code)
                #expect(error.hint?.contains("check the credentials") == true)
                #expect(error.description.contains("check the credentials"))
                #expect(!error.description.contains(secret))
            }
        }
    }

    /// Keys with characters that must be percent-encoded are signed the way the server checks them.
    /// (moto's checker also refuses the AWS CLI's own signatures for keys holding `+`, `=`, `&` or
    /// non-ASCII characters, so those are pinned by the get-utf8 vector instead of here.)
    @Test(arguments: ["plain/raw", "with space/raw", "tilde~and.dot_-/raw", "data/command/shell/0b0e0000-0000-4000-8000-000000000000/result/1/raw"])
    func signedKeysRoundTripOnTheCheckingServer(key: String) async throws {
        let environment = ProcessInfo.processInfo.environment
        let endpoint = try #require(S3TestServer.authEndpoint.flatMap(URL.init(string:)))
        let credentials = S3Credentials(
            accessKeyId: try #require(environment["SWAMP_TEST_S3_AUTH_KEY_ID"]),
            secretAccessKey: try #require(environment["SWAMP_TEST_S3_AUTH_SECRET"]))
        let client = S3Client(
            configuration: S3ClientConfiguration(
                bucket: "keys-\(UUID().uuidString.lowercased().prefix(12))", endpoint: endpoint, forcePathStyle: true),
            credentials: credentials)
        try await client.createBucket()
        try await client.put(key, data: Data(key.utf8))
        guard case .found(let response) = try await client.get(key) else {
            Issue.record("\(key) not found")
            return
        }
        #expect(response.body == Data(key.utf8))
    }

    /// Each check on a server of its own: timing-sensitive contention checks must not share a
    /// serialised server with the rest of the suite. One check at a time: nine servers starting
    /// at once on two cores (each loading moto on its first request) once kept a bucket's
    /// creation waiting past its 30 s limit.
    @Test(.serialized, arguments: LockConformance.checks.map(\.name))
    func s3LockConforms(check name: String) async throws {
        let server = try await ScriptServer.start()
        defer { server.stop() }
        let bucket = try await S3Bucket.make(endpoint: server.endpoint)
        defer { bucket.directory.remove() }
        let cache = try bucket.cache("locks")
        let check = try #require(LockConformance.checks.first { $0.name == name })
        try await check.run { key, options in try cache.provider.createLock(key, options: options) }
    }

    @Test func heldLocksListsLocksOnTheBucket() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let cache = try bucket.cache("locks")
        let ref = ModelRef(modelType: "aws/ec2/vpc", modelId: UUID().uuidString.lowercased())
        let lock = try cache.provider.createLock(.model(ref), options: LockOptions(holder: "tester"))
        try await lock.acquire()
        let held = try await cache.provider.heldLocks()
        #expect(held.map(\.key) == [.model(ref)])
        #expect(held.first?.info.holder == "tester")
        try await lock.release()
        #expect(try await cache.provider.heldLocks().isEmpty)
    }

    /// A server that stops answering mid-sync: a clear error after the retries, the local
    /// data and dirty state intact, and the next sync completes once it is back.
    @Test func aServerThatStopsAnsweringFailsCleanlyAndTheNextSyncCompletes() async throws {
        let server = try await PrivateS3Server.start()
        defer { server.stop() }
        let directory = TemporaryDirectory("outage")
        defer { directory.remove() }
        let settings = try S3DatastoreConfig.parse(
            .object([
                "bucket": .string("outage"), "endpoint": .string(server.endpoint), "forcePathStyle": .bool(true), "requestTimeoutMs": .number(400),
            ]))
        let provider = S3Provider(
            settings: settings, credentials: S3TestServer.credentials, cacheRoot: directory.path, hydration: .full, logger: .init(label: "t"))
        try await S3Client(
            configuration: S3ClientConfiguration(bucket: "outage", endpoint: URL(string: server.endpoint), forcePathStyle: true),
            credentials: S3TestServer.credentials
        ).createBucket()
        let cache = try Cache(root: directory.path, provider: provider)
        let model = Models.make("m")
        try cache.repository.writeVersion(of: model, name: "result", content: Data("first".utf8))
        _ = try await cache.pushAll()
        try cache.repository.writeVersion(of: model, name: "result", content: Data("second".utf8))

        server.pause()
        let started = ContinuousClock.now
        do {
            _ = try await cache.pushAll()
            Issue.record("a push to a stopped server succeeded")
        } catch let error as S3Error {
            #expect(error.code == .timeout || error.code == .connectionFailed)
        }
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(cache.read(DatastoreLayout.rawRel(model.ref, "result", 2)) == Data("second".utf8))
        server.resume()
        let pushed = try await cache.measure { _ = try await cache.pushAll() }
        #expect(pushed.pushed == 2)  // v2's metadata.yaml and raw
        let other = try Cache(
            root: "\(directory.path)-b",
            provider: S3Provider(
                settings: settings, credentials: S3TestServer.credentials, cacheRoot: "\(directory.path)-b", hydration: .full,
                logger: .init(label: "t")))
        defer { try? FileManager.default.removeItem(atPath: "\(directory.path)-b") }
        _ = try await other.pullAll()
        #expect(other.read(DatastoreLayout.rawRel(model.ref, "result", 2)) == Data("second".utf8))
    }
}

extension S3RobustnessTests {
    @Test func throttlingAndConnectionResetsAreRetriedAndTheSyncCompletes() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let proxy = try await FaultProxy.start(upstream: bucket.endpoint, flags: ["--fail-first", "--reset-second"])
        defer { proxy.stop() }
        var settings = try bucket.settings()
        settings.endpoint = URL(string: proxy.endpoint)
        func cache(_ label: String) throws -> Cache {
            let root = "\(bucket.directory.path)/\(label)"
            return try Cache(
                root: root,
                provider: S3Provider(
                    settings: settings, credentials: S3TestServer.credentials, cacheRoot: root, hydration: .full, logger: .init(label: "t")))
        }
        let a = try cache("a")
        let models = (0..<5).map { Models.make("m\($0)") }
        for model in models {
            for index in 0..<4 { try a.repository.writeVersion(of: model, name: "result", content: Data("\(model.id)-\(index)".utf8)) }
        }
        let push = try await a.measure { _ = try await a.pushAll() }
        #expect(push.pushed == 5 * 4 * 2)
        let b = try cache("b")
        let pull = try await b.measure { _ = try await b.pullAll() }
        #expect(pull.pulled == 5 * 4 * 2)
        for model in models {
            #expect(b.read(DatastoreLayout.rawRel(model.ref, "result", 4)) == Data("\(model.id)-3".utf8))
            #expect(b.read(DatastoreLayout.latestRel(model.ref, "result")) == Data("4\n".utf8))
        }
        // Every request was refused once and cut once before it went through: the retries show in the counts.
        #expect(push.totalRequests + pull.totalRequests > (40 + 5 + 2) + (40 + 5 + 2))
    }

    @Test func aServerThatKeepsFailingIsAClearErrorAfterTheRetries() async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let proxy = try await FaultProxy.start(upstream: bucket.endpoint, flags: ["--always-fail"])
        defer { proxy.stop() }
        var settings = try bucket.settings()
        settings.endpoint = URL(string: proxy.endpoint)
        let root = "\(bucket.directory.path)/a"
        let a = try Cache(
            root: root,
            provider: S3Provider(
                settings: settings, credentials: S3TestServer.credentials, cacheRoot: root, hydration: .full, logger: .init(label: "t")))
        let model = Models.make("m")
        try a.repository.writeVersion(of: model, name: "result", content: Data("keep me".utf8))
        let before = a.sync.activity() ?? SyncActivity()
        do {
            _ = try await a.push([model])
            Issue.record("a push to a failing server succeeded")
        } catch let error as S3Error {
            #expect(error.code == .internalError)
            #expect(error.status == 500)
        }
        let spent = (a.sync.activity() ?? SyncActivity()) - before
        // The upload window is cancelled at the first failure; that request was tried 5 times.
        #expect(spent.totalRequests >= 5)
        #expect(a.read(DatastoreLayout.rawRel(model.ref, "result", 1)) == Data("keep me".utf8))
        #expect(a.sync.sidecar.readDirty(.model(model.ref)).paths?.count == 3)
    }
}

/// A test server of this test's own, which can be paused (SIGSTOP) and resumed.
typealias PrivateS3Server = ScriptServer

extension ScriptServer {
    static func start() async throws -> ScriptServer { try await start(script: "s3-server.py") }
}
