import Foundation
import SwampContracts

/// Reads the small XML documents S3 returns: errors, listings, multipart results, STS answers.
enum S3XML {
    /// A flat reading of an XML document: every element's text, by path of element names.
    ///
    /// Our own reader, not FoundationXML: that one brings libxml2 and, through it, the system's
    /// ICU and liblzma, which every command loaded and relocated at start (~1.5 MiB resident)
    /// for a few documents of a handful of elements. This reads what S3 and STS send — a
    /// declaration, elements with attributes (skipped), character data with the five named and
    /// any numeric references, CDATA sections, comments, processing instructions — and refuses
    /// the rest: a document type (no entity is ever expanded), a mismatched or unclosed element,
    /// bytes outside the root element, invalid UTF-8 anywhere, nesting deeper than ``maximumDepth``,
    /// a name longer than ``maximumName`` bytes. Each element's path is built once, when it opens,
    /// and shared by its readings (a long name over many children costs its length once).
    /// An element's text is the character data (and CDATA) since the last tag, as XMLParser's
    /// delegate saw it: a parent with children keeps the text after its last child.
    enum Reader {
        static let maximumDepth = 64
        static let maximumName = 1024

        static func read(_ data: Data) -> [(path: String, text: String)]? {
            let bytes = [UInt8](data)
            guard String(validating: bytes, as: UTF8.self) != nil else { return nil }
            var parser = Parser(bytes: bytes)
            return parser.document()
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var names: [String] = []
        /// The path of each open element (`a`, `a/b`, …), built as it opens.
        var paths: [String] = []
        var text: [UInt8] = []
        var elements: [(path: String, text: String)] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() -> [(path: String, text: String)]? {
            var rootClosed = false
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }  // a UTF-8 byte order mark
            while index < bytes.count {
                if bytes[index] != UInt8(ascii: "<") {
                    if names.isEmpty {
                        guard Self.isSpace(bytes[index]) else { return nil }
                        index += 1
                    } else {
                        guard characterData() else { return nil }
                    }
                } else if starts(with: "<?") {
                    guard let end = find("?>", from: index + 2) else { return nil }
                    index = end + 2
                } else if starts(with: "<!--") {
                    guard let end = find("-->", from: index + 4) else { return nil }
                    index = end + 3
                } else if starts(with: "<![CDATA[") {
                    guard !names.isEmpty, let end = find("]]>", from: index + 9) else { return nil }
                    text += bytes[(index + 9)..<end]
                    index = end + 3
                } else if starts(with: "<!") || rootClosed {
                    return nil  // a document type, or a second root
                } else if starts(with: "</") {
                    guard endTag() else { return nil }
                    rootClosed = names.isEmpty
                } else {
                    guard startTag() else { return nil }
                    rootClosed = names.isEmpty
                }
            }
            return rootClosed && names.isEmpty ? elements : nil
        }

        private mutating func startTag() -> Bool {
            index += 1
            guard let name = name(), names.count < Reader.maximumDepth else { return false }
            var quote: UInt8?
            while index < bytes.count {
                let byte = bytes[index]
                if let open = quote {
                    if byte == open { quote = nil }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if byte == UInt8(ascii: "<") {
                    return false
                } else if byte == UInt8(ascii: ">") {
                    let empty = bytes[index - 1] == UInt8(ascii: "/")
                    index += 1
                    paths.append(paths.last.map { "\($0)/\(name)" } ?? name)
                    names.append(name)
                    text = []
                    return empty ? close() : true
                }
                index += 1
            }
            return false
        }

        private mutating func endTag() -> Bool {
            index += 2
            guard let name = name(), name == names.last else { return false }
            while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
            guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else { return false }
            index += 1
            return close()
        }

        /// Ends the innermost element with the text gathered since the last tag.
        private mutating func close() -> Bool {
            guard let decoded = String(validating: text, as: UTF8.self) else { return false }
            elements.append((paths.removeLast(), decoded))
            names.removeLast()
            text = []
            return true
        }

        /// An element's name, up to a space, `/` or `>`.
        private mutating func name() -> String? {
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if Self.isSpace(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: ">") { break }
                guard byte != UInt8(ascii: "<"), byte != UInt8(ascii: "&"), byte != UInt8(ascii: "\""), byte != UInt8(ascii: "'") else {
                    return nil
                }
                index += 1
            }
            guard index > start, index - start <= Reader.maximumName else { return nil }
            return String(validating: bytes[start..<index], as: UTF8.self)
        }

        /// Character data up to the next `<`: references replaced, line ends made `\n`.
        private mutating func characterData() -> Bool {
            while index < bytes.count, bytes[index] != UInt8(ascii: "<") {
                let byte = bytes[index]
                if byte == UInt8(ascii: "&") {
                    guard let semicolon = bytes[(index + 1)..<min(index + 13, bytes.count)].firstIndex(of: UInt8(ascii: ";")),
                        let scalar = Self.reference(bytes[(index + 1)..<semicolon])
                    else { return false }
                    text += Array(String(scalar).utf8)
                    index = semicolon + 1
                } else if byte == 0x0D {
                    text.append(0x0A)
                    index += index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
                } else {
                    text.append(byte)
                    index += 1
                }
            }
            return true
        }

        /// The character a reference names (`amp`, `#38`, `#x26`), if it is one XML allows.
        private static func reference(_ name: ArraySlice<UInt8>) -> Unicode.Scalar? {
            switch String(decoding: name, as: UTF8.self) {
            case "amp": return "&"
            case "lt": return "<"
            case "gt": return ">"
            case "quot": return "\""
            case "apos": return "'"
            case let number where number.hasPrefix("#x"):
                let digits = number.dropFirst(2)
                guard digits.allSatisfy(\.isHexDigit) else { return nil }
                return UInt32(digits, radix: 16).flatMap(allowed)
            case let number where number.hasPrefix("#"):
                let digits = number.dropFirst()
                guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
                return UInt32(digits, radix: 10).flatMap(allowed)
            default: return nil
            }
        }

        /// XML's `Char`: tab, newline, carriage return and the scalars from U+0020 but U+FFFE and U+FFFF.
        private static func allowed(_ value: UInt32) -> Unicode.Scalar? {
            guard value == 0x9 || value == 0xA || value == 0xD || (value >= 0x20 && value != 0xFFFE && value != 0xFFFF) else { return nil }
            return Unicode.Scalar(value)
        }

        private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

        private func starts(with prefix: String) -> Bool { bytes[index...].starts(with: prefix.utf8) }

        private func find(_ needle: String, from start: Int) -> Int? {
            let pattern = Array(needle.utf8)
            guard let first = pattern.first, start < bytes.count else { return nil }
            var position = start
            while position + pattern.count <= bytes.count {
                if bytes[position] == first && bytes[position..<(position + pattern.count)].elementsEqual(pattern) { return position }
                position += 1
            }
            return nil
        }
    }

    /// The `Code` and `Message` of an S3 error document.
    static func error(_ data: Data) -> (code: String, message: String)? {
        guard let elements = Reader.read(data) else { return nil }
        let code = elements.first { $0.path == "Error/Code" }?.text
        let message = elements.first { $0.path == "Error/Message" }?.text ?? ""
        return code.map { ($0, message) }
    }

    /// One page of `ListObjectsV2`; `nil` for any other document (a 200 carrying an error, an
    /// HTML page) and for a page that says it is truncated without saying where to go on: never
    /// a listing read as empty or complete when it is not.
    static func listPage(_ data: Data) -> (objects: [S3ObjectSummary], nextToken: String?)? {
        guard let elements = Reader.read(data), elements.last?.path == "ListBucketResult" else { return nil }
        var objects: [S3ObjectSummary] = []
        var current = S3ObjectSummary(key: "", size: 0, etag: "")
        var nextToken: String?
        var truncated = false
        for (path, text) in elements {
            switch path {
            case "ListBucketResult/Contents/Key": current.key = text
            case "ListBucketResult/Contents/Size": current.size = Int64(text) ?? 0
            case "ListBucketResult/Contents/ETag": current.etag = text
            case "ListBucketResult/Contents/LastModified": current.lastModified = ISO8601Timestamp.parse(text)
            case "ListBucketResult/Contents":
                objects.append(current)
                current = S3ObjectSummary(key: "", size: 0, etag: "")
            case "ListBucketResult/NextContinuationToken": nextToken = text
            case "ListBucketResult/IsTruncated": truncated = text == "true"
            default: break
            }
        }
        if truncated && (nextToken ?? "").isEmpty { return nil }
        return (objects, truncated ? nextToken : nil)
    }

    /// The text of the first element at `path` (e.g. `InitiateMultipartUploadResult/UploadId`).
    static func text(_ data: Data, at path: String) -> String? {
        Reader.read(data)?.first { $0.path == path }?.text
    }

    /// `text` escaped for an XML element.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// One page of `ListMultipartUploads`, with the markers of the next page when truncated;
    /// `nil` for any other document and for a truncated page without a next key marker.
    static func uploadsPage(_ data: Data) -> (uploads: [MultipartUploadSummary], next: (key: String, uploadId: String)?)? {
        guard let elements = Reader.read(data), elements.last?.path == "ListMultipartUploadsResult" else { return nil }
        var uploads: [MultipartUploadSummary] = []
        var current = MultipartUploadSummary(key: "", uploadId: "", initiated: nil)
        var nextKey = ""
        var nextUploadId = ""
        var truncated = false
        for (path, text) in elements {
            switch path {
            case "ListMultipartUploadsResult/Upload/Key": current.key = text
            case "ListMultipartUploadsResult/Upload/UploadId": current.uploadId = text
            case "ListMultipartUploadsResult/Upload/Initiated": current.initiated = ISO8601Timestamp.parse(text)
            case "ListMultipartUploadsResult/Upload":
                uploads.append(current)
                current = MultipartUploadSummary(key: "", uploadId: "", initiated: nil)
            case "ListMultipartUploadsResult/NextKeyMarker": nextKey = text
            case "ListMultipartUploadsResult/NextUploadIdMarker": nextUploadId = text
            case "ListMultipartUploadsResult/IsTruncated": truncated = text == "true"
            default: break
            }
        }
        if truncated && nextKey.isEmpty { return nil }
        return (uploads, truncated ? (nextKey, nextUploadId) : nil)
    }
}

/// An object as listed by `ListObjectsV2`.
public struct S3ObjectSummary: Sendable, Equatable {
    public var key: String
    public var size: Int64
    /// The ETag as S3 returned it (with quotes).
    public var etag: String
    /// When the object was written, by the server's clock.
    public var lastModified: Date?

    public init(key: String, size: Int64, etag: String, lastModified: Date? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// The ISO-8601 timestamps of S3 listings (`2026-11-26T14:01:02.000Z`).
enum ISO8601Timestamp {
    static func parse(_ text: String) -> Date? { UTCTime.parseISO8601(text) }
}
