package store

import "database/sql"

// OpenSQLiteWithBusyTimeout lets the external tests provoke SQLITE_BUSY quickly; the raw
// handles below let them inspect pragmas and simulate a full disk.
var OpenSQLiteWithBusyTimeout = openSQLite

// WriterDB is the single-connection write pool, where connection pragmas stick.
func (s *SQLite) WriterDB() *sql.DB { return s.w }

// ReaderDB is the read-only pool.
func (s *SQLite) ReaderDB() *sql.DB { return s.r }

// SchemaVersion is the schema version this build writes.
const SchemaVersion = schemaVersion
