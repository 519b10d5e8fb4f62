import AsyncHTTPClient
import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A byte range of a local file, sent as a request body as it is read: memory holds a few
/// chunks, whatever the size.
public struct FileSlice: Sendable, Equatable {
    public var path: String
    public var offset: Int64
    public var length: Int64
    /// The hex SHA-256 the bytes must have. It signs the request (`x-amz-content-sha256`), and
    /// the last chunk is held back until the bytes read hash to it: a file that changes while
    /// it is sent never completes a request, on any server.
    public var sha256: String

    public init(path: String, offset: Int64 = 0, length: Int64, sha256: String) {
        self.path = path
        self.offset = offset
        self.length = length
        self.sha256 = sha256
    }
}

/// A local file could not be read as it was being sent, or it changed meanwhile. Never retried:
/// the bytes on disk are no longer the ones the request was signed for.
public struct LocalFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "'\(path)': \(message)" }

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}

/// The body of a ``FileSlice``: chunks read with `pread`, hashed, the last one held back until
/// the hash is checked.
struct FileSliceBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let slice: FileSlice
    var bound = WriteBound.process
    /// Bytes read per chunk.
    static let chunkBytes = 32 << 10
    /// Chunks handed to the HTTP client that it may not have written to the socket yet, at
    /// most. The client takes chunks without waiting for their writes until its connection
    /// reports itself full, which reaches the producer late: a body read from the page cache got
    /// ~10 chunks ahead of its socket (measured). With this bound a body holds at most three
    /// chunks: these two and the one held back (the next is read only once one of the two was
    /// written).
    static let chunksAhead = 2

    func makeAsyncIterator() -> Iterator { Iterator(slice: slice, bound: bound) }

    /// Whether bodies wait for their chunks' writes (``chunksAhead``): once the HTTP client kept
    /// a chunk for `patience` (two seconds; never seen), no body that shares this waits again,
    /// so a client that changed how it holds chunks costs memory, never a stall per part.
    final class WriteBound: Sendable {
        static let process = WriteBound()
        let patience: Duration
        private let off = Atomic(false)
        private let pauses = Atomic(0)

        init(patience: Duration = .seconds(2)) { self.patience = patience }

        var isOn: Bool { !off.load(ordering: .relaxed) }
        func turnOff() { off.store(true, ordering: .relaxed) }
        /// How many times a body sharing this paused to wait.
        var paused: Int { pauses.load(ordering: .relaxed) }
        func pausing() { pauses.add(1, ordering: .relaxed) }
    }

    /// Owns the descriptor, so an iterator dropped mid-way still closes it.
    final class Descriptor {
        let fd: Int32
        init(_ fd: Int32) { self.fd = fd }
        deinit { close(fd) }
    }

    struct Iterator: AsyncIteratorProtocol {
        let slice: FileSlice
        var file: Descriptor?
        var read: Int64 = 0
        var hasher = SHA256()
        var held: ByteBuffer?
        var finished = false
        /// Chunks handed out, while the HTTP client may still hold them (see ``chunksAhead``).
        var handedOut: [ByteBuffer] = []
        let bound: WriteBound

        init(slice: FileSlice, bound: WriteBound) {
            self.slice = slice
            self.bound = bound
        }

        mutating func next() async throws -> ByteBuffer? {
            while !finished {
                if read == slice.length {
                    finished = true
                    let digest = SigV4Signer.hex(hasher.finalize())
                    guard digest == slice.sha256 else {
                        throw LocalFileError(
                            path: slice.path, message: "changed while it was being sent (its bytes no longer hash to what was signed)")
                    }
                    handedOut = []
                    return held
                }
                try await waitForWrites()
                let chunk = try readChunk()
                if let previous = held {
                    held = chunk
                    handedOut.append(previous)
                    return previous
                }
                held = chunk
            }
            return nil
        }

        /// Waits until fewer than ``chunksAhead`` chunks handed out are still held by the HTTP
        /// client: a chunk only this iterator holds has been written to the socket (or dropped).
        /// A wait as long as the bound's patience turns it off (``WriteBound``).
        private mutating func waitForWrites() async throws {
            guard bound.isOn else {
                handedOut = []
                return
            }
            var pause = Duration.microseconds(100)
            let started = ContinuousClock.now
            while true {
                var index = 0
                while index < handedOut.count {
                    if handedOut[index].modifyIfUniquelyOwned({ _ in () }) != nil {
                        handedOut.remove(at: index)
                    } else {
                        index += 1
                    }
                }
                guard handedOut.count >= FileSliceBody.chunksAhead else { return }
                guard ContinuousClock.now - started < bound.patience else {
                    bound.turnOff()
                    handedOut = []
                    return
                }
                bound.pausing()
                try await Task.sleep(for: pause)
                pause = Swift.min(pause * 2, .milliseconds(5))
            }
        }

        private mutating func readChunk() throws -> ByteBuffer {
            if file == nil {
                let fd = open(slice.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw LocalFileError(path: slice.path, message: "cannot be opened (errno \(errno))") }
                file = Descriptor(fd)
            }
            guard let fd = file?.fd else { throw LocalFileError(path: slice.path, message: "cannot be opened") }
            let want = Int(Swift.min(Int64(FileSliceBody.chunkBytes), slice.length - read))
            var buffer = ByteBufferAllocator().buffer(capacity: want)
            var failure: Int32 = 0
            let position = slice.offset + read
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { pointer -> Int in
                var total = 0
                while total < want, let base = pointer.baseAddress {
                    let count = pread(fd, base + total, want - total, off_t(position) + off_t(total))
                    if count < 0 {
                        if errno == EINTR { continue }
                        failure = errno
                        return total
                    }
                    if count == 0 { break }
                    total += count
                }
                return total
            }
            if failure != 0 { throw LocalFileError(path: slice.path, message: "cannot be read (errno \(failure))") }
            guard got == want else { throw LocalFileError(path: slice.path, message: "became shorter while it was being sent") }
            buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            read += Int64(got)
            return buffer
        }
    }
}

/// Where a streamed response body goes: a file descriptor from `offset` on, hashed as it
/// arrives unless told not to. Each attempt of a request starts again at `offset`.
public final class FileSink: Sendable {
    private let fd: Int32
    private let offset: Int64
    private let hashing: Bool
    private let turns: WriteTurns?
    private struct State {
        var written: Int64 = 0
        var hasher = SHA256()
    }
    private let state = Mutex(State())

    /// - Parameters:
    ///   - fd: an open, writable descriptor the caller owns (and closes).
    ///   - hashing: whether to hash the bytes (``sha256``); a range of a larger object is
    ///     hashed with the others, in order, by its caller.
    ///   - turns: shared by the sinks of one file written side by side (see ``WriteTurns``).
    public init(fd: Int32, offset: Int64 = 0, hashing: Bool = true, turns: WriteTurns? = nil) {
        self.fd = fd
        self.offset = offset
        self.hashing = hashing
        self.turns = turns
    }

    /// Makes the sinks of one file write one at a time. The kernel lets one write into a file's
    /// page cache at a time anyway, and a thread that finds another writing spins on it
    /// (ext4's inode lock, `rwsem_spin_on_owner`: 19% of a 512 MiB ranged pull's CPU samples,
    /// measured); here it waits without burning a core.
    public final class WriteTurns: Sendable {
        fileprivate let lock = NIOLock()
        public init() {}
    }

    /// Bytes written by the current attempt.
    public var written: Int64 { state.withLock { $0.written } }

    /// The hex SHA-256 of the bytes written by the current attempt (of none, when not hashing).
    public var sha256: String { state.withLock { SigV4Signer.hex($0.hasher.finalize()) } }

    /// A new attempt: forget what an earlier one wrote (it is overwritten).
    func begin() { state.withLock { $0 = State() } }

    func write(_ buffer: ByteBuffer) throws {
        try state.withLock { state in
            var failure: Int32 = 0
            let position = offset + state.written
            buffer.withUnsafeReadableBytes { pointer in
                if let turns {
                    failure = turns.lock.withLock { Self.write(pointer, to: fd, at: position) }
                } else {
                    failure = Self.write(pointer, to: fd, at: position)
                }
                if hashing { state.hasher.update(bufferPointer: pointer) }
            }
            if failure != 0 { throw SinkError(errno: failure) }
            state.written += Int64(buffer.readableBytes)
        }
    }

    /// Writes all of `bytes` at `position`; returns 0, or the `errno` of the failure.
    private static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32, at position: Int64) -> Int32 {
        var done = 0
        while done < bytes.count, let base = bytes.baseAddress {
            let count = pwrite(fd, base + done, bytes.count - done, off_t(position) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if count == 0 { return EIO }
            done += count
        }
        return 0
    }

    /// Writing the body failed locally (disk full, say): never retried as a network failure.
    public struct SinkError: Error, CustomStringConvertible, Sendable {
        public let errno: Int32
        public var description: String { "cannot write the downloaded bytes: \(String(cString: strerror(errno)))" }
    }
}

/// What a request sends.
enum RequestBody: Sendable {
    case data(Data)
    case file(FileSlice)

    static let empty = RequestBody.data(Data())

    var count: Int {
        switch self {
        case .data(let data): data.count
        case .file(let slice): Int(slice.length)
        }
    }

    var payload: SigV4Signer.Payload {
        switch self {
        case .data(let data): .of(data)
        case .file(let slice): .hashed(slice.sha256)
        }
    }

    var http: HTTPClientRequest.Body {
        switch self {
        case .data(let data): .bytes(ByteBuffer(bytes: data))
        case .file(let slice): .stream(FileSliceBody(slice: slice), length: .known(slice.length))
        }
    }
}

/// A multipart upload in progress, as `ListMultipartUploads` shows it.
public struct MultipartUploadSummary: Sendable, Equatable {
    public var key: String
    public var uploadId: String
    /// When it was started, by the server's clock.
    public var initiated: Date?

    public init(key: String, uploadId: String, initiated: Date?) {
        self.key = key
        self.uploadId = uploadId
        self.initiated = initiated
    }
}

extension S3Client {
    /// PUTs `slice` as the whole object, streaming it from disk (see ``FileSlice``).
    @discardableResult
    public func put(
        _ key: String, file slice: FileSlice, contentType: String = "application/octet-stream", condition: Condition = .none,
        metadata: [String: String] = [:]
    ) async throws -> Response {
        try await send(
            "PUT", key: key, headers: Self.headers(contentType: contentType, condition: condition, metadata: metadata), body: .file(slice),
            accept: [200], limit: configuration.limit(transferring: Int(slice.length)))
    }

    /// GETs an object (or the byte range `range` of it, inclusive) into `sink`, reading at most
    /// `expectedBytes` (``FileSink/written`` says how many came); `nil` when the object does not exist. With `ifMatch`, an object whose ETag
    /// changed fails with `preconditionFailed` (the ranges of one download read one object).
    public func get(
        _ key: String, into sink: FileSink, range: ClosedRange<Int64>? = nil, ifMatch: String? = nil, expectedBytes: Int64
    ) async throws -> Response? {
        var headers: [(String, String)] = []
        if let range { headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        if let ifMatch { headers.append(("If-Match", ifMatch)) }
        let response = try await send(
            "GET", key: key, headers: headers, accept: [200, 206, 404], maxBytes: Int(expectedBytes),
            limit: configuration.limit(transferring: Int(expectedBytes)), sink: sink)
        return response.status == 404 ? nil : response
    }

    /// Starts a multipart upload of `key`; returns its upload id. The metadata and content type
    /// are the object's.
    public func createMultipartUpload(
        _ key: String, contentType: String = "application/octet-stream", metadata: [String: String] = [:]
    ) async throws -> String {
        let response = try await send(
            "POST", key: key, query: [("uploads", "")], headers: Self.headers(contentType: contentType, condition: .none, metadata: metadata),
            accept: [200])
        guard let uploadId = S3XML.text(response.body, at: "InitiateMultipartUploadResult/UploadId"), !uploadId.isEmpty else {
            throw S3Error(.invalidResponse, status: response.status, message: "no UploadId in the answer", operation: "POST \(key)?uploads")
        }
        return uploadId
    }

    /// Uploads part `number` (1-based) of an upload from `slice`; returns the part's ETag.
    public func uploadPart(_ key: String, uploadId: String, number: Int, slice: FileSlice) async throws -> String {
        let response = try await send(
            "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadId)], body: .file(slice), accept: [200],
            limit: configuration.limit(transferring: Int(slice.length)))
        guard let etag = response.etag else {
            throw S3Error(.invalidResponse, status: response.status, message: "no ETag for part \(number)", operation: "PUT \(key) part \(number)")
        }
        return etag
    }

    /// Completes an upload from its parts (`(number, etag)`, ascending) under `condition`. S3 may
    /// answer 200 and still fail (the error is in the body): that is an error here, retried
    /// when S3 says it may be.
    @discardableResult
    public func completeMultipartUpload(
        _ key: String, uploadId: String, parts: [(number: Int, etag: String)], condition: Condition = .none, limit: Duration? = nil
    ) async throws -> Response {
        var xml = "<CompleteMultipartUpload>"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(S3XML.escape(part.etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let operation = "POST \(key)?uploadId (complete)"
        var attempt = 1
        while true {
            let response = try await send(
                "POST", key: key, query: [("uploadId", uploadId)],
                headers: Self.headers(contentType: "application/xml", condition: condition, metadata: [:]), body: .data(Data(xml.utf8)),
                accept: [200], limit: limit)
            guard let failure = S3XML.error(response.body) else {
                // Only a result says the object was assembled (a proxy's page is not one). S3
                // names it `…Result`; some servers (moto) `…Response`.
                guard
                    S3XML.text(response.body, at: "CompleteMultipartUploadResult/ETag")
                        ?? S3XML.text(response.body, at: "CompleteMultipartUploadResponse/ETag") != nil
                else {
                    throw S3Error(.invalidResponse, status: 200, message: "the answer is not a CompleteMultipartUploadResult", operation: operation)
                }
                return response
            }
            let error = S3Error(.init(failure.code), status: 200, message: failure.message, operation: operation)
            guard error.code == .internalError || error.code == .slowDown || error.code == .serviceUnavailable, attempt < 3 else { throw error }
            attempt += 1
            try await Task.sleep(for: configuration.retry.delay(afterAttempt: attempt, jitter: Double.random(in: 0...1)))
        }
    }

    /// Aborts an upload and frees its parts (an upload already gone is not an error).
    public func abortMultipartUpload(_ key: String, uploadId: String) async throws {
        _ = try await send("DELETE", key: key, query: [("uploadId", uploadId)], accept: [200, 204, 404])
    }

    /// Every multipart upload in progress under `prefix` (all pages).
    public func listMultipartUploads(prefix: String) async throws -> [MultipartUploadSummary] {
        var uploads: [MultipartUploadSummary] = []
        var markers: (key: String, uploadId: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.uploadId)] }
            let response = try await send("GET", key: "", query: query, accept: [200], maxBytes: 16 << 20)
            guard let page = S3XML.uploadsPage(response.body) else {
                throw S3Error(
                    .invalidResponse, status: response.status, message: "unreadable ListMultipartUploads response",
                    operation: "LIST uploads \(prefix)")
            }
            uploads += page.uploads
            if let next = page.next, let markers, next == markers {
                throw S3Error(
                    .invalidResponse, status: response.status, message: "ListMultipartUploads repeated its markers",
                    operation: "LIST uploads \(prefix)")
            }
            markers = page.next
        } while markers != nil
        return uploads
    }

    static func headers(contentType: String, condition: Condition, metadata: [String: String]) -> [(String, String)] {
        var headers: [(String, String)] = [("Content-Type", contentType)]
        switch condition {
        case .none: break
        case .ifMatch(let etag): headers.append(("If-Match", etag))
        case .ifAbsent: headers.append(("If-None-Match", "*"))
        }
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) { headers.append(("x-amz-meta-\(name)", value)) }
        return headers
    }
}
