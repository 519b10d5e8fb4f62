/// An error as a user sees it: a stable code, what happened, what to do, and what caused it.
///
/// Every error type of swamp and its backends conforms, so the CLI reports any of them — text
/// or `--json` — without knowing the type: `{"error": {"code", "message", "hint"}}`. (The
/// requirements are prefixed where conforming types already use the plain name for something
/// narrower, such as an S3 error's server message.)
public protocol ReportableError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable code (`lock_timeout`, `no_such_bucket`, …), printed in `--json`.
    var errorCode: String { get }
    /// What happened, in one sentence (default: the description).
    var errorMessage: String { get }
    /// What the user can do about it, when there is something to say.
    var hint: String? { get }
    /// The lower-level error this one explains, when there is one.
    var cause: (any Error)? { get }
    /// The process exit status this error ends a command with (1 unless a caller must tell it
    /// apart, e.g. 3 for a lock wait that timed out).
    var exitStatus: Int32 { get }
}

extension ReportableError {
    public var errorMessage: String { description }
    public var hint: String? { nil }
    public var cause: (any Error)? { nil }
    public var exitStatus: Int32 { 1 }
}

extension ContractError: ReportableError {
    public var errorCode: String { code.rawValue }
}

extension LockError: ReportableError {
    public var errorCode: String { code.rawValue }
    public var exitStatus: Int32 { code == .timeout ? 3 : 1 }
}

extension SyncConflict: ReportableError {
    public var errorCode: String { "sync_conflict" }
    public var hint: String? {
        "nothing was overwritten and the local work is kept (marked unpushed); run 'swamp datastore sync --push' again"
    }
}
