/// An operation stopped at a safe point because it was interrupted (Ctrl-C, SIGTERM): what it
/// had done and what it had not, for the user. Its locks were released.
public struct OperationInterrupted: Error, Sendable, CustomStringConvertible {
    /// What was done before the interrupt (kept).
    public var done: [String]
    /// What was not done (and what will do it).
    public var notDone: [String]

    public init(done: [String], notDone: [String]) {
        self.done = done
        self.notDone = notDone
    }

    public var description: String {
        (done.map { "done: \($0)" } + notDone.map { "not done: \($0)" }).joined(separator: "\n")
    }
}
