import Foundation

// How lock records (files and objects) are written and read: JSON with sorted keys and
// ISO-8601 dates with milliseconds. Records read from shared storage are untrusted: check
// ``LockInfo/isPlausible`` before relying on one.

extension JSONEncoder {
    /// Lock records (files and objects): ISO-8601 dates with milliseconds, sorted keys.
    public static var lock: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(LockDates.format(date))
        }
        return encoder
    }
}

extension JSONDecoder {
    /// Reads lock records written with ``JSONEncoder/lock``.
    public static var lock: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = LockDates.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO-8601 date: \(text)"))
            }
            return date
        }
        return decoder
    }
}

/// ISO-8601 with fractional seconds, the date form of lock files.
public enum LockDates {
    public static func format(_ date: Date) -> String { UTCTime.iso8601(date) }

    public static func parse(_ text: String) -> Date? { UTCTime.parseISO8601(text) }
}
