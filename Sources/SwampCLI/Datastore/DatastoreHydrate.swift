import ArgumentParser
import SwampContracts
import SwampCore

struct DatastoreHydrate: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "hydrate", abstract: "Fetch content a lazily hydrated cache does not hold yet (of some models, or all).",
        discussion: """
            With hydrationStrategy: lazy, pulls fetch metadata only and content is fetched on first read. This \
            prefetches it: every version of the named models (default: all), each download hash-checked. \
            Reads the catalog as last synced; run 'swamp datastore sync --pull' first for teammates' latest data.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Models to hydrate (default: every model with data).")
    var models: [String] = []

    struct Document: Encodable {
        let checked: Int
        let hydrated: Int
        /// Content that could not be fetched (collected on the remote since the last pull, missing, corrupt): path → why.
        let skipped: [String: String]
        let sync: SyncActivity?
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let ids = models.isEmpty ? nil : Set(try models.map { try workspace.models.get($0).id })
        let (result, activity) = try await workspace.sync.measuring {
            try await workspace.data.hydrate(modelIds: ids, progress: ProgressPrinter.handler())
        }
        try output.document(Document(checked: result.checked, hydrated: result.hydrated, skipped: result.skipped, sync: activity))
        output.line("Hydrated \(result.hydrated) of \(result.checked) version(s).")
        for (path, why) in result.skipped.sorted(by: { $0.key < $1.key }) { output.note("skipped \(path): \(why)") }
        if !result.skipped.isEmpty {
            output.note("hint: run 'swamp datastore sync --pull' to see what the remote holds now")
        }
    }
}
