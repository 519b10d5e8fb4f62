import Foundation
import SwampContracts

/// The record of one method run, stored under `outputs/{typeDir}/{modelId}/`.
public struct OutputRecord: Sendable, Codable, Equatable {
    /// A data version the run wrote.
    public struct WrittenData: Sendable, Codable, Equatable {
        public var name: String
        public var version: Int
        public var size: Int64
        public var sha256: String

        public init(_ metadata: DataMetadata) {
            name = metadata.name
            version = metadata.version
            size = metadata.size
            sha256 = metadata.sha256
        }
    }

    public var modelName: String
    public var modelId: String
    public var modelType: String
    public var method: String
    @YAMLTimestamp public var startedAt: Date
    @YAMLTimestamp public var finishedAt: Date
    /// `succeeded` or `failed`.
    public var status: String
    public var exitStatus: Int32?
    public var stderr: String?
    public var timedOut: Bool
    public var data: [WrittenData]

    /// `20261126T140102.123Z`: sortable, and safe in a file name.
    static func timestamp(_ date: Date) -> String { UTCTime.compact(date) }
}
