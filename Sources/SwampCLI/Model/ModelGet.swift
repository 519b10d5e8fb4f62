import ArgumentParser
import Foundation
import SwampCore

struct ModelGet: SwampCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show one model: its definition and its latest data.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The model's name.")
    var name: String

    struct Document: Encodable {
        let model: ModelJSON
        let arguments: [String: String]
        let createdAt: Date
        let data: [DataItemJSON]
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let model = try workspace.models.get(name)
        let items = try workspace.catalog.latestItems(modelId: model.id)
        try output.document(
            Document(model: ModelJSON(model), arguments: model.arguments, createdAt: model.createdAt, data: items.map(DataItemJSON.init)))
        output.line("\(model.name)  \(model.type)  \(model.id)")
        for (key, value) in model.arguments.sorted(by: { $0.key < $1.key }) { output.line("  \(key): \(value)") }
        output.line(items.isEmpty ? "  no data yet" : "  data:")
        for item in items { output.line("    \(item.name) v\(item.version)  \(ByteCount.format(item.size))  \(item.sha256.prefix(12))") }
    }
}
