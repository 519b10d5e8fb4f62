import Crypto
import Foundation

/// SHA-256 digests as lower-case hex, the form stored in metadata and indexes.
public enum ContentHash {
    /// The hex SHA-256 of `data`.
    public static func sha256(_ data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    /// The hex SHA-256 and size of the file at `path`, read through one buffer of 64 KiB (small
    /// enough for `malloc` to keep reusing, on any thread).
    public static func sha256(ofFile path: String) throws -> (sha256: String, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError("open", path: path, errno: errno) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            guard let base = buffer.baseAddress else { throw FileSystemError("read", path: path, errno: EFAULT) }
            let count = read(fd, base, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw FileSystemError("read", path: path, errno: errno) }
            if count == 0 { break }
            size += Int64(count)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(start: base, count: count))
        }
        return (hex(hasher.finalize()), size)
    }

    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
