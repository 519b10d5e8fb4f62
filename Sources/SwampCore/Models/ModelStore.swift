import Foundation
import SwampContracts

/// Reads and writes model definitions under `{repo}/models/`.
public struct ModelStore: Sendable {
    public let directory: String
    private let types: ModelTypeRegistry

    public init(repoDir: String, types: ModelTypeRegistry) {
        directory = "\(repoDir)/models"
        self.types = types
    }

    /// Creates a model definition; the name must be new and the arguments valid for the type.
    public func create(type rawType: String, name: String, arguments: [String: String], now: Date = Date()) throws -> ModelDefinition {
        try PathRules.validateName(name, kind: "model name")
        let type = try ModelType.normalize(rawType)
        guard let handler = types.handler(for: type) else {
            throw SwampError(
                .unknownModelType, "unknown model type '\(type)'",
                hint: "known types: \(types.types.joined(separator: ", "))")
        }
        try handler.validate(arguments: arguments)
        let model = ModelDefinition(id: UUID().uuidString.lowercased(), name: name, type: type, arguments: arguments, createdAt: now)
        guard try AtomicFile.createExclusively(try MetadataCoding.encode(model), at: path(name)) else {
            throw SwampError(.modelExists, "a model named '\(name)' already exists", hint: "show it with: swamp model get \(name)")
        }
        return model
    }

    /// Every model, sorted by name.
    public func list() throws -> [ModelDefinition] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return try entries.filter { $0.hasSuffix(".yaml") && !$0.hasPrefix(".") }.sorted().map { entry in
            let path = "\(directory)/\(entry)"
            guard let data = try AtomicFile.readIfPresent(path) else {
                throw SwampError(.corruptData, "model file '\(path)' disappeared while reading")
            }
            return try MetadataCoding.decode(ModelDefinition.self, from: data, path: path)
        }
    }

    /// The model named `name`.
    /// - Throws: ``SwampError`` `unknownModel`, naming the models that exist.
    public func get(_ name: String) throws -> ModelDefinition {
        do {
            try PathRules.validateName(name, kind: "model name")
        } catch {
            throw SwampError(.unknownModel, "unknown model '\(PathRules.printable(name))': \(error)")
        }
        guard let data = try AtomicFile.readIfPresent(path(name)) else {
            let known = (try? list().map(\.name)) ?? []
            let hint =
                known.isEmpty
                ? "create one with: swamp model create command/shell <name> --set run='echo hello'"
                : "known models: \(known.prefix(20).joined(separator: ", "))"
            throw SwampError(.unknownModel, "unknown model '\(name)'", hint: hint)
        }
        return try MetadataCoding.decode(ModelDefinition.self, from: data, path: path(name))
    }

    private func path(_ name: String) -> String { "\(directory)/\(name).yaml" }
}
