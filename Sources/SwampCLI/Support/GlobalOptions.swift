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
