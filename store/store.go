// Package store keeps image records: the metadata that PersistMetadata and RecordFailure
// write and that the web API reads.
//
// The interface is deliberately small and backend-neutral so that DynamoDB and PostgreSQL
// can implement it later: whole-record upserts keyed by image ID, point reads, and one
// filtered, ordered, cursor-paged listing. Anything richer (partial updates, transactions
// across records, free-form queries) would not map onto every backend and is left out.
//
// SQLite (OpenSQLite) is the embedded default. Package storetest holds the conformance
// suite that every implementation must pass.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"photoflow"
)

// Store keeps image records. Implementations: SQLite (the embedded default), PostgreSQL
// and DynamoDB, so the interface stays small and backend-neutral.
//
// Implementations are safe for concurrent use by many goroutines.
type Store interface {
	// Put upserts the whole record keyed by ImageID. It is idempotent: the same Put twice
	// leaves one identical record, so an activity may retry it freely.
	//
	// Stale-write guard: when the stored record has a later UploadTime than rec (an older
	// upload of the same key finishing late), the stored record is kept and Put returns
	// nil, because the late writer has nothing to retry and the newer upload must win.
	// An equal UploadTime overwrites, so a run can move its own record forward
	// (PROCESSING → PENDING_REVIEW → SUCCEEDED).
	//
	// Put stores rec as given; it does not stamp UpdateTime, which would break idempotence.
	// A record with an empty ImageID or an unknown (non-empty) Status fails with ErrInvalid.
	Put(ctx context.Context, rec photoflow.ImageRecord) error
	// Get returns the record of imageID, or an error wrapping ErrNotFound when absent.
	Get(ctx context.Context, imageID string) (photoflow.ImageRecord, error)
	// List returns records matching f, newest UploadTime first, then ImageID ascending,
	// one page at a time. Paging is keyset-based, so records written while a caller pages
	// never cause duplicates or gaps among the records that existed when paging began.
	List(ctx context.Context, f Filter) (Page, error)
	// Delete removes the record of imageID; a missing record is not an error.
	Delete(ctx context.Context, imageID string) error
	// Ping reports whether the backend is reachable, for readiness checks.
	Ping(ctx context.Context) error
	// Close releases the backend; later calls return errors rather than panicking.
	Close() error
}

// Listing bounds: a page is never unbounded, so one request cannot pull the whole table.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects records for List. Empty fields match everything; set fields combine
// with AND.
type Filter struct {
	UserID  string
	AlbumID string
	Status  photoflow.Status
	// Limit is the page size: DefaultLimit when zero or negative, clamped to MaxLimit.
	Limit int
	// Cursor is Page.Next of the previous page, empty for the first page. It is opaque and
	// only valid with the same UserID, AlbumID and Status it was issued for.
	Cursor string
}

// Page is one page of List results.
type Page struct {
	Records []photoflow.ImageRecord
	// Next is the cursor of the following page, empty when this page is the last.
	Next string
}

// ErrNotFound is wrapped by Get when no record has the requested ImageID.
var ErrNotFound = errors.New("store: record not found")

// ErrInvalid is wrapped when a request can never succeed as made (an empty ImageID, an
// unknown status, a malformed or foreign cursor, a time the backend cannot order), so
// callers can fail fast instead of retrying.
var ErrInvalid = errors.New("store: invalid request")

// EffectiveLimit is the page size List uses for the requested limit, shared so every
// backend pages identically.
func EffectiveLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultLimit
	case limit > MaxLimit:
		return MaxLimit
	}
	return limit
}

// encodeRecord checks a record and gives what the SQL backends store: the sortable upload
// and update times and the JSON document, the record's source of truth.
func encodeRecord(rec photoflow.ImageRecord) (up, upd string, doc []byte, err error) {
	if rec.ImageID == "" {
		return "", "", nil, fmt.Errorf("store: put: empty image ID: %w", ErrInvalid)
	}
	if rec.Status != "" && !rec.Status.Valid() {
		return "", "", nil, fmt.Errorf("store: put %q: unknown status %q: %w", rec.ImageID, rec.Status, ErrInvalid)
	}
	if up, err = toKey(rec.UploadTime); err != nil {
		return "", "", nil, fmt.Errorf("store: put %q: upload time: %w", rec.ImageID, err)
	}
	if upd, err = toKey(rec.UpdateTime); err != nil {
		return "", "", nil, fmt.Errorf("store: put %q: update time: %w", rec.ImageID, err)
	}
	if doc, err = json.Marshal(rec); err != nil {
		return "", "", nil, fmt.Errorf("store: put %q: encode: %w", rec.ImageID, err)
	}
	return up, upd, doc, nil
}

// listQuery builds the keyset-paged query that both SQL backends run for List, with
// placeholder spelling the n-th bind parameter in the backend's dialect. It also returns
// the page size; the query asks for one row more, so the last page has no Next and callers
// never fetch an empty page.
func listQuery(f Filter, placeholder func(n int) string) (string, []any, int, error) {
	if f.Status != "" && !f.Status.Valid() {
		return "", nil, 0, fmt.Errorf("store: list: unknown status %q: %w", f.Status, ErrInvalid)
	}
	limit := EffectiveLimit(f.Limit)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return placeholder(len(args))
	}
	if f.UserID != "" {
		where = append(where, "user_id = "+arg(f.UserID))
	}
	if f.AlbumID != "" {
		where = append(where, "album_id = "+arg(f.AlbumID))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(string(f.Status)))
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor, f)
		if err != nil {
			return "", nil, 0, fmt.Errorf("store: list: %w", err)
		}
		// The first term bounds the index range; the second resolves ties on upload_time.
		// c.T is bound twice, since "?" placeholders cannot be reused.
		where = append(where, fmt.Sprintf("upload_time <= %s AND (upload_time < %s OR image_id > %s)", arg(c.T), arg(c.T), arg(c.ID)))
	}
	q := "SELECT upload_time, image_id, record FROM images"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY upload_time DESC, image_id ASC LIMIT " + arg(limit+1)
	return q, args, limit, nil
}

// sqlRows is what readPage needs of a result set: database/sql's and pgx's both have it.
type sqlRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readPage turns the rows of a listQuery into a Page of at most limit records, with the
// cursor of the next page when the extra row came back; fail wraps the backend's errors.
func readPage(rows sqlRows, f Filter, limit int, fail func(error) error) (Page, error) {
	var page Page
	var last cursor
	for rows.Next() {
		if len(page.Records) == limit {
			page.Next = encodeCursor(cursor{T: last.T, ID: last.ID, F: filterPrint(f)})
			break
		}
		var doc []byte
		if err := rows.Scan(&last.T, &last.ID, &doc); err != nil {
			return Page{}, fail(err)
		}
		var rec photoflow.ImageRecord
		if err := json.Unmarshal(doc, &rec); err != nil {
			return Page{}, fmt.Errorf("store: list: decode %q: %w", last.ID, err)
		}
		page.Records = append(page.Records, rec)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fail(err)
	}
	return page, nil
}
