import SwampCore

/// A model as it appears in `--json` output.
struct ModelJSON: Encodable {
    let name: String
    let type: String
    let id: String

    init(_ model: ModelDefinition) {
        name = model.name
        type = model.type
        id = model.id
    }

    init(name: String, type: String, id: String) {
        self.name = name
        self.type = type
        self.id = id
    }
}
