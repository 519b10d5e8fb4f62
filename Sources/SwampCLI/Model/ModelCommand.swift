import ArgumentParser

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Create, inspect and run models.",
        subcommands: [ModelCreate.self, ModelList.self, ModelGet.self, ModelMethodCommand.self])
}

struct ModelMethodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "method", abstract: "Run a model's methods.", subcommands: [ModelMethodRun.self])
}
