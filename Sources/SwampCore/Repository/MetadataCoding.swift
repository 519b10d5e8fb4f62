import Foundation
import Yams

/// YAML encoding of the files the datastore tier holds.
enum MetadataCoding {
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = true
        return Data(try encoder.encode(value).utf8)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        do {
            return try YAMLDecoder().decode(T.self, from: data)
        } catch {
            throw SwampError(.corruptData, "cannot read '\(path)': it is not valid \(T.self) YAML (\(error))")
        }
    }
}
