import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The UTC timestamps swamp writes and reads (lock records, `--json`, S3 listings and headers,
/// run records), formatted and parsed with the C library's calendar arithmetic (`gmtime_r`,
/// `timegm`). Foundation's formatters would do the same but set up a calendar in the user's
/// time zone first, which on Linux loads ICU's time zone data: ~1 MiB of a small command's
/// memory, for text that is always UTC.
public enum UTCTime {
    /// `2026-11-26T14:01:02.123Z`, or `2026-11-26T14:01:02Z` without `milliseconds` (the
    /// fraction is truncated, as Foundation's ISO-8601 formats do). Years 1 to 9999: a date
    /// outside them is clamped.
    public static func iso8601(_ date: Date, milliseconds: Bool = true) -> String {
        let parts = Fields(date)
        var out = [UInt8]()
        out.reserveCapacity(24)
        parts.append(year: &out, separated: true)
        if milliseconds {
            out.append(UInt8(ascii: "."))
            append(parts.millisecond, digits: 3, to: &out)
        }
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `2026-11-26T14:01:02.123456789Z`, the fraction to the nanosecond with its trailing zeros
    /// dropped (none when it is zero): the form YAML files hold (what Yams writes for a date).
    public static func nanoseconds(_ date: Date) -> String {
        // The fraction is rounded from the seconds since 2001, as Yams does, so that a date
        // reads back as the same text.
        // Years 1 to 9999, as ``Fields`` clamps them (a clock outside them is never a crash).
        let raw = date.timeIntervalSinceReferenceDate
        let sinceReference = raw.isNaN ? 0 : min(max(raw, -63_113_904_000), 252_423_993_599)
        var whole = sinceReference.rounded(.down)
        var nanos = Int(((sinceReference - whole) * 1_000_000_000).rounded())
        if nanos >= 1_000_000_000 {
            whole += 1
            nanos -= 1_000_000_000
        }
        let parts = Fields(Date(timeIntervalSinceReferenceDate: whole))
        var out = [UInt8]()
        out.reserveCapacity(30)
        parts.append(year: &out, separated: true)
        if nanos != 0 {
            out.append(UInt8(ascii: "."))
            append(nanos, digits: 9, to: &out)
            while out.last == UInt8(ascii: "0") { out.removeLast() }
        }
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `20261126T140102.123Z`: sortable, and safe in a file name; `20261126T140102Z` without
    /// `milliseconds` (SigV4's `x-amz-date`).
    public static func compact(_ date: Date, milliseconds: Bool = true) -> String {
        let parts = Fields(date)
        var out = [UInt8]()
        out.reserveCapacity(20)
        parts.append(year: &out, separated: false)
        if milliseconds {
            out.append(UInt8(ascii: "."))
            append(parts.millisecond, digits: 3, to: &out)
        }
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads `YYYY-MM-DDTHH:MM:SS`, with an optional fraction of any length (to the nanosecond:
    /// digits beyond are dropped), and `Z`, `UTC`, `GMT` or an offset (`+01:00`, `+0100`, `+01`,
    /// then perhaps the zone's name, as Go writes it); `t`, `z`, any case of the names, a space
    /// for `T` and spaces before the zone are accepted too, and whitespace after it all. Nil for anything else, an impossible date (February 30th) included. The date is the
    /// one Yams and Foundation read from the same text, to the last bit: the fraction is added
    /// to the seconds since 2001, as a `Date` holds them.
    public static func parseISO8601(_ text: String) -> Date? {
        var scanner = Scanner(text)
        guard let year = scanner.number(4), scanner.skip(anyOf: "-"), let month = scanner.number(2), scanner.skip(anyOf: "-"),
            let day = scanner.number(2), scanner.skip(anyOf: "Tt "),
            let hour = scanner.number(2), scanner.skip(anyOf: ":"), let minute = scanner.number(2), scanner.skip(anyOf: ":"),
            let second = scanner.number(2)
        else { return nil }
        var nanos = 0
        if scanner.skip(anyOf: ".,") {
            var digits = 0
            while let digit = scanner.digit() {
                if digits < 9 { nanos = nanos * 10 + digit }
                digits += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { nanos *= 10 }
        }
        var offset = 0
        while scanner.skip(anyOf: " ") {}
        if scanner.skip(anyOf: "Zz") {
            offset = 0
        } else if scanner.skipName("UTC") || scanner.skipName("GMT") {
            offset = 0
        } else if let sign = scanner.take(anyOf: "+-") {
            guard let hours = scanner.number(2), hours < 24 else { return nil }
            var minutes = 0
            let colon = scanner.skip(anyOf: ":")
            if let value = scanner.number(2) {
                guard value < 60 else { return nil }
                minutes = value
            } else if colon {
                return nil
            }
            offset = (hours * 60 + minutes) * 60 * (sign == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        // Go's `2026-11-26 14:01:02 +0000 UTC` names the zone after its offset.
        while scanner.skip(anyOf: " \t\r\n") {}
        if scanner.skipName("UTC") || scanner.skipName("GMT") {
            while scanner.skip(anyOf: " \t\r\n") {}
        }
        guard scanner.atEnd,
            let seconds = epochSeconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        return Date(timeIntervalSinceReferenceDate: Double(seconds - offset - 978_307_200) + Double(nanos) / 1_000_000_000)
    }

    /// Reads an HTTP date (RFC 9110's IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`: the form
    /// servers send in `Date` and `Last-Modified`). Nil for anything else.
    public static func parseHTTPDate(_ text: String) -> Date? {
        var scanner = Scanner(text)
        guard scanner.skipLetters(3), scanner.skip(anyOf: ","), scanner.skip(anyOf: " "), let day = scanner.number(2), scanner.skip(anyOf: " "),
            let month = scanner.month(), scanner.skip(anyOf: " "), let year = scanner.number(4), scanner.skip(anyOf: " "),
            let hour = scanner.number(2), scanner.skip(anyOf: ":"), let minute = scanner.number(2), scanner.skip(anyOf: ":"),
            let second = scanner.number(2), scanner.skip(anyOf: " "), scanner.skipName("GMT") || scanner.skipName("UTC"), scanner.atEnd,
            let seconds = epochSeconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        return Date(timeIntervalSince1970: Double(seconds))
    }

    /// Seconds since 1970 of a valid UTC calendar date and time (a leap second reads as the
    /// next second's start), or nil.
    static func epochSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int? {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        // Days from 1970-01-01 to the date (the proleptic Gregorian calendar; H. Hinnant's
        // `days_from_civil`).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return ((days * 24 + hour) * 60 + minute) * 60 + second
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func append(_ value: Int, digits: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<digits { divisor *= 10 }
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
            divisor /= 10
        }
    }

    /// A date's UTC fields, from `gmtime_r` (which reads no time zone data).
    struct Fields {
        var year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0

        init(_ date: Date) {
            // Years 1 to 9999 (a clock outside them is clamped, never a crash). From the seconds
            // since 2001, as a `Date` holds them: no rounding on the way.
            let raw = date.timeIntervalSinceReferenceDate
            let clamped = raw.isNaN ? 0 : min(max(raw, -63_113_904_000), 252_423_993_599)
            var whole = clamped.rounded(.down)
            // The milliseconds truncated, but a fraction a rounding short of the next one is that
            // one: `.123` read back is 0.12299990… of a second. A date made from seconds since
            // 1970 was rounded twice (~2 units of that `Double`); a microsecond at least.
            let slack = max(0.000_001, 2 * (clamped + 978_307_200).ulp)
            var millis = Int(((clamped - whole + slack) * 1000).rounded(.down))
            if millis >= 1000 {
                whole += 1
                millis = 0
            }
            var seconds = time_t(whole) + 978_307_200
            millisecond = millis
            var parts = tm()
            guard gmtime_r(&seconds, &parts) != nil else { return }
            year = Int(parts.tm_year) + 1900
            month = Int(parts.tm_mon) + 1
            day = Int(parts.tm_mday)
            hour = Int(parts.tm_hour)
            minute = Int(parts.tm_min)
            second = Int(parts.tm_sec)
        }

        /// `2026-11-26T14:01:02` (`separated`) or `20261126T140102`.
        func append(year out: inout [UInt8], separated: Bool) {
            UTCTime.append(year, digits: 4, to: &out)
            if separated { out.append(UInt8(ascii: "-")) }
            UTCTime.append(month, digits: 2, to: &out)
            if separated { out.append(UInt8(ascii: "-")) }
            UTCTime.append(day, digits: 2, to: &out)
            out.append(UInt8(ascii: "T"))
            UTCTime.append(hour, digits: 2, to: &out)
            if separated { out.append(UInt8(ascii: ":")) }
            UTCTime.append(minute, digits: 2, to: &out)
            if separated { out.append(UInt8(ascii: ":")) }
            UTCTime.append(second, digits: 2, to: &out)
        }
    }

    /// Reads ASCII, byte by byte.
    struct Scanner {
        let bytes: [UInt8]
        var at = 0

        init(_ text: String) { bytes = Array(text.utf8) }

        var atEnd: Bool { at == bytes.count }

        mutating func digit() -> Int? {
            guard at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) else { return nil }
            at += 1
            return Int(bytes[at - 1] - UInt8(ascii: "0"))
        }

        /// Exactly `count` digits.
        mutating func number(_ count: Int) -> Int? {
            let start = at
            var value = 0
            for _ in 0..<count {
                guard let digit = digit() else {
                    at = start
                    return nil
                }
                value = value * 10 + digit
            }
            return value
        }

        mutating func take(anyOf set: String) -> UInt8? {
            guard at < bytes.count, set.utf8.contains(bytes[at]) else { return nil }
            at += 1
            return bytes[at - 1]
        }

        mutating func skip(anyOf set: String) -> Bool { take(anyOf: set) != nil }

        mutating func skipLetters(_ count: Int) -> Bool {
            for _ in 0..<count {
                guard at < bytes.count, (bytes[at] | 0x20) >= UInt8(ascii: "a"), (bytes[at] | 0x20) <= UInt8(ascii: "z") else { return false }
                at += 1
            }
            return true
        }

        /// `Jan` … `Dec` (any case), as 1 … 12.
        mutating func month() -> Int? {
            guard at + 3 <= bytes.count else { return nil }
            let name = String(decoding: bytes[at..<at + 3], as: UTF8.self).lowercased()
            let names = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            guard let index = names.firstIndex(of: name) else { return nil }
            at += 3
            return index + 1
        }

        /// `name` in any case (`UTC`, `GMT`: what servers send for a UTC time).
        mutating func skipName(_ name: String) -> Bool {
            let wanted = Array(name.lowercased().utf8)
            guard at + wanted.count <= bytes.count,
                zip(bytes[at..<at + wanted.count], wanted).allSatisfy({ $0 | 0x20 == $1 })
            else { return false }
            at += wanted.count
            return true
        }
    }
}
