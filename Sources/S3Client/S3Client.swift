import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SwampContracts
import Synchronization

/// A small S3 client: signed GET/HEAD/PUT/DELETE and `ListObjectsV2`, with
/// conditional headers, typed errors, per-request timeouts, retries with jittered
/// backoff, and request accounting. It never logs secrets, signatures or payloads.
public final class S3Client: Sendable {
    public let configuration: S3ClientConfiguration
    /// Requests and bytes made through this client.
    public let accounting: RequestAccounting
    /// The credentials every request is signed with (refreshed before temporary ones expire).
    public let credentials: RefreshingCredentials
    /// The bucket's region, as learnt so far.
    public let bucketRegion: BucketRegion
    private let http: HTTPClient
    private let logger: Logger
    /// The logger handed to AsyncHTTPClient: at most `debug`, because its `trace` level prints
    /// every body it reads (object contents, and credentials in STS answers).
    private let httpLogger: Logger
    private let now: @Sendable () -> Date

    /// A raw response: status, lower-cased headers, body.
    public struct Response: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data

        /// The `ETag` header, as S3 sent it (quoted).
        public var etag: String? { headers["etag"] }
        /// The server's clock at the time of the response (`Date`).
        public var serverDate: Date? { headers["date"].flatMap(HTTPDate.parse) }
        /// `Last-Modified` of the object.
        public var lastModified: Date? { headers["last-modified"].flatMap(HTTPDate.parse) }
        /// A user metadata value the object was written with (`x-amz-meta-{name}`).
        public func userMetadata(_ name: String) -> String? { headers["x-amz-meta-\(name.lowercased())"] }
    }

    /// What a GET found.
    public enum GetOutcome: Sendable {
        case found(Response)
        /// `If-None-Match` matched: the object is unchanged.
        case notModified(Response)
        case notFound
    }

    /// The precondition of a PUT or DELETE.
    public enum Condition: Sendable, Equatable {
        case none
        /// Only if the object's ETag is this one (`If-Match`).
        case ifMatch(String)
        /// Only if no object exists (`If-None-Match: *`).
        case ifAbsent
    }

    /// The most connections kept open to one endpoint (the largest useful transfer window).
    public static let maximumConnectionsPerHost = 64

    /// The HTTP client every S3 client shares (one connection pool per process, never shut
    /// down). Unlike `HTTPClient.shared`, a connection that cannot be established fails the
    /// attempt at once (`retryConnectionEstablishment` off): our own ``RetryPolicy`` retries it a
    /// bounded number of times, where AsyncHTTPClient would keep trying until the request's
    /// deadline — a refused endpoint took the whole request timeout per request.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        // Kept-alive connections per host: the library's default (8) would cap every transfer
        // window at 8 requests in flight, whatever the configured concurrency.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maximumConnectionsPerHost
        // Once the first connection is up, keep two more open and idle: the requests a model
        // run sends side by side (the global-lock read beside the pull, then its uploads) find
        // them ready instead of each paying a handshake on the critical path. Measured with
        // 80 ms per request and 160 ms per new connection: a model run 1.12 s → 0.95 s.
        configuration.connectionPool.preWarmedHTTP1ConnectionCount = 2
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public convenience init(
        configuration: S3ClientConfiguration, credentials: S3Credentials, accounting: RequestAccounting = RequestAccounting(),
        httpClient: HTTPClient = S3Client.sharedHTTPClient, logger: Logger = Logger(label: "swamp.s3", factory: { _ in SwiftLogNoOpLogHandler() }),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.init(
            configuration: configuration, credentials: RefreshingCredentials(credentials), accounting: accounting, httpClient: httpClient,
            logger: logger, now: now)
    }

    /// A client whose credentials come from `credentials` (typically the AWS chain, resolved at
    /// the first request so that commands that make none never need them).
    /// - Parameter region: the bucket's region shared with other clients of the bucket
    ///   (default: a new one starting at the configuration's).
    public init(
        configuration: S3ClientConfiguration, credentials: RefreshingCredentials, region: BucketRegion? = nil,
        accounting: RequestAccounting = RequestAccounting(), httpClient: HTTPClient = S3Client.sharedHTTPClient,
        logger: Logger = Logger(label: "swamp.s3", factory: { _ in SwiftLogNoOpLogHandler() }), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.bucketRegion = region ?? BucketRegion(configuration.region)
        self.accounting = accounting
        self.http = httpClient
        self.logger = logger
        var httpLogger = logger
        httpLogger.logLevel = max(logger.logLevel, .debug)
        self.httpLogger = httpLogger
        self.now = now
    }

    // MARK: Operations

    /// GETs an object; with `ifNoneMatch`, a match returns ``GetOutcome/notModified(_:)``.
    /// - Parameters:
    ///   - maxBytes: the largest body accepted (default: the configuration's); a larger one is
    ///     refused (``S3Error/Code/tooLarge``) without being read further.
    ///   - expectedBytes: the body's expected size, which extends the request's time limit by
    ///     `expectedBytes / minimumThroughput`.
    ///   - retrying: `false` for a read that is worth one attempt only (a guess that something
    ///     else confirms): a failure is thrown at once, not retried.
    public func get(
        _ key: String, ifNoneMatch: String? = nil, maxBytes: Int? = nil, expectedBytes: Int = 0, retrying: Bool = true
    ) async throws -> GetOutcome {
        var headers: [(String, String)] = []
        if let ifNoneMatch { headers.append(("If-None-Match", ifNoneMatch)) }
        let response = try await send(
            "GET", key: key, headers: headers, accept: [200, 304, 404], maxBytes: maxBytes ?? configuration.maximumBodyBytes,
            limit: configuration.limit(transferring: expectedBytes), retrying: retrying)
        switch response.status {
        case 304: return .notModified(response)
        case 404: return .notFound
        default: return .found(response)
        }
    }

    /// HEADs an object; `nil` when it does not exist.
    public func head(_ key: String) async throws -> Response? {
        let response = try await send("HEAD", key: key, accept: [200, 404])
        return response.status == 404 ? nil : response
    }

    /// PUTs an object under `condition` and returns the response (its ETag).
    /// - Throws: ``S3Error`` with code `preconditionFailed` when the condition does not hold.
    /// - Parameter metadata: user metadata, sent as `x-amz-meta-{name}` headers (names lower-case ASCII).
    @discardableResult
    public func put(
        _ key: String, data: Data, contentType: String = "application/octet-stream", condition: Condition = .none,
        metadata: [String: String] = [:]
    ) async throws -> Response {
        try await send(
            "PUT", key: key, headers: Self.headers(contentType: contentType, condition: condition, metadata: metadata), body: .data(data),
            accept: [200], limit: configuration.limit(transferring: data.count))
    }

    /// DELETEs an object (a missing object is not an error), optionally only if its ETag matches.
    public func delete(_ key: String, ifMatch: String? = nil) async throws {
        var headers: [(String, String)] = []
        if let ifMatch { headers.append(("If-Match", ifMatch)) }
        _ = try await send("DELETE", key: key, headers: headers, accept: [200, 204, 404])
    }

    /// Lists every object under `prefix` (all pages).
    public func list(prefix: String) async throws -> [S3ObjectSummary] {
        var objects: [S3ObjectSummary] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send("GET", key: "", query: query, accept: [200], maxBytes: 16 << 20)
            guard let page = S3XML.listPage(response.body) else {
                throw S3Error(.invalidResponse, status: response.status, message: "unreadable ListObjectsV2 response", operation: "LIST \(prefix)")
            }
            objects += page.objects
            // A server that hands back the token it was given would list the same page forever.
            if let next = page.nextToken, next == token {
                throw S3Error(
                    .invalidResponse, status: response.status, message: "ListObjectsV2 repeated its continuation token", operation: "LIST \(prefix)")
            }
            token = page.nextToken
        } while token != nil
        return objects
    }

    /// Creates the bucket (used by tests and tooling; an existing bucket of ours is not an error).
    public func createBucket() async throws {
        _ = try await send("PUT", key: "", accept: [200, 409])
    }

    /// Checks the bucket exists and the credentials may use it.
    public func headBucket() async throws -> Response {
        do {
            return try await send("HEAD", key: "", accept: [200])
        } catch let error as S3Error where error.status == 404 {
            // A HEAD has no error document: a 404 on the bucket itself means it does not exist.
            throw S3Error(.noSuchBucket, status: 404, message: "the bucket '\(configuration.bucket)' does not exist", operation: error.operation)
        }
    }

    // MARK: Transport

    /// Sends one signed request, retrying retryable failures, and refusing bodies over
    /// `maxBytes`; statuses outside `accept` become ``S3Error``. Each attempt must be answered
    /// in full — head and body — within `limit` (default: the request timeout). An attempt that
    /// ran out of time is not retried: it has used the time the caller allowed, so a server that
    /// stalls or trickles costs one timeout, not one per attempt. Fast failures (5xx, throttling,
    /// resets) are retried with jittered backoff.
    func send(
        _ method: String, key: String, query: [(String, String)] = [], headers extra: [(String, String)] = [], body: RequestBody = .empty,
        accept: Set<Int>, maxBytes: Int? = nil, limit: Duration? = nil, sink: FileSink? = nil, retrying: Bool = true
    ) async throws -> Response {
        let operation = key.isEmpty ? "\(method) bucket \(configuration.bucket)" : "\(method) \(key)"
        var attempt = 1
        let started = ContinuousClock.now
        // Whether any attempt got an answer: the short budget is for a server never reached
        // (a reset after a 503 is a server that is there).
        var reached = false
        var redirected = false
        var renewed = false
        while true {
            do {
                let region = bucketRegion.value
                // Fetched before the attempt's clock starts: a slow credential source (STS, a
                // process) is not a slow server.
                let signer = try await credentials.get()
                let response = try await sendOnce(
                    method, key: key, query: query, headers: extra, body: body, operation: operation,
                    maxBytes: maxBytes ?? configuration.maximumBodyBytes, within: limit ?? configuration.requestTimeout, sink: sink, region: region,
                    credentials: signer)
                if accept.contains(response.status) { return response }
                // A bucket in another region says which: sign for it and send again, once.
                if !redirected,
                    let corrected = bucketRegion.correction(
                        status: response.status, headers: response.headers, body: response.body, signedFor: region)
                {
                    logger.info(
                        "the bucket is in another region; sending there", metadata: ["bucket": "\(configuration.bucket)", "region": "\(corrected)"])
                    redirected = true
                    continue
                }
                let error = Self.error(for: response, operation: operation)
                // Temporary credentials the server calls expired (its clock ahead of ours): fetch
                // new ones and send again, once.
                if !renewed, error.code.rawValue == "ExpiredToken", credentials.expire(signer) {
                    logger.info("the server says the credentials expired; fetching new ones", metadata: ["source": "\(signer.source)"])
                    renewed = true
                    continue
                }
                if error.isAuthenticationFailure {
                    throw S3Error(
                        error.code, status: error.status, message: "\(error.message) (credentials from \(signer.source), key \(signer.maskedKeyId))",
                        operation: operation)
                }
                throw error
            } catch let error as S3Error where error.isRetryable && error.code != .timeout {
                // Timeouts are not retried: the attempt already had all the time it was given.
                reached = reached || error.status > 0
                let delay = configuration.retry.delay(afterAttempt: attempt, jitter: Double.random(in: 0...1))
                let elapsed = ContinuousClock.now - started
                guard retrying,
                    configuration.retry.allowsRetry(
                        afterAttempt: attempt, elapsed: elapsed, delay: delay, unreachable: error.code == .connectionFailed && !reached)
                else {
                    guard attempt > 1 else { throw error }
                    throw S3Error(
                        error.code, status: error.status, message: "\(error.message) (gave up after \(attempt) attempts in \(Self.seconds(elapsed)))",
                        operation: error.operation)
                }
                logger.debug("retrying S3 request", metadata: ["operation": "\(operation)", "code": "\(error.code)", "attempt": "\(attempt)"])
                try await Task.sleep(for: delay)
                attempt += 1
            }
        }
    }

    /// `1.25 s`, for messages.
    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return "\((value * 100).rounded() / 100) s"
    }

    /// One attempt, answered in full within `time` — the response head *and* its body (a body
    /// trickled byte by byte is given up at the limit, not read forever).
    private func sendOnce(
        _ method: String, key: String, query: [(String, String)], headers extra: [(String, String)], body: RequestBody, operation: String,
        maxBytes: Int, within time: Duration, sink: FileSink?, region: String, credentials: S3Credentials
    ) async throws -> Response {
        sink?.begin()
        return try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask {
                try await self.exchange(
                    method, key: key, query: query, headers: extra, body: body, operation: operation, maxBytes: maxBytes, within: time,
                    sink: sink, region: region, credentials: credentials)
            }
            group.addTask {
                try await Task.sleep(for: time)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                accounting.record(method: method, bytesUp: body.count, bytesDown: 0)
                throw S3Error(.timeout, status: 0, message: "no complete response within \(time)", operation: operation)
            }
            return response
        }
    }

    private func exchange(
        _ method: String, key: String, query: [(String, String)], headers extra: [(String, String)], body: RequestBody, operation: String,
        maxBytes: Int, within time: Duration, sink: FileSink?, region: String, credentials: S3Credentials
    ) async throws -> Response {
        let address = configuration.address(key: key, region: region)
        let payload = body.payload
        var signedHeaders: [(String, String)] = [
            ("host", address.host), ("x-amz-date", SigV4Signer.amzDate(now())), ("x-amz-content-sha256", payload.headerValue),
        ]
        if let token = credentials.sessionToken { signedHeaders.append(("x-amz-security-token", token)) }
        signedHeaders += extra
        let signer = SigV4Signer(accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, region: region)
        let signature = signer.sign(
            method: method, encodedPath: address.path.isEmpty ? "/" : address.path, query: query, headers: signedHeaders, payload: payload)

        let queryString = query.map { "\(SigV4Signer.encode($0.0))=\(SigV4Signer.encode($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(
            url: address.base + (address.path.isEmpty ? "/" : address.path) + (queryString.isEmpty ? "" : "?\(queryString)"))
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in signedHeaders where name != "host" { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Authorization", value: signature.authorization)
        if method == "PUT" || method == "POST" || body.count > 0 {
            request.headers.add(name: "Content-Length", value: String(body.count))
            request.body = body.http
        }

        let deadline = NIODeadline.now() + .nanoseconds(Int64(time.components.seconds) * 1_000_000_000 + time.components.attoseconds / 1_000_000_000)
        do {
            let response = try await http.execute(request, deadline: deadline, logger: httpLogger)
            if let sink, (200..<300).contains(Int(response.status.code)) {
                return try await stream(response, into: sink, method: method, sent: body.count, maxBytes: maxBytes, operation: operation)
            }
            let buffer: ByteBuffer
            // The caller's limit is for what it asked for; an error document has its own (an
            // object's 2-byte limit must not turn a 404's XML into "too large").
            let limit = (200..<300).contains(Int(response.status.code)) ? maxBytes : Self.maximumErrorDocumentBytes
            do {
                buffer = try await response.body.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                accounting.record(method: method, bytesUp: body.count, bytesDown: limit)
                if limit == Self.maximumErrorDocumentBytes {
                    // Not an S3 error document: an HTML page from a proxy or a gateway, most likely.
                    throw S3Error(
                        .invalidResponse, status: Int(response.status.code),
                        message: "HTTP \(response.status.code) with a body over \(limit) bytes, not an S3 error document (a proxy in the way?)",
                        operation: operation)
                }
                throw S3Error(
                    .tooLarge, status: Int(response.status.code),
                    message: "the response body is over the \(limit)-byte limit; it was not read further",
                    operation: operation)
            }
            let bytes = Data(buffer.readableBytesView)
            accounting.record(method: method, bytesUp: body.count, bytesDown: bytes.count)
            var headers: [String: String] = [:]
            for header in response.headers { headers[header.name.lowercased()] = header.value }
            return Response(status: Int(response.status.code), headers: headers, body: bytes)
        } catch let error as S3Error {
            throw error
        } catch let error as LocalFileError {
            accounting.record(method: method, bytesUp: body.count, bytesDown: 0)
            throw error
        } catch let error as FileSink.SinkError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            accounting.record(method: method, bytesUp: body.count, bytesDown: 0)
            throw S3Error(.timeout, status: 0, message: "no response within \(configuration.requestTimeout)", operation: operation)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            accounting.record(method: method, bytesUp: body.count, bytesDown: 0)
            throw S3Error(.connectionFailed, status: 0, message: "cannot reach \(address.base): \(error)", operation: operation)
        }
    }

    /// Hands a successful response's body to `sink` as it arrives, refusing more than `maxBytes`.
    private func stream(
        _ response: HTTPClientResponse, into sink: FileSink, method: String, sent: Int, maxBytes: Int, operation: String
    ) async throws -> Response {
        var received = 0
        do {
            for try await chunk in response.body {
                received += chunk.readableBytes
                guard received <= maxBytes else {
                    throw S3Error(
                        .tooLarge, status: Int(response.status.code),
                        message: "the response body is over the \(maxBytes)-byte limit; it was not read further", operation: operation)
                }
                try sink.write(chunk)
            }
        } catch let error as S3Error {
            // The caller's catches record every other failure; an S3Error passes them as it is.
            accounting.record(method: method, bytesUp: sent, bytesDown: received)
            throw error
        }
        accounting.record(method: method, bytesUp: sent, bytesDown: received)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return Response(status: Int(response.status.code), headers: headers, body: Data())
    }

    /// The largest error document read (S3's are under 1 KiB).
    static let maximumErrorDocumentBytes = 64 << 10

    static func error(for response: Response, operation: String) -> S3Error {
        if let parsed = S3XML.error(response.body) {
            return S3Error(.init(parsed.code), status: response.status, message: parsed.message, operation: operation)
        }
        let code: S3Error.Code
        switch response.status {
        case 404: code = .noSuchKey
        case 412: code = .preconditionFailed
        case 403: code = .accessDenied
        case 503: code = .slowDown
        case 500...: code = .internalError
        default: code = .invalidResponse
        }
        return S3Error(code, status: response.status, message: "HTTP \(response.status) without an error document", operation: operation)
    }
}

/// RFC 7231 dates (`Date`, `Last-Modified`).
enum HTTPDate {
    static func parse(_ text: String) -> Date? { UTCTime.parseHTTPDate(text) }
}
