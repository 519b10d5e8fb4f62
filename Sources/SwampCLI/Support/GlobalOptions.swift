import ArgumentParser

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The repository directory (default: the nearest directory holding .swamp.yaml).", valueName: "dir"))
    var repoDir: String?

    @Flag(name: .long, help: "Print one JSON document on stdout instead of human-readable text.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Use this datastore instead of the one in .swamp.yaml: 'filesystem:/path' or 'TYPE:{json}'. SWAMP_DATASTORE overrides it.",
            valueName: "spec"))
    var datastore: String?
}

extension GlobalOptions {
    /// The options every command takes, with whether each takes a value.
    static let names: [String: Bool] = ["--repo-dir": true, "--datastore": true, "--json": false]

    /// `arguments` with the global options written before the subcommand (`swamp --repo-dir D
    /// repo init`, as with `git -C D`) moved after it, where the subcommand parses them. Nothing
    /// else moves: arguments after a `--` stay where they are, and a leading option that is not
    /// global is left for the parser to report.
    static func hoisted(_ arguments: [String]) throws -> [String] {
        var leading: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            let name = optionName(argument)
            guard let takesValue = names[name] else { break }
            leading.append(argument)
            index += 1
            if takesValue, !argument.contains("=") {
                guard index < arguments.endIndex, !arguments[index].hasPrefix("-") else { throw ValidationError("\(name) needs a value") }
                leading.append(arguments[index])
                index += 1
            }
        }
        let rest = arguments[index...]
        if !leading.isEmpty, rest.first == "--help" || rest.first == "-h" { return Array(rest) }
        if !leading.isEmpty, rest.isEmpty {
            throw ValidationError(
                "\(leading[0]) goes with a subcommand, e.g. 'swamp \(leading.joined(separator: " ")) data list'; see 'swamp --help'")
        }
        // Only when a subcommand follows: anything else is left to the parser to report.
        guard !leading.isEmpty, let first = rest.first, !first.hasPrefix("-") else { return arguments }
        let after = Set(rest.prefix { $0 != "--" }.map(optionName))
        if let twice = leading.map(optionName).first(where: { names[$0] != nil && after.contains($0) }) {
            throw ValidationError("\(twice) is given both before and after the subcommand; give it once")
        }
        if let separator = rest.firstIndex(of: "--") {
            return Array(rest[..<separator]) + leading + Array(rest[separator...])
        }
        return Array(rest) + leading
    }

    /// `--repo-dir` of `--repo-dir=D`; any other argument as it is.
    static func optionName(_ argument: String) -> String {
        argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
    }
}
