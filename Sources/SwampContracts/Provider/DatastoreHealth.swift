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
    /// When unhealthy: the failure's stable code (``ReportableError/errorCode``), when known.
    public var errorCode: String?
    /// When unhealthy: what to do about it, when known.
    public var hint: String?

    public init(healthy: Bool, message: String, latencyMs: Double? = nil, details: [String: String] = [:]) {
        self.healthy = healthy
        self.message = message
        self.latencyMs = latencyMs
        self.details = details
    }

    /// An unhealthy report of `error`: its message, code and hint when it is a ``ReportableError``.
    public static func failed(_ error: any Error, details: [String: String] = [:]) -> DatastoreHealth {
        var health = DatastoreHealth(healthy: false, message: "\(error)", details: details)
        if let error = error as? any ReportableError {
            health.message = error.errorMessage
            health.errorCode = error.errorCode
            health.hint = error.hint
        }
        return health
    }
}
