import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file's size, modification and change times, and inode: enough to tell that a file is the
/// one seen before (a rewrite or a replacement changes one of them) without reading it.
public struct LocalFile: Equatable, Sendable {
    public var size: Int64
    public var mtimeNs: Int64
    public var ctimeNs: Int64
    public var inode: UInt64

    /// `nil` when the path does not exist or is not a regular file.
    public static func stat(_ path: String) -> LocalFile? {
        var info = Glibc.stat()
        guard lstat(path, &info) == 0 else { return nil }
        return from(info)
    }

    /// The file open at `fd`; `nil` when it is not a regular file (or `fstat` fails).
    public static func stat(fd: Int32) -> LocalFile? {
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return from(info)
    }

    private static func from(_ info: Glibc.stat) -> LocalFile? {
        guard (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return LocalFile(
            size: Int64(info.st_size), mtimeNs: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            ctimeNs: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec), inode: UInt64(info.st_ino))
    }
}
