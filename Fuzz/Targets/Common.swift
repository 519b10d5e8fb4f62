import Foundation

/// Stops the fuzzer with a message when a property a parser promises does not hold.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        FileHandle.standardError.write(Data("property violated: \(message())\n".utf8))
        abort()
    }
}

/// Whether `path`, joined to a cache root and standardised, stays inside it — compared on bytes,
/// as the file system compares (a '/' joined to a combining mark is still a '/').
func staysInside(_ path: String) -> Bool {
    ("/fuzz/cache/" + path as NSString).standardizingPath.utf8.starts(with: "/fuzz/cache/".utf8)
}

/// The segments of `path` as the file system sees them: split on the '/' byte.
func byteSegments(_ path: String) -> [ArraySlice<UInt8>] {
    Array(path.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
}
