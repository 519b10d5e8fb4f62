import Crypto
import Foundation
import S3Client
import SwampContracts
import SwampSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Objects of any size in constant memory: small ones whole, larger ones streamed, the largest
/// in parts (multipart upload, ranged download) that share the operation's transfer window.
/// See docs/s3-layout.md, *Large objects*.
extension S3SyncService {
    /// Objects under this size are read into memory whole (one buffer per request in flight);
    /// from this size on they stream through a few 256 KiB chunks.
    static let streamingBytes: Int64 = 1 << 20
    /// S3's limit on the parts of one upload.
    static let maximumParts: Int64 = 10_000

    /// The part size for an object of `size` bytes: the configured one, grown so that no upload
    /// needs more than ``maximumParts`` parts.
    func partSize(for size: Int64) -> Int64 {
        max(Int64(settings.partSize), (size + Self.maximumParts - 1) / Self.maximumParts)
    }

    /// Writes the local file `absolute` (`size` bytes hashing to `sha`) to `key` under
    /// `condition`, with `sha` as user metadata. A file that no longer hashes to `sha` when it is
    /// read is never completed remotely (``LocalFileError``).
    func putFile(
        _ absolute: String, size: Int64, sha: String, key: String, condition: S3Client.Condition, transfers: Transfers
    ) async throws {
        if size >= Int64(settings.multipartThreshold) {
            try await putMultipart(absolute, size: size, sha: sha, key: key, condition: condition, transfers: transfers)
        } else {
            try await client.put(key, file: FileSlice(path: absolute, length: size, sha256: sha), condition: condition, metadata: ["sha256": sha])
        }
    }

    /// A multipart upload: each part is signed with its hash — taken by the push plan with the
    /// file's (``PlannedParts``), or else by one read here, in order, that checks the whole file
    /// hashes to `sha` — and sent as soon as it is hashed, streamed from disk, in the window,
    /// retried on its own; the upload is completed under `condition` only when every part's
    /// bytes hashed to what signed it and the whole to `sha`. Any failure or interruption aborts the upload (its parts never become an object);
    /// an upload left by a killed process is aborted by the next push (``abortAbandonedUploads()``)
    /// or by `repair`.
    func putMultipart(
        _ absolute: String, size: Int64, sha: String, key: String, condition: S3Client.Condition, transfers: Transfers
    ) async throws {
        let window = transfers.parts
        let partSize = partSize(for: size)
        let count = Int((size + partSize - 1) / partSize)
        var journal = try sidecar.beginUpload(key: key)
        let uploadId: String
        do {
            uploadId = try await client.createMultipartUpload(key, metadata: ["sha256": sha])
            try sidecar.recordUpload(&journal, uploadId: uploadId)
        } catch {
            // Whether an upload was created is unknown: the entry stays for the next push.
            sidecar.endUpload(journal, keep: true)
            throw error
        }
        do {
            // The part hashes the plan took with the file's hash, when the file is the one it
            // hashed (the same size, times and inode); otherwise one read here, in order.
            let planned = plannedParts.withLock { $0[absolute] }.flatMap { planned in
                planned.file.sha256 == sha && planned.partSize == partSize && planned.parts.count == count
                    && LocalFile.stat(absolute).map(planned.file.describes) == true ? planned.parts : nil
            }
            var whole = SHA256()
            let file: ReadOnlyFile?
            do {
                // 256 KiB at a time: this buffer lives beside the parts in flight (the plan's 4 MiB does not).
                file = planned == nil ? try ReadOnlyFile(absolute, chunk: 256 << 10) : nil
            } catch let error as FileSystemError {
                throw LocalFileError(path: absolute, message: "cannot be read (\(error))")
            }
            let client = self.client
            let etags = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var etags = [String](repeating: "", count: count)
                var inFlight = 0
                for number in 1...count {
                    let offset = Int64(number - 1) * partSize
                    let length = min(partSize, size - offset)
                    let hash: String
                    if let planned {
                        hash = planned[number - 1]
                    } else if let file {
                        do {
                            hash = try Self.hashPart(of: file, offset: offset, length: length, adding: &whole)
                        } catch let error as FileSystemError {
                            throw LocalFileError(path: absolute, message: "became shorter or unreadable while it was being sent (\(error))")
                        }
                        bytesHashedForPush.withLock { $0 += length }
                    } else {
                        throw LocalFileError(path: absolute, message: "cannot be read")
                    }
                    let slice = FileSlice(path: absolute, offset: offset, length: length, sha256: hash)
                    if inFlight >= window.width, let (done, etag) = try await group.next() {
                        etags[done - 1] = etag
                        inFlight -= 1
                    }
                    group.addTask {
                        let etag = try await window.withSlot { try await client.uploadPart(key, uploadId: uploadId, number: number, slice: slice) }
                        self.countPart(up: true)
                        transfers.progress?.advanced(bytes: length)
                        return (number, etag)
                    }
                    inFlight += 1
                }
                while let (done, etag) = try await group.next() { etags[done - 1] = etag }
                return etags
            }
            // Parts the plan hashed were each checked as they were sent against hashes read
            // with the file's (``PlannedParts``): those bytes hash to `sha`.
            guard planned != nil || ContentHash.hex(whole.finalize()) == sha else {
                throw LocalFileError(path: absolute, message: "changed while it was being sent (its bytes no longer hash to what was planned)")
            }
            Failpoint.hit("push.before-complete")
            do {
                // S3 may take minutes to assemble many parts: a second per hundred parts more.
                try await client.completeMultipartUpload(
                    key, uploadId: uploadId, parts: etags.enumerated().map { (number: $0.offset + 1, etag: $0.element) }, condition: condition,
                    limit: client.configuration.requestTimeout + .seconds(count / 100))
            } catch let error as S3Error where error.code.rawValue == "NoSuchUpload" || error.code == .timeout || error.code == .invalidResponse {
                // The completion's outcome is unknown (a retry after an answer that was lost finds
                // the upload gone; no answer in time; an answer that is not a result): if the
                // object holds our bytes, it landed.
                guard try await client.head(key)?.userMetadata("sha256") == sha else { throw error }
            }
        } catch {
            let aborted = await abort(key: key, uploadId: uploadId)
            sidecar.endUpload(journal, keep: !aborted)
            throw error
        }
        sidecar.endUpload(journal)
    }

    /// How a push plan hashes a file: one read, in order. A file of the multipart threshold or
    /// more has its parts hashed in the same read (``PlannedParts``), so that its upload reads it
    /// only to send it; the two hashes of each chunk read are computed side by side, on two
    /// threads, so the plan takes no longer than one hash of the file.
    func hashForPush(_ absolute: String, _ local: LocalFile) throws -> String {
        defer { bytesHashedForPush.withLock { $0 += local.size } }
        guard local.size >= Int64(settings.multipartThreshold) else { return try ContentHash.sha256(ofFile: absolute).sha256 }
        let file = try ReadOnlyFile(absolute, chunk: 4 << 20)
        // The file opened, which may not be the one stat'ed a moment ago: its parts are planned
        // for what is read (an upload of another file's bytes fails its size or hash checks).
        let opened = file.identity() ?? local
        let partSize = partSize(for: opened.size)
        var whole = SHA256()
        var parts: [String] = []
        parts.reserveCapacity(Int((opened.size + partSize - 1) / partSize))
        var offset: Int64 = 0
        while offset < opened.size {
            let length = min(partSize, opened.size - offset)
            do {
                parts.append(try Self.hashPart(of: file, offset: offset, length: length, adding: &whole))
            } catch let error as FileSystemError {
                // Shorter than it was when opened: it is being rewritten.
                guard file.identity() == opened else {
                    throw S3SyncError(.localFileChanged, "'\(absolute)' changed while the push hashed it; nothing of it was sent. Run the push again")
                }
                throw error
            }
            offset += length
        }
        let sha = ContentHash.hex(whole.finalize())
        let planned = PlannedParts(file: SyncSidecar.FileRecord(opened, sha256: sha), partSize: partSize, parts: parts)
        plannedParts.withLock { $0[absolute] = planned }
        return sha
    }

    /// Aborts an upload even from a cancelled task (Ctrl-C): its parts must not be left behind.
    /// Returns whether it is gone (aborted, or not found).
    func abort(key: String, uploadId: String) async -> Bool {
        let client = self.client
        let logger = self.logger
        return await Task.detached {
            do {
                try await client.abortMultipartUpload(key, uploadId: uploadId)
                return true
            } catch {
                logger.warning(
                    "could not abort a multipart upload; the next push or 'swamp datastore repair' aborts it", metadata: ["key": "\(key)"])
                return false
            }
        }.value
    }

    /// Aborts the multipart uploads this cache's processes started and did not finish (they
    /// were killed): one `DELETE` each, plus a listing of the key when the process died before
    /// it learned the upload's id. Costs nothing when every upload finished.
    func abortAbandonedUploads() async {
        for handle in sidecar.abandonedUploads() {
            let entry = handle.entry
            var done = true
            do {
                if let uploadId = entry.uploadId {
                    try await client.abortMultipartUpload(entry.key, uploadId: uploadId)
                } else {
                    // Killed between creating the upload and recording its id: the uploads of
                    // that key started around then (a clock skew S3 accepts either side) are the
                    // ones the entry covers.
                    let earliest = entry.startedAt.addingTimeInterval(-900)
                    let latest = entry.startedAt.addingTimeInterval(900 + 120)
                    for upload in try await client.listMultipartUploads(prefix: entry.key) where upload.key == entry.key {
                        guard let initiated = upload.initiated else {
                            done = false
                            continue
                        }
                        if initiated >= earliest && initiated <= latest {
                            try await client.abortMultipartUpload(upload.key, uploadId: upload.uploadId)
                        }
                    }
                }
            } catch {
                done = false
                logger.warning("could not abort an abandoned multipart upload; trying again next push", metadata: ["key": "\(entry.key)"])
            }
            sidecar.endUpload(handle, keep: !done)
        }
    }

    // MARK: Downloads

    /// Downloads `key` (`size` bytes hashing to `sha`) into a temporary file beside `absolute`,
    /// checks it, and renames it into place: streamed above ``streamingBytes``, in ranges read
    /// side by side above the multipart threshold. Returns the hash found.
    func downloadFile(_ key: String, size: Int64, sha: String, to absolute: String, transfers: Transfers) async throws -> String? {
        let directory = AtomicFile.parent(of: absolute)
        try AtomicFile.makeDirectories(directory)
        // What a pull killed while it downloaded this file left beside it (never read, but as
        // large as the file): a temporary file no live writer holds.
        AtomicFile.removeAbandonedTemporaries(nextTo: absolute)
        let temporary = AtomicFile.temporaryPath(nextTo: absolute)
        let fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystemError("create temporary file for", path: absolute, errno: errno) }
        // Held until the file is renamed or removed: tells a later pull this one is alive.
        _ = flock(fd, LOCK_EX | LOCK_NB)
        var keep = false
        defer {
            close(fd)
            if !keep { unlink(temporary) }
        }
        let found: String
        if size >= Int64(settings.multipartThreshold) {
            guard let hash = try await downloadRanges(key, size: size, fd: fd, transfers: transfers) else { return nil }
            found = hash
        } else {
            let sink = FileSink(fd: fd)
            guard try await client.get(key, into: sink, expectedBytes: size) != nil else { return nil }
            // A short body hashes to something else (the same hash would mean the same bytes).
            found = sink.sha256
        }
        guard found == sha else { return found }
        guard fsync(fd) == 0 else { throw FileSystemError("write", path: absolute, errno: errno) }
        guard rename(temporary, absolute) == 0 else { throw FileSystemError("rename into place", path: absolute, errno: errno) }
        keep = true
        return found
    }

    /// Reads `size` bytes of `key` in part-sized ranges, side by side in the window, each written
    /// at its offset; every range carries `If-Match` with the ETag the first one saw, so all come
    /// from one object. The hash is computed in order as ranges complete. `nil` when the object
    /// does not exist.
    private func downloadRanges(_ key: String, size: Int64, fd: Int32, transfers: Transfers) async throws -> String? {
        let window = transfers.parts
        let partSize = partSize(for: size)
        let count = Int((size + partSize - 1) / partSize)
        func range(_ index: Int) -> ClosedRange<Int64> {
            let start = Int64(index) * partSize
            return start...(min(size, start + partSize) - 1)
        }
        // The first range names the object (its ETag) for the others.
        let turns = FileSink.WriteTurns()
        let first = FileSink(fd: fd, offset: 0, hashing: false, turns: turns)
        let client = self.client
        guard let head = try await window.withSlot({ try await client.get(key, into: first, range: range(0), expectedBytes: range(0).count64) })
        else { return nil }
        try Self.checkRange(first, range(0), key: key)
        countPart(up: false)
        transfers.progress?.advanced(bytes: range(0).count64)
        let etag = head.etag
        var whole = SHA256()
        let reader = ReadOnlyFile(fd: fd, path: key)
        var hashed = 1
        try reader.read(offset: 0, length: range(0).count64) { whole.update(bufferPointer: $0) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            var done = Set<Int>()
            var next = 1
            var inFlight = 0
            while hashed < count {
                while next < count && inFlight < window.width {
                    let index = next
                    let bytes = range(index)
                    group.addTask {
                        let sink = FileSink(fd: fd, offset: bytes.lowerBound, hashing: false, turns: turns)
                        _ = try await window.withSlot {
                            guard try await client.get(key, into: sink, range: bytes, ifMatch: etag, expectedBytes: bytes.count64) != nil else {
                                throw S3Error(.noSuchKey, status: 404, message: "the object went away during the download", operation: "GET \(key)")
                            }
                            try Self.checkRange(sink, bytes, key: key)
                        }
                        self.countPart(up: false)
                        transfers.progress?.advanced(bytes: bytes.count64)
                        return index
                    }
                    next += 1
                    inFlight += 1
                }
                guard let finished = try await group.next() else { break }
                inFlight -= 1
                done.insert(finished)
                // Hash every range that is now contiguous with what was hashed (from the page cache).
                while done.contains(hashed) {
                    try reader.read(offset: range(hashed).lowerBound, length: range(hashed).count64) { whole.update(bufferPointer: $0) }
                    done.remove(hashed)
                    hashed += 1
                }
            }
        }
        return ContentHash.hex(whole.finalize())
    }

}

extension S3SyncService {
    /// A range must come whole: a short one would leave a hole the hash finds only at the end.
    static func checkRange(_ sink: FileSink, _ range: ClosedRange<Int64>, key: String) throws {
        guard sink.written == range.count64 else {
            throw S3SyncError(
                .hashMismatch,
                "the remote object '\(key)' sent \(sink.written) bytes for the range \(range), not \(range.count64); nothing was written")
        }
    }
}

extension ClosedRange<Int64> {
    var count64: Int64 { upperBound - lowerBound + 1 }
}

extension S3SyncService {
    /// The hex SHA-256 of `length` bytes of `file` from `offset`, read once: the bytes are added
    /// to `whole` too.
    static func hashPart(of file: ReadOnlyFile, offset: Int64, length: Int64, adding whole: inout SHA256) throws -> String {
        var part = SHA256()
        try file.read(offset: offset, length: length) { chunk in update(&whole, &part, with: chunk) }
        return ContentHash.hex(part.finalize())
    }

    /// Updates two hashers with the same bytes, side by side when the machine has more than one
    /// core (each is one core's work: ~0.8 s per GiB here).
    static func update(_ first: inout SHA256, _ second: inout SHA256, with chunk: UnsafeRawBufferPointer) {
        guard ProcessInfo.processInfo.activeProcessorCount > 1 else {
            first.update(bufferPointer: chunk)
            second.update(bufferPointer: chunk)
            return
        }
        let one = Mutex(first)
        let other = Mutex(second)
        let lent = LentBytes(bytes: chunk)
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            if index == 0 {
                one.withLock { $0.update(bufferPointer: lent.bytes) }
            } else {
                other.withLock { $0.update(bufferPointer: lent.bytes) }
            }
        }
        first = one.withLock { $0 }
        second = other.withLock { $0 }
    }

    /// Bytes lent to `concurrentPerform`'s iterations, which only read them and have all ended
    /// when it returns, within the lender's scope (a lifetime the checker cannot see).
    private struct LentBytes: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
    }
}

/// The hashes of a large file's parts, taken by a push plan in the read that hashed the whole
/// file. Its upload signs each part with them and checks each part's bytes against them as it
/// sends them (``FileSlice``): bytes that pass are the bytes the plan read, so they hash to the
/// planned sha256 without a read of their own. Used only while the file's size, times and
/// inode are those recorded here.
struct PlannedParts: Sendable {
    let file: SyncSidecar.FileRecord
    let partSize: Int64
    let parts: [String]
}

/// A file read in chunks at given offsets, through one buffer of its own.
///
/// The buffer is mapped directly (`mmap`), not taken from `malloc`: glibc serves a large block
/// by a mapping, and on freeing it raises the size from which it maps to that block's, so that
/// later blocks of that size come from the heap of the thread's arena and stay with the process
/// (a push that hashed its files on two threads kept ~7 MiB more, measured).
final class ReadOnlyFile {
    private let fd: Int32
    private let owned: Bool
    private let chunk: Int
    private var buffer: UnsafeMutableRawBufferPointer?
    let path: String

    init(_ path: String, chunk: Int = 1 << 20) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError("open", path: path, errno: errno) }
        self.fd = fd
        owned = true
        self.chunk = chunk
        self.path = path
    }

    /// Reads through a descriptor the caller owns (and closes).
    init(fd: Int32, path: String, chunk: Int = 1 << 20) {
        self.fd = fd
        owned = false
        self.chunk = chunk
        self.path = path
    }

    deinit {
        if let buffer, let base = buffer.baseAddress { munmap(base, buffer.count) }
        if owned { close(fd) }
    }

    /// The size, times and inode of the file open (`nil` if `fstat` fails).
    func identity() -> LocalFile? { LocalFile.stat(fd: fd) }

    /// Hands `length` bytes from `offset` to `body`, a chunk at a time.
    func read(offset: Int64, length: Int64, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let buffer = try mapped()
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(buffer.count), length - done))
            guard let base = buffer.baseAddress else { throw FileSystemError("read", path: path, errno: EFAULT) }
            let count = pread(fd, base, want, off_t(offset + done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw FileSystemError("read", path: path, errno: count < 0 ? errno : EIO) }
            body(UnsafeRawBufferPointer(start: base, count: count))
            done += Int64(count)
        }
    }

    private func mapped() throws -> UnsafeMutableRawBufferPointer {
        if let buffer { return buffer }
        guard let base = mmap(nil, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
            throw FileSystemError("allocate a read buffer for", path: path, errno: errno)
        }
        let buffer = UnsafeMutableRawBufferPointer(start: base, count: chunk)
        self.buffer = buffer
        return buffer
    }
}
