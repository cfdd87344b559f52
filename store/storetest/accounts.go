package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"photoflow/store"
)

// RunAccounts tests an Accounts implementation. open must return a new, empty store each
// time it is called (each subtest calls it once). When the store also implements
// io.Closer, RunAccounts closes it when the subtest ends, so open need not.
//
// Only behaviour every backend can offer is checked here; limits of one backend (the
// years SQLite's text keys can order, the sweep of expired sessions) belong in that
// backend's own tests.
func RunAccounts(t *testing.T, open func(t *testing.T) store.Accounts) {
	t.Helper()
	fresh := func(t *testing.T) store.Accounts {
		t.Helper()
		a := open(t)
		if c, ok := a.(io.Closer); ok {
			t.Cleanup(func() { _ = c.Close() })
		}
		return a
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, a store.Accounts)
	}{
		{"CreateUserInvalid", testCreateUserInvalid},
		{"CreateGetCountUsers", testCreateGetCountUsers},
		{"CreateUserOnlyIfNone", testCreateUserOnlyIfNone},
		{"CreateUserOnlyIfNoneConcurrent", testCreateUserOnlyIfNoneConcurrent},
		{"SetPassword", testSetPassword},
		{"Sessions", testSessions},
		{"Albums", testAlbums},
		{"ListAlbumsOrder", testListAlbumsOrder},
		{"RenameAndDeleteAlbum", testRenameAndDeleteAlbum},
		{"EnsureAlbum", testEnsureAlbum},
		{"EnsureAlbumConcurrent", testEnsureAlbumConcurrent},
		{"AccountsCanceledContext", testAccountsCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
}

// acctT0 carries nanoseconds so that a backend truncating account times fails the round
// trips below.
var acctT0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func newUser(name, role string) store.User {
	return store.User{Name: name, Role: role, PasswordHash: []byte("$2a$04$hash-of-" + name), CreatedAt: acctT0}
}

func newAlbum(owner, id string, created time.Time) store.Album {
	return store.Album{UserID: owner, AlbumID: id, Name: "Name of " + id, CreatedAt: created}
}

func albumIDs(as []store.Album) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.AlbumID)
	}
	return out
}

func testCreateUserInvalid(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	noHash := newUser("alice", store.RoleUser)
	noHash.PasswordHash = nil
	for name, u := range map[string]store.User{
		"empty name":   newUser("", store.RoleUser),
		"unknown role": newUser("alice", "admin"),
		"empty role":   newUser("alice", ""),
		"no hash":      noHash,
	} {
		for _, onlyIfNone := range []bool{false, true} {
			if err := a.CreateUser(ctx, u, onlyIfNone); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s (onlyIfNone=%t): err = %v, want ErrInvalid", name, onlyIfNone, err)
			}
		}
	}
	if n, err := a.CountUsers(ctx); err != nil || n != 0 {
		t.Errorf("after invalid creates: CountUsers = %d, %v; want 0", n, err)
	}
}

func testCreateGetCountUsers(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	if n, err := a.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("empty store: CountUsers = %d, %v", n, err)
	}
	if _, err := a.GetUser(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser of nobody: %v, want ErrNotFound", err)
	}
	in := newUser("alice", store.RoleUser)
	in.CreatedAt = time.Date(2026, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	if err := a.CreateUser(ctx, in, false); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateUser(ctx, newUser("rita", store.RoleReviewer), false); err != nil {
		t.Fatal(err)
	}
	got, err := a.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != in.Name || got.Role != in.Role || string(got.PasswordHash) != string(in.PasswordHash) || !got.CreatedAt.Equal(in.CreatedAt) {
		t.Errorf("GetUser = %+v, want %+v", got, in)
	}
	if r, err := a.GetUser(ctx, "rita"); err != nil || r.Role != store.RoleReviewer {
		t.Errorf("rita: %+v, %v; want a reviewer", r, err)
	}
	// Names are case-sensitive keys, as image IDs are.
	if _, err := a.GetUser(ctx, "Alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(Alice): %v, want ErrNotFound", err)
	}
	if n, err := a.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers = %d, %v; want 2", n, err)
	}

	// A taken name is refused even with another role, and the first account is untouched.
	dup := newUser("alice", store.RoleReviewer)
	dup.PasswordHash = []byte("other-hash")
	if err := a.CreateUser(ctx, dup, false); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}
	if got, _ := a.GetUser(ctx, "alice"); got.Role != store.RoleUser || string(got.PasswordHash) != string(in.PasswordHash) {
		t.Errorf("duplicate create changed alice to %+v", got)
	}
	if n, err := a.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers after duplicate = %d, %v; want 2", n, err)
	}
}

func testCreateUserOnlyIfNone(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	if err := a.CreateUser(ctx, newUser("first", store.RoleReviewer), true); err != nil {
		t.Fatalf("first setup on an empty store: %v", err)
	}
	// A different name still loses: setup is refused once any account exists.
	if err := a.CreateUser(ctx, newUser("second", store.RoleReviewer), true); !errors.Is(err, store.ErrExists) {
		t.Errorf("second setup: %v, want ErrExists", err)
	}
	if _, err := a.GetUser(ctx, "second"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused setup left an account: %v", err)
	}
	// Without onlyIfNone the same create succeeds, so the refusal above was the guard's.
	if err := a.CreateUser(ctx, newUser("second", store.RoleUser), false); err != nil {
		t.Errorf("ordinary create: %v", err)
	}
	if n, err := a.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers = %d, %v; want 2", n, err)
	}
}

func testCreateUserOnlyIfNoneConcurrent(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			// Distinct names, so only the "no account yet" guard can stop the losers.
			errs[i] = a.CreateUser(ctx, newUser(fmt.Sprintf("admin%d", i), store.RoleReviewer), true)
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
	if c, err := a.CountUsers(ctx); err != nil || c != 1 {
		t.Errorf("CountUsers = %d, %v; want 1", c, err)
	}
}

func testSetPassword(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	if err := a.SetPassword(ctx, "nobody", []byte("h")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	if n, err := a.CountUsers(ctx); err != nil || n != 0 {
		t.Errorf("SetPassword of nobody created an account: CountUsers = %d, %v", n, err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	for _, name := range []string{"alice", "bob"} {
		if err := a.CreateUser(ctx, newUser(name, store.RoleUser), false); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			se := store.Session{TokenHash: fmt.Sprintf("tok-%s-%d", name, i), UserName: name, CSRF: "c", ExpiresAt: exp}
			if err := a.CreateSession(ctx, se); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.SetPassword(ctx, "alice", []byte("new-hash")); err != nil {
		t.Fatal(err)
	}
	u, err := a.GetUser(ctx, "alice")
	if err != nil || string(u.PasswordHash) != "new-hash" || u.Role != store.RoleUser || !u.CreatedAt.Equal(acctT0) {
		t.Errorf("alice after SetPassword = %+v, %v; want hash new-hash, the rest unchanged", u, err)
	}
	if b, _ := a.GetUser(ctx, "bob"); string(b.PasswordHash) != string(newUser("bob", "").PasswordHash) {
		t.Errorf("alice's new password changed bob's hash to %q", b.PasswordHash)
	}
	now := exp.Add(-time.Minute)
	// A stolen cookie must stop working when its owner changes the password.
	for i := range 2 {
		if _, err := a.GetSession(ctx, fmt.Sprintf("tok-alice-%d", i), now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("alice's session %d after SetPassword: %v, want ErrNotFound", i, err)
		}
		if _, err := a.GetSession(ctx, fmt.Sprintf("tok-bob-%d", i), now); err != nil {
			t.Errorf("bob's session %d was ended by alice's new password: %v", i, err)
		}
	}
}

func testSessions(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	if err := a.CreateUser(ctx, newUser("alice", store.RoleUser), false); err != nil {
		t.Fatal(err)
	}
	// In the future by the wall clock, so that no backend's sweep or TTL removes it; whole
	// microseconds, because a cookie's expiry needs no more.
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond).In(time.FixedZone("EST", -5*3600))
	in := store.Session{TokenHash: "abc", UserName: "alice", CSRF: "csrf-1", ExpiresAt: exp}
	if err := a.CreateSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetSession(ctx, "nothing-yet", exp.Add(-time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown token: %v, want ErrNotFound", err)
	}
	got, err := a.GetSession(ctx, "abc", exp.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.TokenHash != in.TokenHash || got.UserName != in.UserName || got.CSRF != in.CSRF || !got.ExpiresAt.Equal(exp) {
		t.Errorf("GetSession = %+v, want %+v", got, in)
	}
	if _, err := a.GetSession(ctx, "ABC", exp.Add(-time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token hashes are case-sensitive: GetSession(ABC) = %v, want ErrNotFound", err)
	}
	// The expiry instant itself is already too late.
	for _, now := range []time.Time{exp, exp.Add(time.Nanosecond), exp.Add(time.Second)} {
		if _, err := a.GetSession(ctx, "abc", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession at %v (expires %v): %v, want ErrNotFound", now, exp, err)
		}
	}
	// Asking as of an instant does not consume the session.
	if _, err := a.GetSession(ctx, "abc", exp.Add(-time.Nanosecond)); err != nil {
		t.Errorf("GetSession just before expiry, after asking past it: %v", err)
	}

	// A second session of the same user is independent of the first.
	other := store.Session{TokenHash: "def", UserName: "alice", CSRF: "csrf-2", ExpiresAt: exp}
	if err := a.CreateSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteSession(ctx, "abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetSession(ctx, "abc", exp.Add(-time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after DeleteSession: %v, want ErrNotFound", err)
	}
	if s, err := a.GetSession(ctx, "def", exp.Add(-time.Second)); err != nil || s.CSRF != "csrf-2" {
		t.Errorf("the other session after DeleteSession(abc): %+v, %v", s, err)
	}
	if err := a.DeleteSession(ctx, "abc"); err != nil {
		t.Errorf("deleting a missing session: %v, want nil (sign-out is retried)", err)
	}
}

func testAlbums(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	created := acctT0.In(time.FixedZone("CET", 3600))
	if err := a.CreateAlbum(ctx, newAlbum("alice", "trip", created)); err != nil {
		t.Fatal(err)
	}
	dup := newAlbum("alice", "trip", acctT0.Add(time.Hour))
	dup.Name = "Overwritten"
	if err := a.CreateAlbum(ctx, dup); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate album: %v, want ErrExists", err)
	}
	// IDs are per user: bob may have a "trip" of his own.
	if err := a.CreateAlbum(ctx, newAlbum("bob", "trip", acctT0)); err != nil {
		t.Errorf("bob's trip: %v", err)
	}
	got, err := a.GetAlbum(ctx, "alice", "trip")
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != "alice" || got.AlbumID != "trip" || got.Name != "Name of trip" || !got.CreatedAt.Equal(acctT0) || got.Deleting {
		t.Errorf("GetAlbum = %+v (the duplicate create must not overwrite)", got)
	}
	if _, err := a.GetAlbum(ctx, "carol", "trip"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user's album: %v, want ErrNotFound", err)
	}
	if _, err := a.GetAlbum(ctx, "alice", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing album: %v, want ErrNotFound", err)
	}
	if _, err := a.GetAlbum(ctx, "alice", "Trip"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("album IDs are case-sensitive: GetAlbum(Trip) = %v, want ErrNotFound", err)
	}
}

func testListAlbumsOrder(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	// Inserted out of time order and out of ID order, so neither insertion order nor
	// album ID alone would pass.
	for _, al := range []store.Album{
		newAlbum("alice", "b-middle", acctT0),
		newAlbum("alice", "z-oldest", acctT0.Add(-time.Hour)),
		newAlbum("alice", "a-newest", acctT0.Add(time.Hour)),
		newAlbum("bob", "bobs", acctT0.Add(-2*time.Hour)),
		// Same instant as b-middle, written in another zone: ties break by ID.
		newAlbum("alice", "c-tie", acctT0.In(time.FixedZone("EST", -5*3600))),
		// One nanosecond after the tie must still come after it.
		newAlbum("alice", "a-nano", acctT0.Add(time.Nanosecond)),
	} {
		if err := a.CreateAlbum(ctx, al); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.ListAlbums(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"z-oldest", "b-middle", "c-tie", "a-nano", "a-newest"}; !slices.Equal(albumIDs(got), want) {
		t.Errorf("alice's albums %v, want %v", albumIDs(got), want)
	}
	for _, al := range got {
		if al.UserID != "alice" || al.Name != "Name of "+al.AlbumID || al.CreatedAt.IsZero() {
			t.Errorf("album %+v listed for alice", al)
		}
	}
	if bobs, err := a.ListAlbums(ctx, "bob"); err != nil || !slices.Equal(albumIDs(bobs), []string{"bobs"}) {
		t.Errorf("bob's albums %v, %v; want [bobs]", albumIDs(bobs), err)
	}
	none, err := a.ListAlbums(ctx, "carol")
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("no albums: %#v, %v; want an empty, non-nil slice", none, err)
	}
}

func testRenameAndDeleteAlbum(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	if err := a.CreateAlbum(ctx, newAlbum("alice", "trip", acctT0)); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateAlbum(ctx, newAlbum("bob", "trip", acctT0)); err != nil {
		t.Fatal(err)
	}
	renamed, err := a.RenameAlbum(ctx, "alice", "trip", "Summer <2026> ünï")
	if err != nil {
		t.Fatal(err)
	}
	if renamed.Name != "Summer <2026> ünï" || renamed.UserID != "alice" || renamed.AlbumID != "trip" || !renamed.CreatedAt.Equal(acctT0) || renamed.Deleting {
		t.Errorf("RenameAlbum = %+v", renamed)
	}
	if got, _ := a.GetAlbum(ctx, "alice", "trip"); got.Name != renamed.Name {
		t.Errorf("GetAlbum after rename: name %q, want %q", got.Name, renamed.Name)
	}
	if b, _ := a.GetAlbum(ctx, "bob", "trip"); b.Name != "Name of trip" {
		t.Errorf("renaming alice's trip renamed bob's to %q", b.Name)
	}
	if _, err := a.RenameAlbum(ctx, "alice", "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rename missing: %v, want ErrNotFound", err)
	}
	if _, err := a.GetAlbum(ctx, "alice", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused rename created the album: %v", err)
	}

	if err := a.MarkAlbumDeleting(ctx, "alice", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark missing: %v, want ErrNotFound", err)
	}
	if err := a.MarkAlbumDeleting(ctx, "alice", "trip"); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetAlbum(ctx, "alice", "trip"); !got.Deleting {
		t.Error("GetAlbum does not show Deleting after MarkAlbumDeleting")
	}
	if b, _ := a.GetAlbum(ctx, "bob", "trip"); b.Deleting {
		t.Error("marking alice's trip marked bob's")
	}
	// An album on its way out must not be renamed back into view.
	if _, err := a.RenameAlbum(ctx, "alice", "trip", "Back"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RenameAlbum of a deleting album: %v, want ErrNotFound", err)
	}
	if got, _ := a.GetAlbum(ctx, "alice", "trip"); got.Name != renamed.Name || !got.Deleting {
		t.Errorf("refused rename changed the album to %+v", got)
	}

	for i := range 2 { // the deletion workflow's activity may run twice
		if err := a.DeleteAlbum(ctx, "alice", "trip"); err != nil {
			t.Errorf("DeleteAlbum #%d: %v", i+1, err)
		}
	}
	if _, err := a.GetAlbum(ctx, "alice", "trip"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after DeleteAlbum: %v, want ErrNotFound", err)
	}
	if got, err := a.ListAlbums(ctx, "alice"); err != nil || len(got) != 0 {
		t.Errorf("alice's albums after DeleteAlbum: %v, %v; want none", albumIDs(got), err)
	}
	if _, err := a.GetAlbum(ctx, "bob", "trip"); err != nil {
		t.Errorf("deleting alice's trip deleted bob's: %v", err)
	}
	if err := a.DeleteAlbum(ctx, "carol", "never"); err != nil {
		t.Errorf("DeleteAlbum of an album that never existed: %v, want nil", err)
	}
	// The ID is free again once the album is gone.
	if err := a.CreateAlbum(ctx, newAlbum("alice", "trip", acctT0.Add(time.Hour))); err != nil {
		t.Errorf("CreateAlbum after DeleteAlbum: %v", err)
	}
	if got, _ := a.GetAlbum(ctx, "alice", "trip"); got.Deleting || got.Name != "Name of trip" {
		t.Errorf("recreated album %+v inherits the deleted one", got)
	}
}

func testEnsureAlbum(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	if err := a.EnsureAlbum(ctx, "alice", "trip", acctT0); err != nil {
		t.Fatal(err)
	}
	got, err := a.GetAlbum(ctx, "alice", "trip")
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != "alice" || got.AlbumID != "trip" || got.Name != "trip" || !got.CreatedAt.Equal(acctT0) || got.Deleting {
		t.Errorf("ensured album %+v, want name trip created %v", got, acctT0)
	}
	if _, err := a.RenameAlbum(ctx, "alice", "trip", "Our trip"); err != nil {
		t.Fatal(err)
	}
	// Every later image of the album ensures it again; none may undo the user's name.
	if err := a.EnsureAlbum(ctx, "alice", "trip", acctT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = a.GetAlbum(ctx, "alice", "trip")
	if got.Name != "Our trip" || !got.CreatedAt.Equal(acctT0) {
		t.Errorf("second EnsureAlbum overwrote: %+v", got)
	}
	if all, _ := a.ListAlbums(ctx, "alice"); len(all) != 1 {
		t.Errorf("%d albums after two EnsureAlbum, want 1", len(all))
	}

	// An album created by the web app keeps its name too.
	if err := a.CreateAlbum(ctx, newAlbum("alice", "named", acctT0)); err != nil {
		t.Fatal(err)
	}
	if err := a.EnsureAlbum(ctx, "alice", "named", acctT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetAlbum(ctx, "alice", "named"); got.Name != "Name of named" || !got.CreatedAt.Equal(acctT0) {
		t.Errorf("EnsureAlbum overwrote a created album: %+v", got)
	}
	// And the albums of other users are theirs.
	if err := a.EnsureAlbum(ctx, "bob", "trip", acctT0); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetAlbum(ctx, "bob", "trip"); got.Name != "trip" {
		t.Errorf("bob's ensured trip is named %q, want trip", got.Name)
	}
}

func testEnsureAlbumConcurrent(t *testing.T, a store.Accounts) {
	ctx := ctxT(t)
	// The images of one upload batch all ensure their album at once.
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = a.EnsureAlbum(ctx, "alice", "batch", acctT0.Add(time.Duration(i)*time.Second))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("EnsureAlbum %d: %v", i, err)
		}
	}
	all, err := a.ListAlbums(ctx, "alice")
	if err != nil || !slices.Equal(albumIDs(all), []string{"batch"}) {
		t.Fatalf("albums after concurrent EnsureAlbum: %v, %v; want [batch]", albumIDs(all), err)
	}
	if all[0].Name != "batch" {
		t.Errorf("name %q, want batch", all[0].Name)
	}
}

func testAccountsCanceledContext(t *testing.T, a store.Accounts) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.CreateUser(ctx, newUser("alice", store.RoleUser), false); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateUser with canceled ctx: %v, want context.Canceled", err)
	}
	if _, err := a.GetUser(context.Background(), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user created despite canceled ctx: GetUser = %v", err)
	}
	if _, err := a.GetUser(ctx, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetUser with canceled ctx: %v, want context.Canceled", err)
	}
	if err := a.EnsureAlbum(ctx, "alice", "trip", acctT0); !errors.Is(err, context.Canceled) {
		t.Errorf("EnsureAlbum with canceled ctx: %v, want context.Canceled", err)
	}
	if _, err := a.ListAlbums(ctx, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("ListAlbums with canceled ctx: %v, want context.Canceled", err)
	}
}
