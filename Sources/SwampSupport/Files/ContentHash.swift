import Crypto
import Foundation

/// SHA-256 digests as lower-case hex, the form stored in metadata and indexes.
public enum ContentHash {
    /// The hex SHA-256 of `data`.
    public static func sha256(_ data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    /// The hex SHA-256 and size of the file at `path`, read in chunks.
    public static func sha256(ofFile path: String) throws -> (sha256: String, size: Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FileSystemError("open", path: path, errno: errno == 0 ? ENOENT : errno)
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw FileSystemError("read", path: path, errno: EIO)
            }
            if chunk.isEmpty { break }
            size += Int64(chunk.count)
            hasher.update(data: chunk)
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
