/// Checks that a datastore is usable (reachable, readable, writable).
public protocol DatastoreVerifier: Sendable {
    /// Runs the check. A reachable but unusable datastore reports `healthy == false`
    /// rather than throwing; throwing means the check itself could not run.
    func verify() async throws -> DatastoreHealth
}
