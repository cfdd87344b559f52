package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"photoflow"
)

// pgSchemaVersion is the highest schema_migrations version this code writes and
// understands. Add a step to pgMigrations and bump it; never edit a released step,
// because databases in the field already ran it.
const pgSchemaVersion = 2

// pgMigrations mirror the SQLite schema. Times are the same fixed-width UTC text as
// SQLite's (timeLayout), not timestamptz: timestamptz keeps microseconds while records
// carry nanoseconds, and BIGINT Unix nanoseconds cannot hold the zero time.Time that
// records may carry. COLLATE "C" makes the text order bytewise, as in SQLite, so that
// ORDER BY, the keyset comparisons and the stale-write guard agree with time order
// whatever the database's default collation is.
var pgMigrations = []string{
	// 1: the images table and one index per List filter, each ending with the full sort
	// key so that a filtered page is an index range scan with no sort step. The record
	// (JSONB) is the source of truth; the other columns exist to be indexed.
	`CREATE TABLE images (
		image_id    TEXT COLLATE "C" PRIMARY KEY,
		user_id     TEXT COLLATE "C" NOT NULL,
		album_id    TEXT COLLATE "C" NOT NULL,
		status      TEXT COLLATE "C" NOT NULL,
		upload_time TEXT COLLATE "C" NOT NULL,
		update_time TEXT COLLATE "C" NOT NULL,
		record      JSONB NOT NULL
	);
	CREATE INDEX images_album  ON images (album_id, upload_time DESC, image_id);
	CREATE INDEX images_user   ON images (user_id, upload_time DESC, image_id);
	CREATE INDEX images_status ON images (status, upload_time DESC, image_id);
	CREATE INDEX images_time   ON images (upload_time DESC, image_id);`,
	// 2: accounts, their sessions and albums (the original's AlbumMetadata).
	`CREATE TABLE users (
		name          TEXT COLLATE "C" PRIMARY KEY,
		role          TEXT NOT NULL,
		password_hash BYTEA NOT NULL,
		created_at    TEXT COLLATE "C" NOT NULL
	);
	CREATE TABLE sessions (
		token_hash TEXT COLLATE "C" PRIMARY KEY,
		user_name  TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
		csrf       TEXT NOT NULL,
		expires_at TEXT COLLATE "C" NOT NULL
	);
	CREATE INDEX sessions_expiry ON sessions (expires_at);
	CREATE INDEX sessions_user   ON sessions (user_name);
	CREATE TABLE albums (
		user_id    TEXT COLLATE "C" NOT NULL,
		album_id   TEXT COLLATE "C" NOT NULL,
		name       TEXT NOT NULL,
		created_at TEXT COLLATE "C" NOT NULL,
		deleting   BOOLEAN NOT NULL DEFAULT false,
		PRIMARY KEY (user_id, album_id)
	);
	CREATE INDEX albums_created ON albums (user_id, created_at, album_id);`,
}

// pgMigrationLock is the first key of the advisory lock that serialises migrations; the
// second is the schema's hash, so that tenants in separate schemas do not wait for each
// other. The value is arbitrary but fixed: every build must take the same lock.
const pgMigrationLock = 0x70660001

// Postgres is the Store and Accounts on PostgreSQL: a connection pool, safe for
// concurrent use by many goroutines and many processes.
type Postgres struct {
	pool *pgxpool.Pool
}

var (
	_ Store    = (*Postgres)(nil)
	_ Accounts = (*Postgres)(nil)
)

// OpenPostgres connects to the database named by dsn (a postgres:// URL or key=value
// string, as libpq takes; search_path may be set in it to use a schema other than
// public), creating the schema when absent and migrating an older one. Several
// processes may open the same database at once: migrations run one at a time under an
// advisory lock. It fails on a schema written by a newer version rather than risk
// misreading it.
//
// A malformed dsn fails with ErrInvalid; an unreachable server fails with an error for
// which IsRetryable is true.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included; say only that it is bad.
		return nil, fmt.Errorf("store: open postgres: malformed DSN: %w", ErrInvalid)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrapPG(ctx, "open postgres", err)
	}
	p := &Postgres{pool: pool}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

func (p *Postgres) migrate(ctx context.Context) error {
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return wrapPG(ctx, "open postgres: begin migration", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Taken before anything is read or created, and released by commit or rollback: a
	// second process starting at the same moment waits here, then finds the work done.
	// CREATE TABLE IF NOT EXISTS alone is not safe against a concurrent twin.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))", pgMigrationLock); err != nil {
		return wrapPG(ctx, "open postgres: lock for migration", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return wrapPG(ctx, "open postgres: create schema_migrations", err)
	}
	var v int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return wrapPG(ctx, "open postgres: read schema version", err)
	}
	if v > pgSchemaVersion {
		return fmt.Errorf("store: open postgres: schema version %d is newer than this build's %d", v, pgSchemaVersion)
	}
	if v == pgSchemaVersion {
		return nil
	}
	for ; v < pgSchemaVersion; v++ {
		if _, err := tx.Exec(ctx, pgMigrations[v]); err != nil {
			return wrapPG(ctx, fmt.Sprintf("open postgres: migrate to version %d", v+1), err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v+1); err != nil {
			return wrapPG(ctx, "open postgres: write schema version", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapPG(ctx, "open postgres: commit migration", err)
	}
	return nil
}

// The PostgreSQL error codes this file acts on.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	// Text PostgreSQL cannot store: a NUL byte or invalid UTF-8 in a key, or \u0000 in
	// the JSONB record. Retrying cannot help.
	pgCharacterNotInRepertoire = "22021"
	pgUntranslatableCharacter  = "22P05"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// wrapPG is wrap plus ErrInvalid for requests PostgreSQL refuses for their content, so
// that callers fail fast on them instead of retrying.
func wrapPG(ctx context.Context, op string, err error) error {
	switch pgCode(err) {
	case pgCharacterNotInRepertoire, pgUntranslatableCharacter:
		return wrap(ctx, op, fmt.Errorf("%w: %w", ErrInvalid, err))
	}
	return wrap(ctx, op, err)
}

// isRetryablePostgres is IsRetryable's PostgreSQL half: conflicts another attempt will
// not meet (serialization failures, deadlocks) and a server that is restarting, full or
// unreachable.
func isRetryablePostgres(err error) bool {
	// A server's answer decides, even inside a connect error: a refused password or a
	// missing database is no more likely to work the second time.
	if code := pgCode(err); code != "" {
		switch code {
		case "40001", // serialization_failure
			"40P01", // deadlock_detected
			"53300", // too_many_connections
			"57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03": // cannot_connect_now: starting up or shutting down
			return true
		}
		// Class 08: connection exceptions, such as a connection the server could not
		// establish or lost.
		return strings.HasPrefix(code, "08")
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	// pgx marks errors it raised before sending anything, which any request may repeat.
	return pgconn.SafeToRetry(err)
}

// Put implements Store.Put. The stale-write guard is the upsert's WHERE clause, so the
// check and the write are one atomic statement even with other writers on the row.
func (p *Postgres) Put(ctx context.Context, rec photoflow.ImageRecord) error {
	up, upd, doc, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, `INSERT INTO images (image_id, user_id, album_id, status, upload_time, update_time, record)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (image_id) DO UPDATE SET
	user_id = excluded.user_id,
	album_id = excluded.album_id,
	status = excluded.status,
	upload_time = excluded.upload_time,
	update_time = excluded.update_time,
	record = excluded.record
WHERE excluded.upload_time >= images.upload_time`,
		rec.ImageID, rec.UserID, rec.AlbumID, string(rec.Status), up, upd, doc)
	if err != nil {
		return wrapPG(ctx, fmt.Sprintf("put %q", rec.ImageID), err)
	}
	return nil
}

// Get implements Store.Get.
func (p *Postgres) Get(ctx context.Context, imageID string) (photoflow.ImageRecord, error) {
	var doc []byte
	err := p.pool.QueryRow(ctx, "SELECT record FROM images WHERE image_id = $1", imageID).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return photoflow.ImageRecord{}, fmt.Errorf("store: get %q: %w", imageID, ErrNotFound)
	}
	if err != nil {
		return photoflow.ImageRecord{}, wrapPG(ctx, fmt.Sprintf("get %q", imageID), err)
	}
	var rec photoflow.ImageRecord
	if err := json.Unmarshal(doc, &rec); err != nil {
		return photoflow.ImageRecord{}, fmt.Errorf("store: get %q: decode: %w", imageID, err)
	}
	return rec, nil
}

// List implements Store.List with the same keyset and cursor as SQLite, so that both
// backends page identically.
func (p *Postgres) List(ctx context.Context, f Filter) (Page, error) {
	q, args, limit, err := listQuery(f, func(n int) string { return fmt.Sprintf("$%d", n) })
	if err != nil {
		return Page{}, err
	}
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return Page{}, wrapPG(ctx, "list", err)
	}
	defer rows.Close()
	return readPage(rows, f, limit, func(err error) error { return wrapPG(ctx, "list", err) })
}

// Delete implements Store.Delete.
func (p *Postgres) Delete(ctx context.Context, imageID string) error {
	if _, err := p.pool.Exec(ctx, "DELETE FROM images WHERE image_id = $1", imageID); err != nil {
		return wrapPG(ctx, fmt.Sprintf("delete %q", imageID), err)
	}
	return nil
}

// Ping implements Store.Ping with a round trip through a pooled connection, so a server
// that accepts connections but cannot answer is not reported ready.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return wrapPG(ctx, "ping", err)
	}
	return nil
}

// Close implements Store.Close: it waits for borrowed connections to come back, then
// closes them all. Closing twice is harmless.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// CreateUser implements Accounts.
func (p *Postgres) CreateUser(ctx context.Context, u User, onlyIfNone bool) error {
	if u.Name == "" || (u.Role != RoleUser && u.Role != RoleReviewer) || len(u.PasswordHash) == 0 {
		return fmt.Errorf("store: create user %q: name, role and password hash required: %w", u.Name, ErrInvalid)
	}
	created, err := toKey(u.CreatedAt)
	if err != nil {
		return err
	}
	const insert = "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)"
	if !onlyIfNone {
		_, err := p.pool.Exec(ctx, insert, u.Name, u.Role, u.PasswordHash, created)
		return userErr(ctx, u.Name, err)
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return wrapPG(ctx, "create user", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Under READ COMMITTED two setups would both see an empty table and both insert. The
	// lock conflicts with itself and with every insert, yet lets readers through; it is
	// taken only on first-run setup, so its cost does not matter.
	if _, err := tx.Exec(ctx, "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return wrapPG(ctx, "create user", err)
	}
	var taken bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&taken); err != nil {
		return wrapPG(ctx, "create user", err)
	}
	if taken {
		return fmt.Errorf("store: an account exists already: %w", ErrExists)
	}
	if _, err := tx.Exec(ctx, insert, u.Name, u.Role, u.PasswordHash, created); err != nil {
		return userErr(ctx, u.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapPG(ctx, "create user", err)
	}
	return nil
}

func userErr(ctx context.Context, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case pgCode(err) == pgUniqueViolation:
		return fmt.Errorf("store: user %q: %w", name, ErrExists)
	}
	return wrapPG(ctx, "create user", err)
}

// GetUser implements Accounts.
func (p *Postgres) GetUser(ctx context.Context, name string) (User, error) {
	u := User{Name: name}
	var created string
	err := p.pool.QueryRow(ctx, "SELECT role, password_hash, created_at FROM users WHERE name = $1", name).
		Scan(&u.Role, &u.PasswordHash, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, wrapPG(ctx, "get user", err)
	}
	u.CreatedAt, _ = time.Parse(timeLayout, created)
	return u, nil
}

// CountUsers implements Accounts.
func (p *Postgres) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		return 0, wrapPG(ctx, "count users", err)
	}
	return n, nil
}

// SetPassword implements Accounts. The new hash and the end of the old sessions are one
// statement, so no failure can leave a changed password with a stolen cookie still valid.
func (p *Postgres) SetPassword(ctx context.Context, name string, hash []byte) error {
	var n int
	err := p.pool.QueryRow(ctx, `WITH u AS (
		UPDATE users SET password_hash = $1 WHERE name = $2 RETURNING name
	), s AS (
		DELETE FROM sessions WHERE user_name IN (SELECT name FROM u)
	)
	SELECT count(*) FROM u`, hash, name).Scan(&n)
	if err != nil {
		return wrapPG(ctx, "set password", err)
	}
	if n == 0 {
		return fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	return nil
}

// CreateSession implements Accounts. Expired sessions are swept on the way, in the same
// statement. A session of an unknown user fails with ErrNotFound.
func (p *Postgres) CreateSession(ctx context.Context, se Session) error {
	exp, err := toKey(se.ExpiresAt)
	if err != nil {
		return err
	}
	now, _ := toKey(time.Now())
	_, err = p.pool.Exec(ctx, `WITH swept AS (DELETE FROM sessions WHERE expires_at < $5)
		INSERT INTO sessions (token_hash, user_name, csrf, expires_at) VALUES ($1, $2, $3, $4)`,
		se.TokenHash, se.UserName, se.CSRF, exp, now)
	if pgCode(err) == pgForeignKeyViolation {
		return fmt.Errorf("store: create session: user %q: %w", se.UserName, ErrNotFound)
	}
	if err != nil {
		return wrapPG(ctx, "create session", err)
	}
	return nil
}

// GetSession implements Accounts.
func (p *Postgres) GetSession(ctx context.Context, tokenHash string, now time.Time) (Session, error) {
	se := Session{TokenHash: tokenHash}
	var exp string
	err := p.pool.QueryRow(ctx, "SELECT user_name, csrf, expires_at FROM sessions WHERE token_hash = $1", tokenHash).
		Scan(&se.UserName, &se.CSRF, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, wrapPG(ctx, "get session", err)
	}
	se.ExpiresAt, _ = time.Parse(timeLayout, exp)
	if !now.Before(se.ExpiresAt) {
		return Session{}, fmt.Errorf("store: session expired: %w", ErrNotFound)
	}
	return se, nil
}

// DeleteSession implements Accounts.
func (p *Postgres) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := p.pool.Exec(ctx, "DELETE FROM sessions WHERE token_hash = $1", tokenHash); err != nil {
		return wrapPG(ctx, "delete session", err)
	}
	return nil
}

// CreateAlbum implements Accounts.
func (p *Postgres) CreateAlbum(ctx context.Context, a Album) error {
	created, err := toKey(a.CreatedAt)
	if err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, "INSERT INTO albums (user_id, album_id, name, created_at) VALUES ($1, $2, $3, $4)",
		a.UserID, a.AlbumID, a.Name, created)
	if pgCode(err) == pgUniqueViolation {
		return fmt.Errorf("store: album %q: %w", a.AlbumID, ErrExists)
	}
	if err != nil {
		return wrapPG(ctx, "create album", err)
	}
	return nil
}

// EnsureAlbum implements Accounts.
func (p *Postgres) EnsureAlbum(ctx context.Context, userID, albumID string, now time.Time) error {
	created, err := toKey(now)
	if err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, `INSERT INTO albums (user_id, album_id, name, created_at) VALUES ($1, $2, $2, $3)
		ON CONFLICT (user_id, album_id) DO NOTHING`, userID, albumID, created)
	if err != nil {
		return wrapPG(ctx, "ensure album", err)
	}
	return nil
}

// GetAlbum implements Accounts.
func (p *Postgres) GetAlbum(ctx context.Context, userID, albumID string) (Album, error) {
	a := Album{UserID: userID, AlbumID: albumID}
	var created string
	err := p.pool.QueryRow(ctx, "SELECT name, created_at, deleting FROM albums WHERE user_id = $1 AND album_id = $2",
		userID, albumID).Scan(&a.Name, &created, &a.Deleting)
	if errors.Is(err, pgx.ErrNoRows) {
		return Album{}, fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	if err != nil {
		return Album{}, wrapPG(ctx, "get album", err)
	}
	a.CreatedAt, _ = time.Parse(timeLayout, created)
	return a, nil
}

// ListAlbums implements Accounts: oldest first, as the original's GSI on creationTime.
func (p *Postgres) ListAlbums(ctx context.Context, userID string) ([]Album, error) {
	rows, err := p.pool.Query(ctx, "SELECT album_id, name, created_at, deleting FROM albums WHERE user_id = $1 ORDER BY created_at, album_id", userID)
	if err != nil {
		return nil, wrapPG(ctx, "list albums", err)
	}
	defer rows.Close()
	albums := []Album{}
	for rows.Next() {
		a := Album{UserID: userID}
		var created string
		if err := rows.Scan(&a.AlbumID, &a.Name, &created, &a.Deleting); err != nil {
			return nil, wrapPG(ctx, "list albums", err)
		}
		a.CreatedAt, _ = time.Parse(timeLayout, created)
		albums = append(albums, a)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapPG(ctx, "list albums", err)
	}
	return albums, nil
}

// RenameAlbum implements Accounts. An album being deleted is not found: it must not be
// renamed back into view.
func (p *Postgres) RenameAlbum(ctx context.Context, userID, albumID, name string) (Album, error) {
	a := Album{UserID: userID, AlbumID: albumID}
	var created string
	err := p.pool.QueryRow(ctx, `UPDATE albums SET name = $1 WHERE user_id = $2 AND album_id = $3 AND NOT deleting
		RETURNING name, created_at, deleting`, name, userID, albumID).Scan(&a.Name, &created, &a.Deleting)
	if errors.Is(err, pgx.ErrNoRows) {
		return Album{}, fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	if err != nil {
		return Album{}, wrapPG(ctx, "rename album", err)
	}
	a.CreatedAt, _ = time.Parse(timeLayout, created)
	return a, nil
}

// MarkAlbumDeleting implements Accounts.
func (p *Postgres) MarkAlbumDeleting(ctx context.Context, userID, albumID string) error {
	tag, err := p.pool.Exec(ctx, "UPDATE albums SET deleting = true WHERE user_id = $1 AND album_id = $2", userID, albumID)
	if err != nil {
		return wrapPG(ctx, "mark album deleting", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	return nil
}

// DeleteAlbum implements Accounts; a missing album is not an error, so it may be retried.
func (p *Postgres) DeleteAlbum(ctx context.Context, userID, albumID string) error {
	if _, err := p.pool.Exec(ctx, "DELETE FROM albums WHERE user_id = $1 AND album_id = $2", userID, albumID); err != nil {
		return wrapPG(ctx, "delete album", err)
	}
	return nil
}
