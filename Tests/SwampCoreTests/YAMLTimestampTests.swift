import Foundation
import GRDB
import SwampContracts
import Testing
import Yams

@testable import SwampCore

/// Dates in YAML files no longer go through Yams' own `Date` coding (a `DateFormatter` and a
/// `Calendar`, which load ICU's time zone data): the files must not change, and every date Yams
/// wrote or read must still read.
@Suite struct YAMLTimestampTests {
    /// What `metadata.yaml` looked like when Yams coded the date.
    struct PlainMetadata: Codable {
        var name: String
        var createdAt: Date
    }

    struct Wrapped: Codable {
        var name: String
        @YAMLTimestamp var createdAt: Date
    }

    static let dates: [Date] = {
        var dates = [978_307_200, 978_307_200.5, 1_709_208_000.123, 1_764_345_676.999_999_999_9, 1_795_897_076.000_000_001, 4_102_444_799]
            .map { Date(timeIntervalSince1970: $0) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 { dates.append(Date(timeIntervalSince1970: Double.random(in: 978_307_200...4_102_444_799, using: &generator))) }
        for _ in 0..<100 { dates.append(Date()) }
        return dates
    }()

    @Test func writesTheTextYamsWrote() throws {
        for date in Self.dates {
            let ours = try MetadataCoding.encode(Wrapped(name: "result", createdAt: date))
            let yams = try MetadataCoding.encode(PlainMetadata(name: "result", createdAt: date))
            #expect(String(decoding: ours, as: UTF8.self) == String(decoding: yams, as: UTF8.self), "\(date.timeIntervalSinceReferenceDate)")
        }
        // An unquoted timestamp, as before (a string would be quoted).
        let text = String(
            decoding: try MetadataCoding.encode(Wrapped(name: "x", createdAt: Date(timeIntervalSince1970: 1_795_897_076.25))), as: UTF8.self)
        #expect(text.contains("createdAt: 2026-11-28T20:17:56.25Z\n"))
    }

    @Test func readsWhatYamsWroteAsYamsRead() throws {
        for date in Self.dates {
            let yaml = try MetadataCoding.encode(PlainMetadata(name: "result", createdAt: date))
            let ours = try MetadataCoding.decode(Wrapped.self, from: yaml, path: "m.yaml")
            let yams = try MetadataCoding.decode(PlainMetadata.self, from: yaml, path: "m.yaml")
            // The same `Date`, to the last bit, and the same text written again (a renumbered
            // version's metadata, a repointed run record).
            #expect(ours.createdAt == yams.createdAt, "\(String(decoding: yaml, as: UTF8.self))")
            #expect(try MetadataCoding.encode(ours) == yaml)
        }
    }

    @Test(arguments: [
        ("2026-11-28", 1_795_824_000.0),
        ("2026-11-28 21:17:56 +1", 1_795_897_076.0),
        ("2026-11-28t20:17:56.5z", 1_795_897_076.5),
        ("2026-11-28T21:17:56+01:00", 1_795_897_076.0),
    ])
    func readsTheTimestampFormsYAMLAllows(text: String, seconds: Double) throws {
        let read = try MetadataCoding.decode(Wrapped.self, from: Data("name: x\ncreatedAt: \(text)\n".utf8), path: "m.yaml")
        #expect(abs(read.createdAt.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    /// The coding is this type's, not Yams': Yams wrote a date before 2001 with a fraction as
    /// `…:01.-5Z` and did not read an offset without a colon.
    @Test func theCodingIsUTCTimes() throws {
        let early = String(decoding: try MetadataCoding.encode(Wrapped(name: "x", createdAt: Date(timeIntervalSince1970: 0.5))), as: UTF8.self)
        #expect(early.contains("createdAt: 1970-01-01T00:00:00.5Z\n"))
        let offset = Data("name: x\ncreatedAt: 2026-11-28T21:17:56+0100\n".utf8)
        #expect(try MetadataCoding.decode(Wrapped.self, from: offset, path: "m.yaml").createdAt == Date(timeIntervalSince1970: 1_795_897_076))
        #expect(throws: SwampError.self) { try MetadataCoding.decode(PlainMetadata.self, from: offset, path: "m.yaml") }
    }

    @Test func aDateThatIsNotOneIsAClearError() {
        #expect(throws: SwampError.self) {
            try MetadataCoding.decode(Wrapped.self, from: Data("name: x\ncreatedAt: yesterday\n".utf8), path: "m.yaml")
        }
    }

    @Test func jsonCarriesTheDateAsBefore() throws {
        let date = Date(timeIntervalSince1970: 1_795_897_076.25)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .secondsSince1970
        let ours = try encoder.encode(Wrapped(name: "x", createdAt: date))
        #expect(ours == (try encoder.encode(PlainMetadata(name: "x", createdAt: date))))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        #expect(try decoder.decode(Wrapped.self, from: ours).createdAt == date)
    }
}

/// The catalog's `createdAt` column, likewise: the text GRDB stored, without GRDB's formatter.
@Suite struct CatalogTimestampTests {
    @Test func createdAtIsStoredAsGRDBStoredIt() throws {
        guard case .custom(let encode) = CatalogRow.databaseDateEncodingStrategy(for: "createdAt"),
            case .custom(let decode) = CatalogRow.databaseDateDecodingStrategy(for: "createdAt")
        else {
            Issue.record("CatalogRow does not code its dates itself")
            return
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let millis = Int64.random(in: 0...4_102_444_799_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let ours = try #require(encode(date)?.databaseValue)
            let grdb = date.databaseValue
            guard case .string(let text) = ours.storage, case .string(let theirs) = grdb.storage else {
                Issue.record("not text: \(ours), \(grdb)")
                continue
            }
            // GRDB's formatter truncated the `Double`: its text is this one, or a millisecond short.
            #expect(text.count == theirs.count && text.prefix(17) == theirs.prefix(17), "\(text) \(theirs)")
            let read = try #require(decode(ours))
            #expect(abs(read.timeIntervalSince1970 * 1000 - Double(millis)) < 0.01, "\(text)")
            let readTheirs = try #require(decode(grdb))
            #expect(abs(readTheirs.timeIntervalSince(try #require(Date.fromDatabaseValue(grdb)))) < 0.000_01, "\(theirs)")
            #expect(abs(readTheirs.timeIntervalSince(date)) < 0.0011)
        }
        #expect(decode(1_795_897_076.databaseValue) == Date(timeIntervalSince1970: 1_795_897_076))
        #expect(decode("yesterday".databaseValue) == nil)
    }
}
