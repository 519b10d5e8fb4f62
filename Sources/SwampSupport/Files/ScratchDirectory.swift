import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A private working directory under `{root}/.swamp-scratch/`, on the same file system as the
/// datastore so that what is written there moves into it with a rename. Its process holds a
/// `flock` on `{directory}.lock` while it exists: a directory whose lock can be taken was left
/// by a killed process, and ``sweep(in:)`` removes it (a lock, not a pid or an age: a model may
/// run for hours, and pids are reused).
public final class ScratchDirectory: Sendable {
    public let path: String
    private let lockPath: String
    private let fd: Int32

    /// Creates a new scratch directory under `root` (after sweeping what killed processes left).
    public init(in root: String) throws {
        let parent = "\(root)/.swamp-scratch"
        try AtomicFile.makeDirectories(parent)
        Self.sweep(in: root)
        let name = UUID().uuidString.lowercased()
        path = "\(parent)/\(name)"
        lockPath = "\(parent)/\(name).lock"
        fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystemError("create", path: lockPath, errno: errno) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        guard mkdir(path, 0o700) == 0 else {
            let code = errno
            unlink(lockPath)
            close(fd)
            throw FileSystemError("create directory", path: path, errno: code)
        }
    }

    /// Removes the directory and what it still holds, then its lock.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
        unlink(lockPath)
        close(fd)
    }

    /// Removes the scratch directories under `root` whose process is gone.
    public static func sweep(in root: String) {
        let parent = "\(root)/.swamp-scratch"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for name in names where name.hasSuffix(".lock") {
            let lock = "\(parent)/\(name)"
            let fd = open(lock, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            try? FileManager.default.removeItem(atPath: "\(parent)/\(name.dropLast(".lock".count))")
            unlink(lock)
        }
    }
}
