import Foundation

/// Implements a model type: which methods it has and what running them produces.
public protocol ModelTypeHandler: Sendable {
    /// The normalised type this handler serves, e.g. `command/shell`.
    var type: String { get }
    /// The method names, e.g. `["execute"]`.
    var methods: [String] { get }
    /// Checks a model's arguments at creation.
    func validate(arguments: [String: String]) throws
    /// Runs `method` of `model` and returns what it produced; never writes to the datastore itself.
    func run(method: String, model: ModelDefinition, context: MethodContext) async throws -> MethodOutcome
}

/// What a method may use while it runs.
public struct MethodContext: Sendable {
    /// The repository directory (the working directory of shell commands).
    public var repoDir: String
    /// Variables for the processes the method starts: among them `SWAMP_HELD_LOCKS`, which lets a
    /// `swamp` command run by the method recognise the locks its parent holds (see ``NestedLocks``).
    public var environment: [String: String]
    /// An empty directory of the method's own, removed after its outputs are stored: output
    /// written to a file here and returned as ``ProducedData/Body/file(_:)`` is moved into the
    /// datastore, never read into memory.
    public var scratchDirectory: String

    public init(repoDir: String, environment: [String: String] = [:], scratchDirectory: String) {
        self.repoDir = repoDir
        self.environment = environment
        self.scratchDirectory = scratchDirectory
    }
}

/// One data item a method produced.
public struct ProducedData: Sendable {
    /// Where the content is.
    public enum Body: Sendable, Equatable {
        case bytes(Data)
        /// A file in the method's scratch directory, moved into the datastore as it is.
        case file(String)
    }

    public var name: String
    public var body: Body
    public var contentType: String

    public init(name: String, content: Data, contentType: String) {
        self.name = name
        self.body = .bytes(content)
        self.contentType = contentType
    }

    public init(name: String, file: String, contentType: String) {
        self.name = name
        self.body = .file(file)
        self.contentType = contentType
    }
}

/// What a method run produced.
public struct MethodOutcome: Sendable {
    /// Data to store as new versions, even when the method failed.
    public var data: [ProducedData]
    /// Whether the method succeeded.
    public var succeeded: Bool
    public var exitStatus: Int32?
    public var stderr: String?
    public var timedOut: Bool

    public init(data: [ProducedData], succeeded: Bool, exitStatus: Int32? = nil, stderr: String? = nil, timedOut: Bool = false) {
        self.data = data
        self.succeeded = succeeded
        self.exitStatus = exitStatus
        self.stderr = stderr
        self.timedOut = timedOut
    }
}

/// The model types a repository knows, by normalised type.
public struct ModelTypeRegistry: Sendable {
    private var handlers: [String: any ModelTypeHandler] = [:]

    public init() {}

    /// The registry with the built-in types (`command/shell`).
    public static var builtIn: ModelTypeRegistry {
        var registry = ModelTypeRegistry()
        registry.register(ShellModelType())
        return registry
    }

    public mutating func register(_ handler: any ModelTypeHandler) {
        handlers[handler.type] = handler
    }

    public func handler(for type: String) -> (any ModelTypeHandler)? { handlers[type] }

    public var types: [String] { handlers.keys.sorted() }
}
