import Foundation
import SwampContracts
import Yams

extension RepositoryConfig {
    /// Parses `.swamp.yaml`. Every error names the offending field.
    public static func parse(yaml text: String, path: String) throws -> RepositoryConfig {
        func invalid(_ message: String) -> SwampError {
            SwampError(.invalidConfig, "\(path): \(message)", hint: "fix the file, or see 'swamp datastore setup --help'")
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw invalid("the file is empty; it needs at least 'repoId'") }
            root = node
        } catch let error as SwampError {
            throw error
        } catch {
            throw invalid("not valid YAML (\(error))")
        }
        guard let mapping = root.mapping else { throw invalid("the top level must be a mapping") }
        var repoId: String?
        var datastore: DatastoreSpec?
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? "?"
            switch key {
            case "repoId":
                guard let id = value.string, !id.isEmpty, value.scalar != nil else { throw invalid("repoId must be a non-empty string") }
                repoId = id
            case "datastore":
                if value.null != nil { continue }
                do {
                    datastore = try DatastoreSpec.parse(value)
                } catch let error as SwampError {
                    throw invalid(error.message)
                }
            default:
                throw invalid("unknown field '\(key)' (known: repoId, datastore)")
            }
        }
        guard let repoId else { throw invalid("missing field 'repoId'") }
        return RepositoryConfig(repoId: repoId, datastore: datastore)
    }

    /// The YAML text of this configuration.
    public func yaml() -> String {
        var lines = ["# swamp repository (see 'swamp --help')", "repoId: \(repoId)"]
        if let datastore {
            lines.append("datastore:")
            lines.append("  type: \(Self.quote(datastore.type))")
            if let path = datastore.path { lines.append("  path: \(Self.quote(path))") }
            if let config = datastore.config {
                lines.append("  config: \(config.compactJSON)")
            }
            if datastore.hydrationStrategy != .full { lines.append("  hydrationStrategy: \(datastore.hydrationStrategy.rawValue)") }
            if let cachePath = datastore.cachePath { lines.append("  cachePath: \(Self.quote(cachePath))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func quote(_ text: String) -> String {
        JSONValue.string(text).compactJSON
    }
}

extension DatastoreSpec {
    /// Parses the `datastore:` mapping of `.swamp.yaml`.
    static func parse(_ node: Node) throws -> DatastoreSpec {
        func invalid(_ message: String) -> SwampError { SwampError(.invalidConfig, message) }
        guard let mapping = node.mapping else { throw invalid("datastore must be a mapping with at least 'type'") }
        var type: String?
        var path: String?
        var config: JSONValue?
        var hydration = HydrationStrategy.full
        var cachePath: String?
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? "?"
            func string() throws -> String {
                guard value.scalar != nil, let text = value.string, !text.isEmpty, value.null == nil else {
                    throw invalid("datastore.\(key) must be a non-empty string")
                }
                return text
            }
            switch key {
            case "type": type = try string()
            case "path": path = try string()
            case "cachePath": cachePath = try string()
            case "hydrationStrategy":
                let text = try string()
                guard let strategy = HydrationStrategy(rawValue: text) else {
                    throw invalid("datastore.hydrationStrategy must be 'full' or 'lazy', not '\(text)'")
                }
                hydration = strategy
            case "config":
                config = try JSONValue(yaml: value, field: "datastore.config")
            default:
                throw invalid("unknown field 'datastore.\(key)' (known: type, path, config, hydrationStrategy, cachePath)")
            }
        }
        guard let type else { throw invalid("datastore.type is missing (e.g. 'filesystem' or 's3')") }
        return DatastoreSpec(type: type, path: path, config: config, hydrationStrategy: hydration, cachePath: cachePath)
    }
}

extension JSONValue {
    /// Converts a YAML node, keeping scalars' resolved types (bool, number, null, string).
    init(yaml node: Node, field: String) throws {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain {
                self = .string(scalar.string)
            } else if node.null != nil {
                self = .null
            } else if let bool = node.bool {
                self = .bool(bool)
            } else if let int = node.int {
                self = .number(Double(int))
            } else if let float = node.float {
                self = .number(float)
            } else {
                self = .string(scalar.string)
            }
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw SwampError(.invalidConfig, "\(field) has a key that is not a string") }
                object[name] = try JSONValue(yaml: value, field: "\(field).\(name)")
            }
            self = .object(object)
        case .sequence(let sequence):
            self = .array(try sequence.enumerated().map { try JSONValue(yaml: $1, field: "\(field)[\($0)]") })
        case .alias:
            throw SwampError(.invalidConfig, "\(field) uses a YAML alias, which is not supported")
        }
    }
}
