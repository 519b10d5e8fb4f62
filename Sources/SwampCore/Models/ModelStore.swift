import Foundation
import SwampContracts
import SwampSupport

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
            return try Self.validated(try MetadataCoding.decode(ModelDefinition.self, from: data, path: path), path: path)
        }
    }

    /// A definition read from `models/*.yaml` (which comes from git, so it is untrusted): its
    /// `id` must be a lower-case UUID, its `type` in normal form, its `name` a safe name matching
    /// the file's. Anything else is an error naming the file and the field; nothing is written.
    static func validated(_ model: ModelDefinition, path: String, expectedName: String? = nil) throws -> ModelDefinition {
        func invalid(_ field: String, _ why: String) -> SwampError {
            SwampError(
                .corruptData, "model file '\(path)': field '\(field)' \(why)",
                hint: "fix the file (it is tracked in git) or recreate the model with 'swamp model create'")
        }
        guard DatastorePath.isModelId(model.id) else {
            throw invalid("id", "must be a lower-case UUID, not '\(PathRules.printable(model.id))'")
        }
        let normal: String
        do {
            normal = try ModelType.normalize(model.type)
        } catch let error as ContractError {
            throw invalid("type", "is not a valid model type: \(error.message)")
        }
        guard normal == model.type else {
            throw invalid("type", "must be in normal form ('\(normal)'), not '\(PathRules.printable(model.type))'")
        }
        do {
            try PathRules.validateName(model.name, kind: "model name")
        } catch let error as ContractError {
            throw invalid("name", error.message)
        }
        let fileName = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        guard model.name == (expectedName ?? fileName) else {
            throw invalid("name", "is '\(PathRules.printable(model.name))' but the file is named '\(fileName).yaml'")
        }
        return model
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
        return try Self.validated(try MetadataCoding.decode(ModelDefinition.self, from: data, path: path(name)), path: path(name))
    }

    private func path(_ name: String) -> String { "\(directory)/\(name).yaml" }
}
