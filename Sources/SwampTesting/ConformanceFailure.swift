/// A conformance check failed: what was expected and what happened.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let check: String
    public let description: String

    public init(_ check: String, _ description: String) {
        self.check = check
        self.description = "\(check): \(description)"
    }
}

/// A named conformance check, so test suites can run each as its own test case.
public struct ConformanceCheck<Subject: Sendable>: Sendable, CustomStringConvertible {
    public let name: String
    public let run: @Sendable (Subject) async throws -> Void

    public init(_ name: String, _ run: @escaping @Sendable (Subject) async throws -> Void) {
        self.name = name
        self.run = run
    }

    public var description: String { name }
}

func require(_ condition: Bool, _ check: String, _ message: @autoclosure () -> String) throws {
    if !condition { throw ConformanceFailure(check, message()) }
}
