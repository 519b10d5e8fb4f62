import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Reads the small XML documents S3 returns: errors and `ListObjectsV2` pages.
enum S3XML {
    /// A flat reading of an XML document: every element's text, by path of element names.
    final class Reader: NSObject, XMLParserDelegate {
        private var stack: [String] = []
        private var text = ""
        /// (path, text) for each element closed, in document order.
        private(set) var elements: [(path: String, text: String)] = []

        static func read(_ data: Data) -> [(path: String, text: String)]? {
            let reader = Reader()
            let parser = XMLParser(data: data)
            parser.delegate = reader
            guard parser.parse() else { return nil }
            return reader.elements
        }

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            stack.append(elementName)
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            elements.append((stack.joined(separator: "/"), text))
            stack.removeLast()
            text = ""
        }
    }

    /// The `Code` and `Message` of an S3 error document.
    static func error(_ data: Data) -> (code: String, message: String)? {
        guard let elements = Reader.read(data) else { return nil }
        let code = elements.first { $0.path == "Error/Code" }?.text
        let message = elements.first { $0.path == "Error/Message" }?.text ?? ""
        return code.map { ($0, message) }
    }

    /// One page of `ListObjectsV2`.
    static func listPage(_ data: Data) -> (objects: [S3ObjectSummary], nextToken: String?)? {
        guard let elements = Reader.read(data) else { return nil }
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

    /// One page of `ListMultipartUploads`, with the markers of the next page when truncated.
    static func uploadsPage(_ data: Data) -> (uploads: [MultipartUploadSummary], next: (key: String, uploadId: String)?)? {
        guard let elements = Reader.read(data) else { return nil }
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
        return (uploads, truncated && !nextKey.isEmpty ? (nextKey, nextUploadId) : nil)
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
    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
