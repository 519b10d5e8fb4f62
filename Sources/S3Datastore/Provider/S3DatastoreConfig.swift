import Foundation
import S3Client
import SwampContracts

/// The `config` of an `s3` datastore.
public struct S3DatastoreConfig: Sendable, Equatable {
    /// The bucket (required).
    public var bucket: String
    /// The key prefix all objects live under. Default: none.
    public var prefix: String = ""
    /// The bucket's region. Default: the one S3 named when asked in the wrong one (remembered in
    /// the cache), else `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile's `region`, else `us-east-1`.
    public var region: String?
    /// A custom endpoint, e.g. `http://127.0.0.1:9000`. Default: `AWS_ENDPOINT_URL_S3`,
    /// `AWS_ENDPOINT_URL` or the profile's `endpoint_url`, else AWS.
    public var endpoint: URL?
    /// Path-style addressing. Default: `false` (virtual-hosted).
    public var forcePathStyle = false
    /// Requests of a pull in flight at once (index reads and downloads of every partition,
    /// in one window; at most 4 of them objects of 8 MiB or more). Default: 32 — with 80 ms
    /// added to every request a 761-object pull took 4.45 s at 32 (the test server's own pace)
    /// and 9.4 s at 8; at 16 its round trips alone would take ≈ 3.8 s (docs/benchmarks.md).
    /// At most ``S3Client/maximumConnectionsPerHost``.
    public var pullConcurrency = 32
    /// Requests of a push in flight at once (uploads, partition commits, deletes). Default: 32.
    public var pushConcurrency = 32
    /// The limit for one request, reading its whole body included (a request that runs out of
    /// time fails; fast failures are retried); large transfers get `size / minThroughputBytesPerSecond`
    /// more. Default: 30 000 ms.
    public var requestTimeoutMs = 30_000
    /// The slowest a transfer may go before it is given up. Default: 262 144 (256 KiB/s).
    public var minThroughputBytesPerSecond = 256 * 1024
    /// The largest index or meta object read from the bucket (a larger one is refused without
    /// being read further). Default: 67 108 864 (64 MiB).
    public var maxIndexBytes = 64 << 20
    /// Objects of this size or more are uploaded in parts (multipart upload) and downloaded in
    /// ranges, side by side within the push or pull window. Default: 67 108 864 (64 MiB).
    public var multipartThreshold = 64 << 20
    /// The size of those parts and ranges (at least 5 MiB, S3's minimum part; grown for objects
    /// that would need more than 10 000). Memory per request in flight stays at a few 256 KiB
    /// chunks whatever this is. Default: 8 388 608 (8 MiB).
    public var partSize = 8 << 20

    public init(bucket: String) { self.bucket = bucket }

    static let fields = [
        "bucket", "prefix", "region", "endpoint", "forcePathStyle", "pullConcurrency", "pushConcurrency", "requestTimeoutMs",
        "minThroughputBytesPerSecond", "maxIndexBytes", "multipartThreshold", "partSize",
    ]

    /// Parses and validates `config`; every error names the field (`datastore.config.X`).
    public static func parse(_ config: JSONValue?) throws -> S3DatastoreConfig {
        func invalid(_ message: String) -> S3SyncError { S3SyncError(.invalidConfig, message) }
        guard case .object(let fields)? = config else {
            throw invalid("datastore.config must be an object with at least \"bucket\" for an s3 datastore")
        }
        func string(_ name: String) throws -> String? {
            guard let value = fields[name] else { return nil }
            guard case .string(let text) = value else { throw invalid("datastore.config.\(name) must be a string, not \(value.typeName)") }
            return text
        }
        func positive(_ name: String, upTo limit: Double = 1_000_000) throws -> Int? {
            guard let value = fields[name] else { return nil }
            guard case .number(let number) = value, number >= 1, number.rounded() == number, number <= limit else {
                throw invalid("datastore.config.\(name) must be a positive whole number up to \(Int(limit)), not \(value.compactJSON)")
            }
            return Int(number)
        }
        if let unknown = fields.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw invalid("datastore.config.\(unknown) is not an s3 setting (known: \(Self.fields.joined(separator: ", ")))")
        }
        guard let bucket = try string("bucket"), !bucket.isEmpty else { throw invalid("datastore.config.bucket is required") }
        guard bucket.range(of: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", options: .regularExpression) != nil else {
            throw invalid("datastore.config.bucket '\(bucket)' is not a valid bucket name")
        }
        var result = S3DatastoreConfig(bucket: bucket)
        if let prefix = try string("prefix") {
            let trimmed = prefix.split(separator: "/").joined(separator: "/")
            if !trimmed.isEmpty {
                guard (try? PathRules.validateRelativePath(trimmed)) != nil, !trimmed.hasPrefix("_swamp") else {
                    throw invalid("datastore.config.prefix '\(PathRules.printable(prefix))' is not a safe key prefix")
                }
            }
            result.prefix = trimmed
        }
        if let region = try string("region") {
            guard BucketRegion.plausible(region) else {
                throw invalid("datastore.config.region '\(region)' is not a region name (lower-case letters, digits and dashes, e.g. eu-west-1)")
            }
            result.region = region
        }
        if let endpoint = try string("endpoint") {
            guard let url = URL(string: endpoint), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw invalid("datastore.config.endpoint '\(endpoint)' is not an http(s) URL")
            }
            result.endpoint = url
        }
        if let value = fields["forcePathStyle"] {
            guard case .bool(let flag) = value else { throw invalid("datastore.config.forcePathStyle must be true or false, not \(value.typeName)") }
            result.forcePathStyle = flag
        }
        // More than the connections kept per endpoint would only queue.
        let connections = Double(S3Client.maximumConnectionsPerHost)
        result.pullConcurrency = try positive("pullConcurrency", upTo: connections) ?? result.pullConcurrency
        result.pushConcurrency = try positive("pushConcurrency", upTo: connections) ?? result.pushConcurrency
        result.requestTimeoutMs = try positive("requestTimeoutMs") ?? result.requestTimeoutMs
        result.minThroughputBytesPerSecond = try positive("minThroughputBytesPerSecond", upTo: 1e10) ?? result.minThroughputBytesPerSecond
        result.maxIndexBytes = try positive("maxIndexBytes", upTo: Double(1 << 31)) ?? result.maxIndexBytes
        // S3: parts of 5 MiB to 5 GiB (the last may be smaller).
        let minimumPart = 5 << 20
        result.partSize = try positive("partSize", upTo: Double(5 << 30)) ?? result.partSize
        guard result.partSize >= minimumPart else {
            throw invalid("datastore.config.partSize must be at least \(minimumPart) (5 MiB, S3's smallest part), not \(result.partSize)")
        }
        result.multipartThreshold = try positive("multipartThreshold", upTo: Double(5 << 30)) ?? result.multipartThreshold
        guard result.multipartThreshold >= minimumPart else {
            throw invalid("datastore.config.multipartThreshold must be at least \(minimumPart) (5 MiB), not \(result.multipartThreshold)")
        }
        return result
    }
}
