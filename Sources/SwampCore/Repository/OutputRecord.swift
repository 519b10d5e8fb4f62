import Foundation

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
    public var startedAt: Date
    public var finishedAt: Date
    /// `succeeded` or `failed`.
    public var status: String
    public var exitStatus: Int32?
    public var stderr: String?
    public var timedOut: Bool
    public var data: [WrittenData]

    /// `20261126T140102.123Z`: sortable, and safe in a file name.
    static func timestamp(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = Date(timeIntervalSince1970: Double(millis / 1000))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return "\(formatter.string(from: seconds)).\(String(format: "%03d", Int(millis % 1000)))Z"
    }
}
