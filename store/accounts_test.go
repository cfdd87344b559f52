package store_test

// The behaviour every backend shares is in storetest.RunAccounts (run for SQLite in
// sqlite_accounts_test.go); what stays here is SQLite's own.

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"photoflow"
	"photoflow/store"
)

// t0 is the accounts tests' fixed instant; postgres_test.go uses it too.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// openAccounts is a fresh file per test, closed with it, so no state leaks between tests.
func openAccounts(t *testing.T) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "accounts.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func acctUser(name, role string) store.User {
	return store.User{Name: name, Role: role, PasswordHash: []byte("$2a$04$hash-of-" + name), CreatedAt: t0}
}

func TestSQLiteExpiredSessionsSweptOnCreate(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	if err := s.CreateUser(ctx, acctUser("alice", store.RoleUser), false); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	if err := s.CreateSession(ctx, store.Session{TokenHash: "old", UserName: "alice", CSRF: "c", ExpiresAt: past}); err != nil {
		t.Fatal(err)
	}
	// Asked as of before its expiry, the row is still there: nothing swept it yet.
	if _, err := s.GetSession(ctx, "old", past.Add(-time.Minute)); err != nil {
		t.Fatalf("expired session gone before any sweep: %v", err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "new", UserName: "alice", CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "old", past.Add(-time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session survived the next CreateSession: %v", err)
	}
	var n int
	if err := s.ReaderDB().QueryRowContext(ctx, "SELECT count(*) FROM sessions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d sessions stored, want only the new one", n)
	}
}

func TestSQLiteMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	kept := photoflow.ImageRecord{ImageID: "alice/trip/x.jpg", UserID: "alice", AlbumID: "trip",
		Status: photoflow.StatusSucceeded, UploadTime: t0, UpdateTime: t0}
	if err := s.Put(ctx, kept); err != nil {
		t.Fatal(err)
	}
	// Make the file what a version-1 build left behind: no account tables.
	for _, q := range []string{"DROP TABLE sessions", "DROP TABLE albums", "DROP TABLE users", "PRAGMA user_version = 1"} {
		if _, err := s.WriterDB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = store.OpenSQLite(path)
	if err != nil {
		t.Fatalf("reopen a version-1 file: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var v int
	if err := s.ReaderDB().QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != store.SchemaVersion {
		t.Errorf("user_version = %d after migration, want %d", v, store.SchemaVersion)
	}
	got, err := s.Get(ctx, kept.ImageID)
	if err != nil {
		t.Fatalf("image lost in migration: %v", err)
	}
	if got.Status != kept.Status || !got.UploadTime.Equal(kept.UploadTime) {
		t.Errorf("migrated record %+v, want %+v", got, kept)
	}
	// The new tables work.
	if err := s.CreateUser(ctx, acctUser("alice", store.RoleReviewer), true); err != nil {
		t.Errorf("CreateUser after migration: %v", err)
	}
	if err := s.EnsureAlbum(ctx, "alice", "trip", t0); err != nil {
		t.Errorf("EnsureAlbum after migration: %v", err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "t", UserName: "alice", CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("CreateSession after migration: %v", err)
	}
}
