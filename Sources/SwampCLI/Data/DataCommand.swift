import ArgumentParser

struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "List, read and collect models' versioned data.",
        subcommands: [DataList.self, DataGet.self, DataVersions.self, DataGC.self])
}
