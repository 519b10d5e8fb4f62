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
        let directory = parent(of: path)
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

    /// Moves the file `source` to `path` atomically: a rename, or across file systems a copy
    /// streamed through a temporary file beside `path` (fsynced, renamed, then `source` removed).
    /// The moved file is made readable like every file this type writes (`0644`).
    public static func move(_ source: String, to path: String) throws {
        try makeDirectories(parent(of: path))
        chmod(source, 0o644)
        // Durable before it is in place, like every file written here.
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            let synced = fsync(fd) == 0
            let code = errno
            close(fd)
            guard synced else { throw FileSystemError("sync", path: source, errno: code) }
        }
        if rename(source, path) == 0 { return }
        let code = errno
        guard code == EXDEV else { throw FileSystemError("move into place", path: path, errno: code) }
        let temporary = try copyTemporary(source, nextTo: path)
        guard rename(temporary, path) == 0 else {
            let failure = errno
            unlink(temporary)
            throw FileSystemError("rename into place", path: path, errno: failure)
        }
        unlink(source)
    }

    /// Copies the file `source` to `path` atomically (through a temporary file and a rename),
    /// 1 MiB at a time: readers see the old content or the whole new one.
    public static func copy(_ source: String, to path: String) throws {
        try makeDirectories(parent(of: path))
        let temporary = try copyTemporary(source, nextTo: path)
        guard rename(temporary, path) == 0 else {
            let failure = errno
            unlink(temporary)
            throw FileSystemError("rename into place", path: path, errno: failure)
        }
    }

    /// Puts the bytes of the regular file `source` at `path` atomically, sharing them where it
    /// can: a hard link on the same file system (instant, and no space used twice), otherwise a
    /// copy (``copy(_:to:)``). Only for files nobody rewrites in place — every file a datastore
    /// holds is replaced by a rename, which parts the two names. Returns whether it linked.
    @discardableResult
    public static func share(_ source: String, to path: String) throws -> Bool {
        // A symbolic link (or anything else) is copied: what it points to is what belongs at `path`.
        if LocalFile.stat(source) != nil {
            try makeDirectories(parent(of: path))
            let temporary = temporaryPath(nextTo: path)
            if link(source, temporary) == 0 {
                guard rename(temporary, path) == 0 else {
                    let failure = errno
                    unlink(temporary)
                    throw FileSystemError("rename into place", path: path, errno: failure)
                }
                // Renaming a name onto another of the same file does nothing: the temporary stays.
                unlink(temporary)
                return true
            }
            // EXDEV (another file system), EPERM or EMLINK: copied instead.
        }
        try copy(source, to: path)
        return false
    }

    /// Writes the file at `path` to the descriptor `fd` (stdout, say), 1 MiB at a time.
    public static func stream(_ path: String, to fd: Int32) throws {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FileSystemError("open", path: path, errno: errno) }
        defer { close(input) }
        try pump(from: input, to: fd, path: path)
    }

    /// Copies everything `input` has left to `output`: inside the kernel where it can
    /// (`sendfile`, no bytes through this process), else 1 MiB at a time through a buffer.
    private static func pump(from input: Int32, to output: Int32, path: String) throws {
        #if os(Linux)
            if try kernelCopy(from: input, to: output, path: path) { return }
        #endif
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("read", path: path, errno: errno)
            }
            if count == 0 { return }
            var done = 0
            while done < count {
                let written = buffer.withUnsafeBytes { pointer -> Int in
                    guard let base = pointer.baseAddress else { return -1 }
                    return Glibc.write(output, base + done, count - done)
                }
                if written < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    if code == EAGAIN {
                        waitUntilWritable(output)
                        continue
                    }
                    throw FileSystemError("write", path: path, errno: code)
                }
                done += written
            }
        }
    }

    /// Waits until `fd` takes more bytes: a non-blocking pipe or terminal that was full
    /// (`EAGAIN`) is waited out, not taken for an error — by `sendfile` and by the buffer alike
    /// (the only path where there is no `sendfile`, as on macOS).
    private static func waitUntilWritable(_ fd: Int32) {
        var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&ready, 1, -1)
    }

    #if os(Linux)
        /// Copies with `sendfile` (a regular file to a file or pipe), 1 GiB per call, from
        /// `input`'s current offset. Returns `false`, having copied nothing, when this pair of
        /// descriptors does not allow it (a file opened for appending), for the caller to copy through
        /// a buffer.
        private static func kernelCopy(from input: Int32, to output: Int32, path: String) throws -> Bool {
            var copied = 0
            while true {
                let count = sendfile(output, input, nil, 1 << 30)
                if count < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    if code == EAGAIN {
                        waitUntilWritable(output)
                        continue
                    }
                    if copied == 0, code == EINVAL || code == ENOSYS { return false }
                    throw FileSystemError("copy", path: path, errno: code)
                }
                if count == 0 { return true }
                copied += count
            }
        }
    #endif

    /// Copies `source` into a new temporary file beside `path`, 1 MiB at a time; returns its path.
    static func copyTemporary(_ source: String, nextTo path: String) throws -> String {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FileSystemError("open", path: source, errno: errno) }
        defer { close(input) }
        let temporary =
            temporaryPath(nextTo: path)
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw FileSystemError("create temporary file for", path: path, errno: errno) }
        // A copy of a large file takes a while: tell ``removeAbandonedTemporaries(nextTo:olderThan:)`` it is alive.
        _ = flock(output, LOCK_EX | LOCK_NB)
        var failure: Int32 = 0
        do {
            try pump(from: input, to: output, path: source)
        } catch let error as FileSystemError {
            failure = error.errno
        }
        try finish(temporary, fd: output, failure: failure, operation: "copy", path: path)
        return temporary
    }

    /// Makes a temporary file durable and closes it; on `failure` (or a failed `fsync`) removes
    /// it and throws.
    private static func finish(_ temporary: String, fd: Int32, failure: Int32, operation: String, path: String) throws {
        var failure = failure
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure != 0 {
            unlink(temporary)
            throw FileSystemError(operation, path: path, errno: failure)
        }
    }

    /// Creates `path` with `data` only if nothing exists there yet, atomically:
    /// the file appears with its full content or not at all.
    /// - Returns: `false` when `path` already exists.
    public static func createExclusively(_ data: Data, at path: String) throws -> Bool {
        let directory = parent(of: path)
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
        try makeDirectories(parent(of: path))
        if mkdir(path, 0o755) == 0 { return true }
        let code = errno
        if code == EEXIST { return false }
        throw FileSystemError("create directory", path: path, errno: code)
    }

    /// Creates `path` and its parents; succeeds when it already exists as a directory.
    public static func makeDirectories(_ path: String) throws {
        guard !path.isEmpty else { return }
        // The common cases in a system call or two: it exists, or only its last part is missing
        // (FileManager's recursive creation was 3% of a cold pull's CPU time).
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return }
        // 0777 less the umask, as FileManager creates them.
        if mkdir(path, 0o777) == 0 { return }
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
            current = parent(of: current)
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
        let temporary = temporaryPath(nextTo: path)
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
        try finish(temporary, fd: fd, failure: failure, operation: "write", path: path)
        return temporary
    }

    /// A new temporary file name beside `path` (`.{name}.tmp-{random}`: skipped by every walk).
    public static func temporaryPath(nextTo path: String) -> String {
        let (directory, name) = split(path)
        return "\(directory)/.\(name).tmp-\(UInt64.random(in: 0...UInt64.max))"
    }

    /// Removes the temporary files beside `path` that were to become it (`.{name}.tmp-*`) and
    /// that a killed process left: not locked, and not modified for `age`. A writer that keeps a
    /// temporary file for long (a download, a copy) holds a `flock` on it from right after its
    /// creation: a live one is never taken for abandoned. The age covers the moment between the
    /// creation and the lock, and the short-lived files written whole without a lock. On a file
    /// system whose locks are not shared between the processes that write it, a writer stalled
    /// for longer than `age` can lose its file (its rename then fails; the next pull downloads
    /// again). Best effort; returns how many were removed.
    @discardableResult
    public static func removeAbandonedTemporaries(nextTo path: String, olderThan age: Duration = .seconds(5)) -> Int {
        let (directory, name) = split(path)
        let prefix = ".\(name).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        let oldest = Date().timeIntervalSince1970 - Double(age.components.seconds)
        for candidate in names where candidate.hasPrefix(prefix) {
            let full = "\(directory)/\(candidate)"
            // Read-write: where `flock` is emulated with `fcntl` locks (NFS), an exclusive lock needs it.
            let fd = open(full, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard let file = LocalFile.stat(fd: fd), Double(file.mtimeNs) / 1e9 < oldest, flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            if unlink(full) == 0 { removed += 1 }
        }
        return removed
    }

    /// The directory part of `path`, as `NSString.deletingLastPathComponent` gives it, without
    /// bridging to `NSString` for the paths this project builds (the bridging was 5% of a cold
    /// pull's CPU time); a path with doubled slashes goes to `NSString`.
    public static func parent(of path: String) -> String { split(path).parent }

    /// The last part of `path`, as `NSString.lastPathComponent` gives it (see ``parent(of:)``).
    public static func name(of path: String) -> String { split(path).name }

    /// `path` as its directory and its last part (one trailing slash ignored).
    private static func split(_ path: String) -> (parent: String, name: String) {
        let bytes = Array(path.utf8)
        let slash = UInt8(ascii: "/")
        if zip(bytes, bytes.dropFirst()).contains(where: { $0 == slash && $1 == slash }) {
            return ((path as NSString).deletingLastPathComponent, (path as NSString).lastPathComponent)
        }
        var end = bytes.count
        if end > 1, bytes[end - 1] == slash { end -= 1 }
        guard let last = bytes[..<end].lastIndex(of: slash) else { return ("", String(decoding: bytes[..<end], as: UTF8.self)) }
        let name = last + 1 < end ? String(decoding: bytes[(last + 1)..<end], as: UTF8.self) : "/"
        return (last == 0 ? "/" : String(decoding: bytes[..<last], as: UTF8.self), name)
    }

    /// Whether a name is one of this type's temporary files (skipped by directory walks).
    public static func isTemporaryName(_ name: String) -> Bool {
        name.hasPrefix(".") && name.contains(".tmp-")
    }
}
