import Foundation
import Logging
import S3Client
import SwampContracts
import SwampSupport
import Synchronization

/// Downloading one object — for a pull, or on first read in a lazy cache (hydration, with a
/// collected version said as such): bounded by its indexed size, verified before it is written.
extension S3SyncService {
    /// Downloads one object, checks it against the index hash, and writes it atomically. Objects
    /// of ``streamingBytes`` or more stream to disk; from the multipart threshold on, in ranges
    /// side by side in `window` (a window of their own for a hydration). `early`: the object's
    /// bytes already read on a hint, written without a request when they hash to the index's.
    func download(_ path: String, expected: IndexEntry, transfers: Transfers? = nil, early: EarlyFile? = nil) async throws -> SyncSidecar.FileRecord {
        let absolute = cache.absolute(path)
        let key = remote.objectKey(path)
        let sha: String?
        do {
            if let early, early.sha256 == expected.sha256, early.body.count == expected.size {
                try await BlockingFiles.run { try AtomicFile.write(early.body, to: absolute) }
                hintedFiles.withLock { $0.used += 1 }
                sha = early.sha256
            } else if expected.size >= Self.streamingBytes {
                sha = try await downloadFile(
                    key, size: expected.size, sha: expected.sha256, to: absolute,
                    transfers: transfers ?? self.transfers(nil, width: settings.pullConcurrency))
            } else {
                // Never read more than the index says, and give it the time its size needs.
                switch try await client.get(key, maxBytes: Int(expected.size), expectedBytes: Int(expected.size)) {
                case .found(let response):
                    // The same hash means the same bytes, and so the same size.
                    let found = ContentHash.sha256(response.body)
                    if found == expected.sha256 {
                        let body = response.body
                        try await BlockingFiles.run { try AtomicFile.write(body, to: absolute) }
                    }
                    sha = found
                case .notModified, .notFound: sha = nil
                }
            }
        } catch let error as S3Error where error.code == .tooLarge {
            throw S3SyncError(
                .hashMismatch, "the remote object '\(path)' is larger than the index says (\(expected.size) bytes); nothing was written")
        } catch let error as S3Error where [404, 412, 416].contains(error.status) {
            // A range of a large object: gone since the index was read (404), replaced between
            // ranges (412: another ETag), or shorter than the index says (416).
            throw S3SyncError(
                error.status == 404 ? .objectMissing : .hashMismatch,
                "the remote object '\(path)' changed or went away while it was read in ranges (\(error.code)); nothing was written")
        }
        guard let sha else {
            throw S3SyncError(.objectMissing, "the remote index lists '\(path)' but the bucket does not hold it; nothing was written")
        }
        guard sha == expected.sha256 else {
            throw S3SyncError(
                .hashMismatch,
                "the remote object '\(path)' does not match the index (sha256 \(sha.prefix(12))… ≠ \(expected.sha256.prefix(12))…); nothing was written"
            )
        }
        guard let local = LocalFile.stat(absolute) else { throw FileSystemError("stat", path: absolute, errno: ENOENT) }
        return SyncSidecar.FileRecord(local, sha256: sha)
    }

    public func hydrateFile(_ relPath: String) async throws -> Bool {
        _ = try PathRules.validateRelativePath(relPath)
        let absolute = cache.absolute(relPath)
        if LocalFile.stat(absolute) != nil { return false }
        let partition = PartitionID.of(relPath)
        var entry = sidecar.loadPartition(partition).index?.entries[relPath]
        if entry == nil { entry = try await freshEntry(relPath, in: partition) }
        guard let entry, !entry.isDeleted else { return false }
        do {
            _ = try await download(relPath, expected: entry)
        } catch let error as S3SyncError where error.code == .objectMissing {
            // Collected by a teammate since this cache last pulled? Then say so.
            if let fresh = try await freshEntry(relPath, in: partition), fresh.isDeleted {
                throw S3SyncError(
                    .collected,
                    "'\(relPath)' was collected on the remote ('swamp data gc') after this cache last pulled; run 'swamp datastore sync --pull' to see what remains"
                )
            }
            throw error
        }
        count(pulled: 1)
        return true
    }

    /// The entry for `relPath` in the partition as the remote holds it now.
    func freshEntry(_ relPath: String, in partition: PartitionID) async throws -> IndexEntry? {
        guard case .found(let response) = try await client.get(remote.partitionKey(partition)) else { return nil }
        return try PartitionIndex.decode(response.body, expected: partition).entries[relPath]
    }
}
