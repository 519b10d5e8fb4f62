/// What a sync operation is about, in domain terms.
///
/// A context names models, never storage details: no key prefixes, paths or
/// queries. Each backend translates it — S3 to the model's index partition, a
/// database backend to a `WHERE` clause.
public struct SyncContext: Hashable, Sendable, Codable {
    /// The models the operation concerns; `nil` means "the whole datastore".
    public var models: [ModelRef]?

    public init(models: [ModelRef]?) {
        self.models = models
    }
}
