import Foundation
import Logging
import S3Client
import SwampContracts
import SwampSupport
import Synchronization

/// Downloading one object — for a pull, or on first read in a lazy cache (hydration, with a
/// collected version said as such): bounded by its indexed size, verified before it is written.
extension S3SyncService {
    /// Downloads one object, checks it against the index hash, and writes it atomically.
    func download(_ path: String, expected: IndexEntry) async throws -> SyncSidecar.FileRecord {
        let outcome: S3Client.GetOutcome
        do {
            // Never read more than the index says, and give it the time its size needs.
            outcome = try await client.get(remote.objectKey(path), maxBytes: Int(expected.size), expectedBytes: Int(expected.size))
        } catch let error as S3Error where error.code == .tooLarge {
            throw S3SyncError(
                .hashMismatch, "the remote object '\(path)' is larger than the index says (\(expected.size) bytes); nothing was written")
        }
        guard case .found(let response) = outcome else {
            throw S3SyncError(.objectMissing, "the remote index lists '\(path)' but the bucket does not hold it; nothing was written")
        }
        let sha = ContentHash.sha256(response.body)
        guard sha == expected.sha256, Int64(response.body.count) == expected.size else {
            throw S3SyncError(
                .hashMismatch,
                "the remote object '\(path)' does not match the index (sha256 \(sha.prefix(12))… ≠ \(expected.sha256.prefix(12))…); nothing was written"
            )
        }
        let absolute = cache.absolute(path)
        try AtomicFile.write(response.body, to: absolute)
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
