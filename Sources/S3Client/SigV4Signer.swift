import Crypto
import Foundation
import SwampContracts
import Synchronization

/// AWS Signature Version 4 for request headers, as a pure function of its inputs.
///
/// The signer never sees the network and never logs: it turns a request (method,
/// encoded path, query, headers, payload hash) and a time into the `Authorization`
/// header, exposing the canonical request and string to sign for tests.
public struct SigV4Signer: Sendable {
    /// How the payload is represented in the signature (`x-amz-content-sha256`).
    public enum Payload: Sendable, Equatable {
        /// The hex SHA-256 of the body.
        case hashed(String)
        /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
        case unsigned

        /// The hash of an empty body.
        public static let empty = Payload.hashed("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

        /// The hashed form of `data`.
        public static func of(_ data: some DataProtocol) -> Payload { .hashed(hex(SHA256.hash(data: data))) }

        public var headerValue: String {
            switch self {
            case .hashed(let hash): return hash
            case .unsigned: return "UNSIGNED-PAYLOAD"
            }
        }
    }

    /// What signing produced.
    public struct Signature: Sendable, Equatable {
        public let canonicalRequest: String
        public let stringToSign: String
        public let signedHeaders: String
        public let signature: String
        public let authorization: String
    }

    public let accessKeyId: String
    private let secretAccessKey: String
    public let region: String
    public let service: String

    public init(accessKeyId: String, secretAccessKey: String, region: String, service: String = "s3") {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// Signs a request.
    /// - Parameters:
    ///   - encodedPath: the request path, already URI-encoded (S3 paths are not encoded twice).
    ///   - query: query parameters, unencoded; they are encoded and sorted here.
    ///   - headers: the headers to sign (names in any case); must include `host` and `x-amz-date`.
    public func sign(method: String, encodedPath: String, query: [(String, String)], headers: [(String, String)], payload: Payload) -> Signature {
        let amzDate = headers.first { $0.0.lowercased() == "x-amz-date" }?.1 ?? ""
        let day = String(amzDate.prefix(8))
        let encodedQuery: [(String, String)] = query.map { (Self.encode($0.0), Self.encode($0.1)) }
        let sortedQuery = encodedQuery.sorted { lhs, rhs in lhs.0 == rhs.0 ? lhs.1 < rhs.1 : lhs.0 < rhs.0 }
        let canonicalQuery: String = sortedQuery.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var grouped: [String: [String]] = [:]
        for (name, value) in headers {
            grouped[name.lowercased(), default: []].append(Self.trim(value))
        }
        let names = grouped.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(grouped[$0, default: []].joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let path = encodedPath.isEmpty ? "/" : encodedPath
        let canonicalRequest: String = [method, path, canonicalQuery, canonicalHeaders, signedHeaders, payload.headerValue].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let requestHash: String = Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))
        let stringToSign: String = ["AWS4-HMAC-SHA256", amzDate, scope, requestHash].joined(separator: "\n")
        let key = signingKey(day: day)
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signedHeaders: signedHeaders, signature: signature,
            authorization: authorization)
    }

    /// The derived key: HMAC chain over date, region, service and `aws4_request`. It changes
    /// once a day, so the last few are kept (five HMACs per request were 2.5% of a cold pull's
    /// CPU time), found by the bytes of the scope and a digest of the secret: the secret itself
    /// is not kept, and two spellings of one Unicode text never share a key.
    func signingKey(day: String) -> SymmetricKey {
        let scope = KeyScope(
            secretDigest: Array(SHA256.hash(data: Data(secretAccessKey.utf8))), day: Array(day.utf8), region: Array(region.utf8),
            service: Array(service.utf8))
        if let known = Self.derivedKeys.withLock({ $0[scope] }) { return known }
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        Self.derivedKeys.withLock { keys in
            if keys.count >= 8 { keys.removeAll() }
            keys[scope] = key
        }
        return key
    }

    private struct KeyScope: Hashable {
        let secretDigest: [UInt8]
        let day: [UInt8]
        let region: [UInt8]
        let service: [UInt8]
    }
    private static let derivedKeys = Mutex<[KeyScope: SymmetricKey]>([:])

    /// `20150830T123600Z`, the form of `x-amz-date` (UTC, whole seconds).
    public static func amzDate(_ date: Date) -> String {
        // Years 1970 to 9999 (a clock outside them is clamped, never a crash).
        let interval = date.timeIntervalSince1970
        let seconds = interval.isNaN ? 0 : min(max(interval, 0), 253_402_300_799).rounded(.down)
        return UTCTime.compact(Date(timeIntervalSince1970: seconds), milliseconds: false)
    }

    /// URI-encodes per SigV4: every byte except `A-Z a-z 0-9 - . _ ~` becomes `%XX`
    /// (upper-case hex); with `keepSlash`, `/` is kept (for object key paths).
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(upperHexDigits[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(upperHexDigits[Int(byte & 0x0f)]))
            }
        }
        return out
    }

    /// Trims a header value and collapses inner runs of spaces, as canonical headers require.
    static func trim(_ value: String) -> String {
        // Most values have nothing to trim: ASCII, no edge blanks, no run of spaces, no tab.
        let utf8 = value.utf8
        var previousSpace = true
        var plain = true
        for byte in utf8 {
            let space = byte == UInt8(ascii: " ")
            if byte == UInt8(ascii: "\t") || byte >= 0x80 || (space && previousSpace) {
                plain = false
                break
            }
            previousSpace = space
        }
        if plain && (!previousSpace || utf8.isEmpty) { return value }
        return value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }

    /// Lower-case hex, by table: `String(format:)` per byte was a sixth of a cold pull's CPU time
    /// (three digests are written out for every request signed).
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(lowerHexDigits[Int(byte >> 4)])
            out.append(lowerHexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let lowerHexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
}
