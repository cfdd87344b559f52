package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"photoflow"
)

// busyTimeout is how long a connection waits for another writer (another process on the
// same file, or a checkpoint) before failing with SQLITE_BUSY; IsRetryable then lets the
// activity's retry policy take over.
const busyTimeout = 5 * time.Second

// schemaVersion is the PRAGMA user_version this code writes and understands. Add a step
// to migrations and bump it; never edit a released step, because files in the field
// already ran it.
const schemaVersion = 2

var migrations = []string{
	// 1: the images table and one index per List filter. Each index ends with the full
	// sort key (upload_time DESC, image_id) so a filtered page is an index range scan with
	// no sort step, however many records an album holds.
	`CREATE TABLE images (
		image_id    TEXT PRIMARY KEY NOT NULL,
		user_id     TEXT NOT NULL,
		album_id    TEXT NOT NULL,
		status      TEXT NOT NULL,
		upload_time TEXT NOT NULL,
		update_time TEXT NOT NULL,
		record      TEXT NOT NULL
	);
	CREATE INDEX images_album  ON images (album_id, upload_time DESC, image_id);
	CREATE INDEX images_user   ON images (user_id, upload_time DESC, image_id);
	CREATE INDEX images_status ON images (status, upload_time DESC, image_id);
	CREATE INDEX images_time   ON images (upload_time DESC, image_id);`,
	// 2: accounts, their sessions and albums (the original's AlbumMetadata).
	`CREATE TABLE users (
		name          TEXT PRIMARY KEY NOT NULL,
		role          TEXT NOT NULL,
		password_hash BLOB NOT NULL,
		created_at    TEXT NOT NULL
	);
	CREATE TABLE sessions (
		token_hash TEXT PRIMARY KEY NOT NULL,
		user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
		csrf       TEXT NOT NULL,
		expires_at TEXT NOT NULL
	);
	CREATE INDEX sessions_expiry ON sessions (expires_at);
	CREATE TABLE albums (
		user_id    TEXT NOT NULL,
		album_id   TEXT NOT NULL,
		name       TEXT NOT NULL,
		created_at TEXT NOT NULL,
		deleting   INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (user_id, album_id)
	);
	CREATE INDEX albums_created ON albums (user_id, created_at);`,
}

// timeLayout stores instants as fixed-width UTC text, so that SQL's text comparison and
// ORDER BY agree with time order (including across the zones callers used) and no
// precision is lost. Fixed width only holds for years 0–9999; toKey rejects the rest.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// SQLite is the embedded Store: one file, WAL journal, safe for concurrent use.
//
// Writes go through a single connection so that goroutines of this process queue in Go
// (honouring their contexts) instead of contending for SQLite's write lock; reads use a
// separate pool and, thanks to WAL, never wait for the writer.
type SQLite struct {
	path string
	w    *sql.DB
	r    *sql.DB
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens the database file at path, creating it, its directory and the schema
// when absent, and migrating an older schema. It fails on a file written by a newer
// schema version rather than risk misreading it.
func OpenSQLite(path string) (*SQLite, error) {
	return openSQLite(path, busyTimeout)
}

func openSQLite(path string, busy time.Duration) (*SQLite, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// The reader and writer pools must see the same database, which an in-memory
		// database or a caller-built URI would not guarantee.
		return nil, fmt.Errorf("store: open sqlite %q: want a file path: %w", path, ErrInvalid)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
	}
	// synchronous(FULL) is SQLite's default, spelled out because a Put acknowledged to
	// Temporal must survive a power cut: NORMAL, common with WAL, may lose the last commits.
	pragmas := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)",
		busy.Milliseconds())
	base := "file:" + escapeURIPath(path) + "?" + pragmas
	// _txlock=immediate: a migration takes the write lock up front, so two processes
	// opening a new file at once serialise instead of one failing mid-upgrade.
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	s := &SQLite{path: path, w: w}
	ctx, cancel := context.WithTimeout(context.Background(), 2*busy+10*time.Second)
	defer cancel()
	if err := s.migrate(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	if err := r.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return s, nil
}

// escapeURIPath makes path safe inside a file: URI, where '?' would start the query and
// '#' a fragment, and where '%' introduces an escape.
func escapeURIPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

func (s *SQLite) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: open sqlite %s: begin migration: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: open sqlite %s: read schema version: %w", s.path, err)
	}
	if v > schemaVersion {
		return fmt.Errorf("store: open sqlite %s: schema version %d is newer than this build's %d",
			s.path, v, schemaVersion)
	}
	if v == schemaVersion {
		return nil
	}
	for ; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("store: open sqlite %s: migrate to version %d: %w", s.path, v+1, err)
		}
	}
	// PRAGMA takes no bind parameters; v is an int we computed, not input.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return fmt.Errorf("store: open sqlite %s: write schema version: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: open sqlite %s: commit migration: %w", s.path, err)
	}
	return nil
}

// toKey is the sortable text of an instant.
func toKey(t time.Time) (string, error) {
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("time %s outside years 0-9999: %w", t, ErrInvalid)
	}
	return u.Format(timeLayout), nil
}

const upsertSQL = `INSERT INTO images (image_id, user_id, album_id, status, upload_time, update_time, record)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (image_id) DO UPDATE SET
	user_id = excluded.user_id,
	album_id = excluded.album_id,
	status = excluded.status,
	upload_time = excluded.upload_time,
	update_time = excluded.update_time,
	record = excluded.record
WHERE excluded.upload_time >= images.upload_time`

// Put implements Store.Put. The stale-write guard is the upsert's WHERE clause, so the
// check and the write are one atomic statement even with other processes on the file.
func (s *SQLite) Put(ctx context.Context, rec photoflow.ImageRecord) error {
	up, upd, doc, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, upsertSQL, rec.ImageID, rec.UserID, rec.AlbumID,
		string(rec.Status), up, upd, string(doc))
	if err != nil {
		return wrap(ctx, fmt.Sprintf("put %q", rec.ImageID), err)
	}
	return nil
}

// Get implements Store.Get.
func (s *SQLite) Get(ctx context.Context, imageID string) (photoflow.ImageRecord, error) {
	var doc string
	err := s.r.QueryRowContext(ctx, "SELECT record FROM images WHERE image_id = ?", imageID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return photoflow.ImageRecord{}, fmt.Errorf("store: get %q: %w", imageID, ErrNotFound)
	}
	if err != nil {
		return photoflow.ImageRecord{}, wrap(ctx, fmt.Sprintf("get %q", imageID), err)
	}
	var rec photoflow.ImageRecord
	if err := json.Unmarshal([]byte(doc), &rec); err != nil {
		return photoflow.ImageRecord{}, fmt.Errorf("store: get %q: decode: %w", imageID, err)
	}
	return rec, nil
}

// cursor is the position after the last record of a page. F fingerprints the filter, so
// a cursor replayed with another filter is refused instead of silently skipping records.
type cursor struct {
	T  string `json:"t"`
	ID string `json:"i"`
	F  string `json:"f"`
}

func filterPrint(f Filter) string {
	sum := sha256.Sum256([]byte(f.UserID + "\x00" + f.AlbumID + "\x00" + string(f.Status)))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c) // three strings: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, f Filter) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" || len(c.T) != len(timeLayout) {
		return cursor{}, fmt.Errorf("malformed cursor: %w", ErrInvalid)
	}
	if c.F != filterPrint(f) {
		return cursor{}, fmt.Errorf("cursor was issued for another filter: %w", ErrInvalid)
	}
	return c, nil
}

// List implements Store.List.
func (s *SQLite) List(ctx context.Context, f Filter) (Page, error) {
	q, args, limit, err := listQuery(f, func(int) string { return "?" })
	if err != nil {
		return Page{}, err
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return Page{}, wrap(ctx, "list", err)
	}
	defer func() { _ = rows.Close() }()
	return readPage(rows, f, limit, func(err error) error { return wrap(ctx, "list", err) })
}

// Delete implements Store.Delete.
func (s *SQLite) Delete(ctx context.Context, imageID string) error {
	if _, err := s.w.ExecContext(ctx, "DELETE FROM images WHERE image_id = ?", imageID); err != nil {
		return wrap(ctx, fmt.Sprintf("delete %q", imageID), err)
	}
	return nil
}

// Ping implements Store.Ping: both pools, since either failing breaks the API.
func (s *SQLite) Ping(ctx context.Context) error {
	for _, db := range []*sql.DB{s.w, s.r} {
		if err := db.PingContext(ctx); err != nil {
			return wrap(ctx, "ping", err)
		}
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return wrap(ctx, "ping", err)
		}
	}
	return nil
}

// Close implements Store.Close. Closing twice is harmless.
func (s *SQLite) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// wrap adds the operation and, when the context ended, the context's error: SQLite reports
// an interrupted statement as SQLITE_INTERRUPT, and callers should still be able to match
// context.DeadlineExceeded.
func wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("store: %s: %w (%w)", op, err, cerr)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// IsRetryable reports whether err is transient: SQLite's SQLITE_BUSY or SQLITE_LOCKED
// (another writer held the file past the busy timeout), a context deadline, or, from
// PostgreSQL, a serialization failure, a deadlock, too many connections, a server shutting
// down or starting up, or a server that could not be reached, or, from DynamoDB,
// throughput exceeded, throttling and 5xx. Activities use it to choose
// between a retryable failure and a non-retryable one; everything else (ErrInvalid,
// ErrNotFound, a closed store, a full disk, corruption, a refused password) needs a human
// or a code change, not another attempt.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if isRetryablePostgres(err) {
		return true
	}
	if isDynamoRetryable(err) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// Extended result codes are on; the primary code is the low byte.
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}
