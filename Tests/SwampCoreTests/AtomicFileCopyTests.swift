import Foundation
import SwampSupport
import SwampTesting
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `AtomicFile.copy` and `AtomicFile.stream` copy inside the kernel where they can (`sendfile`)
/// and through a buffer where they cannot: every path gives back the same bytes.
@Suite struct AtomicFileCopyTests {
    /// 3 MiB and a few bytes of random content: more than one buffer's worth, not a round size.
    static func randomFile(in directory: TemporaryDirectory, size: Int = (3 << 20) + 17) throws -> (path: String, bytes: Data) {
        let bytes = try #require(FileHandle(forReadingAtPath: "/dev/urandom")?.readData(ofLength: size))
        let path = "\(directory.path)/source.bin"
        try bytes.write(to: URL(fileURLWithPath: path))
        return (path, bytes)
    }

    @Test func copyGivesTheSameBytesAndReplacesTheTargetWhole() throws {
        let directory = TemporaryDirectory("atomic-copy")
        defer { directory.remove() }
        let (source, bytes) = try Self.randomFile(in: directory)
        let target = "\(directory.path)/deep/er/target.bin"
        try AtomicFile.copy(source, to: target)
        #expect(FileManager.default.contents(atPath: target) == bytes)
        // Over an existing, longer file: nothing of the old content remains.
        try Data(repeating: 7, count: 5 << 20).write(to: URL(fileURLWithPath: target))
        try AtomicFile.copy(source, to: target)
        #expect(FileManager.default.contents(atPath: target) == bytes)
        // No temporary file left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/deep/er") == ["target.bin"])
    }

    /// `share` links a regular file on the same file system, replacing the target whole; it
    /// copies from another file system (`/dev/shm` is a tmpfs) and through a symbolic link (the
    /// bytes it points to, not the link).
    @Test func shareLinksWhereItCanAndCopiesElsewhere() throws {
        let directory = TemporaryDirectory("atomic-share")
        defer { directory.remove() }
        let (source, bytes) = try Self.randomFile(in: directory)
        let target = "\(directory.path)/deep/target.bin"
        try Data(repeating: 7, count: 5 << 20).write(to: URL(fileURLWithPath: "\(directory.path)/old.bin"))
        try FileManager.default.createDirectory(atPath: "\(directory.path)/deep", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(directory.path)/old.bin", toPath: target)
        #expect(try AtomicFile.share(source, to: target))
        #expect(LocalFile.stat(target)?.inode == LocalFile.stat(source)?.inode)
        #expect(FileManager.default.contents(atPath: target) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/deep") == ["target.bin"], "no temporary file left")

        let symbolic = "\(directory.path)/symbolic"
        try FileManager.default.createSymbolicLink(atPath: symbolic, withDestinationPath: source)
        #expect(try !AtomicFile.share(symbolic, to: "\(directory.path)/through-link"))
        #expect(LocalFile.stat("\(directory.path)/through-link") != nil, "a regular file, not a link")
        #expect(FileManager.default.contents(atPath: "\(directory.path)/through-link") == bytes)

        let elsewhere = "/dev/shm/swamp-share-\(UInt64.random(in: 0...UInt64.max))"
        guard FileManager.default.createFile(atPath: elsewhere, contents: bytes) else {
            Issue.record("cannot write to /dev/shm: the copy across file systems is not tested")
            return
        }
        defer { unlink(elsewhere) }
        #expect(try !AtomicFile.share(elsewhere, to: "\(directory.path)/copied"), "another file system: copied")
        #expect(FileManager.default.contents(atPath: "\(directory.path)/copied") == bytes)
    }

    /// A pipe (what `swamp data get | sha256sum` writes to), blocking and non-blocking: a full
    /// non-blocking pipe answers `EAGAIN`, which must be waited out, not taken for an error.
    @Test(arguments: [false, true]) func streamToAPipeGivesTheSameBytes(nonBlocking: Bool) throws {
        let directory = TemporaryDirectory("atomic-stream")
        defer { directory.remove() }
        let (source, bytes) = try Self.randomFile(in: directory)
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let (reading, writing) = (ends[0], ends[1])
        if nonBlocking { #expect(fcntl(writing, F_SETFL, fcntl(writing, F_GETFL) | O_NONBLOCK) == 0) }
        // The reader (a thread of its own: the writer below blocks its thread) starts late and
        // reads slowly, so that the pipe fills.
        let received = Mutex(Data())
        let done = DispatchSemaphore(value: 0)
        let reader = Thread {
            usleep(50_000)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(reading, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                received.withLock { $0.append(contentsOf: buffer[0..<count]) }
            }
            close(reading)
            done.signal()
        }
        reader.start()
        try AtomicFile.stream(source, to: writing)
        close(writing)
        done.wait()
        #expect(received.withLock { $0 } == bytes)
    }

    /// A file opened for appending refuses `sendfile` (`EINVAL`): the bytes go through the
    /// buffer instead, after what the file held.
    @Test func streamToAnAppendingFileFallsBackAndAppends() throws {
        let directory = TemporaryDirectory("atomic-append")
        defer { directory.remove() }
        let (source, bytes) = try Self.randomFile(in: directory)
        let target = "\(directory.path)/log.bin"
        try Data("before\n".utf8).write(to: URL(fileURLWithPath: target))
        let fd = open(target, O_WRONLY | O_APPEND | O_CLOEXEC)
        #expect(fd >= 0)
        try AtomicFile.stream(source, to: fd)
        close(fd)
        #expect(FileManager.default.contents(atPath: target) == Data("before\n".utf8) + bytes)
    }
}
