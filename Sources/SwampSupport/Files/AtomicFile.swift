import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// File operations whose results appear complete or not at all.
public enum AtomicFile {
    /// Writes `data` to `path` through a temporary file in the same directory and a rename.
    /// Readers see the old content or the new, never a partial file.
    public static func write(_ data: Data, to path: String, createDirectories: Bool = true) throws {
        let directory = (path as NSString).deletingLastPathComponent
        var attempt = 0
        var temporary: String
        while true {
            attempt += 1
            if createDirectories { try makeDirectories(directory) }
            do {
                temporary = try writeTemporary(data, nextTo: path)
                break
            } catch let error as FileSystemError where error.errno == ENOENT && createDirectories && attempt < 4 {
                // A directory emptied and removed by someone else (``removeEmptyDirectories``)
                // between its creation and the write: create it again.
            }
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw FileSystemError("rename into place", path: path, errno: code)
        }
    }

    /// Creates `path` with `data` only if nothing exists there yet, atomically:
    /// the file appears with its full content or not at all.
    /// - Returns: `false` when `path` already exists.
    public static func createExclusively(_ data: Data, at path: String) throws -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        try makeDirectories(directory)
        let temporary = try writeTemporary(data, nextTo: path)
        defer { unlink(temporary) }
        if link(temporary, path) == 0 { return true }
        let code = errno
        if code == EEXIST { return false }
        throw FileSystemError("create", path: path, errno: code)
    }

    /// Creates `path` as a directory only if it does not exist yet.
    /// - Returns: `false` when it already exists.
    public static func makeDirectoryExclusively(_ path: String) throws -> Bool {
        try makeDirectories((path as NSString).deletingLastPathComponent)
        if mkdir(path, 0o755) == 0 { return true }
        let code = errno
        if code == EEXIST { return false }
        throw FileSystemError("create directory", path: path, errno: code)
    }

    /// Creates `path` and its parents; succeeds when it already exists as a directory.
    public static func makeDirectories(_ path: String) throws {
        guard !path.isEmpty else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            var again: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &again), again.boolValue { return }
            throw FileSystemError("create directory", path: path, errno: EIO)
        }
    }

    /// Removes `directory` and then each parent while it is empty, up to (not including)
    /// `root`. Each removal is one `rmdir`, which refuses a directory that is not empty: a
    /// file another task or process just created in it is never removed with it.
    public static func removeEmptyDirectories(from directory: String, upTo root: String) {
        var current = directory
        while current.count > root.count, current.hasPrefix(root + "/") {
            guard rmdir(current) == 0 else { return }
            current = (current as NSString).deletingLastPathComponent
        }
    }

    /// Removes a file; succeeds when it does not exist.
    public static func remove(_ path: String) throws {
        if unlink(path) == 0 { return }
        let code = errno
        if code == ENOENT { return }
        throw FileSystemError("remove", path: path, errno: code)
    }

    /// Reads a whole file, or `nil` when it does not exist.
    public static func readIfPresent(_ path: String) throws -> Data? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            if !FileManager.default.fileExists(atPath: path) { return nil }
            throw FileSystemError("read", path: path, errno: EIO)
        }
    }

    /// Writes `data` into a new uniquely named temporary file beside `path` and returns its path.
    static func writeTemporary(_ data: Data, nextTo path: String) throws -> String {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = "\(directory)/.\(name).tmp-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystemError("create temporary file for", path: path, errno: errno) }
        var failure: Int32 = 0
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let written = Glibc.write(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure != 0 {
            unlink(temporary)
            throw FileSystemError("write", path: path, errno: failure)
        }
        return temporary
    }

    /// Whether a name is one of this type's temporary files (skipped by directory walks).
    public static func isTemporaryName(_ name: String) -> Bool {
        name.hasPrefix(".") && name.contains(".tmp-")
    }
}
