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
        /// `null` when the datastore is unhealthy (the locks could not be listed).
        let locksHeld: Int?
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
        // An unhealthy datastore cannot list its locks: say so, and show everything else (the
        // health line says why; this is the command a failure's hint sends the user to).
        let locks = health.healthy ? try await workspace.provider.heldLocks() : nil
        let capabilities = workspace.sync.isRemote ? workspace.sync.capabilities : nil
        try output.document(
            Document(
                type: workspace.spec.type, source: workspace.source.rawValue, path: workspace.layout.root,
                cachePath: workspace.provider.resolveCachePath(repoDir: workspace.repoDir),
                hydrationStrategy: workspace.spec.hydrationStrategy.rawValue, health: health, capabilities: capabilities,
                catalog: CatalogJSON(models: counts.models, items: counts.items, versions: counts.versions), locksHeld: locks?.count))
        output.line("datastore: \(workspace.spec.type) at \(workspace.layout.root) (from \(workspace.source.rawValue))")
        let latency = health.latencyMs.map { String(format: " (%.1f ms)", $0) } ?? ""
        output.line("health:    \(health.healthy ? "ok" : "UNHEALTHY") — \(health.message)\(latency)")
        if let endpoint = health.details["endpoint"] {
            output.line("endpoint:  \(endpoint) (bucket \(health.details["bucket"] ?? "?"), region \(health.details["region"] ?? "?"))")
        }
        if let source = health.details["credentials"] {
            let key = health.details["credentialsKey"].map { ", key \($0)" } ?? ""
            let expiry = health.details["credentialsExpire"].map { ", expires \($0)" } ?? ""
            output.line("credentials: \(source)\(key)\(expiry)")
        }
        output.line("catalog:   \(counts.models) model(s), \(counts.items) item(s), \(counts.versions) version(s)")
        switch locks {
        case nil: output.line("locks:     unknown (the datastore is not healthy)")
        case let locks? where locks.isEmpty: output.line("locks:     none held")
        case let locks?: output.line("locks:     \(locks.count) held (see 'swamp datastore lock status')")
        }
        if !workspace.sync.isRemote { output.line("sync:      local datastore, nothing to sync") }
        if !health.healthy {
            output.note("error: the datastore is not healthy: \(health.message)")
            throw ExitCode(1)
        }
    }
}
