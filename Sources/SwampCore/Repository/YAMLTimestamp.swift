import Foundation
import SwampContracts
import Yams

/// A date in a YAML file (`createdAt: 2026-11-26T14:01:02.123456789Z`), written and read
/// without Foundation's calendar: Yams formats and parses dates with a `DateFormatter` and a
/// `Calendar` in the user's time zone, which on Linux loads ICU's time zone data, ~1 MiB of a
/// command's memory, for text that is always UTC. The text is the one Yams wrote; a date in a
/// form ``UTCTime`` does not read (a hand-edited `2026-11-26`, say) is left to Yams. In other
/// formats (`--json`) it is the date itself.
@propertyWrapper
public struct YAMLTimestamp: Hashable, Sendable, Codable {
    public var wrappedValue: Date

    public init(wrappedValue: Date) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode(Date.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

extension YAMLTimestamp: YAMLEncodable {
    public func box() -> Node { Node(UTCTime.nanoseconds(wrappedValue), Tag(.timestamp)) }
}

extension YAMLTimestamp: ScalarConstructible {
    public static func construct(from scalar: Node.Scalar) -> YAMLTimestamp? {
        guard let date = UTCTime.parseISO8601(scalar.string) ?? Date.construct(from: scalar) else { return nil }
        return YAMLTimestamp(wrappedValue: date)
    }
}
