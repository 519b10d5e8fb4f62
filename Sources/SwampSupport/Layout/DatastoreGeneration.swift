import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A counter of writes to a datastore tier, shared by every process and repository using it:
/// `{root}/.swamp-generation`, to which each write appends one byte (`O_APPEND`, so concurrent
/// appends never collide). Its size is the generation. A catalog remembers the generation it
/// matched and rebuilds when it changed — one `stat` per read, and a teammate's version on a
/// shared filesystem datastore shows up without any manual step.
public enum DatastoreGeneration {
    static let fileName = ".swamp-generation"

    /// The current generation (0 before any write).
    public static func current(_ layout: DatastoreLayout) -> Int {
        var info = stat()
        guard stat(layout.absolute(fileName), &info) == 0 else { return 0 }
        return Int(info.st_size)
    }

    /// Records one write; returns the generation it made (or `nil` if it could not be recorded,
    /// in which case catalogs fall back to rebuilding).
    @discardableResult
    public static func bump(_ layout: DatastoreLayout) -> Int? {
        let path = layout.absolute(fileName)
        try? AtomicFile.makeDirectories(layout.root)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var byte: UInt8 = 0x2E
        guard write(fd, &byte, 1) == 1 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return Int(info.st_size)
    }
}
