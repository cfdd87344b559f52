package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"photoflow"
	"photoflow/store"
	"photoflow/store/storetest"
)

// pgEnv names the DSN of a PostgreSQL the tests may create schemas in; .ci/postgres
// starts a throwaway one and prints it.
const pgEnv = "PHOTOFLOW_TEST_POSTGRES"

func pgDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		// A CI run without the server would pass while testing nothing.
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set but CI is: start a server with .ci/postgres", pgEnv)
		}
		t.Skipf("%s not set; run `export %s=$(bash .ci/postgres | tail -n1)` to test PostgreSQL", pgEnv, pgEnv)
	}
	return dsn
}

func pgCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pgSchema creates an empty schema for this test alone, dropped when the test ends, and
// returns a DSN whose search_path points at it: tests share one server yet never see
// each other's tables.
func pgSchema(t *testing.T) string {
	t.Helper()
	dsn := pgDSN(t)
	ctx := pgCtx(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "photoflow_test_" + hex.EncodeToString(b)
	admin(t, dsn, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withParam(t, dsn, "search_path", name)
}

// withParam sets one connection parameter in a URL or a key=value DSN.
func withParam(t *testing.T, dsn, key, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s is not a valid URL: %v", pgEnv, err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// admin runs statements on a connection of its own, outside any store.
func admin(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	ctx := pgCtx(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", pgEnv, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func openPG(t *testing.T, dsn string) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(pgCtx(t), dsn)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestPostgresConformance(t *testing.T) {
	pgDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openPG(t, pgSchema(t)) })
}

func TestPostgresAccountsConformance(t *testing.T) {
	pgDSN(t)
	storetest.RunAccounts(t, func(t *testing.T) store.Accounts { return openPG(t, pgSchema(t)) })
}

func TestPostgresReopen(t *testing.T) {
	dsn := pgSchema(t)
	ctx := pgCtx(t)
	p := openPG(t, dsn)
	rec := storetest.FullRecord("u/a/kept.jpg")
	if err := p.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateUser(ctx, store.User{Name: "alice", Role: store.RoleReviewer, PasswordHash: []byte("h"), CreatedAt: t0}, true); err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureAlbum(ctx, "alice", "trip", t0); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	p = openPG(t, dsn)
	got, err := p.Get(ctx, rec.ImageID)
	if err != nil {
		t.Fatalf("record lost on reopen: %v", err)
	}
	if !got.UploadTime.Equal(rec.UploadTime) || got.Status != rec.Status || got.Moderation == nil {
		t.Errorf("reopened record %+v, want %+v", got, rec)
	}
	if u, err := p.GetUser(ctx, "alice"); err != nil || u.Role != store.RoleReviewer {
		t.Errorf("user after reopen: %+v, %v", u, err)
	}
	if a, err := p.GetAlbum(ctx, "alice", "trip"); err != nil || a.Name != "trip" {
		t.Errorf("album after reopen: %+v, %v", a, err)
	}
	assertMigrations(t, dsn)
}

// assertMigrations checks that every step ran exactly once, in order.
func assertMigrations(t *testing.T, dsn string) {
	t.Helper()
	ctx := pgCtx(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var n, maxV int
	if err := conn.QueryRow(ctx, "SELECT count(*), coalesce(max(version), 0) FROM schema_migrations").Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n < 2 || n != maxV {
		t.Errorf("schema_migrations: %d rows up to version %d, want versions 1 to at least 2, once each", n, maxV)
	}
}

func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := pgSchema(t)
	ctx := pgCtx(t)
	// Workers starting together on an empty database: without the advisory lock one of
	// them fails creating a table the other has just created.
	const n = 4
	stores := make([]*store.Postgres, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = store.OpenPostgres(ctx, dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("OpenPostgres #%d: %v", i, err)
			continue
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	// Every handle works on the one schema.
	for i, s := range stores {
		if err := s.Put(ctx, storetest.FullRecord(fmt.Sprintf("from-%d", i))); err != nil {
			t.Errorf("Put through handle %d: %v", i, err)
		}
	}
	page, err := stores[0].List(ctx, store.Filter{})
	if err != nil || len(page.Records) != n {
		t.Errorf("List: %d records, %v; want %d", len(page.Records), err, n)
	}
	assertMigrations(t, dsn)
}

func TestPostgresNewerSchemaRefused(t *testing.T) {
	dsn := pgSchema(t)
	p := openPG(t, dsn)
	_ = p.Close()
	// Far above any version this build knows, as a later build would leave it.
	admin(t, dsn, "INSERT INTO schema_migrations (version) VALUES (1000)")
	if p, err := store.OpenPostgres(pgCtx(t), dsn); err == nil {
		_ = p.Close()
		t.Fatal("OpenPostgres accepted a schema newer than this build")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

func TestPostgresSchemaOrdersBytewise(t *testing.T) {
	dsn := pgSchema(t)
	openPG(t, dsn)
	ctx := pgCtx(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	// The order of these columns must not depend on the database's default collation,
	// or paging would differ from SQLite's and between servers.
	for _, col := range [][2]string{
		{"images", "image_id"}, {"images", "upload_time"}, {"sessions", "expires_at"},
		{"albums", "album_id"}, {"albums", "created_at"},
	} {
		var coll *string
		err := conn.QueryRow(ctx, `SELECT collation_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`, col[0], col[1]).Scan(&coll)
		if err != nil {
			t.Fatalf("%s.%s: %v", col[0], col[1], err)
		}
		if coll == nil || *coll != "C" {
			t.Errorf("%s.%s collation %v, want C", col[0], col[1], coll)
		}
	}
}

func TestPostgresUnstorableTextIsInvalid(t *testing.T) {
	p := openPG(t, pgSchema(t))
	ctx := pgCtx(t)
	nul := storetest.FullRecord("u/a/nul.jpg")
	nul.ErrReason = "bad\x00byte"
	badKey := storetest.FullRecord("u/a/\xff.jpg")
	for name, rec := range map[string]photoflow.ImageRecord{"NUL in the record": nul, "invalid UTF-8 key": badKey} {
		err := p.Put(ctx, rec)
		if !errors.Is(err, store.ErrInvalid) || store.IsRetryable(err) {
			t.Errorf("%s: Put = %v (retryable %t), want ErrInvalid, not retryable", name, err, store.IsRetryable(err))
		}
	}
}

func TestPostgresSessionOfUnknownUser(t *testing.T) {
	p := openPG(t, pgSchema(t))
	err := p.CreateSession(pgCtx(t), store.Session{TokenHash: "t", UserName: "ghost", CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateSession for an unknown user: %v, want ErrNotFound", err)
	}
}

func TestPostgresSerializationFailureIsRetryable(t *testing.T) {
	dsn := pgSchema(t)
	ctx := pgCtx(t)
	admin(t, dsn, "CREATE TABLE counter (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)", "INSERT INTO counter VALUES (1, 0)")
	connect := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	a, b := connect(), connect()
	ser := pgx.TxOptions{IsoLevel: pgx.Serializable}
	txA, err := a.BeginTx(ctx, ser)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = txA.Rollback(context.Background()) }()
	var v int
	if err := txA.QueryRow(ctx, "SELECT v FROM counter WHERE k = 1").Scan(&v); err != nil {
		t.Fatal(err)
	}
	// b changes the row a has read and commits first; a's update must then fail.
	if _, err := b.Exec(ctx, "UPDATE counter SET v = v + 1 WHERE k = 1"); err != nil {
		t.Fatal(err)
	}
	_, err = txA.Exec(ctx, "UPDATE counter SET v = $1 WHERE k = 1", v+1)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "40001" {
		t.Fatalf("lost update: %v, want SQLSTATE 40001", err)
	}
	if !store.IsRetryable(err) || !store.IsRetryable(fmt.Errorf("store: put: %w", err)) {
		t.Errorf("IsRetryable(%v) = false, want true", err)
	}
}

func TestPostgresWrongPasswordNotRetryable(t *testing.T) {
	dsn := pgDSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil || !strings.HasPrefix(dsn, "postgres") {
		t.Skip("needs a URL DSN with a user to change the password of")
	}
	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	p, err := store.OpenPostgres(pgCtx(t), u.String())
	if err == nil {
		_ = p.Close()
		t.Skip("the server does not check passwords")
	}
	// A refused password arrives inside a connect error; it is still not transient.
	if store.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = true, want false", err)
	}
}

// The tests below need no server, so they run everywhere.

func TestPostgresConnectErrorIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := store.OpenPostgres(ctx, fmt.Sprintf("postgres://u:p@127.0.0.1:%d/db?sslmode=disable&connect_timeout=5", port))
	if err == nil {
		_ = p.Close()
		t.Fatal("OpenPostgres on a closed port succeeded")
	}
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Errorf("error %v (%T) does not wrap a *pgconn.ConnectError", err, err)
	}
	if !store.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = false, want true: the server may come up", err)
	}
	if errors.Is(err, store.ErrInvalid) {
		t.Errorf("unreachable server reported as ErrInvalid: %v", err)
	}
}

func TestOpenPostgresMalformedDSN(t *testing.T) {
	_, err := store.OpenPostgres(context.Background(), "postgres://u:hunter2@127.0.0.1:notaport/db")
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("malformed DSN: %v, want ErrInvalid", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
	if store.IsRetryable(err) {
		t.Errorf("malformed DSN reported retryable: %v", err)
	}
}

func TestIsRetryablePostgresCodes(t *testing.T) {
	for code, want := range map[string]bool{
		"40001": true,  // serialization_failure
		"40P01": true,  // deadlock_detected
		"53300": true,  // too_many_connections
		"57P01": true,  // admin_shutdown
		"57P03": true,  // cannot_connect_now
		"08006": true,  // connection_failure
		"08001": true,  // sqlclient_unable_to_establish_sqlconnection
		"23505": false, // unique_violation
		"28P01": false, // invalid_password
		"3D000": false, // invalid_catalog_name
		"42P01": false, // undefined_table
		"53100": false, // disk_full: needs a human
	} {
		err := fmt.Errorf("store: put: %w", &pgconn.PgError{Severity: "ERROR", Code: code})
		if got := store.IsRetryable(err); got != want {
			t.Errorf("IsRetryable(SQLSTATE %s) = %t, want %t", code, got, want)
		}
	}
}
