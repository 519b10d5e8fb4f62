/// The outcome of a datastore or sync-service health check.
public struct DatastoreHealth: Hashable, Sendable, Codable {
    /// Whether the datastore can be read and written.
    public var healthy: Bool
    /// One line a person can act on.
    public var message: String
    /// How long the check took, in milliseconds, when measured.
    public var latencyMs: Double?
    /// Extra named facts (e.g. `"path": "/repo/.swamp"`).
    public var details: [String: String]

    public init(healthy: Bool, message: String, latencyMs: Double? = nil, details: [String: String] = [:]) {
        self.healthy = healthy
        self.message = message
        self.latencyMs = latencyMs
        self.details = details
    }
}
