/// Maps a datastore `type` from configuration to the factory that builds its provider.
public struct DatastoreTypeRegistry: Sendable {
    /// Builds a provider from its configuration, throwing on invalid settings.
    public typealias Factory = @Sendable (DatastoreSpec, DatastoreEnvironment) throws -> any DatastoreProvider

    private var factories: [String: Factory] = [:]

    public init() {}

    /// Registers (or replaces) the factory for `type`.
    public mutating func register(_ type: String, factory: @escaping Factory) {
        factories[type] = factory
    }

    /// The registered types, sorted.
    public var types: [String] { factories.keys.sorted() }

    /// Builds the provider for `spec.type`.
    /// - Throws: ``ContractError`` with code `unknownDatastoreType` naming the known types.
    public func makeProvider(_ spec: DatastoreSpec, environment: DatastoreEnvironment) throws -> any DatastoreProvider {
        guard let factory = factories[spec.type] else {
            throw ContractError(
                .unknownDatastoreType,
                "unknown datastore type '\(spec.type)' (datastore.type); known types: \(types.joined(separator: ", "))"
            )
        }
        return try factory(spec, environment)
    }
}
