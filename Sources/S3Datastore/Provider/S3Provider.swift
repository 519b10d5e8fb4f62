import Foundation
import Logging
import S3Client
import SwampContracts
import SwampSupport

/// The `s3` datastore: a local cache with the datastore-tier layout, synced with a bucket.
public struct S3Provider: DatastoreProvider {
    public let type = "s3"
    public let settings: S3DatastoreConfig
    /// The client for locks and health checks.
    public let client: S3Client
    /// The client the sync service uses, with its own accounting (sync traffic only).
    public let syncClient: S3Client
    public let remote: RemoteLayout
    /// The local cache (all reads and writes hit it).
    public let cacheRoot: String
    public let hydration: HydrationStrategy
    private let logger: Logger
    /// Shared by this provider's locks: when each lock object version was first seen.
    let lockObservations = LockObservations()

    public init(settings: S3DatastoreConfig, credentials: S3Credentials, cacheRoot: String, hydration: HydrationStrategy, logger: Logger) {
        self.init(settings: settings, resolveCredentials: { credentials }, cacheRoot: cacheRoot, hydration: hydration, logger: logger)
    }

    /// A provider whose credentials are resolved at the first request.
    public init(
        settings: S3DatastoreConfig, resolveCredentials: @escaping @Sendable () throws -> S3Credentials, cacheRoot: String,
        hydration: HydrationStrategy, logger: Logger
    ) {
        self.settings = settings
        remote = RemoteLayout(prefix: settings.prefix)
        self.cacheRoot = cacheRoot
        self.hydration = hydration
        self.logger = logger
        let configuration = S3ClientConfiguration(
            bucket: settings.bucket, region: settings.region, endpoint: settings.endpoint, forcePathStyle: settings.forcePathStyle,
            requestTimeout: .milliseconds(settings.requestTimeoutMs), minimumThroughput: settings.minThroughputBytesPerSecond,
            maximumBodyBytes: settings.maxIndexBytes)
        client = S3Client(configuration: configuration, resolveCredentials: resolveCredentials, logger: logger)
        syncClient = S3Client(configuration: configuration, resolveCredentials: resolveCredentials, logger: logger)
    }

    /// Registers `s3` in `registry`.
    public static func register(
        in registry: inout DatastoreTypeRegistry, logger: Logger = Logger(label: "swamp.s3", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        registry.register("s3") { spec, environment in
            let settings: S3DatastoreConfig
            do {
                settings = try S3DatastoreConfig.parse(spec.config)
            } catch let error as S3SyncError {
                throw S3SyncError(.invalidConfig, error.message)
            }
            // Credentials are needed only by commands that talk to the bucket: resolve them then.
            let variables = environment.variables
            let cache = cachePath(spec: spec, environment: environment)
            return S3Provider(
                settings: settings, resolveCredentials: { try S3Credentials.resolve(environment: variables) }, cacheRoot: cache,
                hydration: spec.hydrationStrategy, logger: logger)
        }
    }

    /// `cachePath` from the config, else `$SWAMP_HOME/repos/{repoId}` (default `$HOME/.swamp`).
    static func cachePath(spec: DatastoreSpec, environment: DatastoreEnvironment) -> String {
        if let configured = spec.cachePath {
            let expanded = (configured as NSString).expandingTildeInPath
            return ((expanded.hasPrefix("/") ? expanded : "\(environment.repoDir)/\(expanded)") as NSString).standardizingPath
        }
        let home = environment.variables["SWAMP_HOME"] ?? "\(environment.variables["HOME"] ?? NSHomeDirectory())/.swamp"
        return "\(home)/repos/\(environment.repoId)"
    }

    public func createLock(_ key: LockKey, options: LockOptions) throws -> any DistributedLock {
        S3Lock(key: key, objectKey: remote.lockKey(key), client: client, options: options, logger: logger, observations: lockObservations)
    }

    public func heldLocks() async throws -> [(key: LockKey, info: LockInfo)] {
        var result: [(key: LockKey, info: LockInfo)] = []
        for object in try await client.list(prefix: remote.locksPrefix) {
            guard let key = remote.lock(fromKey: object.key) else { continue }
            let lock = S3Lock(key: key, objectKey: object.key, client: client, options: LockOptions(), logger: logger, observations: lockObservations)
            if let info = try await lock.inspect() { result.append((key, info)) }
        }
        return result.sorted { $0.key.description < $1.key.description }
    }

    public func createVerifier() -> any DatastoreVerifier { S3Verifier(client: client, bucket: settings.bucket) }

    public func createSyncService(repoDir: String, cachePath: String) throws -> (any DatastoreSyncService)? {
        makeSyncService()
    }

    /// The sync service over this provider's client and cache.
    public func makeSyncService() -> S3SyncService {
        S3SyncService(
            client: syncClient, settings: settings, cacheRoot: cacheRoot, hydration: hydration, lockAccounting: client.accounting, logger: logger)
    }

    public func resolveDatastorePath(repoDir: String) -> String { cacheRoot }

    public var remoteIdentity: String? {
        "s3://\(settings.endpoint?.absoluteString ?? "aws:\(settings.region)")/\(settings.bucket)/\(remote.prefix)"
    }

    public func resolveCachePath(repoDir: String) -> String? { cacheRoot }
}

/// Checks the bucket is reachable and writable (HEAD bucket, PUT and DELETE a probe).
public struct S3Verifier: DatastoreVerifier {
    let client: S3Client
    let bucket: String

    public func verify() async throws -> DatastoreHealth {
        let started = ContinuousClock.now
        do {
            _ = try await client.headBucket()
            let latency = S3SyncService.milliseconds(ContinuousClock.now - started)
            let probe = "_swamp/probe/\(UUID().uuidString.lowercased())"
            try await client.put(probe, data: Data("ok".utf8))
            try await client.delete(probe)
            return DatastoreHealth(
                healthy: true, message: "S3 bucket '\(bucket)' is reachable and writable", latencyMs: latency, details: ["bucket": bucket])
        } catch {
            return .failed(error, details: ["bucket": bucket])
        }
    }
}
