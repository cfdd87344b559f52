package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"photoflow"
	"photoflow/store"
	"photoflow/store/storetest"
)

func openTemp(t *testing.T) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "nested", "images.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "images.db")
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.FullRecord("user-1/album-1/kept.jpg")
	for i := range 30 {
		r := want
		r.ImageID = fmt.Sprintf("user-1/album-1/%02d.jpg", i)
		r.UploadTime = want.UploadTime.Add(time.Duration(i) * time.Minute)
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = store.OpenSQLite(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Get(ctx, want.ImageID)
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if got.ImageID != want.ImageID || !got.UploadTime.Equal(want.UploadTime) ||
		got.Moderation == nil || !got.Moderation.DecidedAt.Equal(*want.Moderation.DecidedAt) {
		t.Errorf("after reopen got %+v", got)
	}
	page, err := s.List(ctx, store.Filter{AlbumID: "album-1"})
	if err != nil || len(page.Records) != 31 {
		t.Fatalf("List after reopen: %d records, %v", len(page.Records), err)
	}
	if page.Records[0].ImageID != "user-1/album-1/29.jpg" {
		t.Errorf("newest after reopen = %s", page.Records[0].ImageID)
	}
}

func TestSQLitePragmasAndSchema(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	for name, db := range map[string]*sql.DB{"writer": s.WriterDB(), "reader": s.ReaderDB()} {
		var mode string
		var busy, version int
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%s journal_mode = %q, %v; want wal", name, mode, err)
		}
		if err := db.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
			t.Errorf("%s busy_timeout = %d, %v; want 5000", name, busy, err)
		}
		if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != store.SchemaVersion {
			t.Errorf("%s user_version = %d, %v; want %d", name, version, err, store.SchemaVersion)
		}
	}
	// Each filter must be an index range scan with no sort step.
	for _, where := range []string{"album_id = 'a'", "user_id = 'u'", "status = 'FAILED'", "1"} {
		rows, err := s.ReaderDB().Query("EXPLAIN QUERY PLAN SELECT record FROM images WHERE " + where +
			" AND upload_time <= 'x' AND (upload_time < 'x' OR image_id > 'y') ORDER BY upload_time DESC, image_id ASC LIMIT 101")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, "USING INDEX") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("WHERE %s: plan %q", where, p)
		}
	}
}

func TestSQLiteNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "images.db")
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriterDB().Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := store.OpenSQLite(path); err == nil {
		s.Close()
		t.Fatal("opened a file with a newer schema version")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestOpenSQLiteRejectsNonFile(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		if _, err := store.OpenSQLite(p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("OpenSQLite(%q) = %v, want ErrInvalid", p, err)
		}
	}
}

func TestOpenSQLiteOddPath(t *testing.T) {
	// '?', '#' and '%' would otherwise be read as URI syntax.
	path := filepath.Join(t.TempDir(), "we?ird#na%20me.db")
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(context.Background(), storetest.FullRecord("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestSQLiteBusyIsRetryable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "images.db")
	s, err := store.OpenSQLiteWithBusyTimeout(path, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Another process holding the write lock, as a second worker on the same file would.
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	err = s.Put(ctx, storetest.FullRecord("blocked"))
	if err == nil {
		t.Fatal("Put succeeded while another connection held the write lock")
	}
	if !store.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = false, want true", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, storetest.FullRecord("blocked")); err != nil {
		t.Fatalf("Put after the lock was released: %v", err)
	}
}

func TestIsRetryable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	s := openTemp(t)
	defer s.Close()
	_, deadlineErr := s.Get(ctx, "x")
	_, notFound := s.Get(context.Background(), "x")
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{deadlineErr, true},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), true},
		{context.Canceled, false},
		{notFound, false},
		{store.ErrInvalid, false},
		{errors.New("database is locked"), false}, // text alone is not classified
	}
	for _, c := range cases {
		if got := store.IsRetryable(c.err); got != c.want {
			t.Errorf("IsRetryable(%v) = %t, want %t", c.err, got, c.want)
		}
	}
}

func TestSQLiteDiskFull(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	// max_page_count caps the file, which SQLite reports exactly like a full disk.
	var pages int
	if err := s.WriterDB().QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriterDB().Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+2)); err != nil {
		t.Fatal(err)
	}
	rec := storetest.FullRecord("big")
	rec.ErrReason = strings.Repeat("x", 1<<20)
	err := s.Put(context.Background(), rec)
	if err == nil {
		t.Fatal("Put past max_page_count succeeded")
	}
	if store.IsRetryable(err) {
		t.Errorf("disk full classified retryable: %v", err)
	}
	if !strings.Contains(err.Error(), "full") {
		t.Errorf("error does not say full: %v", err)
	}
	// The store stays usable for writes that fit.
	if err := s.Put(context.Background(), photoflow.ImageRecord{ImageID: "small"}); err != nil {
		t.Errorf("small Put after SQLITE_FULL: %v", err)
	}
}

func TestSQLiteTwoHandlesOneFile(t *testing.T) {
	// Two workers (processes) sharing the file: each has its own single writer
	// connection, so they contend through SQLite's lock and the busy timeout.
	path := filepath.Join(t.TempDir(), "images.db")
	a, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, s := range []*store.SQLite{a, b, a, b} {
		wg.Go(func() {
			for j := range 30 {
				r := storetest.FullRecord(fmt.Sprintf("h%d-%d", i, j))
				if err := s.Put(ctx, r); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
	}
	wg.Wait()
	page, err := b.List(ctx, store.Filter{Limit: 1000})
	if err != nil || len(page.Records) != 120 {
		t.Fatalf("List: %d records, %v", len(page.Records), err)
	}
}
