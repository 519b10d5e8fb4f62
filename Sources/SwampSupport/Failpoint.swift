import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Named points where a test makes this process die at once (SIGKILL), to check what a crash
/// right there leaves behind and that the next command heals it. Armed only by the environment
/// variable `SWAMP_FAILPOINT` (a comma-separated list of names); never set in normal use.
///
/// | name | where |
/// |---|---|
/// | `data.after-metadata` | a new version's `metadata.yaml` is written, its `raw` is not |
/// | `data.after-raw` | a version written from a file: its `raw` is in place, its writer's record not appended |
/// | `data.after-record` | the same, its writer's record appended; `latest` and the catalog not updated |
/// | `push.after-commit` | a push's index commit is written, the cache has not recorded it |
/// | `renumber.after-raw` | a renumbering linked the new `raw`, its metadata is not written |
public enum Failpoint {
    static let armed: Set<Substring> = Set((ProcessInfo.processInfo.environment["SWAMP_FAILPOINT"] ?? "").split(separator: ","))

    /// Dies here if `name` is armed.
    public static func hit(_ name: String) {
        guard !armed.isEmpty, armed.contains(Substring(name)) else { return }
        kill(getpid(), SIGKILL)
    }
}
