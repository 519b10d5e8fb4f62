import Foundation
import SwampSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The multipart uploads this cache's processes have started and not yet finished, in
/// `{cache}/.swamp-sync/uploads/`: one file per upload, written before it is created, given its
/// id once S3 answers, removed once it is completed or aborted. A file whose process is gone
/// names an upload left by a kill: the next push aborts it (``S3SyncService/abortAbandonedUploads()``).
extension SyncSidecar {
    struct UploadEntry: Codable, Sendable {
        var key: String
        var uploadId: String?
        var pid: Int32
        var startedAt: Date
        /// The journal file (not stored).
        var file: String = ""

        enum CodingKeys: String, CodingKey { case key, uploadId, pid, startedAt }
    }

    private var uploadsDirectory: String { "\(directory)/uploads" }

    /// Records an upload about to be created; returns its journal file.
    func beginUpload(key: String) throws -> String {
        try AtomicFile.makeDirectories(uploadsDirectory)
        let file = "\(uploadsDirectory)/\(UUID().uuidString.lowercased()).json"
        let entry = UploadEntry(key: key, uploadId: nil, pid: getpid(), startedAt: Date())
        try AtomicFile.write(try JSONEncoder().encode(entry), to: file)
        return file
    }

    /// Adds the upload id S3 gave.
    func recordUpload(_ file: String, uploadId: String) throws {
        guard var entry = readUpload(file) else { return }
        entry.uploadId = uploadId
        try AtomicFile.write(try JSONEncoder().encode(entry), to: file)
    }

    /// The upload is completed or aborted.
    func endUpload(_ file: String) { try? AtomicFile.remove(file) }

    /// Uploads whose process no longer runs.
    func abandonedUploads() -> [UploadEntry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: uploadsDirectory) else { return [] }
        return names.filter { $0.hasSuffix(".json") && !AtomicFile.isTemporaryName($0) }.sorted().compactMap { name in
            guard let entry = readUpload("\(uploadsDirectory)/\(name)"), entry.pid != getpid() else { return nil }
            // Signal 0 checks the process exists (EPERM: it exists, owned by someone else).
            if kill(entry.pid, 0) == 0 || errno == EPERM { return nil }
            return entry
        }
    }

    private func readUpload(_ file: String) -> UploadEntry? {
        guard let data = try? AtomicFile.readIfPresent(file), var entry = try? JSONDecoder().decode(UploadEntry.self, from: data) else {
            return nil
        }
        entry.file = file
        return entry
    }
}
