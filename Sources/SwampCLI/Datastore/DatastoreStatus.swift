import ArgumentParser
import SwampContracts
import SwampCore

struct DatastoreStatus: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show which datastore is in use, its health, the catalog and held locks.")

    @OptionGroup var global: GlobalOptions

    struct Document: Encodable {
        let type: String
        let source: String
        let path: String
        let cachePath: String?
        let hydrationStrategy: String
        let health: DatastoreHealth
        let capabilities: SyncCapabilities?
        let catalog: CatalogJSON
        let locksHeld: Int
    }

    struct CatalogJSON: Encodable {
        let models: Int
        let items: Int
        let versions: Int
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let health = try await workspace.provider.createVerifier().verify()
        let counts = try workspace.catalog.counts()
        let locks = try await workspace.provider.heldLocks()
        let capabilities = workspace.sync.isRemote ? workspace.sync.capabilities : nil
        try output.document(
            Document(
                type: workspace.spec.type, source: workspace.source.rawValue, path: workspace.layout.root,
                cachePath: workspace.provider.resolveCachePath(repoDir: workspace.repoDir),
                hydrationStrategy: workspace.spec.hydrationStrategy.rawValue, health: health, capabilities: capabilities,
                catalog: CatalogJSON(models: counts.models, items: counts.items, versions: counts.versions), locksHeld: locks.count))
        output.line("datastore: \(workspace.spec.type) at \(workspace.layout.root) (from \(workspace.source.rawValue))")
        let latency = health.latencyMs.map { String(format: " (%.1f ms)", $0) } ?? ""
        output.line("health:    \(health.healthy ? "ok" : "UNHEALTHY") — \(health.message)\(latency)")
        if let credentials = health.details["credentials"] {
            let expiry = health.details["credentialsExpire"].map { ", expire \($0)" } ?? ""
            output.line("credentials: \(credentials)\(expiry)")
        }
        output.line("catalog:   \(counts.models) model(s), \(counts.items) item(s), \(counts.versions) version(s)")
        output.line("locks:     \(locks.isEmpty ? "none held" : "\(locks.count) held (see 'swamp datastore lock status')")")
        if !workspace.sync.isRemote { output.line("sync:      local datastore, nothing to sync") }
        if !health.healthy {
            output.note("error: the datastore is not healthy: \(health.message)")
            throw ExitCode(1)
        }
    }
}
