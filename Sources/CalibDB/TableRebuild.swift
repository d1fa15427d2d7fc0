import Foundation
import GRDB

/// SQLite cannot alter a column's constraint in place; this rebuilds a table
/// the way SQLite's documentation prescribes (§ "Making other kinds of table
/// schema changes"): create the new table from the stored definition with
/// the one change, copy the rows, drop the old, rename the new, recreate the
/// indexes. Run inside a migration, whose foreign-key checks are deferred to
/// its end, so rows that reference the table stay valid across the rebuild.
enum TableRebuild {
    struct DefinitionMismatch: Error, CustomStringConvertible {
        let table: String, column: String
        var description: String { "table \(table): no CHECK (\(column) IN (…)) in its stored definition to replace" }
    }

    /// Replaces `CHECK (column IN (…))` in `table`'s definition by a foreign
    /// key to `lookup(name)`, keeping every other column, constraint and index.
    static func replaceTypeChecks(_ db: Database, table: String, column: String, lookup: String) throws {
        guard let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                                   arguments: [table]) else {
            throw DefinitionMismatch(table: table, column: column)
        }
        let indexes = try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                                          arguments: [table])
        // The lists are plain quoted names: no parenthesis can occur inside them.
        let pattern = try NSRegularExpression(pattern: "CHECK \\(\(column) IN \\([^)]*\\)\\)")
        let range = NSRange(definition.startIndex..., in: definition)
        guard pattern.numberOfMatches(in: definition, range: range) == 1 else { throw DefinitionMismatch(table: table, column: column) }
        var rebuilt = pattern.stringByReplacingMatches(in: definition, range: range, withTemplate: "REFERENCES \(lookup)(name)")
        // Stored definitions start `CREATE TABLE name (` or `CREATE TABLE "name" (` after a rename.
        let header = try NSRegularExpression(pattern: "^CREATE TABLE \"?\(table)\"?")
        rebuilt = header.stringByReplacingMatches(in: rebuilt, range: NSRange(rebuilt.startIndex..., in: rebuilt),
                                                  withTemplate: "CREATE TABLE \(table)_rebuilt")
        // Identifiers cannot be bound parameters; these come from the migration's own constants, quoted.
        let tableName = table.quotedDatabaseIdentifier
        let rebuiltName = (table + "_rebuilt").quotedDatabaseIdentifier
        let columns = try db.columns(in: table).map(\.name.quotedDatabaseIdentifier).joined(separator: ", ")
        try db.execute(sql: rebuilt)
        try db.execute(sql: "INSERT INTO \(rebuiltName) (\(columns)) SELECT \(columns) FROM \(tableName)")
        try db.execute(sql: "DROP TABLE \(tableName)")
        try db.execute(sql: "ALTER TABLE \(rebuiltName) RENAME TO \(tableName)")
        for index in indexes { try db.execute(sql: index) }
    }
}
