/// How far a long sync operation has got.
public struct SyncProgress: Hashable, Sendable {
    /// What is happening: `pull`, `push`, `hydrate`.
    public var phase: String
    /// Files done so far.
    public var done: Int
    /// Files to do in all.
    public var total: Int

    public init(phase: String, done: Int, total: Int) {
        self.phase = phase
        self.done = done
        self.total = total
    }
}

/// A sync service that can report progress of long transfers (optional).
public protocol SyncProgressReporting: Sendable {
    /// Sets (or clears) the handler called as files complete. It may be called from any task.
    func setProgressHandler(_ handler: (@Sendable (SyncProgress) -> Void)?)
}
