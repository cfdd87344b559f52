package pipeline

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"photoflow"
	"photoflow/objstore"
	"photoflow/store"
)

const reportBucket = "photoflow"

// reportEnv is an embedded S3 with the landing bucket and a SQLite store: what Reconcile reads.
type reportEnv struct {
	ctx     context.Context
	objects *objstore.Store
	st      store.Backend
	etags   map[string]string
}

func newReportEnv(t *testing.T) *reportEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	dir := t.TempDir()
	s3, err := objstore.StartEmbedded(filepath.Join(dir, "s3.db"), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s3.Close() })
	objects, err := objstore.New(ctx, objstore.Config{Endpoint: s3.Endpoint(), Region: "us-east-1", PathStyle: true,
		AccessKey: "test", SecretKey: "test"})
	require.NoError(t, err)
	require.NoError(t, objects.EnsureBucket(ctx, reportBucket))
	st, err := store.Open(ctx, store.OpenConfig{Kind: store.KindSQLite, SQLitePath: filepath.Join(dir, "photoflow.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &reportEnv{ctx: ctx, objects: objects, st: st, etags: map[string]string{}}
}

func (e *reportEnv) object(t *testing.T, imageID string) {
	t.Helper()
	etag, err := e.objects.Put(e.ctx, reportBucket, photoflow.IncomingPrefix+imageID, []byte("bytes of "+imageID), "image/jpeg", nil)
	require.NoError(t, err)
	e.etags[imageID] = etag
}

func (e *reportEnv) record(t *testing.T, imageID string, status photoflow.Status, errType string, updated time.Time) photoflow.ImageRecord {
	t.Helper()
	rec := photoflow.ImageRecord{ImageID: imageID, UserID: "alice", AlbumID: "trip", S3Bucket: reportBucket,
		S3Key: photoflow.IncomingPrefix + imageID, ETag: e.etags[imageID], UploadTime: updated.Add(-time.Minute),
		UpdateTime: updated, Status: status, ErrorType: errType}
	require.NoError(t, e.st.Put(e.ctx, rec))
	return rec
}

func discrepancyIDs(ds []Discrepancy) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ImageID)
	}
	slices.Sort(ids)
	return ids
}

func TestReconcileFindsUnrecordedObjectsAndRecordsWithoutObject(t *testing.T) {
	e := newReportEnv(t)
	now := time.Now().UTC()
	e.object(t, "alice/trip/ok.jpg")
	e.record(t, "alice/trip/ok.jpg", photoflow.StatusSucceeded, "", now)
	e.object(t, "alice/trip/never-started.jpg")
	e.object(t, "alice/trip/stuck.jpg")
	e.record(t, "alice/trip/stuck.jpg", photoflow.StatusProcessing, "", now.Add(-2*time.Hour))
	e.record(t, "alice/trip/deleted.jpg", photoflow.StatusSucceeded, "", now)
	// Failed because its object vanished: the record already says so.
	e.record(t, "alice/trip/vanished.jpg", photoflow.StatusFailed, photoflow.ErrObjectNotFound, now)
	// A review within its deadline waits as designed; one past it should have been decided.
	for name, deadline := range map[string]time.Time{"review.jpg": now.Add(24 * time.Hour), "overdue.jpg": now.Add(-time.Hour)} {
		e.object(t, "alice/trip/"+name)
		rev := e.record(t, "alice/trip/"+name, photoflow.StatusPendingReview, "", now.Add(-3*time.Hour))
		rev.Moderation = &photoflow.ModerationRecord{Score: 70, DeadlineAt: &deadline}
		require.NoError(t, e.st.Put(e.ctx, rev))
	}
	// Thumbnails and other users' prefixes are outside the report.
	_, err := e.objects.Put(e.ctx, reportBucket, photoflow.ThumbnailKey("alice/trip/ok.jpg"), []byte("t"), "image/jpeg", nil)
	require.NoError(t, err)
	e.object(t, "bob/beach/elsewhere.jpg")

	rep, err := Reconcile(e.ctx, e.objects, reportBucket, e.st, ReportOptions{Prefix: photoflow.IncomingPrefix + "alice/", Stale: time.Minute,
		Now: now.Add(time.Hour)})
	require.NoError(t, err)
	assert.False(t, rep.AllAccounted())
	assert.Equal(t, []string{"alice/trip/never-started.jpg", "alice/trip/overdue.jpg", "alice/trip/stuck.jpg"}, discrepancyIDs(rep.Unaccounted),
		"%+v", rep.Unaccounted)
	assert.Equal(t, []string{"alice/trip/deleted.jpg"}, discrepancyIDs(rep.MissingObjects))
	assert.Equal(t, 5, rep.Objects)
	assert.Equal(t, 6, rep.Records)
	assert.Equal(t, map[photoflow.Status]int{photoflow.StatusSucceeded: 2, photoflow.StatusProcessing: 1,
		photoflow.StatusFailed: 1, photoflow.StatusPendingReview: 2}, rep.Counts)
	// An hour on, the object without a record is no longer in flight.
	assert.Zero(t, rep.InFlight)
}

func TestReconcileInFlightAndAllAccounted(t *testing.T) {
	e := newReportEnv(t)
	e.object(t, "alice/trip/a.jpg")
	e.record(t, "alice/trip/a.jpg", photoflow.StatusSucceeded, "", time.Now().UTC())
	e.object(t, "alice/trip/b.gif")
	e.record(t, "alice/trip/b.gif", photoflow.StatusFailed, photoflow.ErrFileNotSupported, time.Now().UTC())
	e.object(t, "alice/trip/new.jpg")
	// Zero Now is the present: the object without a record is in flight.
	rep, err := Reconcile(e.ctx, e.objects, reportBucket, e.st, ReportOptions{Prefix: photoflow.IncomingPrefix, Stale: 10 * time.Minute})
	require.NoError(t, err)
	assert.True(t, rep.AllAccounted(), "%+v", rep)
	assert.Equal(t, 1, rep.InFlight)
	assert.Equal(t, 3, rep.Objects)
	// Zero Stale counts it at once.
	rep, err = Reconcile(e.ctx, e.objects, reportBucket, e.st, ReportOptions{Prefix: photoflow.IncomingPrefix})
	require.NoError(t, err)
	assert.Equal(t, []string{"alice/trip/new.jpg"}, discrepancyIDs(rep.Unaccounted))
	assert.True(t, strings.HasPrefix(rep.Unaccounted[0].Reason, "no record"), rep.Unaccounted[0].Reason)
}

// A newer upload whose run never wrote a record hides behind the old content's record.
func TestReconcileSeesRecordForOtherContent(t *testing.T) {
	e := newReportEnv(t)
	e.object(t, "alice/trip/a.jpg")
	e.record(t, "alice/trip/a.jpg", photoflow.StatusSucceeded, "", time.Now().UTC())
	_, err := e.objects.Put(e.ctx, reportBucket, photoflow.IncomingPrefix+"alice/trip/a.jpg", []byte("new bytes"), "image/jpeg", nil)
	require.NoError(t, err)
	rep, err := Reconcile(e.ctx, e.objects, reportBucket, e.st, ReportOptions{Prefix: photoflow.IncomingPrefix,
		Stale: 10 * time.Minute, Now: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	if assert.Len(t, rep.Unaccounted, 1) {
		assert.Contains(t, rep.Unaccounted[0].Reason, "other content")
	}
	// Within the stale age the new run may still be on its way.
	rep, err = Reconcile(e.ctx, e.objects, reportBucket, e.st, ReportOptions{Prefix: photoflow.IncomingPrefix,
		Stale: 10 * time.Minute, Now: time.Now()})
	require.NoError(t, err)
	assert.Empty(t, rep.Unaccounted, "a fresh replacement is in flight")
}
