package activities_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"photoflow"
	"photoflow/activities"
	"photoflow/objstore"
)

const sourceBucket = "camera-roll"

// fakeStarter is the idempotent starter the pipeline provides: the first start of an
// object's workflow ID creates the run, later ones find it.
type fakeStarter struct {
	mu    sync.Mutex
	calls []photoflow.ImageInput
	runs  map[string]bool
}

func (s *fakeStarter) Start(_ context.Context, in photoflow.ImageInput) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, in)
	id := photoflow.WorkflowID(in.Bucket, in.Key, in.ETag)
	if s.runs[id] {
		return false, nil
	}
	s.runs[id] = true
	return true, nil
}

func (s *fakeStarter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

type syncFixture struct {
	t       *testing.T
	ctx     context.Context
	objects *objstore.Store
	starter *fakeStarter
	acts    *activities.Activities
}

func newSyncFixture(t *testing.T) *syncFixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	e, err := objstore.StartEmbedded(filepath.Join(t.TempDir(), "s3.bolt"), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	objects, err := objstore.New(ctx, objstore.Config{Endpoint: e.Endpoint(), Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", PathStyle: true})
	require.NoError(t, err)
	require.NoError(t, objects.EnsureBucket(ctx, bucket))
	require.NoError(t, objects.EnsureBucket(ctx, sourceBucket))
	st := &fakeStarter{runs: map[string]bool{}}
	return &syncFixture{t: t, ctx: ctx, objects: objects, starter: st,
		acts: &activities.Activities{Objects: objects, Starter: st, HeartbeatEvery: 50 * time.Millisecond}}
}

func (f *syncFixture) put(b, key string, data []byte) photoflow.SourceObject {
	f.t.Helper()
	etag, err := f.objects.Put(f.ctx, b, key, data, "image/jpeg", map[string]string{"camera": "x100"})
	require.NoError(f.t, err)
	return photoflow.SourceObject{Key: key, ETag: etag, Size: int64(len(data))}
}

func (f *syncFixture) sync(srcBucket, prefix string, obj photoflow.SourceObject) (photoflow.SyncObjectResult, error) {
	env := newEnv(f.acts)
	v, err := env.ExecuteActivity(f.acts.SyncObject, photoflow.SyncObjectInput{ImportID: "imp-1",
		SourceBucket: srcBucket, SourcePrefix: prefix, Object: obj, DestBucket: bucket, UserID: "alice", AlbumID: "trip"})
	var res photoflow.SyncObjectResult
	if err != nil {
		return res, err
	}
	require.NoError(f.t, v.Get(&res))
	return res, nil
}

func (f *syncFixture) read(key string) ([]byte, objstore.ObjectInfo) {
	f.t.Helper()
	body, info, err := f.objects.Get(f.ctx, bucket, key, "")
	require.NoError(f.t, err)
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(f.t, err)
	return data, info
}

func TestSyncObjectCopiesMissingObject(t *testing.T) {
	f := newSyncFixture(t)
	data := []byte("jpeg bytes, as far as this test cares")
	// A space and a '+' check the copy source's encoding; sub-folders are flattened.
	obj := f.put(sourceBucket, "export/2019/rome/IMG 1+2.jpg", data)

	res, err := f.sync(sourceBucket, "export/", obj)
	require.NoError(t, err)
	wantKey := "Incoming/alice/trip/2019_rome_IMG 1+2.jpg"
	assert.Equal(t, wantKey, res.DestKey)
	assert.True(t, res.Copied)
	assert.True(t, res.Started)

	got, info := f.read(wantKey)
	assert.Equal(t, data, got)
	assert.Equal(t, obj.ETag, res.DestETag)
	assert.Equal(t, info.ETag, res.DestETag)
	assert.Equal(t, "image/jpeg", info.ContentType, "the content type survives the metadata replacement")
	assert.Equal(t, "alice", info.Metadata[photoflow.ObjectMetaUserID])
	assert.Equal(t, "trip", info.Metadata[photoflow.ObjectMetaAlbumID])
	assert.Equal(t, "IMG 1+2.jpg", info.Metadata[photoflow.ObjectMetaOriginalName])
	assert.Equal(t, obj.ETag, info.Metadata[photoflow.ObjectMetaSourceETag])
	assert.Equal(t, "imp-1", info.Metadata[photoflow.ObjectMetaImportID])

	require.Equal(t, 1, f.starter.count())
	run := f.starter.calls[0]
	assert.Equal(t, bucket, run.Bucket)
	assert.Equal(t, wantKey, run.Key)
	assert.Equal(t, res.DestETag, run.ETag)
	assert.Equal(t, "alice", run.UserID)
	assert.Equal(t, "trip", run.AlbumID)
	assert.False(t, run.UploadTime.IsZero())
	assert.Equal(t, photoflow.WorkflowID(bucket, wantKey, res.DestETag), res.WorkflowID)
}

func TestSyncObjectSkipsSameContentAndRecopiesChanged(t *testing.T) {
	f := newSyncFixture(t)
	obj := f.put(sourceBucket, "in/a.jpg", []byte("first version"))
	first, err := f.sync(sourceBucket, "in/", obj)
	require.NoError(t, err)
	require.True(t, first.Copied)

	// Same bytes under the album key, with a marker a copy would replace.
	_, err = f.objects.Put(f.ctx, bucket, first.DestKey, []byte("first version"), "", map[string]string{"marker": "kept"})
	require.NoError(t, err)
	again, err := f.sync(sourceBucket, "in/", obj)
	require.NoError(t, err)
	assert.False(t, again.Copied, "same ETag: no copy")
	assert.False(t, again.Started, "its run exists already")
	_, info := f.read(first.DestKey)
	assert.Equal(t, "kept", info.Metadata["marker"], "the object was copied again")
	assert.Equal(t, 2, f.starter.count(), "the start is repeated (idempotently) even when the copy is skipped")

	changed := f.put(sourceBucket, "in/a.jpg", []byte("second version, edited"))
	require.NotEqual(t, obj.ETag, changed.ETag)
	third, err := f.sync(sourceBucket, "in/", changed)
	require.NoError(t, err)
	assert.True(t, third.Copied)
	assert.True(t, third.Started, "new content is a new run")
	got, info := f.read(first.DestKey)
	assert.Equal(t, "second version, edited", string(got))
	assert.Equal(t, changed.ETag, info.Metadata[photoflow.ObjectMetaSourceETag])
	assert.Equal(t, changed.ETag, third.DestETag)
}

func TestSyncObjectSameBucketStaging(t *testing.T) {
	f := newSyncFixture(t)
	prefix := photoflow.StagingKeyPrefix("imp-1")
	var objs []photoflow.SourceObject
	for i := range 3 {
		objs = append(objs, f.put(bucket, fmt.Sprintf("%sdir/p%d.jpg", prefix, i), []byte(fmt.Sprint("photo ", i))))
	}
	for _, o := range objs {
		res, err := f.sync(bucket, prefix, o)
		require.NoError(t, err)
		assert.True(t, res.Copied && res.Started)
	}
	// A second pass copies and starts nothing new.
	for _, o := range objs {
		res, err := f.sync(bucket, prefix, o)
		require.NoError(t, err)
		assert.False(t, res.Copied || res.Started)
	}
	f.starter.mu.Lock()
	defer f.starter.mu.Unlock()
	perKey := map[string]int{}
	for _, c := range f.starter.calls {
		perKey[c.Key]++
	}
	assert.Equal(t, map[string]int{"Incoming/alice/trip/dir_p0.jpg": 2, "Incoming/alice/trip/dir_p1.jpg": 2,
		"Incoming/alice/trip/dir_p2.jpg": 2}, perKey)
	assert.Len(t, f.starter.runs, 3, "one run per copied object")
}

func TestSyncObjectFailures(t *testing.T) {
	f := newSyncFixture(t)
	_, err := f.sync(sourceBucket, "", photoflow.SourceObject{Key: "gone.jpg", ETag: "abc"})
	requireAppError(t, err, photoflow.ErrObjectNotFound, true)

	obj := f.put(sourceBucket, "edited.jpg", []byte("v1"))
	f.put(sourceBucket, "edited.jpg", []byte("v2"))
	_, err = f.sync(sourceBucket, "", obj)
	requireAppError(t, err, photoflow.ErrObjectChanged, true)

	_, err = f.sync(sourceBucket, "", photoflow.SourceObject{Key: "bad\x01name.jpg", ETag: "abc"})
	requireAppError(t, err, photoflow.ErrInvalidInput, true)
	assert.Zero(t, f.starter.count(), "nothing was copied, so nothing may start")

	f.acts.Starter = nil
	_, err = f.sync(sourceBucket, "", f.put(sourceBucket, "ok.jpg", []byte("ok")))
	requireAppError(t, err, photoflow.ErrInvalidInput, true)
}

func TestListSourcePage(t *testing.T) {
	f := newSyncFixture(t)
	for i := range 5 {
		f.put(sourceBucket, fmt.Sprintf("in/%d.jpg", i), []byte{byte(i)})
	}
	f.put(sourceBucket, "in/folder/", nil)
	f.put(sourceBucket, "other/x.jpg", []byte("x"))
	list := func(in photoflow.ListPageInput) (photoflow.SourcePage, error) {
		in.Bucket, in.Prefix, in.DestBucket = sourceBucket, "in/", bucket
		v, err := newEnv(f.acts).ExecuteActivity(f.acts.ListSourcePage, in)
		var p photoflow.SourcePage
		if err != nil {
			return p, err
		}
		require.NoError(t, v.Get(&p))
		return p, nil
	}
	var keys []string
	ignored, pages := 0, 0
	for tok := ""; ; pages++ {
		p, err := list(photoflow.ListPageInput{ContinuationToken: tok, PageSize: 2})
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Objects)+p.Ignored, 2)
		for _, o := range p.Objects {
			keys = append(keys, o.Key)
			assert.NotEmpty(t, o.ETag)
		}
		ignored += p.Ignored
		if tok = p.NextContinuationToken; tok == "" {
			break
		}
		require.Less(t, pages, 10)
	}
	assert.Equal(t, []string{"in/0.jpg", "in/1.jpg", "in/2.jpg", "in/3.jpg", "in/4.jpg"}, keys)
	assert.Equal(t, 1, ignored, "the folder marker is left out")

	p, err := list(photoflow.ListPageInput{StartAfter: "in/2.jpg"})
	require.NoError(t, err)
	require.NotEmpty(t, p.Objects)
	assert.Equal(t, "in/3.jpg", p.Objects[0].Key, "StartAfter resumes after the key")

	f.acts.Starter = nil
	_, err = list(photoflow.ListPageInput{})
	requireAppError(t, err, photoflow.ErrInvalidInput, true)
}

func TestListSourcePageMissingBuckets(t *testing.T) {
	f := newSyncFixture(t)
	run := func(src, dst string) error {
		_, err := newEnv(f.acts).ExecuteActivity(f.acts.ListSourcePage, photoflow.ListPageInput{Bucket: src, DestBucket: dst})
		return err
	}
	requireAppError(t, run(sourceBucket, "no-such-bucket"), photoflow.ErrInvalidInput, true)
	requireAppError(t, run("no-such-bucket", bucket), photoflow.ErrObjectNotFound, true)
}

func TestImportFileName(t *testing.T) {
	for _, tc := range []struct{ prefix, key, want string }{
		{"export/", "export/a.jpg", "a.jpg"},
		{"export/", "export/2019/rome/a.jpg", "2019_rome_a.jpg"},
		{"", "x/../../etc/passwd", "x_.._.._etc_passwd"},
		{"Staging/i/", "Staging/i//./b.png", "b.png"},
	} {
		got, err := photoflow.ImportFileName(tc.prefix, tc.key)
		require.NoError(t, err, tc.key)
		assert.Equal(t, tc.want, got)
	}
	for _, key := range []string{"p/", "p/..", "p/a\nb.jpg", "p/\xff.jpg"} {
		_, err := photoflow.ImportFileName("p/", key)
		assert.Error(t, err, key)
	}
	long := "p/" + string(bytes.Repeat([]byte("d"), 150)) + "/" + string(bytes.Repeat([]byte("f"), 150)) + ".jpg"
	a, err := photoflow.ImportFileName("p/", long)
	require.NoError(t, err)
	b, err := photoflow.ImportFileName("p/", "p/e"+long[3:])
	require.NoError(t, err)
	assert.LessOrEqual(t, len(a), 200)
	assert.NotEqual(t, a, b, "long names keep distinct paths distinct")
	assert.Equal(t, ".jpg", filepath.Ext(a))
}
