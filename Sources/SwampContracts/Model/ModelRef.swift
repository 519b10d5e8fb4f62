/// Identifies one model in a datastore: its normalised type and its stable id.
///
/// A `ModelRef` is a domain value. It never carries storage details such as key
/// prefixes or paths; each backend translates it into its own terms.
public struct ModelRef: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The normalised model type, e.g. `aws/ec2/vpc` (see ``ModelType/normalize(_:)``).
    public var modelType: String
    /// The model's stable id (a UUID string, generated when the model was created).
    public var modelId: String

    public init(modelType: String, modelId: String) {
        self.modelType = modelType
        self.modelId = modelId
    }

    /// `"{type}/{id}"`: the key models are sorted by before locks are taken.
    public var sortKey: String { "\(modelType)/\(modelId)" }

    public var description: String { sortKey }

    /// Byte-order comparison of ``sortKey``, the one fixed order every process agrees on.
    public static func < (lhs: ModelRef, rhs: ModelRef) -> Bool {
        lhs.sortKey.utf8.lexicographicallyPrecedes(rhs.sortKey.utf8)
    }

    /// Sorts by ``sortKey`` in byte order and removes duplicates.
    public static func sortedUnique(_ models: some Sequence<ModelRef>) -> [ModelRef] {
        Array(Set(models)).sorted()
    }
}
