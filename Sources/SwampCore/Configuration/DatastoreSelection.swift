import Foundation
import SwampContracts

/// Chooses the datastore in effect: `SWAMP_DATASTORE`, then `--datastore`,
/// then `.swamp.yaml`, then the filesystem default. Invalid input is an error,
/// never a silent fall-back to another datastore.
package enum DatastoreSelection {
    /// Parses `filesystem:/path` or `TYPE:{json}` (the form of `SWAMP_DATASTORE` and `--datastore`).
    ///
    /// In the JSON form, `hydrationStrategy` and `cachePath` are datastore fields;
    /// every other field is the type's `config` (`path` too, for `filesystem`).
    public static func parseSpecifier(_ text: String, origin: String) throws -> DatastoreSpec {
        func invalid(_ message: String) -> SwampError {
            SwampError(.invalidConfig, "\(origin): \(message)", hint: "expected 'filesystem:/path' or 'TYPE:{json}', e.g. s3:{\"bucket\":\"b\"}")
        }
        guard let colon = text.firstIndex(of: ":") else { throw invalid("'\(text)' has no ':' after the type") }
        let type = String(text[..<colon]).trimmingCharacters(in: .whitespaces)
        let rest = String(text[text.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        guard !type.isEmpty else { throw invalid("the type before ':' is empty") }
        guard rest.hasPrefix("{") || rest.hasPrefix("[") else {
            guard !rest.isEmpty else { throw invalid("nothing follows '\(type):'") }
            return DatastoreSpec(type: type, path: rest)
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(rest.utf8))
        } catch {
            throw invalid("the text after '\(type):' is not valid JSON")
        }
        guard case .object(var fields) = value else { throw invalid("the JSON after '\(type):' must be an object") }
        var spec = DatastoreSpec(type: type)
        if let hydration = fields.removeValue(forKey: "hydrationStrategy") {
            guard case .string(let text) = hydration, let strategy = HydrationStrategy(rawValue: text) else {
                throw invalid("hydrationStrategy must be \"full\" or \"lazy\"")
            }
            spec.hydrationStrategy = strategy
        }
        if let cachePath = fields.removeValue(forKey: "cachePath") {
            guard case .string(let text) = cachePath, !text.isEmpty else { throw invalid("cachePath must be a non-empty string") }
            spec.cachePath = text
        }
        spec.config = .object(fields)
        return spec
    }

    /// The datastore in effect and where it came from.
    public static func resolve(
        environment: [String: String], flag: String?, config: RepositoryConfig
    ) throws -> (spec: DatastoreSpec, source: DatastoreSource) {
        if let text = environment["SWAMP_DATASTORE"], !text.isEmpty {
            return (try parseSpecifier(text, origin: "SWAMP_DATASTORE"), .environment)
        }
        if let flag, !flag.isEmpty {
            return (try parseSpecifier(flag, origin: "--datastore"), .flag)
        }
        if let spec = config.datastore {
            return (spec, .file)
        }
        return (DatastoreSpec(type: "filesystem"), .default)
    }
}
