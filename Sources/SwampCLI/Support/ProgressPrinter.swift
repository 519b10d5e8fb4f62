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
        let started = ContinuousClock.now
        return { progress in
            let end = progress.done == progress.total ? "\n" : ""
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line(progress, elapsed: ContinuousClock.now - started))\(end)".utf8))
        }
    }

    /// `push: 1/3 files`, and for transfers of 8 MiB or more the bytes and the rate:
    /// `push: 1/3 files, 312.0 MiB of 1.0 GiB (85.2 MiB/s)`.
    static func line(_ progress: SyncProgress, elapsed: Duration) -> String {
        var text = "\(progress.phase): \(progress.done)/\(progress.total) files"
        if progress.bytesTotal >= 8 << 20 {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = seconds > 0.2 ? " (\(ByteCount.format(Int64(Double(progress.bytesDone) / seconds)))/s)" : ""
            text += ", \(ByteCount.format(progress.bytesDone)) of \(ByteCount.format(progress.bytesTotal))\(rate)"
        }
        return text
    }
}
