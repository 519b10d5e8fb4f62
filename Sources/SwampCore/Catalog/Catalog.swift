import Foundation
import GRDB
import SwampContracts
import SwampSupport

/// The local SQLite read model of data metadata (never content).
///
/// Every repository mutation writes through to it. ``invalidate()`` marks it
/// stale, and the next read rebuilds it from a walk of the datastore tier — this
/// is how data pulled from teammates becomes visible.
public final class Catalog: Sendable {
    private let database: DatabaseQueue
    private let layout: DatastoreLayout

    /// Opens (creating if needed) the catalog at `path` for the datastore at `layout`.
    public init(path: String, layout: DatastoreLayout) throws {
        self.layout = layout
        do {
            try AtomicFile.makeDirectories((path as NSString).deletingLastPathComponent)
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch let error as SwampError {
            throw error
        } catch {
            throw SwampError(
                .catalog, "cannot open the catalog at '\(path)': \(error)",
                hint: "the catalog is a cache: delete it and it is rebuilt from the datastore")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "dataItem") { t in
                t.column("modelType", .text).notNull()
                t.column("modelId", .text).notNull()
                t.column("modelName", .text).notNull()
                t.column("name", .text).notNull()
                t.column("version", .integer).notNull()
                t.column("contentType", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("sha256", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("producedBy", .text)
                t.column("metadataJSON", .blob).notNull()
                t.primaryKey(["modelId", "name", "version"])
            }
            try db.create(index: "dataItemByModelName", on: "dataItem", columns: ["modelName"])
            try db.create(table: "catalogState") { t in
                t.column("id", .integer).primaryKey()
                t.column("stale", .boolean).notNull()
                t.column("rebuiltAt", .datetime)
            }
            // A new catalog knows nothing yet: stale until the first rebuild.
            try db.execute(sql: "INSERT INTO catalogState (id, stale) VALUES (1, 1)")
        }
        migrator.registerMigration("v2") { db in
            // The datastore's write generation the catalog last matched (see ``DatastoreGeneration``).
            try db.alter(table: "catalogState") { t in t.add(column: "generation", .integer) }
        }
        return migrator
    }

    // MARK: Writes

    /// Records one version (write-through after the repository wrote it). With `generation`
    /// (the datastore's generation after that write), a catalog that matched the generation
    /// just before stays fresh; one that missed other writers is rebuilt at the next read.
    package func upsert(_ metadata: DataMetadata, generation: Int? = nil) throws {
        try write { db in
            try CatalogRow(metadata).upsert(db)
            try Self.follow(generation, in: db)
        }
    }

    /// Forgets one version (after the repository deleted it).
    public func remove(modelId: String, name: String, version: Int, generation: Int? = nil) throws {
        try write { db in
            _ = try CatalogRow.deleteOne(db, key: ["modelId": modelId, "name": name, "version": version])
            try Self.follow(generation, in: db)
        }
    }

    /// Moves the recorded generation to `generation` if this write was the only one since.
    private static func follow(_ generation: Int?, in db: Database) throws {
        guard let generation else { return }
        try db.execute(sql: "UPDATE catalogState SET generation = ? WHERE id = 1 AND generation = ?", arguments: [generation, generation - 1])
    }

    /// Marks the catalog stale; the next read rebuilds it from the datastore tier.
    public func invalidate() throws {
        try write { db in try db.execute(sql: "UPDATE catalogState SET stale = 1 WHERE id = 1") }
    }

    /// Whether the next read will rebuild: invalidated, or the datastore was written by someone
    /// else (another repository on a shared datastore, another clone on a shared cache).
    public func isStale() throws -> Bool {
        let current = DatastoreGeneration.current(layout)
        return try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT stale, generation FROM catalogState WHERE id = 1") else { return true }
            let stale: Bool = row["stale"]
            let generation: Int? = row["generation"]
            return stale || generation != current
        }
    }

    /// Rebuilds from a walk of the datastore tier, now. The walk happens inside the write
    /// transaction, so a writer's row (or an invalidation) that comes meanwhile lands after the
    /// rebuild instead of being erased by it; the generation is read before the walk, so a
    /// write the walk may have missed makes the next read rebuild again.
    /// - Returns: the number of versions found.
    @discardableResult
    package func rebuild() throws -> Int {
        var count = 0
        try write { db in
            let generation = DatastoreGeneration.current(layout)
            let found = try CatalogScanner(layout: layout).scan()
            try CatalogRow.deleteAll(db)
            for metadata in found { try CatalogRow(metadata).insert(db) }
            try db.execute(
                sql: "UPDATE catalogState SET stale = 0, rebuiltAt = ?, generation = ? WHERE id = 1",
                arguments: [CatalogRow.databaseText(Date()), generation])
            count = found.count
        }
        return count
    }

    // MARK: Reads (rebuild first when stale)

    /// The latest version of every data item, optionally of one model, ordered by model name then data name.
    public func latestItems(modelId: String? = nil) throws -> [DataMetadata] {
        try freshRead { db in
            var sql = """
                SELECT d.* FROM dataItem d
                JOIN (SELECT modelId, name, MAX(version) AS version FROM dataItem GROUP BY modelId, name) l
                  ON d.modelId = l.modelId AND d.name = l.name AND d.version = l.version
                """
            var arguments: StatementArguments = []
            if let modelId {
                sql += " WHERE d.modelId = ?"
                arguments = [modelId]
            }
            sql += " ORDER BY d.modelName, d.modelId, d.name"
            return try CatalogRow.fetchAll(db, sql: sql, arguments: arguments).map { try $0.metadata() }
        }
    }

    /// Every version of one data item, oldest first.
    public func versions(modelId: String, name: String) throws -> [DataMetadata] {
        try freshRead { db in
            try CatalogRow
                .filter(Column("modelId") == modelId && Column("name") == name)
                .order(Column("version"))
                .fetchAll(db)
                .map { try $0.metadata() }
        }
    }

    /// Counts of versions and items, for status output.
    public func counts() throws -> (items: Int, versions: Int, models: Int) {
        try freshRead { db in
            let versions = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dataItem") ?? 0
            let items = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (SELECT DISTINCT modelId, name FROM dataItem)") ?? 0
            let models = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT modelId) FROM dataItem") ?? 0
            return (items, versions, models)
        }
    }

    // MARK: Plumbing

    private func freshRead<T>(_ body: (Database) throws -> T) throws -> T {
        if try isStale() { try rebuild() }
        return try read(body)
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try database.read(body)
        } catch let error as SwampError {
            throw error
        } catch {
            throw SwampError(.catalog, "catalog read failed: \(error)")
        }
    }

    private func write(_ body: (Database) throws -> Void) throws {
        do {
            try database.write(body)
        } catch let error as SwampError {
            throw error
        } catch {
            throw SwampError(.catalog, "catalog write failed: \(error)")
        }
    }
}
