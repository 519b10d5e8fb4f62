import ArgumentParser
import Foundation
import SwampCore

struct ModelCreate: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Define a new model in models/<name>.yaml.",
        discussion: """
            The type is normalised (AWS::EC2::VPC becomes aws/ec2/vpc). Built-in type: command/shell, \
            whose method 'execute' runs the 'run' argument with /bin/sh -c and stores its stdout as data 'result'.

            Example: swamp model create command/shell disk-usage --set run='df -h'
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The model type, e.g. command/shell.")
    var type: String

    @Argument(help: "A unique name for the model.")
    var name: String

    @Option(name: .customLong("set"), help: ArgumentHelp("An argument of the model, as key=value (repeatable).", valueName: "key=value"))
    var arguments: [String] = []

    func validate() throws {
        for argument in arguments where !argument.contains("=") || argument.hasPrefix("=") {
            throw ValidationError("--set takes key=value, got '\(argument)'")
        }
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        var parsed: [String: String] = [:]
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            parsed[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let model = try workspace.models.create(type: type, name: name, arguments: parsed)
        try output.document(["model": ModelJSON(model)])
        output.line("Created model \(model.name) (\(model.type), id \(model.id))")
    }
}
