import Foundation
import GRDB
import SwampContracts

/// One row of the catalog's `dataItem` table: one version of one data item.
struct CatalogRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "dataItem"

    var modelType: String
    var modelId: String
    var modelName: String
    var name: String
    var version: Int
    var contentType: String
    var size: Int64
    var sha256: String
    var createdAt: Date
    var producedBy: String?
    /// The full metadata (tags, lifetime...), so reads return exactly what was written.
    var metadataJSON: Data

    init(_ metadata: DataMetadata) throws {
        modelType = metadata.modelType
        modelId = metadata.modelId
        modelName = metadata.modelName
        name = metadata.name
        version = metadata.version
        contentType = metadata.contentType
        size = metadata.size
        sha256 = metadata.sha256
        createdAt = metadata.createdAt
        producedBy = metadata.producedBy
        metadataJSON = try JSONEncoder().encode(metadata)
    }

    func metadata() throws -> DataMetadata {
        try JSONDecoder().decode(DataMetadata.self, from: metadataJSON)
    }

    /// `createdAt` as GRDB stores a date (`2026-11-26 14:01:02.123`, UTC), without GRDB's
    /// `DateFormatter` and `Calendar`: on Linux they load ICU's time zone data, ~1 MiB of a
    /// command's memory (``UTCTime``).
    static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .custom { databaseText($0) }
    }

    /// A date as GRDB stores one: `2026-11-26 14:01:02.123` (UTC).
    static func databaseText(_ date: Date) -> String {
        var text = UTCTime.iso8601(date)
        text.removeLast()
        return text.replacingOccurrences(of: "T", with: " ")
    }

    /// Reads what ``databaseDateEncodingStrategy(for:)`` writes (and a number of seconds since
    /// 1970, as GRDB would).
    static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .custom { value in
            switch value.storage {
            case .string(let text): UTCTime.parseISO8601(text + "Z")
            case .int64(let seconds): Date(timeIntervalSince1970: Double(seconds))
            case .double(let seconds): Date(timeIntervalSince1970: seconds)
            case .null, .blob: nil
            }
        }
    }
}
