import Foundation
import SwampContracts
import Testing

@Suite struct PathRulesTests {
    @Test(arguments: ["result", "state", "my-data_1.json", "v2"])
    func acceptsOrdinaryDataNames(name: String) throws {
        try PathRules.validateDataName(name)
    }

    @Test(arguments: [
        "latest", "../x", "a/b", "a\0b", "..", ".", "", "a\\b", ".hidden", "tab\tname", " padded",
        "x/\u{0488}..", ".\u{0301}hidden", "\u{0301}r", "x\u{0600}",
    ])
    func rejectsReservedOrTraversingDataNames(name: String) {
        #expect(throws: ContractError.self) { try PathRules.validateDataName(name) }
    }

    @Test func errorMessagesEscapeControlCharacters() {
        do {
            try PathRules.validateDataName("a\0b")
            Issue.record("NUL accepted")
        } catch let error as ContractError {
            #expect(error.code == .invalidName)
            #expect(error.message.contains("\\0"))
            #expect(!error.message.contains("\0"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: ["data/a/b/1/raw", "outputs/x/y.yaml", "_swamp/meta.json"])
    func acceptsRelativePaths(path: String) throws {
        #expect(try PathRules.validateRelativePath(path).count == path.split(separator: "/").count)
    }

    @Test(arguments: [
        "/etc/passwd", "../escape", "data/../../x", "data//x", "data/./x", "data/x\0", "data\\x", "", "data/x/",
        ".swamp-sync/dirty/models~x.log", "data/.lock", "outputs/t/.hidden", String(repeating: "a", count: 256),
        String(repeating: "a/", count: 460) + "a", "data/x\u{1B}[31m",
        // A combining mark after '/' or '.' makes one Swift `Character` of it, hiding the
        // separator or the dot from string comparison; the file system still sees the byte.
        "data/\u{0488}..", "data/x/.\u{0301}swamp-sync", "\u{0488}", "data\u{0600}/x",
    ])
    func rejectsHostileRelativePaths(path: String) {
        #expect(throws: ContractError.self) { try PathRules.validateRelativePath(path) }
    }

    /// Property: any path the rules accept, joined to a root and standardised, stays inside it.
    @Test func acceptedPathsStayInsideTheirRoot() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [String] = [
            "a", "b", ".", "..", "/", "\\", "~", " ", "é", "\u{0}", "x.y", "-", "_", "data", "latest", "\n", "\u{0488}", "\u{0301}",
        ]
        var accepted = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...12, using: &generator)
            let path = (0..<length).map { _ in alphabet.randomElement(using: &generator) ?? "a" }.joined()
            guard (try? PathRules.validateRelativePath(path)) != nil else { continue }
            accepted += 1
            let joined = ("/root/cache/" + path as NSString).standardizingPath
            #expect(joined.utf8.starts(with: "/root/cache/".utf8), "'\(path)' escapes to '\(joined)'")
        }
        #expect(accepted > 100)
    }
}
