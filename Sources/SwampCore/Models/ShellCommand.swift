import Foundation
import SwampSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `/bin/sh -c` with stdout and stderr captured byte-exact (stdout into a file the caller
/// names, never into memory, so output of any size costs no memory; stderr through a temporary
/// file, so large output cannot dead-lock on a pipe, of which the last ``stderrLimit`` bytes are
/// kept for the output record), a timeout, and in a process group of its own: a
/// timeout or a cancellation (Ctrl-C) stops the command *and every process it started*
/// (SIGTERM to the group, SIGKILL after a grace period).
enum ShellCommand {
    struct Result: Sendable {
        /// The file stdout went to.
        var stdoutPath: String
        var stderr: Data
        var exitStatus: Int32
        var timedOut: Bool
    }

    /// How long a stopped group gets between SIGTERM and SIGKILL.
    static let grace: Duration = .milliseconds(500)

    /// The most bytes of stderr kept (the last ones, where a failing command says why): an output
    /// record is read whole and synced on every run, and memory must not grow with a command's output.
    static let stderrLimit = 64 << 10

    /// Runs `script` with stdout going to the new file `outPath` (left there for the caller).
    static func run(
        _ script: String, workingDirectory: String, environment: [String: String], timeout: Duration, stdout outPath: String
    ) async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-sh-\(UUID().uuidString)")
        try AtomicFile.makeDirectories(scratch.path)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let errPath = scratch.appendingPathComponent("stderr").path

        // `cd` first, then exec the script's own shell: the same pid and process group.
        let arguments = ["/bin/sh", "-c", "cd -- \"$1\" || exit 125; shift; exec /bin/sh -c \"$1\"", "swamp-shell", workingDirectory, script]
        let variables = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { "\($0.key)=\($0.value)" }
        let pid = try spawn(arguments, environment: variables, stdout: outPath, stderr: errPath)

        var timedOut = false
        var status: Int32 = 0
        let deadline = ContinuousClock.now + timeout
        var pause: Duration = .milliseconds(1)
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { throw SwampError(.methodFailed, "lost track of the command (waitpid: errno \(errno))") }
            if Task.isCancelled {
                status = await stopGroup(pid)
                throw CancellationError()
            }
            if ContinuousClock.now >= deadline {
                status = await stopGroup(pid)
                timedOut = true
                break
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
        let stderr = try tail(of: errPath, limit: stderrLimit)
        return Result(stdoutPath: outPath, stderr: stderr, exitStatus: exitStatus(status), timedOut: timedOut)
    }

    /// The last `limit` bytes of the file at `path`, after a line saying how many came before
    /// them, or the whole file when it is no longer than that.
    static func tail(of path: String, limit: Int) throws -> Data {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        // Never more than `limit` bytes, and the size taken once: a process the command left
        // running may still be writing to the file.
        let size = try handle.seekToEnd()
        guard size > UInt64(limit) else {
            try handle.seek(toOffset: 0)
            return try handle.read(upToCount: limit) ?? Data()
        }
        try handle.seek(toOffset: size - UInt64(limit))
        let kept = try handle.read(upToCount: limit) ?? Data()
        return Data("[swamp: the first \(size - UInt64(limit)) of \(size) bytes of stderr are not kept]\n".utf8) + kept
    }

    /// Starts `arguments` in a new process group with stdin from /dev/null and stdout/stderr to files.
    private static func spawn(_ arguments: [String], environment: [String], stdout: String, stderr: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        // The command starts with default signal handling and nothing blocked, whatever this process does.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        let result = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
        guard result == 0 else { throw SwampError(.methodFailed, "cannot start /bin/sh: \(String(cString: strerror(result)))") }
        return pid
    }

    /// SIGTERM to the command's process group, SIGKILL after ``grace``; returns the wait status.
    private static func stopGroup(_ pid: pid_t) async -> Int32 {
        var status: Int32 = 0
        kill(-pid, SIGTERM)
        let killAt = ContinuousClock.now + grace
        while waitpid(pid, &status, WNOHANG) != pid {
            if ContinuousClock.now >= killAt {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) != pid && errno == EINTR {}
                break
            }
            // Not cancellable: this must finish even in a cancelled task.
            usleep(5_000)
        }
        kill(-pid, SIGKILL)  // whatever of the group is still alive
        return status
    }

    /// The exit status a shell would report: the code, or 128 + the signal that ended it.
    static func exitStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
