import ArgumentParser

struct DatastoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datastore", abstract: "Inspect, verify, sync and configure the datastore.",
        subcommands: [
            DatastoreStatus.self, DatastoreVerify.self, DatastoreRepair.self, DatastoreSync.self, DatastoreHydrate.self, DatastoreSetup.self,
            DatastoreLock.self,
        ])
}
