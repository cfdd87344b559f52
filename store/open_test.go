package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"photoflow"
	"photoflow/store"
	"photoflow/store/storetest"
)

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "photoflow.db")
	b, err := store.Open(ctx, store.OpenConfig{Kind: store.KindSQLite, SQLitePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := storetest.FullRecord("alice/trip/a.jpg")
	if err := b.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, rec.ImageID); err != nil {
		t.Fatal(err)
	}
	// Accounts come with it: the worker's web API needs both from one handle.
	if n, err := b.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers = %d, %v", n, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the file is not where --database said: %v", err)
	}
}

// Each failure names the flag an operator has to change.
func TestOpenErrorsNameTheFlag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Dummy credentials, so the DynamoDB case fails at the unreachable endpoint and not at
	// a credential chain that differs from machine to machine.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg     store.OpenConfig
		mention string
		invalid bool
	}{
		{store.OpenConfig{Kind: "mysql"}, `--store "mysql"`, false},
		{store.OpenConfig{}, `--store ""`, false},
		{store.OpenConfig{Kind: store.KindSQLite, SQLitePath: filepath.Join(file, "under-a-file.db")}, "--database", false},
		{store.OpenConfig{Kind: store.KindPostgres}, "--postgres-dsn", false},
		{store.OpenConfig{Kind: store.KindPostgres, PostgresDSN: "postgres://%zz"}, "--postgres-dsn", true},
		{store.OpenConfig{Kind: store.KindDynamoDB, DynamoRegion: "us-east-1", DynamoTablePrefix: "bad prefix!"}, "--dynamodb-endpoint", true},
		{store.OpenConfig{Kind: store.KindDynamoDB, DynamoRegion: "us-east-1", DynamoEndpoint: "http://127.0.0.1:1",
			DynamoTablePrefix: "photoflow-", CreateTables: true}, "--create-tables", false},
	} {
		t.Run(tc.mention, func(t *testing.T) {
			b, err := store.Open(ctx, tc.cfg)
			if err == nil {
				b.Close()
				t.Fatalf("Open(%+v) succeeded", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Open(%+v) = %q, want it to name %s", tc.cfg, err, tc.mention)
			}
			if tc.invalid && !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Open(%+v) = %v, want it to wrap ErrInvalid", tc.cfg, err)
			}
		})
	}
}

// The DynamoDB store is opened without contacting the service unless tables are to be
// created, so a worker can start before DynamoDB is reachable.
func TestOpenDynamoWithoutCreateTablesDoesNotConnect(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	b, err := store.Open(context.Background(), store.OpenConfig{Kind: store.KindDynamoDB,
		DynamoEndpoint: "http://127.0.0.1:1", DynamoRegion: "us-east-1", DynamoTablePrefix: "photoflow-"})
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
}

func TestListAllAndCountPageThroughEverything(t *testing.T) {
	ctx := context.Background()
	b, err := store.Open(ctx, store.OpenConfig{Kind: store.KindSQLite, SQLitePath: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	base := storetest.FullRecord("alice/trip/0.jpg")
	for i := range 7 {
		r := base
		r.ImageID = fmt.Sprintf("alice/trip/%d.jpg", i)
		r.UploadTime = base.UploadTime.Add(time.Duration(i) * time.Second)
		r.Status = photoflow.StatusSucceeded
		if i%3 == 0 {
			r.Status = photoflow.StatusPendingReview
		}
		if err := b.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	// A page of 2 forces four pages, so a loop that stops after the first is caught.
	err = store.ListAll(ctx, b, store.Filter{Limit: 2, Cursor: "ignored"}, func(r photoflow.ImageRecord) error {
		if seen[r.ImageID] {
			t.Errorf("%s listed twice", r.ImageID)
		}
		seen[r.ImageID] = true
		return nil
	})
	if err != nil || len(seen) != 7 {
		t.Fatalf("ListAll saw %d records, err %v; want 7", len(seen), err)
	}
	n, err := store.Count(ctx, b, store.Filter{Status: photoflow.StatusPendingReview, Limit: 1})
	if err != nil || n != 3 {
		t.Fatalf("Count(PENDING_REVIEW) = %d, %v; want 3", n, err)
	}
	stop := errors.New("stop")
	calls := 0
	err = store.ListAll(ctx, b, store.Filter{}, func(photoflow.ImageRecord) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ListAll after fn's error: %v, %d calls; want stop after 1", err, calls)
	}
}
