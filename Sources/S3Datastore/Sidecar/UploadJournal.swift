import Foundation
import SwampSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The multipart uploads this cache's processes have started and not yet finished, in
/// `{cache}/.swamp-sync/uploads/`: one file per upload, created before the upload is, given its
/// id once S3 answers, removed once it is completed or aborted. The process writing an entry
/// holds a `flock` on it as long as the upload runs: an entry whose lock can be taken names an
/// upload left by a killed process, which the next push aborts
/// (``S3SyncService/abortAbandonedUploads()``). A lock, not a pid: pids are reused (in a
/// container the next swamp often has the dead one's), and pid namespaces hide live ones.
extension SyncSidecar {
    struct UploadEntry: Codable, Sendable {
        var key: String
        var uploadId: String?
        var startedAt: Date
    }

    /// An entry held open and locked by this process.
    struct UploadJournalHandle: Sendable {
        let path: String
        let fd: Int32
        var entry: UploadEntry
    }

    private var uploadsDirectory: String { "\(directory)/uploads" }

    /// Records an upload about to be created, locked by this process until ``endUpload(_:keep:)``.
    func beginUpload(key: String) throws -> UploadJournalHandle {
        try AtomicFile.makeDirectories(uploadsDirectory)
        let path = "\(uploadsDirectory)/\(UUID().uuidString.lowercased()).json"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystemError("create", path: path, errno: errno) }
        // Blocking: a sweeper that opened the empty file first lets go as soon as it cannot read it.
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        let handle = UploadJournalHandle(path: path, fd: fd, entry: UploadEntry(key: key, uploadId: nil, startedAt: Date()))
        do {
            try write(handle)
        } catch {
            endUpload(handle)
            throw error
        }
        return handle
    }

    /// Adds the upload id S3 gave.
    func recordUpload(_ handle: inout UploadJournalHandle, uploadId: String) throws {
        handle.entry.uploadId = uploadId
        try write(handle)
    }

    /// The upload is completed or aborted (or, `keep`, still to be aborted by a later push: the
    /// entry stays and its lock goes).
    func endUpload(_ handle: UploadJournalHandle, keep: Bool = false) {
        if !keep { unlink(handle.path) }
        close(handle.fd)
    }

    /// Entries no live process holds: uploads left by a kill. Each is returned locked by this
    /// process; end it with ``endUpload(_:keep:)``.
    func abandonedUploads() -> [UploadJournalHandle] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: uploadsDirectory) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            let path = "\(uploadsDirectory)/\(name)"
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0, let data = Self.read(fd), let entry = try? JSONDecoder().decode(UploadEntry.self, from: data)
            else {
                // Held by a live upload, or not written yet.
                close(fd)
                return nil
            }
            return UploadJournalHandle(path: path, fd: fd, entry: entry)
        }
    }

    /// Rewrites the entry in place (a rename would move it off the locked inode).
    private func write(_ handle: UploadJournalHandle) throws {
        let data = try JSONEncoder().encode(handle.entry)
        guard ftruncate(handle.fd, 0) == 0 else { throw FileSystemError("write", path: handle.path, errno: errno) }
        let written = data.withUnsafeBytes { pwrite(handle.fd, $0.baseAddress, $0.count, 0) }
        guard written == data.count, fsync(handle.fd) == 0 else { throw FileSystemError("write", path: handle.path, errno: errno) }
    }

    private static func read(_ fd: Int32) -> Data? {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Data(buffer[0..<count]) : nil
    }
}
