import SwampContracts

/// The ``DatastoreVerifier`` contract.
public enum VerifierConformance {
    /// A usable datastore reports healthy with a message; an unusable one reports
    /// unhealthy (it does not throw) with a message that says why.
    public static func run(healthy: any DatastoreVerifier, broken: any DatastoreVerifier) async throws {
        let good = try await healthy.verify()
        try require(good.healthy, "verifier", "a usable datastore reported unhealthy: \(good.message)")
        try require(!good.message.isEmpty, "verifier", "a healthy report has no message")
        let bad = try await broken.verify()
        try require(!bad.healthy, "verifier", "an unusable datastore reported healthy: \(bad.message)")
        try require(!bad.message.isEmpty, "verifier", "an unhealthy report does not say why")
    }
}
