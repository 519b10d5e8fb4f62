/// How far a long sync operation has got.
public struct SyncProgress: Hashable, Sendable {
    /// What is happening: `pull`, `push`, `hydrate`.
    public var phase: String
    /// Files done so far.
    public var done: Int
    /// Files to do in all.
    public var total: Int
    /// Bytes moved so far, and to move in all (0 when the service does not count bytes): large
    /// files advance part by part.
    public var bytesDone: Int64
    public var bytesTotal: Int64

    public init(phase: String, done: Int, total: Int, bytesDone: Int64 = 0, bytesTotal: Int64 = 0) {
        self.phase = phase
        self.done = done
        self.total = total
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
    }
}

/// A sync service that can report progress of long transfers (optional).
public protocol SyncProgressReporting: Sendable {
    /// Sets (or clears) the handler called as files complete. It may be called from any task.
    func setProgressHandler(_ handler: (@Sendable (SyncProgress) -> Void)?)
}
