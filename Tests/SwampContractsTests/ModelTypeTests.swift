import SwampContracts
import Testing

@Suite struct ModelTypeTests {
    @Test(arguments: [
        ("AWS::EC2::VPC", "aws/ec2/vpc"),
        ("command/shell", "command/shell"),
        ("  Command . Shell  ", "command/shell"),
        ("a//b///c", "a/b/c"),
        ("/leading/and/trailing/", "leading/and/trailing"),
        ("a.b::c d\te", "a/b/c/d/e"),
        ("x::/::y", "x/y"),
    ])
    func normalizes(raw: String, expected: String) throws {
        #expect(try ModelType.normalize(raw) == expected)
    }

    @Test(arguments: ["", "   ", "::", "/./", "a/../b?", "caf\u{e9}/x"])
    func rejectsEmptyOrUnsafe(raw: String) {
        #expect(throws: ContractError.self) { try ModelType.normalize(raw) }
    }

    @Test func modelRefsSortByTypeSlashIdInByteOrderAndDeduplicate() {
        let a = ModelRef(modelType: "b", modelId: "1")
        let b = ModelRef(modelType: "a/z", modelId: "2")
        let c = ModelRef(modelType: "a", modelId: "3")
        // "a/3" < "a/z/2" < "b/1" in byte order.
        #expect(ModelRef.sortedUnique([a, b, c, a, b]) == [c, b, a])
    }
}
