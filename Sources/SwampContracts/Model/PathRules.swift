/// Validation of untrusted names and cache-relative paths.
///
/// Data names, model names and every path from a remote index are untrusted:
/// they must not traverse (`..`), be absolute, contain `\` or NUL, or use the
/// reserved name `latest` where a data name is expected.
public enum PathRules {
    /// Names that can never be a data name, because the layout uses them.
    public static let reservedDataNames: Set<String> = ["latest"]

    /// Validates one path segment used as a name (a data name or model name).
    /// - Parameter kind: how the name is described in the error, e.g. `"data name"`.
    public static func validateName(_ name: String, kind: String) throws {
        func reject(_ why: String) -> ContractError {
            ContractError(.invalidName, "invalid \(kind) '\(printable(name))': \(why)")
        }
        guard !name.isEmpty else { throw reject("it is empty") }
        guard name.utf8.count <= 200 else { throw reject("it is longer than 200 bytes") }
        // Checked on bytes, not characters: a '/' or '.' followed by a combining mark is one
        // `Character` in Swift yet still a separator or a dot to the file system.
        guard !name.utf8.contains(0) else { throw reject("it contains a NUL byte") }
        guard !name.utf8.contains(slash) else { throw reject("it contains '/'") }
        guard !name.utf8.contains(backslash) else { throw reject("it contains '\\'") }
        guard name != ".", name != ".." else { throw reject("it is a relative directory reference") }
        guard name.utf8.first != dot else { throw reject("it starts with '.' (reserved for local files)") }
        // As for path segments: a mark at either end would join the '/' the name is placed between.
        guard ("/" + name + "/").count == name.count + 2 else { throw reject("it starts or ends with a character that joins a '/'") }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw reject("it contains a control character")
        }
        guard name.trimmingWhitespace == name else { throw reject("it starts or ends with whitespace") }
    }

    /// Validates a data name: a valid name that is not reserved.
    public static func validateDataName(_ name: String) throws {
        try validateName(name, kind: "data name")
        if reservedDataNames.contains(name) {
            throw ContractError(.invalidName, "invalid data name '\(name)': it is reserved by the datastore layout")
        }
    }

    /// The longest segment a path may have: what file systems allow in one name (`NAME_MAX`).
    public static let maximumSegmentBytes = 255
    /// The longest path: S3 keys hold 1 024 bytes, and a key prefix comes before the path.
    public static let maximumPathBytes = 900

    /// Validates a cache-relative, forward-slash path (e.g. from a remote index)
    /// and returns its segments: not empty, not absolute, no `\`, NUL or control characters,
    /// no empty segment, no segment starting with `.` (`..` traverses; other dot names are
    /// reserved for local state, such as `.swamp-sync/`, and never synced), each segment at
    /// most ``maximumSegmentBytes`` and the whole at most ``maximumPathBytes`` bytes.
    public static func validateRelativePath(_ path: String) throws -> [Substring] {
        func reject(_ why: String) -> ContractError {
            ContractError(.invalidPath, "refusing path '\(printable(String(path.prefix(200))))': \(why)")
        }
        guard !path.isEmpty else { throw reject("it is empty") }
        guard path.utf8.count <= maximumPathBytes else { throw reject("it is longer than \(maximumPathBytes) bytes") }
        guard !path.utf8.contains(0) else { throw reject("it contains a NUL byte") }
        guard path.utf8.first != slash else { throw reject("it is absolute") }
        guard !path.utf8.contains(backslash) else { throw reject("it contains '\\'") }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        // Every '/' byte must also be a '/' character: one joined to a combining mark would be a
        // separator to the file system but not to `split`, `hasPrefix` or `==` on strings.
        guard segments.count == path.utf8.count(where: { $0 == slash }) + 1 else {
            throw reject("a '/' is joined to the character after or before it")
        }
        for segment in segments {
            guard !segment.isEmpty else { throw reject("it has an empty segment") }
            // Nor may a segment start with a mark that would join the '/' put before it when the
            // path is joined to a root, or end with one that joins the '/' after it.
            guard ("/" + segment + "/").count == segment.count + 2 else {
                throw reject("a segment starts or ends with a character that joins a '/'")
            }
            guard segment != ".", segment != ".." else { throw reject("it traverses with '\(segment)'") }
            guard segment.utf8.first != dot else {
                throw reject("its segment '\(printable(String(segment)))' starts with '.' (reserved for local state)")
            }
            guard segment.utf8.count <= maximumSegmentBytes else { throw reject("a segment is longer than \(maximumSegmentBytes) bytes") }
            guard !segment.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw reject("it contains a control character")
            }
        }
        return segments
    }

    private static let slash = UInt8(ascii: "/")
    private static let backslash = UInt8(ascii: "\\")
    private static let dot = UInt8(ascii: ".")

    /// `name` with control characters escaped, safe to print in a message.
    public static func printable(_ name: String) -> String {
        var result = ""
        for scalar in name.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

extension String {
    fileprivate var trimmingWhitespace: Substring {
        let start = firstIndex(where: { !$0.isWhitespace }) ?? endIndex
        let end = lastIndex(where: { !$0.isWhitespace }).map { index(after: $0) } ?? start
        return self[start..<end]
    }
}
