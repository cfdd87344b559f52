package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
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

func TestSQLiteCreateUserInvalid(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	noHash := acctUser("alice", store.RoleUser)
	noHash.PasswordHash = nil
	farFuture := acctUser("alice", store.RoleUser)
	farFuture.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, u := range map[string]store.User{
		"empty name":   acctUser("", store.RoleUser),
		"unknown role": acctUser("alice", "admin"),
		"empty role":   acctUser("alice", ""),
		"no hash":      noHash,
		// Times are stored as fixed-width text; a five-digit year would sort wrongly.
		"year 10000": farFuture,
	} {
		if err := s.CreateUser(ctx, u, false); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Errorf("after invalid creates: CountUsers = %d, %v; want 0", n, err)
	}
}

func TestSQLiteCreateGetCountUsers(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("empty store: CountUsers = %d, %v", n, err)
	}
	if _, err := s.GetUser(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser of nobody: %v, want ErrNotFound", err)
	}
	in := acctUser("alice", store.RoleUser)
	in.CreatedAt = time.Date(2026, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	if err := s.CreateUser(ctx, in, false); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, acctUser("rita", store.RoleReviewer), false); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != in.Name || got.Role != in.Role || string(got.PasswordHash) != string(in.PasswordHash) || !got.CreatedAt.Equal(in.CreatedAt) {
		t.Errorf("GetUser = %+v, want %+v", got, in)
	}
	if r, err := s.GetUser(ctx, "rita"); err != nil || r.Role != store.RoleReviewer {
		t.Errorf("rita: %+v, %v; want a reviewer", r, err)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers = %d, %v; want 2", n, err)
	}

	// A taken name is refused even with another role, and the first account is untouched.
	if err := s.CreateUser(ctx, acctUser("alice", store.RoleReviewer), false); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}
	if got, _ := s.GetUser(ctx, "alice"); got.Role != store.RoleUser {
		t.Errorf("duplicate create changed alice's role to %q", got.Role)
	}
}

func TestSQLiteCreateUserOnlyIfNone(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	if err := s.CreateUser(ctx, acctUser("first", store.RoleReviewer), true); err != nil {
		t.Fatalf("first setup on an empty store: %v", err)
	}
	// A different name still loses: setup is refused once any account exists.
	if err := s.CreateUser(ctx, acctUser("second", store.RoleReviewer), true); !errors.Is(err, store.ErrExists) {
		t.Errorf("second setup: %v, want ErrExists", err)
	}
	if _, err := s.GetUser(ctx, "second"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused setup left an account: %v", err)
	}
	// Without onlyIfNone the same create succeeds, so the refusal above was the guard's.
	if err := s.CreateUser(ctx, acctUser("second", store.RoleUser), false); err != nil {
		t.Errorf("ordinary create: %v", err)
	}
}

func TestSQLiteCreateUserOnlyIfNoneConcurrent(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateUser(ctx, acctUser(fmt.Sprintf("admin%d", i), store.RoleReviewer), true)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrExists):
			t.Errorf("setup %d: %v, want nil or ErrExists", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent setups won, want exactly 1 (%v)", won, errs)
	}
	if c, err := s.CountUsers(ctx); err != nil || c != 1 {
		t.Errorf("CountUsers = %d, %v; want 1", c, err)
	}
}

func TestSQLiteSetPassword(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	if err := s.SetPassword(ctx, "nobody", []byte("h")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	// Live by the wall clock, which CreateSession sweeps by: otherwise the second create
	// would remove the first session and hide whether SetPassword did.
	now := time.Now()
	for _, name := range []string{"alice", "bob"} {
		if err := s.CreateUser(ctx, acctUser(name, store.RoleUser), false); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, store.Session{TokenHash: "tok-" + name, UserName: name, CSRF: "c", ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GetSession(ctx, "tok-alice", now); err != nil {
		t.Fatalf("alice's session before SetPassword: %v", err)
	}
	if err := s.SetPassword(ctx, "alice", []byte("new-hash")); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, "alice"); string(u.PasswordHash) != "new-hash" {
		t.Errorf("hash = %q, want new-hash", u.PasswordHash)
	}
	// A stolen cookie must stop working when its owner changes the password.
	if _, err := s.GetSession(ctx, "tok-alice", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alice's session after SetPassword: %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(ctx, "tok-bob", now); err != nil {
		t.Errorf("bob's session was ended by alice's new password: %v", err)
	}
}

func TestSQLiteSessions(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	if err := s.CreateUser(ctx, acctUser("alice", store.RoleUser), false); err != nil {
		t.Fatal(err)
	}
	// Far in the future, so CreateSession's sweep (by the wall clock) never touches it.
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	in := store.Session{TokenHash: "abc", UserName: "alice", CSRF: "csrf-1", ExpiresAt: exp}
	if err := s.CreateSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, "abc", exp.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.TokenHash != in.TokenHash || got.UserName != in.UserName || got.CSRF != in.CSRF || !got.ExpiresAt.Equal(exp) {
		t.Errorf("GetSession = %+v, want %+v", got, in)
	}
	if _, err := s.GetSession(ctx, "other", exp.Add(-time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown token: %v, want ErrNotFound", err)
	}
	// The expiry instant itself is already too late.
	for _, now := range []time.Time{exp, exp.Add(time.Second)} {
		if _, err := s.GetSession(ctx, "abc", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession at %v (expires %v): %v, want ErrNotFound", now, exp, err)
		}
	}
	if err := s.DeleteSession(ctx, "abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "abc", exp.Add(-time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after DeleteSession: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, "abc"); err != nil {
		t.Errorf("deleting a missing session: %v, want nil (sign-out is retried)", err)
	}
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

func acctAlbum(owner, id string, created time.Time) store.Album {
	return store.Album{UserID: owner, AlbumID: id, Name: "Name of " + id, CreatedAt: created}
}

func acctAlbumIDs(as []store.Album) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.AlbumID)
	}
	return out
}

func TestSQLiteAlbums(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	if err := s.CreateAlbum(ctx, acctAlbum("alice", "trip", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlbum(ctx, acctAlbum("alice", "trip", t0.Add(time.Hour))); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate album: %v, want ErrExists", err)
	}
	// IDs are per user: bob may have a "trip" of his own.
	if err := s.CreateAlbum(ctx, acctAlbum("bob", "trip", t0)); err != nil {
		t.Errorf("bob's trip: %v", err)
	}
	got, err := s.GetAlbum(ctx, "alice", "trip")
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != "alice" || got.AlbumID != "trip" || got.Name != "Name of trip" || !got.CreatedAt.Equal(t0) || got.Deleting {
		t.Errorf("GetAlbum = %+v", got)
	}
	if _, err := s.GetAlbum(ctx, "carol", "trip"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user's album: %v, want ErrNotFound", err)
	}
	if _, err := s.GetAlbum(ctx, "alice", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing album: %v, want ErrNotFound", err)
	}
}

func TestSQLiteListAlbumsOrder(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	// Inserted out of time order and out of name order, so neither insertion order nor
	// album ID alone would pass.
	for _, a := range []store.Album{
		acctAlbum("alice", "b-middle", t0),
		acctAlbum("alice", "z-oldest", t0.Add(-time.Hour)),
		acctAlbum("alice", "a-newest", t0.Add(time.Hour)),
		acctAlbum("bob", "bobs", t0.Add(-2*time.Hour)),
		// Same instant as b-middle, written in another zone: ties break by ID.
		acctAlbum("alice", "c-tie", t0.In(time.FixedZone("EST", -5*3600))),
	} {
		if err := s.CreateAlbum(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListAlbums(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"z-oldest", "b-middle", "c-tie", "a-newest"}; fmt.Sprint(acctAlbumIDs(got)) != fmt.Sprint(want) {
		t.Errorf("alice's albums %v, want %v", acctAlbumIDs(got), want)
	}
	for _, a := range got {
		if a.UserID != "alice" {
			t.Errorf("album %+v listed for alice", a)
		}
	}
	none, err := s.ListAlbums(ctx, "carol")
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("no albums: %#v, %v; want an empty, non-nil slice", none, err)
	}
}

func TestSQLiteRenameAndDeleteAlbum(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	if err := s.CreateAlbum(ctx, acctAlbum("alice", "trip", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlbum(ctx, acctAlbum("bob", "trip", t0)); err != nil {
		t.Fatal(err)
	}
	renamed, err := s.RenameAlbum(ctx, "alice", "trip", "Summer <2026>")
	if err != nil {
		t.Fatal(err)
	}
	if renamed.Name != "Summer <2026>" || renamed.AlbumID != "trip" || !renamed.CreatedAt.Equal(t0) {
		t.Errorf("RenameAlbum = %+v", renamed)
	}
	if b, _ := s.GetAlbum(ctx, "bob", "trip"); b.Name != "Name of trip" {
		t.Errorf("renaming alice's trip renamed bob's to %q", b.Name)
	}
	if _, err := s.RenameAlbum(ctx, "alice", "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rename missing: %v, want ErrNotFound", err)
	}

	if err := s.MarkAlbumDeleting(ctx, "alice", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark missing: %v, want ErrNotFound", err)
	}
	if err := s.MarkAlbumDeleting(ctx, "alice", "trip"); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.GetAlbum(ctx, "alice", "trip"); !a.Deleting {
		t.Error("GetAlbum does not show Deleting after MarkAlbumDeleting")
	}
	// An album on its way out must not be renamed back into view.
	if _, err := s.RenameAlbum(ctx, "alice", "trip", "Back"); err == nil {
		t.Error("RenameAlbum of a deleting album succeeded")
	}
	if a, _ := s.GetAlbum(ctx, "alice", "trip"); a.Name != "Summer <2026>" {
		t.Errorf("refused rename changed the name to %q", a.Name)
	}

	for i := range 2 { // the deletion workflow's activity may run twice
		if err := s.DeleteAlbum(ctx, "alice", "trip"); err != nil {
			t.Errorf("DeleteAlbum #%d: %v", i+1, err)
		}
	}
	if _, err := s.GetAlbum(ctx, "alice", "trip"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after DeleteAlbum: %v, want ErrNotFound", err)
	}
	if _, err := s.GetAlbum(ctx, "bob", "trip"); err != nil {
		t.Errorf("deleting alice's trip deleted bob's: %v", err)
	}
}

func TestSQLiteEnsureAlbum(t *testing.T) {
	s := openAccounts(t)
	ctx := context.Background()
	if err := s.EnsureAlbum(ctx, "alice", "trip", t0); err != nil {
		t.Fatal(err)
	}
	a, err := s.GetAlbum(ctx, "alice", "trip")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "trip" || !a.CreatedAt.Equal(t0) {
		t.Errorf("ensured album %+v, want name trip created %v", a, t0)
	}
	if _, err := s.RenameAlbum(ctx, "alice", "trip", "Our trip"); err != nil {
		t.Fatal(err)
	}
	// Every later image of the album ensures it again; none may undo the user's name.
	if err := s.EnsureAlbum(ctx, "alice", "trip", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	a, _ = s.GetAlbum(ctx, "alice", "trip")
	if a.Name != "Our trip" || !a.CreatedAt.Equal(t0) {
		t.Errorf("second EnsureAlbum overwrote: %+v", a)
	}
	if all, _ := s.ListAlbums(ctx, "alice"); len(all) != 1 {
		t.Errorf("%d albums after two EnsureAlbum, want 1", len(all))
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
