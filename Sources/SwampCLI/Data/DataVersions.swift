import ArgumentParser
import SwampContracts
import SwampCore

struct DataVersions: SwampCommand {
    static let configuration = CommandConfiguration(commandName: "versions", abstract: "List every version of one data item, oldest first.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The model's name.")
    var model: String

    @Argument(help: "The data name.")
    var data: String

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let definition = try workspace.models.get(model)
        let versions = try workspace.catalog.versions(modelId: definition.id, name: data)
        if versions.isEmpty {
            throw SwampError(.unknownData, "model '\(model)' has no data named '\(data)'", hint: "list its data with: swamp data list \(model)")
        }
        try output.document(["versions": versions.map(DataItemJSON.init)])
        for item in versions {
            output.line("v\(item.version)\t\(ByteCount.format(item.size))\t\(item.sha256.prefix(12))\t\(LockDates.format(item.createdAt))")
        }
    }
}
