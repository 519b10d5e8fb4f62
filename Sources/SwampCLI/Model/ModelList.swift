import ArgumentParser
import SwampCore

struct ModelList: SwampCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the repository's models.")

    @OptionGroup var global: GlobalOptions

    func execute(_ output: Output) async throws {
        let models = try openWorkspace().models.list()
        try output.document(["models": models.map(ModelJSON.init)])
        if models.isEmpty { output.line("No models yet. Create one with: swamp model create command/shell <name> --set run='...'") }
        for model in models { output.line("\(model.name)\t\(model.type)\t\(model.id)") }
    }
}
