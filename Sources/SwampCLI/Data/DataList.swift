import ArgumentParser
import SwampCore

struct DataList: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the latest version of every data item (of one model, if named).",
        discussion: "Reads the local catalog as last synced; it does not contact a remote.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Only this model's data.")
    var model: String?

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let modelId = try model.map { try workspace.models.get($0).id }
        let items = try workspace.catalog.latestItems(modelId: modelId)
        try output.document(["items": items.map(DataItemJSON.init)])
        if items.isEmpty { output.line("No data yet. Run a model with: swamp model method run <model> <method>") }
        for item in items {
            output.line("\(item.modelName)\t\(item.name)\tv\(item.version)\t\(ByteCount.format(item.size))\t\(item.sha256.prefix(12))")
        }
    }
}
