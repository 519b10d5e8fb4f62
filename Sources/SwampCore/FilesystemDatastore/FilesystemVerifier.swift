import Foundation
import SwampContracts
import SwampSupport

/// Checks that a filesystem datastore's root exists (or can be created) and is writable.
package struct FilesystemVerifier: DatastoreVerifier {
    public let root: String

    public init(root: String) { self.root = root }

    public func verify() async throws -> DatastoreHealth {
        let started = ContinuousClock.now
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue {
            return DatastoreHealth(healthy: false, message: "datastore path '\(root)' is a file, not a directory", details: ["path": root])
        }
        let probe = "\(root)/.swamp-verify-\(UUID().uuidString.lowercased())"
        do {
            try AtomicFile.write(Data("ok".utf8), to: probe)
            let back = try AtomicFile.readIfPresent(probe)
            try AtomicFile.remove(probe)
            guard back == Data("ok".utf8) else {
                return DatastoreHealth(
                    healthy: false, message: "datastore path '\(root)' did not read back what was written", details: ["path": root])
            }
        } catch {
            return DatastoreHealth(healthy: false, message: "datastore path '\(root)' is not writable: \(error)", details: ["path": root])
        }
        let elapsed = ContinuousClock.now - started
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return DatastoreHealth(
            healthy: true, message: "filesystem datastore at '\(root)' is readable and writable", latencyMs: ms, details: ["path": root])
    }
}
