import Foundation
import SwampContracts

/// A file-system operation failed; the message names the path and the cause.
public struct FileSystemError: ReportableError {
    public var errorCode: String { "io_error" }

    public let operation: String
    public let path: String
    public let errno: Int32

    public init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "cannot \(operation) '\(path)': \(String(cString: strerror(errno)))"
    }
}
