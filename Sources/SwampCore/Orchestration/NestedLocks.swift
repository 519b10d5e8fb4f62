import SwampContracts

/// The locks a running model holds, as its command's `swamp` processes see them.
///
/// `swamp model method run` sets `SWAMP_HELD_LOCKS` for the method's command: the datastore
/// and the model locks it holds. A `swamp` the command runs reads it: read-only commands take no
/// lock and go on at once; a command that would wait on a lock its own parent holds (a
/// structural command needing the global lock, a run of the same model) fails at once with a
/// clear error instead of waiting out the lock timeout.
package struct NestedLocks: Sendable, Equatable {
    static let variable = "SWAMP_HELD_LOCKS"

    /// The datastore the locks are on (its remote identity, or its root directory).
    public var datastore: String
    /// The models whose locks the parent holds.
    public var models: [ModelRef]

    /// The value for the environment: `datastore` then one `type/id` per line.
    var encoded: String { ([datastore] + models.map(\.sortKey)).joined(separator: "\n") }

    /// The held locks a parent passed down, if any.
    static func from(_ environment: [String: String]) -> NestedLocks? {
        guard let text = environment[variable], !text.isEmpty else { return nil }
        let lines = text.split(separator: "\n").map(String.init)
        guard let datastore = lines.first else { return nil }
        let models = lines.dropFirst().compactMap { line -> ModelRef? in
            guard let slash = line.lastIndex(of: "/") else { return nil }
            return ModelRef(modelType: String(line[..<slash]), modelId: String(line[line.index(after: slash)...]))
        }
        return NestedLocks(datastore: datastore, models: models)
    }
}
