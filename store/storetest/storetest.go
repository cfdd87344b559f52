// Package storetest is the conformance suite for store.Store implementations: every
// backend (SQLite now, DynamoDB and PostgreSQL later) runs the same Run so that callers
// can switch backends without relearning edge cases.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"photoflow"
	"photoflow/store"
)

// Run tests a Store. open must return a new, empty store each time it is called (each
// subtest calls it once); Run closes it when the subtest ends, so open need not.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"IdempotentPut", testIdempotentPut},
		{"UpsertOverwrites", testUpsertOverwrites},
		{"StaleWriteGuard", testStaleWriteGuard},
		{"NotFound", testNotFound},
		{"InvalidInput", testInvalidInput},
		{"ListFilters", testListFilters},
		{"Ordering", testOrdering},
		{"Paging", testPaging},
		{"PagingWhileWriting", testPagingWhileWriting},
		{"ConcurrentPuts", testConcurrentPuts},
		{"CanceledContext", testCanceledContext},
		{"Ping", testPing},
		{"UseAfterClose", testUseAfterClose},
		{"Delete", testDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
}

// base is far from the zero time and carries nanoseconds and a non-UTC zone, so that a
// backend truncating precision or mishandling zones fails the round trip.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// FullRecord returns a record with every field, nested ones included, set to a non-zero
// value; backends' own tests may reuse it.
func FullRecord(id string) photoflow.ImageRecord {
	decided := base.Add(90 * time.Minute)
	deadline := base.Add(72 * time.Hour).In(time.UTC)
	return photoflow.ImageRecord{
		ImageID:      id,
		UserID:       "user-1",
		AlbumID:      "album-1",
		S3Bucket:     "photoflow",
		S3Key:        photoflow.IncomingPrefix + id,
		ETag:         `"0123456789abcdef"`,
		UploadTime:   base,
		UpdateTime:   base.Add(2 * time.Hour).In(time.FixedZone("PST", -8*3600)),
		Status:       photoflow.StatusPendingReview,
		Format:       "JPEG",
		Dimensions:   &photoflow.Dimensions{Width: 4032, Height: 3024},
		Orientation:  6,
		FileSize:     3_456_789,
		CreationTime: "2024:05:06 07:08:09",
		Geo:          &photoflow.Geo{Latitude: 47.6062, Longitude: -122.3321},
		ExifMake:     "Apple",
		ExifModel:    "iPhone 15 — ünïcödé",
		Labels:       []photoflow.Label{{Name: "Sky", Confidence: 91.25}, {Name: "Blue", Confidence: 80.5}},
		Tags:         []string{"sky", "blue"},
		Moderation: &photoflow.ModerationRecord{
			Labels:     []photoflow.Label{{Name: "Suggestive", Confidence: 72.5}},
			Score:      72.5,
			Decision:   photoflow.ModerationApproved,
			Reviewer:   "alice",
			Reason:     "beach photo",
			DecidedAt:  &decided,
			DeadlineAt: &deadline,
		},
		Thumbnail:  &photoflow.Thumbnail{Key: photoflow.ThumbnailKey(id), Width: 250, Height: 188},
		ErrorType:  photoflow.ErrUnavailable,
		ErrReason:  "first attempt timed out",
		WorkflowID: "image:photoflow/" + id + "@0123",
		RunID:      "2f1c5a8e-run",
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	rec := FullRecord("user-1/album-1/full.jpg")
	if zero := zeroFields("ImageRecord", reflect.ValueOf(rec)); len(zero) > 0 {
		t.Fatalf("fixture leaves fields zero (extend FullRecord): %s", strings.Join(zero, ", "))
	}
	if err := s.Put(ctx, rec); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := s.Get(ctx, rec.ImageID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	assertEqual(t, got, rec)

	// The zero record (apart from its key) must round-trip too: optional fields absent.
	minimal := photoflow.ImageRecord{ImageID: "minimal"}
	if err := s.Put(ctx, minimal); err != nil {
		t.Fatalf("Put minimal: %v", err)
	}
	got, err = s.Get(ctx, "minimal")
	if err != nil {
		t.Fatalf("Get minimal: %v", err)
	}
	assertEqual(t, got, minimal)
}

func testIdempotentPut(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	rec := FullRecord("twice")
	for i := range 2 {
		if err := s.Put(ctx, rec); err != nil {
			t.Fatalf("Put #%d: %v", i+1, err)
		}
	}
	got, err := s.Get(ctx, rec.ImageID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	assertEqual(t, got, rec)
	page, err := s.List(ctx, store.Filter{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.Records) != 1 {
		t.Fatalf("List after double Put: %d records, want 1", len(page.Records))
	}
}

func testUpsertOverwrites(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	rec := FullRecord("upsert")
	if err := s.Put(ctx, rec); err != nil {
		t.Fatalf("Put: %v", err)
	}
	// Same UploadTime: the run moving its own record forward.
	next := FullRecord("upsert")
	next.Status = photoflow.StatusSucceeded
	next.Labels = []photoflow.Label{{Name: "Vegetation", Confidence: 66}}
	next.Moderation = nil
	next.Thumbnail = nil
	next.ErrorType, next.ErrReason = "", ""
	next.UpdateTime = rec.UpdateTime.Add(time.Minute)
	if err := s.Put(ctx, next); err != nil {
		t.Fatalf("Put equal UploadTime: %v", err)
	}
	got, err := s.Get(ctx, rec.ImageID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	assertEqual(t, got, next)

	// Later UploadTime: a new upload replaces the record, including its index keys.
	newer := next
	newer.UploadTime = rec.UploadTime.Add(time.Hour)
	newer.AlbumID = "album-2"
	newer.Status = photoflow.StatusProcessing
	if err := s.Put(ctx, newer); err != nil {
		t.Fatalf("Put later UploadTime: %v", err)
	}
	got, err = s.Get(ctx, rec.ImageID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	assertEqual(t, got, newer)
	assertIDs(t, s, store.Filter{AlbumID: "album-1"}, nil)
	assertIDs(t, s, store.Filter{AlbumID: "album-2"}, []string{"upsert"})
	assertIDs(t, s, store.Filter{Status: photoflow.StatusSucceeded}, nil)
	assertIDs(t, s, store.Filter{Status: photoflow.StatusProcessing}, []string{"upsert"})
}

func testStaleWriteGuard(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	newer := FullRecord("stale")
	newer.UploadTime = base.Add(time.Hour)
	newer.Status = photoflow.StatusSucceeded
	if err := s.Put(ctx, newer); err != nil {
		t.Fatalf("Put newer: %v", err)
	}
	older := FullRecord("stale")
	older.Status = photoflow.StatusFailed
	older.AlbumID = "album-old"
	// An instant one nanosecond earlier, written in another zone, is still older.
	older.UploadTime = newer.UploadTime.Add(-time.Nanosecond).In(time.UTC)
	if err := s.Put(ctx, older); err != nil {
		t.Fatalf("stale Put must succeed silently, got %v", err)
	}
	got, err := s.Get(ctx, "stale")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	assertEqual(t, got, newer)
	assertIDs(t, s, store.Filter{Status: photoflow.StatusFailed}, nil)
	assertIDs(t, s, store.Filter{AlbumID: "album-old"}, nil)
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	_, err := s.Get(ctx, "missing")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	if err := s.Put(ctx, FullRecord("present")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := s.Get(ctx, "Present"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("IDs are case-sensitive: Get(Present) = %v, want ErrNotFound", err)
	}
	page, err := s.List(ctx, store.Filter{UserID: "nobody"})
	if err != nil || len(page.Records) != 0 || page.Next != "" {
		t.Fatalf("List of nothing = %+v, %v; want empty page, no error", page, err)
	}
}

func testInvalidInput(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.Put(ctx, photoflow.ImageRecord{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Put with empty ImageID: %v, want ErrInvalid", err)
	}
	if err := s.Put(ctx, photoflow.ImageRecord{ImageID: "x", Status: "DONE"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Put with unknown status: %v, want ErrInvalid", err)
	}
	for _, c := range []string{"garbage", "!!!", "e30"} {
		if _, err := s.List(ctx, store.Filter{Cursor: c}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("List with cursor %q: %v, want ErrInvalid", c, err)
		}
	}
	for i := range 3 {
		if err := s.Put(ctx, record(fmt.Sprintf("c%d", i), "u", "a", photoflow.StatusSucceeded, base)); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.List(ctx, store.Filter{AlbumID: "a", Limit: 1})
	if err != nil || page.Next == "" {
		t.Fatalf("List: %+v, %v", page, err)
	}
	if _, err := s.List(ctx, store.Filter{AlbumID: "b", Limit: 1, Cursor: page.Next}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("cursor reused with another filter: %v, want ErrInvalid", err)
	}
}

func record(id, user, album string, st photoflow.Status, up time.Time) photoflow.ImageRecord {
	return photoflow.ImageRecord{ImageID: id, UserID: user, AlbumID: album, Status: st,
		UploadTime: up, UpdateTime: up, S3Bucket: "photoflow", S3Key: photoflow.IncomingPrefix + id}
}

// sortRecords is the order List promises: newest UploadTime first, then ImageID.
func sortRecords(recs []photoflow.ImageRecord) {
	slices.SortStableFunc(recs, func(a, b photoflow.ImageRecord) int {
		if c := b.UploadTime.Compare(a.UploadTime); c != 0 {
			return c
		}
		return strings.Compare(a.ImageID, b.ImageID)
	})
}

func testListFilters(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	users := []string{"u1", "u2", "u3"}
	albums := []string{"a1", "a2"}
	statuses := []photoflow.Status{photoflow.StatusProcessing, photoflow.StatusPendingReview,
		photoflow.StatusSucceeded, photoflow.StatusRejected, photoflow.StatusFailed}
	var all []photoflow.ImageRecord
	for i := range 60 {
		r := record(fmt.Sprintf("img-%03d", i), users[i%3], albums[i%2], statuses[i%5],
			base.Add(time.Duration(i*37%60)*time.Minute))
		all = append(all, r)
		if err := s.Put(ctx, r); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	sortRecords(all)
	for _, u := range append([]string{"", "nobody"}, users...) {
		for _, a := range append([]string{"", "nowhere"}, albums...) {
			for _, st := range append([]photoflow.Status{""}, statuses...) {
				var want []string
				for _, r := range all {
					if (u == "" || r.UserID == u) && (a == "" || r.AlbumID == a) && (st == "" || r.Status == st) {
						want = append(want, r.ImageID)
					}
				}
				assertIDs(t, s, store.Filter{UserID: u, AlbumID: a, Status: st}, want)
			}
		}
	}
}

func testOrdering(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	tokyo := time.FixedZone("JST", 9*3600)
	recs := []photoflow.ImageRecord{
		// 10:00 in Tokyo is 01:00 UTC: older than 02:00 UTC despite the larger local clock.
		record("tokyo", "u", "a", photoflow.StatusSucceeded, time.Date(2024, 1, 1, 10, 0, 0, 0, tokyo)),
		record("utc", "u", "a", photoflow.StatusSucceeded, time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC)),
		// Ties on UploadTime fall back to ImageID ascending, whatever the insertion order.
		record("tie-c", "u", "a", photoflow.StatusSucceeded, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)),
		record("tie-a", "u", "a", photoflow.StatusSucceeded, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)),
		record("tie-b", "u", "a", photoflow.StatusSucceeded, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)),
		// A nanosecond apart must still order.
		record("nano-1", "u", "a", photoflow.StatusSucceeded, time.Date(2024, 1, 3, 0, 0, 0, 1, time.UTC)),
		record("nano-0", "u", "a", photoflow.StatusSucceeded, time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)),
		record("zero-time", "u", "a", photoflow.StatusSucceeded, time.Time{}),
	}
	for _, r := range recs {
		if err := s.Put(ctx, r); err != nil {
			t.Fatalf("Put %s: %v", r.ImageID, err)
		}
	}
	assertIDs(t, s, store.Filter{}, []string{"nano-1", "nano-0", "tie-a", "tie-b", "tie-c", "utc", "tokyo", "zero-time"})
}

// pagingSet writes n records whose UploadTimes repeat in runs of seven, so page
// boundaries fall inside ties and a cursor that ignored the ImageID would skip or repeat.
func pagingSet(t *testing.T, s store.Store, n int) []photoflow.ImageRecord {
	t.Helper()
	ctx := ctxT(t)
	var all []photoflow.ImageRecord
	for i := range n {
		r := record(fmt.Sprintf("p-%04d", (i*7919)%n), "u", "a", photoflow.StatusSucceeded,
			base.Add(time.Duration(i/7)*time.Second))
		all = append(all, r)
		if err := s.Put(ctx, r); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	sortRecords(all)
	return all
}

func pageAll(t *testing.T, s store.Store, f store.Filter, during func(page int)) ([]string, []int) {
	t.Helper()
	ctx := ctxT(t)
	var ids []string
	var sizes []int
	for n := 0; ; n++ {
		if n > 1000 {
			t.Fatal("paging does not terminate")
		}
		page, err := s.List(ctx, f)
		if err != nil {
			t.Fatalf("List page %d: %v", n, err)
		}
		sizes = append(sizes, len(page.Records))
		for _, r := range page.Records {
			ids = append(ids, r.ImageID)
		}
		if during != nil {
			during(n)
		}
		if page.Next == "" {
			return ids, sizes
		}
		f.Cursor = page.Next
	}
}

func testPaging(t *testing.T, s store.Store) {
	all := pagingSet(t, s, 250)
	var want []string
	for _, r := range all {
		want = append(want, r.ImageID)
	}
	got, sizes := pageAll(t, s, store.Filter{AlbumID: "a", Limit: 100}, nil)
	if !slices.Equal(sizes, []int{100, 100, 50}) {
		t.Errorf("page sizes %v, want [100 100 50]", sizes)
	}
	assertSameIDs(t, got, want)

	// Limit 0 means the default, a huge limit is clamped (here: all fits in one page),
	// and an exact multiple of the limit ends without an empty trailing page.
	_, sizes = pageAll(t, s, store.Filter{}, nil)
	if !slices.Equal(sizes, []int{100, 100, 50}) {
		t.Errorf("default limit: page sizes %v, want [100 100 50]", sizes)
	}
	got, sizes = pageAll(t, s, store.Filter{Limit: 1 << 30}, nil)
	if !slices.Equal(sizes, []int{250}) {
		t.Errorf("huge limit: page sizes %v, want [250]", sizes)
	}
	assertSameIDs(t, got, want)
	_, sizes = pageAll(t, s, store.Filter{Limit: 125}, nil)
	if !slices.Equal(sizes, []int{125, 125}) {
		t.Errorf("limit 125: page sizes %v, want [125 125]", sizes)
	}
	got, _ = pageAll(t, s, store.Filter{Limit: 1, UserID: "u", Status: photoflow.StatusSucceeded}, nil)
	assertSameIDs(t, got, want)
}

func testPagingWhileWriting(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	all := pagingSet(t, s, 120)
	var want []string
	for _, r := range all {
		want = append(want, r.ImageID)
	}
	newest := all[0].UploadTime.Add(time.Hour)
	got, _ := pageAll(t, s, store.Filter{Limit: 50}, func(page int) {
		// New uploads land before the cursor; they must not shift what later pages return.
		r := record(fmt.Sprintf("new-%d", page), "u", "a", photoflow.StatusProcessing, newest)
		if err := s.Put(ctx, r); err != nil {
			t.Fatalf("Put: %v", err)
		}
	})
	assertSameIDs(t, got, want)
}

func testConcurrentPuts(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r := record(fmt.Sprintf("w%d-%02d", w, i), fmt.Sprintf("u%d", w), "a",
					photoflow.StatusSucceeded, base.Add(time.Duration(i)*time.Second))
				if err := s.Put(ctx, r); err != nil {
					errs <- fmt.Errorf("put %s: %w", r.ImageID, err)
				}
				// Everyone also fights over one shared key, and reads while others write.
				shared := record("shared", "u", "a", photoflow.StatusProcessing, base)
				if err := s.Put(ctx, shared); err != nil {
					errs <- fmt.Errorf("put shared: %w", err)
				}
				if _, err := s.List(ctx, store.Filter{UserID: fmt.Sprintf("u%d", w), Limit: 10}); err != nil {
					errs <- fmt.Errorf("list: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, _ := pageAll(t, s, store.Filter{}, nil)
	if len(got) != workers*each+1 {
		t.Fatalf("after concurrent Puts: %d records, want %d", len(got), workers*each+1)
	}
	for w := range workers {
		for i := range each {
			id := fmt.Sprintf("w%d-%02d", w, i)
			if _, err := s.Get(ctx, id); err != nil {
				t.Errorf("Get %s: %v", id, err)
			}
		}
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An activity whose context ended must not write behind Temporal's back.
	if err := s.Put(ctx, FullRecord("canceled")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with canceled ctx: %v, want context.Canceled", err)
	}
	if _, err := s.Get(context.Background(), "canceled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record written despite canceled ctx: Get = %v", err)
	}
	if _, err := s.Get(ctx, "canceled"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with canceled ctx: %v, want context.Canceled", err)
	}
	if _, err := s.List(ctx, store.Filter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("List with canceled ctx: %v, want context.Canceled", err)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testUseAfterClose(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.Put(ctx, FullRecord("before")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Put(ctx, FullRecord("after")); err == nil {
		t.Error("Put after Close: nil error")
	}
	if _, err := s.Get(ctx, "before"); err == nil {
		t.Error("Get after Close: nil error")
	}
	if _, err := s.List(ctx, store.Filter{}); err == nil {
		t.Error("List after Close: nil error")
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close: nil error")
	}
}

func assertIDs(t *testing.T, s store.Store, f store.Filter, want []string) {
	t.Helper()
	got, _ := pageAll(t, s, f, nil)
	if !slices.Equal(got, want) {
		t.Errorf("List(%+v):\n got  %v\n want %v", f, got, want)
	}
}

// assertSameIDs checks order as well as membership, and names duplicates and gaps.
func assertSameIDs(t *testing.T, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("duplicate %s (%d times)", id, n)
		}
	}
	for _, id := range want {
		if seen[id] == 0 {
			t.Errorf("gap: %s missing", id)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("order differs: got %d ids, want %d", len(got), len(want))
	}
}

func assertEqual(t *testing.T, got, want photoflow.ImageRecord) {
	t.Helper()
	if d := diff("ImageRecord", reflect.ValueOf(got), reflect.ValueOf(want)); len(d) > 0 {
		t.Errorf("record differs:\n  %s", strings.Join(d, "\n  "))
	}
}

var timeType = reflect.TypeFor[time.Time]()

// diff compares values field by field, times by instant (a backend may return another
// zone) and nil slices equal to empty ones (JSON and DynamoDB drop empty lists).
func diff(path string, a, b reflect.Value) []string {
	if a.Type() == timeType {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		if !ta.Equal(tb) {
			return []string{fmt.Sprintf("%s: %s, want %s", path, ta.Format(time.RFC3339Nano), tb.Format(time.RFC3339Nano))}
		}
		return nil
	}
	switch a.Kind() {
	case reflect.Struct:
		var out []string
		for i := range a.NumField() {
			out = append(out, diff(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))...)
		}
		return out
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return []string{fmt.Sprintf("%s: nil mismatch (got nil=%t)", path, a.IsNil())}
			}
			return nil
		}
		return diff(path, a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return []string{fmt.Sprintf("%s: len %d, want %d", path, a.Len(), b.Len())}
		}
		var out []string
		for i := range a.Len() {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i))...)
		}
		return out
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, a.Interface(), b.Interface())}
		}
		return nil
	}
}

// zeroFields lists fields left at their zero value, recursing into pointers and structs,
// so a field added to ImageRecord later cannot silently escape the round-trip test.
func zeroFields(path string, v reflect.Value) []string {
	if v.Type() == timeType {
		if v.Interface().(time.Time).IsZero() {
			return []string{path}
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return []string{path}
		}
		return zeroFields(path, v.Elem())
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			out = append(out, zeroFields(path+"."+v.Type().Field(i).Name, v.Field(i))...)
		}
		return out
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path}
		}
		var out []string
		for i := range v.Len() {
			out = append(out, zeroFields(fmt.Sprintf("%s[%d]", path, i), v.Index(i))...)
		}
		return out
	default:
		if v.IsZero() {
			return []string{path}
		}
		return nil
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	keep, gone := FullRecord("u/a/keep.jpg"), FullRecord("u/a/gone.jpg")
	for _, r := range []photoflow.ImageRecord{keep, gone} {
		if err := s.Put(ctx, r); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	for range 2 { // deleting twice is not an error
		if err := s.Delete(ctx, gone.ImageID); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	if _, err := s.Get(ctx, gone.ImageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, keep.ImageID); err != nil {
		t.Fatalf("the other record must stay: %v", err)
	}
}
