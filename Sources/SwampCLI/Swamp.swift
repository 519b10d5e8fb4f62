import ArgumentParser
import Dispatch

/// The program's entry: runs the command on the concurrency pool and waits for it here. An
/// `async` main hands this thread to `dispatch_main`, which ends it with `pthread_exit`: glibc
/// then loads libgcc_s and unwinds the thread's stack through the binary's unwind tables, ~0.7
/// MiB of resident memory for every command, to no use (nothing runs on the main queue).
@main
enum SwampMain {
    static func main() {
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await Swamp.runFromCommandLine()
            done.signal()
        }
        done.wait()
    }
}

struct Swamp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swamp",
        abstract: "Keep an automation repository's versioned model data in a datastore, in sync with your team.",
        discussion: """
            A repository holds model definitions (models/*.yaml) and their runtime data. Data lives in a \
            datastore: by default the directory .swamp/ of the repository; a shared remote can be set up \
            with 'swamp datastore setup'. Running a model locks only that model and syncs only its data.

            A first tour:
              swamp repo init
              swamp model create command/shell hello --set run='echo hello'
              swamp model method run hello execute
              swamp data list
              swamp data get hello result

            Every command takes --repo-dir (default: the nearest directory holding .swamp.yaml) and \
            --json (one JSON document on stdout), before or after the subcommand: \
            'swamp --repo-dir D repo init' and 'swamp repo init --repo-dir D' are the same. Errors go to \
            stderr; the exit status is non-zero on failure.
            """,
        version: "0.1.0",
        subcommands: [RepoCommand.self, ModelCommand.self, DataCommand.self, DatastoreCommand.self]
    )

    /// Parses with the global options accepted before the subcommand too (``GlobalOptions/hoisted(_:)``).
    static func runFromCommandLine() async {
        do {
            var command = try parseAsRoot(try GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst())))
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
