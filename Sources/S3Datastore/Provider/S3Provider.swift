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
        self.init(settings: settings, credentials: RefreshingCredentials(credentials), cacheRoot: cacheRoot, hydration: hydration, logger: logger)
    }

    /// A provider whose two clients share `credentials` (fetched at the first request, refreshed
    /// before they expire) and what they learn of the bucket's region.
    /// - Parameter region: the region to assume when neither `settings.region` nor what an
    ///   earlier command learnt (remembered in the cache) says; default `us-east-1`.
    public init(
        settings: S3DatastoreConfig, credentials: RefreshingCredentials, cacheRoot: String, hydration: HydrationStrategy, logger: Logger,
        region: String? = nil
    ) {
        self.settings = settings
        remote = RemoteLayout(prefix: settings.prefix)
        self.cacheRoot = cacheRoot
        self.hydration = hydration
        self.logger = logger
        let memory = RegionMemory(cacheRoot: cacheRoot, bucket: settings.bucket)
        // What this bucket answered before beats a general default (AWS_REGION, the profile's).
        let start = [settings.region, memory.recall(), region].compactMap { $0 }.first(where: BucketRegion.plausible) ?? "us-east-1"
        let configuredRegion = settings.region
        let bucketRegion = BucketRegion(start) { discovered in
            if let configuredRegion {
                logger.warning(
                    "datastore.config.region is \(configuredRegion) but the bucket is in \(discovered): fix the config to save a round trip per command"
                )
            } else {
                memory.remember(discovered)
            }
        }
        let configuration = S3ClientConfiguration(
            bucket: settings.bucket, region: start, endpoint: settings.endpoint, forcePathStyle: settings.forcePathStyle,
            requestTimeout: .milliseconds(settings.requestTimeoutMs), minimumThroughput: settings.minThroughputBytesPerSecond,
            maximumBodyBytes: settings.maxIndexBytes)
        client = S3Client(configuration: configuration, credentials: credentials, region: bucketRegion, logger: logger)
        syncClient = S3Client(configuration: configuration, credentials: credentials, region: bucketRegion, logger: logger)
    }

    /// Registers `s3` in `registry`: credentials from the AWS credential chain, endpoint and
    /// region from the config, else the AWS environment and profile (`AWS_ENDPOINT_URL_S3`,
    /// `AWS_REGION`, the profile's `endpoint_url`, `region` and `s3.addressing_style`).
    public static func register(
        in registry: inout DatastoreTypeRegistry, logger: Logger = Logger(label: "swamp.s3", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        registry.register("s3") { spec, environment in
            var settings: S3DatastoreConfig
            do {
                settings = try S3DatastoreConfig.parse(spec.config)
            } catch let error as S3SyncError {
                throw S3SyncError(.invalidConfig, error.message)
            }
            let variables = environment.variables
            // An unreadable ~/.aws file is reported when credentials are needed, not here: commands
            // that make no request must not fail on it.
            let aws = try? AWSEnvironment(variables: variables)
            if let aws {
                settings.endpoint = settings.endpoint ?? aws.endpoint(for: "s3")
                if aws.profile(aws.profileName)?["s3.addressing_style"] == "path" { settings.forcePathStyle = true }
            }
            // Credentials are needed only by commands that talk to the bucket: resolve them then.
            let credentials = RefreshingCredentials(logger: logger) {
                try CredentialChain.provider(try AWSEnvironment(variables: variables), logger: logger)
            }
            return S3Provider(
                settings: settings, credentials: credentials, cacheRoot: cachePath(spec: spec, environment: environment),
                hydration: spec.hydrationStrategy, logger: logger, region: aws?.region)
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
        "s3://\(settings.endpoint?.absoluteString ?? "aws:\(settings.region ?? "us-east-1")")/\(settings.bucket)/\(remote.prefix)"
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
                healthy: true, message: "S3 bucket '\(bucket)' is reachable and writable", latencyMs: latency, details: details())
        } catch {
            return .failed(error, details: details())
        }
    }

    /// The bucket, its region, and where the credentials came from (never the secret): the
    /// masked key id, and when temporary ones expire.
    func details() -> [String: String] {
        let address = client.configuration.address(key: "", region: client.bucketRegion.value)
        var details = ["bucket": bucket, "region": client.bucketRegion.value, "endpoint": address.base]
        if let credentials = client.credentials.current {
            details["credentials"] = credentials.source
            details["credentialsKey"] = credentials.maskedKeyId
            if let expiration = credentials.expiration { details["credentialsExpire"] = UTCTime.iso8601(expiration, milliseconds: false) }
        }
        return details
    }
}

/// The bucket region an earlier command learnt from S3, kept in the cache
/// (`.swamp-sync/bucket-region`) so that later commands sign for it from their first request.
struct RegionMemory: Sendable {
    let path: String
    let bucket: String

    init(cacheRoot: String, bucket: String) {
        path = "\(cacheRoot)/.swamp-sync/bucket-region"
        self.bucket = bucket
    }

    func recall() -> String? {
        guard let data = try? AtomicFile.readIfPresent(path) else { return nil }
        let fields = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 2, fields[0] == bucket, BucketRegion.plausible(fields[1]) else { return nil }
        return fields[1]
    }

    /// Best effort: a cache that cannot be written only costs the next command one more round trip.
    func remember(_ region: String) {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? AtomicFile.write(Data("\(bucket) \(region)\n".utf8), to: path)
    }
}
