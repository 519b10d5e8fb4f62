import SwampContracts
import Testing

@Suite struct PathRulesTests {
    @Test(arguments: ["result", "state", "my-data_1.json", "v2"])
    func acceptsOrdinaryDataNames(name: String) throws {
        try PathRules.validateDataName(name)
    }

    @Test(arguments: ["latest", "../x", "a/b", "a\0b", "..", ".", "", "a\\b", ".hidden", "tab\tname", " padded"])
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

    @Test(arguments: ["/etc/passwd", "../escape", "data/../../x", "data//x", "data/./x", "data/x\0", "data\\x", "", "data/x/"])
    func rejectsHostileRelativePaths(path: String) {
        #expect(throws: ContractError.self) { try PathRules.validateRelativePath(path) }
    }
}
