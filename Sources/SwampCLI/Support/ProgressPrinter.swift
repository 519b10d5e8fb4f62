import Foundation
import SwampContracts

#if canImport(Glibc)
    import Glibc
#endif

/// Shows sync progress on stderr when it is a terminal (`\r`-updated line), and nothing otherwise.
enum ProgressPrinter {
    /// A handler for ``SyncProgressReporting``, or `nil` when stderr is not a TTY.
    static func handler() -> (@Sendable (SyncProgress) -> Void)? {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        return { progress in
            let end = progress.done == progress.total ? "\n" : ""
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(progress.phase): \(progress.done)/\(progress.total) files\(end)".utf8))
        }
    }
}
