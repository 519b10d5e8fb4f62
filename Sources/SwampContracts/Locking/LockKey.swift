/// Names a lock in domain terms; each provider maps it to its own storage.
public struct LockKey: Hashable, Sendable, CustomStringConvertible {
    /// The lock's scope.
    public enum Scope: Hashable, Sendable {
        /// The datastore-wide lock held by structural commands (GC, explicit sync).
        case global
        /// The lock for one model, held while the model runs.
        case model(ModelRef)
    }

    public let scope: Scope

    public init(_ scope: Scope) { self.scope = scope }

    /// The datastore-wide lock.
    public static let global = LockKey(.global)

    /// The lock for one model.
    public static func model(_ ref: ModelRef) -> LockKey { LockKey(.model(ref)) }

    /// The model this lock belongs to, or `nil` for the global lock.
    public var model: ModelRef? {
        if case .model(let ref) = scope { return ref }
        return nil
    }

    public var description: String {
        switch scope {
        case .global: return "global"
        case .model(let ref): return "model \(ref.sortKey)"
        }
    }
}
