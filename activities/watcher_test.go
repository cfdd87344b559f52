package activities_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"photoflow"
	"photoflow/activities"
	"photoflow/objstore"
	"photoflow/store"
)

// watchStarter is a RunStarter that records what it was asked to start.
type watchStarter struct {
	mu     sync.Mutex
	inputs []photoflow.ImageInput
	// existing keys already have a run; failing keys fail to start.
	existing, failing map[string]bool
}

func (s *watchStarter) Start(_ context.Context, in photoflow.ImageInput) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inputs = append(s.inputs, in)
	switch {
	case s.failing[in.Key]:
		return false, errors.New("temporal unavailable")
	case s.existing[in.Key]:
		return false, nil
	}
	return true, nil
}

func (s *watchStarter) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for _, in := range s.inputs {
		keys = append(keys, in.Key)
	}
	slices.Sort(keys)
	return keys
}

// watchSetup is the fixture plus a starter, with the given keys landed in the bucket.
func watchSetup(t *testing.T, keys ...string) (*fixture, *watchStarter, map[string]string) {
	t.Helper()
	f := newFixture(t)
	st := &watchStarter{existing: map[string]bool{}, failing: map[string]bool{}}
	f.acts.Starter = st
	etags := map[string]string{}
	for _, k := range keys {
		etag, err := f.objects.Put(f.ctx, bucket, k, []byte("bytes of "+k), "", nil)
		require.NoError(t, err)
		etags[k] = etag
	}
	return f, st, etags
}

// settled is a reference time at which every object landed so far is older than settle.
func settled(settle time.Duration) time.Time { return time.Now().Add(settle + time.Minute) }

func (f *fixture) recordOf(key, etag string) {
	f.t.Helper()
	require.NoError(f.t, f.store.Put(f.ctx, photoflow.ImageRecord{ImageID: photoflow.ImageID(key),
		S3Bucket: bucket, S3Key: key, ETag: etag, Status: photoflow.StatusSucceeded,
		UploadTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}))
}

func (f *fixture) scan(in photoflow.ScanInput) (photoflow.ScanResult, error) {
	f.t.Helper()
	var res photoflow.ScanResult
	v, err := f.env.ExecuteActivity(f.acts.ScanIncoming, in)
	if err != nil {
		return res, err
	}
	require.NoError(f.t, v.Get(&res))
	return res, nil
}

func TestScanIncomingStartsWhatHasNoRecord(t *testing.T) {
	const (
		recorded = "Incoming/u/a/recorded.jpg"
		changed  = "Incoming/u/a/changed.jpg"
		missing  = "Incoming/u/a/missing.jpg"
		running  = "Incoming/u/a/running.jpg"
		failing  = "Incoming/u/a/failing.jpg"
		folder   = "Incoming/u/a/"
		thumb    = "Thumbnail/u/a/missing.jpg"
		outside  = "Staging/u/a/missing.jpg"
	)
	f, st, etags := watchSetup(t, recorded, changed, missing, running, failing, folder, thumb, outside)
	f.recordOf(recorded, etags[recorded])
	f.recordOf(changed, "an-older-upload")
	st.existing[running] = true
	st.failing[failing] = true

	res, err := f.scan(photoflow.ScanInput{Bucket: bucket, SettleAge: time.Minute, Now: settled(time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, 6, res.Listed, "only Incoming/ is listed")
	assert.Equal(t, 1, res.AlreadyRecorded)
	assert.Equal(t, 2, res.Started, "the object without a record and the one whose record is of other content")
	assert.Equal(t, 1, res.Duplicates)
	assert.Equal(t, 1, res.Skipped, "the folder marker")
	assert.Equal(t, 1, res.Failed)
	assert.Contains(t, res.LastError, failing)
	assert.Contains(t, res.LastError, "temporal unavailable")
	assert.Equal(t, []string{changed, failing, missing, running}, st.keys())
	for _, in := range st.inputs {
		assert.Equal(t, bucket, in.Bucket)
		assert.Equal(t, etags[in.Key], in.ETag, "%s must start under the listed content's ETag", in.Key)
		assert.False(t, in.UploadTime.IsZero(), "%s: upload time is the object's LastModified", in.Key)
		assert.Empty(t, in.UserID+in.AlbumID, "the run reads user and album from the key")
	}
}

func TestScanIncomingLeavesYoungObjects(t *testing.T) {
	f, st, _ := watchSetup(t, "Incoming/u/a/old.jpg")
	page, err := f.objects.List(f.ctx, bucket, photoflow.IncomingPrefix, "", 0)
	require.NoError(t, err)
	require.Len(t, page.Objects, 1)
	oldAt := page.Objects[0].LastModified
	// S3 times have millisecond resolution: wait until the next object is visibly newer.
	for time.Since(oldAt) < 50*time.Millisecond {
		time.Sleep(10 * time.Millisecond)
	}
	_, err = f.objects.Put(f.ctx, bucket, "Incoming/u/a/young.jpg", []byte("still landing"), "", nil)
	require.NoError(t, err)
	page, err = f.objects.List(f.ctx, bucket, photoflow.IncomingPrefix, "", 0)
	require.NoError(t, err)
	require.Len(t, page.Objects, 2)
	youngAt := page.Objects[1].LastModified
	require.True(t, youngAt.After(oldAt), "young %v, old %v", youngAt, oldAt)

	// The cutoff falls between the two uploads.
	settle := youngAt.Sub(oldAt) / 2
	res, err := f.scan(photoflow.ScanInput{Bucket: bucket, SettleAge: settle, Now: youngAt})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Listed)
	assert.Equal(t, 1, res.TooYoung)
	assert.Equal(t, 1, res.Started)
	assert.Equal(t, []string{"Incoming/u/a/old.jpg"}, st.keys())

	// With the worker's own clock and an hour to settle, nothing is old enough.
	st.inputs = nil
	res, err = f.scan(photoflow.ScanInput{Bucket: bucket, SettleAge: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, 2, res.TooYoung)
	assert.Empty(t, st.keys())
}

func scanKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("Incoming/u/a/%03d.jpg", i)
	}
	return keys
}

func TestScanIncomingPages(t *testing.T) {
	keys := scanKeys(11)
	f, st, _ := watchSetup(t, keys...)
	res, err := f.scan(photoflow.ScanInput{Bucket: bucket, PageSize: 4, Now: settled(0)})
	require.NoError(t, err)
	assert.Equal(t, 11, res.Listed, "every page is read")
	assert.Equal(t, 11, res.Started)
	assert.Equal(t, keys, st.keys(), "every object started exactly once")
}

// crashingStarter cuts the worker off S3 once it has started crashAt, so the attempt dies
// listing the next page.
type crashingStarter struct {
	*watchStarter
	acts    *activities.Activities
	crashAt string
}

func (s crashingStarter) Start(ctx context.Context, in photoflow.ImageInput) (bool, error) {
	if in.Key == s.crashAt {
		broken, err := objstore.New(ctx, objstore.Config{Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
			AccessKey: "k", SecretKey: "s", PathStyle: true})
		if err != nil {
			return false, err
		}
		s.acts.Objects = broken
	}
	return s.watchStarter.Start(ctx, in)
}

func TestScanIncomingResumesFromHeartbeat(t *testing.T) {
	keys := scanKeys(10)
	f, st, _ := watchSetup(t, keys...)
	objects := f.objects
	f.acts.Starter = crashingStarter{watchStarter: st, acts: f.acts, crashAt: keys[7]}
	var mu sync.Mutex
	var last *activities.ScanCheckpoint
	f.env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var cp activities.ScanCheckpoint
		if details.HasValues() && details.Get(&cp) == nil {
			mu.Lock()
			last = &cp
			mu.Unlock()
		}
	})
	in := photoflow.ScanInput{Bucket: bucket, PageSize: 4, Now: settled(0)}
	_, err := f.scan(in)
	requireAppError(t, err, photoflow.ErrUnavailable, false)
	assert.Equal(t, keys[:8], st.keys(), "two pages were done before the crash")
	mu.Lock()
	cp := last
	mu.Unlock()
	require.NotNil(t, cp, "the failed attempt left no checkpoint")
	assert.NotEmpty(t, cp.Token, "the checkpoint must name the next page")
	assert.Equal(t, 2, cp.Pages)
	assert.Equal(t, photoflow.ScanResult{Listed: 8, Started: 8}, cp.Result, "the checkpoint holds whole pages")

	// The retry: same activity, the server hands back the last heartbeat.
	f.acts.Objects, f.acts.Starter = objects, st
	st.inputs = nil
	retry := newEnv(f.acts)
	retry.SetHeartbeatDetails(*cp)
	v, err := retry.ExecuteActivity(f.acts.ScanIncoming, in)
	require.NoError(t, err)
	var res photoflow.ScanResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, keys[8:], st.keys(), "only the pages after the checkpoint are scanned")
	assert.Equal(t, 10, res.Listed, "the earlier attempt's counts are kept")
	assert.Equal(t, 10, res.Started)
}

// vanishingStore deletes the object while its record is looked up, as an album deletion
// running between the listing and the start would.
type vanishingStore struct {
	store.Store
	f *fixture
}

func (s vanishingStore) Get(ctx context.Context, id string) (photoflow.ImageRecord, error) {
	if err := s.f.objects.Delete(ctx, bucket, photoflow.IncomingPrefix+id); err != nil {
		return photoflow.ImageRecord{}, err
	}
	return s.Store.Get(ctx, id)
}

func TestScanIncomingSkipsVanishedObjects(t *testing.T) {
	f, st, _ := watchSetup(t, "Incoming/u/a/deleted.jpg")
	f.acts.Store = vanishingStore{Store: f.store, f: f}
	res, err := f.scan(photoflow.ScanInput{Bucket: bucket, Now: settled(0)})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Vanished)
	assert.Empty(t, st.keys(), "a run for a deleted object would write its record back")
}

func TestScanIncomingRefusals(t *testing.T) {
	f, _, _ := watchSetup(t)
	_, err := f.scan(photoflow.ScanInput{})
	requireAppError(t, err, photoflow.ErrInvalidInput, true)

	f.acts.Starter = nil
	_, err = f.scan(photoflow.ScanInput{Bucket: bucket})
	appErr := requireAppError(t, err, photoflow.ErrInvalidInput, true)
	assert.True(t, strings.Contains(appErr.Error(), "starter"), "error %q should name the missing starter", appErr)
}

func TestScanIncomingStoreDown(t *testing.T) {
	f, st, _ := watchSetup(t, "Incoming/u/a/x.jpg")
	require.NoError(t, f.store.Close())
	res, err := f.scan(photoflow.ScanInput{Bucket: bucket, Now: settled(0)})
	require.NoError(t, err, "one object's failure must not fail the scan")
	assert.Equal(t, 1, res.Failed)
	assert.Contains(t, res.LastError, "get record")
	assert.Empty(t, st.keys(), "without the record's answer nothing is started")
}
