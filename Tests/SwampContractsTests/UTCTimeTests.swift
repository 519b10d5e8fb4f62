import Foundation
import SwampContracts
import Testing

/// `UTCTime` replaced Foundation's date formatters (which load ICU's time zone data on Linux):
/// it must write what they wrote and read what they read, byte for byte, for every date swamp
/// meets.
@Suite struct UTCTimeTests {
    /// Whole milliseconds across leap years, month ends, the epoch, before it and far after it:
    /// most of them do not survive a `Double` exactly (`.123` reads back as 0.12299990…).
    static let millis: [Int64] = {
        var millis: [Int64] = [
            0, 1000, -1000, 951_782_400_000, 951_868_799_500, 1_709_208_000_123, 1_764_345_676_999, 4_102_444_799_001, -2_208_988_800_250,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 { millis.append(Int64.random(in: -2_000_000_000_000...8_000_000_000_000, using: &generator)) }
        return millis
    }()
    static let dates = millis.map { Date(timeIntervalSince1970: Double($0) / 1000) }

    /// The seconds as Foundation's ISO-8601 formatter wrote them, and the milliseconds as they
    /// were meant: Foundation's `ISO8601FormatStyle` truncated the `Double`, writing `.122` for
    /// a time taken as `.123` (it then read back one millisecond early).
    @Test func writesWhatFoundationsISO8601FormatsWroteToTheMillisecond() {
        let whole = ISO8601DateFormatter()
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for (millis, date) in zip(Self.millis, Self.dates) {
            let seconds = whole.string(from: Date(timeIntervalSince1970: Double(millis.floorDivided(by: 1000))))
            let fraction = String(Int(millis.floorModulo(1000)) + 1000).dropFirst()
            let expected = seconds.dropLast() + "." + fraction + "Z"
            #expect(UTCTime.iso8601(date) == expected, "\(millis)")
            #expect(UTCTime.iso8601(date, milliseconds: false) == whole.string(from: date), "\(millis)")
            // Foundation's own text was this, or one millisecond short of it.
            let theirs = UTCTime.parseISO8601(withFraction.format(date))?.timeIntervalSince1970 ?? 0
            let difference = (Double(millis) / 1000 - theirs) * 1000
            #expect(abs(difference) < 0.01 || abs(difference - 1) < 0.01, "\(millis): \(withFraction.format(date))")
        }
    }

    @Test func readsBackWhatItWritesToTheMillisecond() throws {
        for date in Self.dates {
            let text = UTCTime.iso8601(date)
            let read = try #require(UTCTime.parseISO8601(text), "\(text)")
            #expect(UTCTime.iso8601(read) == text)
            #expect(abs(read.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.001)
        }
    }

    @Test func compactFormIsTheRunRecordsFileName() {
        #expect(UTCTime.compact(Date(timeIntervalSince1970: 1_764_345_676.0421)) == "20251128T160116.042Z")
        #expect(UTCTime.compact(Date(timeIntervalSince1970: 0)) == "19700101T000000.000Z")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        for (millis, date) in zip(Self.millis, Self.dates) where millis >= 0 {
            let seconds = formatter.string(from: Date(timeIntervalSince1970: Double(millis / 1000)))
            #expect(UTCTime.compact(date) == seconds + "." + String(Int(millis % 1000) + 1000).dropFirst() + "Z", "\(millis)")
        }
    }

    @Test(arguments: [
        ("2026-11-28T20:17:56Z", 1_795_897_076.0),
        ("2026-11-28T20:17:56.5Z", 1_795_897_076.5),
        ("2026-11-28T20:17:56.123456789Z", 1_795_897_076.123456789),
        ("2026-11-28t20:17:56z", 1_795_897_076.0),
        ("2026-11-28 20:17:56Z", 1_795_897_076.0),
        ("2026-11-28T21:17:56+01:00", 1_795_897_076.0),
        ("2026-11-28T21:17:56+0100", 1_795_897_076.0),
        ("2026-11-28T19:17:56-01", 1_795_897_076.0),
        ("2024-02-29T00:00:00Z", 1_709_164_800.0),
        ("1969-12-31T23:59:59Z", -1.0),
        ("2016-12-31T23:59:60Z", 1_483_228_800.0),
        ("2026-11-28T20:17:56UTC", 1_795_897_076.0),
        ("2026-11-28T20:17:56 gmt", 1_795_897_076.0),
        ("2026-11-28T20:17:56Z\n", 1_795_897_076.0),
        ("2026-11-28T20:17:56.1234567Z ", 1_795_897_076.1234567),
        ("2026-11-28 21:17:56.5 +0100 UTC", 1_795_897_076.5),
    ])
    func readsISO8601(text: String, seconds: Double) throws {
        let date = try #require(UTCTime.parseISO8601(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
        let foundation = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
        if let foundation {
            #expect(abs(foundation.timeIntervalSince1970 - seconds) < 0.001)
        }
    }

    @Test(arguments: [
        "", "2026-11-28", "2026-11-28T20:17:56", "2026-11-28T20:17Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T20:60:00Z", "2026-11-28T20:17:61Z",
        "2026-11-28T20:17:56.Z", "2026-11-28T20:17:56Z x", " 2026-11-28T20:17:56Z", "2026-11-28T20:17:56UT", "2026-11-28T20:17:56+1:00",
        "2026-11-28T20:17:56+01:", "2026-11-28T20:17:56+25:00", "2026-11-28T20:17:56+01:60", "0000-01-01T00:00:00Z",
        "26-11-28T20:17:56Z", "2026-1-28T20:17:56Z", "２０２６-11-28T20:17:56Z", "2026-11-28T20:17:56ZZ",
    ])
    func rejectsWhatIsNotAnISO8601Time(text: String) {
        #expect(UTCTime.parseISO8601(text) == nil)
    }

    @Test func readsHTTPDatesAsFoundationsFormatterDid() throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        #expect(UTCTime.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
        #expect(UTCTime.parseHTTPDate("Sat, 28 Nov 2026 20:17:56 UTC") == Date(timeIntervalSince1970: 1_795_897_076))
        for date in Self.dates where date.timeIntervalSince1970 >= 0 {
            let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
            let text = formatter.string(from: whole)
            #expect(UTCTime.parseHTTPDate(text) == whole, "\(text)")
            #expect(formatter.date(from: text) == whole)
        }
        for bad in [
            "", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT x",
        ] {
            #expect(UTCTime.parseHTTPDate(bad) == nil, "\(bad)")
        }
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 { (self - floorModulo(divisor)) / divisor }
    fileprivate func floorModulo(_ divisor: Int64) -> Int64 { ((self % divisor) + divisor) % divisor }
}
