import ArgumentParser
import Foundation
import Logging
import S3Datastore
import SwampContracts
import SwampCore

/// A command that runs inside ``Output/run(json:_:)`` with the shared options.
protocol SwampCommand: AsyncParsableCommand, Sendable {
    var global: GlobalOptions { get }
    func execute(_ output: Output) async throws
}

extension SwampCommand {
    mutating func run() async throws {
        let command = self
        let json = global.json
        do {
            try await Interrupts.guarding(json: json) {
                try await Output.run(json: json) { output in try await command.execute(output) }
            }
        } catch let status as ExitStatus {
            throw ExitCode(status.code)
        }
    }

    /// Opens the repository the options name.
    func openWorkspace() throws -> Workspace {
        let name = Self.configuration.commandName ?? "command"
        return try Workspace(
            repoDir: global.repoDir, datastoreFlag: global.datastore, datastores: Datastores.all, lockHolder: "swamp \(name)",
            logger: CLILogger.make())
    }
}

/// Every datastore type this `swamp` knows.
enum Datastores {
    static var all: DatastoreTypeRegistry {
        var registry = Workspace.builtInDatastores
        S3Provider.register(in: &registry, logger: CLILogger.make())
        return registry
    }
}

enum CLILogger {
    /// A stderr logger; `SWAMP_LOG_LEVEL` (trace…critical) sets the level, default `warning`.
    static func make() -> Logger {
        var logger = Logger(label: "swamp") { StreamLogHandler.standardError(label: $0) }
        let level = ProcessInfo.processInfo.environment["SWAMP_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .warning
        return logger
    }
}

/// Formats byte counts for people.
enum ByteCount {
    static func format(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f %@", value, units[unit])
    }
}
