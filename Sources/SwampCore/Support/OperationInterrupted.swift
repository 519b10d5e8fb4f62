import SwampContracts

/// An operation stopped at a safe point because it was interrupted (Ctrl-C, SIGTERM): what it
/// had done and what it had not, for the user. Its locks were released.
public struct OperationInterrupted: ReportableError {
    public var errorCode: String { "interrupted" }
    /// 130, as a shell reports SIGINT (the CLI uses the signal that actually arrived).
    public var exitStatus: Int32 { 130 }

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
