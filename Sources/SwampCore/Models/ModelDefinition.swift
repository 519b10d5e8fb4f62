import Foundation
import SwampContracts

/// A model as defined in `models/{name}.yaml`: the source of truth, tracked in git.
public struct ModelDefinition: Sendable, Codable, Hashable {
    /// Stable UUID, generated at creation.
    public var id: String
    /// The human handle, unique in the repository.
    public var name: String
    /// The normalised model type.
    public var type: String
    /// Type-specific arguments (e.g. `run` for `command/shell`).
    public var arguments: [String: String]
    @YAMLTimestamp public var createdAt: Date

    public init(id: String, name: String, type: String, arguments: [String: String], createdAt: Date) {
        self.id = id
        self.name = name
        self.type = type
        self.arguments = arguments
        self.createdAt = createdAt
    }

    /// The model's reference in sync and lock terms.
    public var ref: ModelRef { ModelRef(modelType: type, modelId: id) }
}
