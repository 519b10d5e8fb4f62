import Foundation

/// Where and how an ``S3Client`` talks to S3.
public struct S3ClientConfiguration: Sendable, Equatable {
    /// The bucket name.
    public var bucket: String
    /// The region used for signing. Default: `us-east-1`.
    public var region: String
    /// The service endpoint, e.g. `http://127.0.0.1:9000`. Default: `https://s3.{region}.amazonaws.com`.
    public var endpoint: URL?
    /// Path-style addressing (`{endpoint}/{bucket}/{key}`) instead of virtual-hosted
    /// (`{bucket}.{host}/{key}`). Default: `false` — virtual-hosted, as on AWS; an endpoint whose
    /// host is an IP address or `localhost` is always addressed by path (it has no subdomains).
    public var forcePathStyle: Bool
    /// The limit for one attempt of a request, reading its whole body included (an attempt that
    /// runs out of time is not retried). A transfer of `n` bytes gets `n / minimumThroughput`
    /// seconds more. Default: 30 s.
    public var requestTimeout: Duration
    /// The slowest a transfer may go, in bytes per second, before it is given up. Default: 256 KiB/s.
    public var minimumThroughput: Int
    /// The largest response body accepted when the caller does not say. Default: 64 MiB.
    public var maximumBodyBytes: Int
    /// Retries on 5xx, throttling, timeouts and connection failures.
    public var retry: RetryPolicy

    public init(
        bucket: String, region: String = "us-east-1", endpoint: URL? = nil, forcePathStyle: Bool = false,
        requestTimeout: Duration = .seconds(30), minimumThroughput: Int = 256 * 1024, maximumBodyBytes: Int = 64 << 20,
        retry: RetryPolicy = RetryPolicy()
    ) {
        self.bucket = bucket
        self.region = region
        self.endpoint = endpoint
        self.forcePathStyle = forcePathStyle
        self.requestTimeout = requestTimeout
        self.minimumThroughput = max(1, minimumThroughput)
        self.maximumBodyBytes = maximumBodyBytes
        self.retry = retry
    }

    /// The time a request moving `bytes` may take: ``requestTimeout`` plus `bytes / minimumThroughput`.
    public func limit(transferring bytes: Int) -> Duration {
        requestTimeout + .milliseconds(Int64(bytes) * 1000 / Int64(minimumThroughput))
    }

    /// Whether requests address the bucket by path: configured, or forced by an endpoint host
    /// that cannot have a bucket subdomain.
    public var usesPathStyle: Bool {
        guard !forcePathStyle, let host = endpoint?.host else { return forcePathStyle }
        return host == "localhost" || host.contains(":") || host.split(separator: ".").allSatisfy { Int($0) != nil }
    }

    /// The URL parts for an object key (or the bucket itself when `key` is empty):
    /// the base (scheme + host + port), the encoded path, and the `Host` header value.
    public func address(key: String, region: String? = nil) -> (base: String, path: String, host: String) {
        // Never a host name built from anything but a region name (a cache file or a server said it).
        let region = [region, self.region].compactMap { $0 }.first(where: BucketRegion.plausible) ?? "us-east-1"
        let endpoint = self.endpoint ?? URL(string: "https://s3.\(region).\(BucketRegion.dnsSuffix(region))") ?? URL(fileURLWithPath: "/")
        let scheme = endpoint.scheme ?? "https"
        let hostName = endpoint.host ?? "s3.amazonaws.com"
        let port = endpoint.port.map { ":\($0)" } ?? ""
        let encodedKey = SigV4Signer.encode(key, keepSlash: true)
        let basePath = endpoint.path == "/" ? "" : endpoint.path
        if usesPathStyle {
            let path = "\(basePath)/\(SigV4Signer.encode(bucket))" + (key.isEmpty ? "" : "/\(encodedKey)")
            return ("\(scheme)://\(hostName)\(port)", path, "\(hostName)\(port)")
        }
        let host = "\(bucket).\(hostName)\(port)"
        return ("\(scheme)://\(host)", "\(basePath)/\(encodedKey)", host)
    }
}
