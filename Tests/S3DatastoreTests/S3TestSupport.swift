import Foundation
import S3Client
import SwampContracts
import SwampSupport
import SwampTesting
import Testing

@testable import S3Datastore
@testable import SwampCore

/// The S3-compatible server `scripts/test.sh` starts (see scripts/s3-server.sh).
enum S3TestServer {
    static let endpoint = ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"]
    static let authEndpoint = ProcessInfo.processInfo.environment["SWAMP_TEST_S3_AUTH_ENDPOINT"]
    static var available: Bool { endpoint != nil }
    static let credentials = S3Credentials(accessKeyId: "test", secretAccessKey: "test")
}

/// A fresh bucket on the test server, and caches that sync with it.
struct S3Bucket {
    let name: String
    let endpoint: String
    let directory = TemporaryDirectory("s3-cache")

    static func make(prefix: String = "", endpoint given: String? = nil) async throws -> S3Bucket {
        let endpoint = try #require(given ?? S3TestServer.endpoint, "SWAMP_TEST_S3_ENDPOINT is not set: run the tests with scripts/test.sh")
        let bucket = S3Bucket(name: "swamp-\(UUID().uuidString.lowercased().prefix(18))", endpoint: endpoint)
        try await bucket.client().createBucket()
        return bucket
    }

    var settingsJSON: JSONValue {
        .object(["bucket": .string(name), "endpoint": .string(endpoint), "forcePathStyle": .bool(true), "requestTimeoutMs": .number(5000)])
    }

    func settings() throws -> S3DatastoreConfig { try S3DatastoreConfig.parse(settingsJSON) }

    /// A raw client on the bucket (to plant or inspect objects behind swamp's back).
    func client() throws -> S3Client {
        S3Client(
            configuration: S3ClientConfiguration(bucket: name, endpoint: URL(string: endpoint), forcePathStyle: true),
            credentials: S3TestServer.credentials)
    }

    /// A cache (one user's machine) on this bucket. Its requests may take up to 20 s: these
    /// caches run in the parallel pass, where one GET of hundreds once waited past 5 s on two
    /// loaded cores (timeouts are not retried). The fault tests keep 5 s (``settings()``).
    func cache(_ label: String, hydration: HydrationStrategy = .full, dirtyLimit: Int? = nil) throws -> Cache {
        let root = "\(directory.path)/\(label)"
        var settings = try settings()
        settings.requestTimeoutMs = 20_000
        let provider = S3Provider(
            settings: settings, credentials: S3TestServer.credentials, cacheRoot: root, hydration: hydration, logger: .init(label: "test"))
        return try Cache(root: root, provider: provider, dirtyLimit: dirtyLimit)
    }
}

/// One user's cache: the sync service, and a repository that marks files dirty through it.
struct Cache {
    let root: String
    let provider: S3Provider
    let sync: S3SyncService
    let repository: DataRepository

    init(root: String, provider: S3Provider, dirtyLimit: Int? = nil) throws {
        self.root = root
        self.provider = provider
        if let dirtyLimit {
            sync = S3SyncService(
                client: provider.syncClient, settings: provider.settings, cacheRoot: root, hydration: provider.hydration, dirtyLimit: dirtyLimit)
        } else {
            sync = provider.makeSyncService()
        }
        let catalog = try Catalog(path: "\(root)-catalog.db", layout: DatastoreLayout(root: root))
        repository = DataRepository(layout: DatastoreLayout(root: root), catalog: catalog, syncService: sync)
    }

    /// Runs `body` and returns what the sync did meanwhile.
    func measure(_ body: () async throws -> Void) async throws -> SyncActivity {
        let before = sync.activity() ?? SyncActivity()
        try await body()
        return (sync.activity() ?? SyncActivity()) - before
    }

    func pushAll() async throws -> Int { try await sync.pushChanged(nil) }
    func pullAll() async throws -> Int { try await sync.pullChanged(nil) }
    func push(_ models: [ModelDefinition]) async throws -> Int { try await sync.pushChanged(.scoped(to: models.map(\.ref))) }
    func pull(_ models: [ModelDefinition]) async throws -> Int { try await sync.pullChanged(.scoped(to: models.map(\.ref))) }

    func read(_ relPath: String) -> Data? { FileManager.default.contents(atPath: "\(root)/\(relPath)") }

    /// Rewrites one file the way the repository does: markDirty first, then an atomic write.
    func rewrite(_ relPath: String, _ content: Data) throws {
        try sync.markDirty(.path(relPath))
        try AtomicFile.write(content, to: "\(root)/\(relPath)")
    }
}

enum Models {
    static func make(_ name: String) -> ModelDefinition {
        ModelDefinition(id: UUID().uuidString.lowercased(), name: name, type: "command/shell", arguments: ["run": "true"], createdAt: Date())
    }
}
