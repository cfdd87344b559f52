package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"photoflow"
	"photoflow/objstore"
)

// Every case must fail before dialing (the address is unreachable anyway).
func TestImportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"import"}, "--source"},
		{[]string{"import", "--source", dir, "--album", "a"}, "--user"},
		{[]string{"import", "--source", dir, "--user", "a/b", "--album", "a"}, "a/b"},
		{[]string{"import", "--source", filepath.Join(dir, "missing"), "--user", "u", "--album", "a"}, "missing"},
		{[]string{"import", "--source", "s3:///x", "--user", "u", "--album", "a"}, "no bucket"},
		{[]string{"import", "--import-id", "../etc"}, "../etc"},
		{[]string{"import", "--import-id", "x", "--concurrency", "0"}, "concurrency"},
		{[]string{"import", "--import-id", "x", "extra"}, "no arguments"},
		{[]string{"import-control", "pause"}, "pause|resume|cancel"},
		{[]string{"import-control", "stop", "imp-1"}, "stop"},
		{[]string{"import-control", "pause", "bad id"}, "bad id"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		args := slices.Concat(tc.args, []string{"--temporal-addr", "127.0.0.1:1"})
		err := run(ctx, args, io.Discard)
		cancel()
		wantUsage(t, args, err, tc.mention)
	}
}

func TestParseImportSource(t *testing.T) {
	s, err := parseImportSource("s3://camera-roll/2019/rome/")
	require.NoError(t, err)
	assert.Equal(t, importSource{bucket: "camera-roll", prefix: "2019/rome/"}, s)
	s, err = parseImportSource("s3://camera-roll")
	require.NoError(t, err)
	assert.Equal(t, importSource{bucket: "camera-roll"}, s)

	dir := t.TempDir()
	s, err = parseImportSource(dir)
	require.NoError(t, err)
	assert.Equal(t, dir, s.dir)
	f := filepath.Join(dir, "one.jpg")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	_, err = parseImportSource(f)
	assert.ErrorContains(t, err, "not a directory")
}

func TestDefaultImportID(t *testing.T) {
	a := importSource{bucket: "b", prefix: "p/"}
	id := defaultImportID("alice", "trip", a)
	assert.Equal(t, id, defaultImportID("alice", "trip", a), "the same import must get the same ID")
	assert.NotEqual(t, id, defaultImportID("alice", "other", a))
	assert.NotEqual(t, id, defaultImportID("alice", "trip", importSource{bucket: "b", prefix: "q/"}))
	assert.NotEqual(t, id, defaultImportID("alice", "trip", importSource{dir: "/b/p"}))
	assert.Regexp(t, `^imp-[0-9a-f]{12}$`, id)
}

func TestImportProgressLine(t *testing.T) {
	p := photoflow.SyncProgress{SyncCounters: photoflow.SyncCounters{Listed: 1000, Copied: 300, Skipped: 20, Failed: 3},
		RatePerSec: 12.5, ETA: 54 * time.Second, ETAPartial: true}
	assert.Equal(t, "listed 1000+ · copied 300 · skipped 20 · failed 3 · 12.5/s · ETA ≥54s", importProgressLine(p))
	p.ListingDone, p.ETAPartial = true, false
	assert.Equal(t, "listed 1000 · copied 300 · skipped 20 · failed 3 · 12.5/s · ETA 54s", importProgressLine(p))
	p.Paused = true
	assert.Contains(t, importProgressLine(p), "paused")
	p.Cancelling = true
	assert.Contains(t, importProgressLine(p), "cancelling")
}

func TestPrintImportSummary(t *testing.T) {
	var out bytes.Buffer
	printImportSummary(&out, photoflow.SyncSummary{ImportID: "imp-1", Cancelled: true, Duration: 90 * time.Second,
		SyncCounters: photoflow.SyncCounters{Listed: 10, Copied: 5, Skipped: 2, Failed: 3, Started: 5,
			RecentErrors: []string{"a.jpg: ObjectNotFound: gone"}}})
	s := out.String()
	assert.Contains(t, s, "import imp-1 cancelled in 1m30s: listed 10, copied 5, skipped 2 (unchanged), failed 3; 5 runs started")
	assert.Contains(t, s, "failed: a.jpg: ObjectNotFound: gone")
	assert.Contains(t, s, "2 more failures not shown")
}

func TestUploadDirStagesRegularFilesOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := objstore.StartEmbedded(filepath.Join(t.TempDir(), "s3.bolt"), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	objects, err := objstore.New(ctx, objstore.Config{Endpoint: e.Endpoint(), Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", PathStyle: true})
	require.NoError(t, err)
	require.NoError(t, objects.EnsureBucket(ctx, "landing"))

	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("a.jpg", "aaa")
	write("2019/rome/b.jpg", "bbb")
	write("c d+e.png", "ccc")
	write(".DS_Store", "junk")
	write(".git/config", "junk")
	require.NoError(t, os.Symlink(filepath.Join(dir, "a.jpg"), filepath.Join(dir, "link.jpg")))
	prefix := photoflow.StagingKeyPrefix("imp-1")

	st, err := uploadDir(ctx, objects, "landing", prefix, dir, 2, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, uploadStats{Files: 3, Uploaded: 3, Ignored: 2, Bytes: 9}, st, "the symlink and the hidden file are ignored, the hidden dir skipped")
	var keys []string
	require.NoError(t, objects.ListAll(ctx, "landing", "", func(o objstore.ListedObject) error {
		keys = append(keys, o.Key)
		return nil
	}))
	assert.Equal(t, []string{prefix + "2019/rome/b.jpg", prefix + "a.jpg", prefix + "c d+e.png"}, keys)
	info, err := objects.Head(ctx, "landing", prefix+"a.jpg")
	require.NoError(t, err)
	sum := md5.Sum([]byte("aaa"))
	assert.Equal(t, hex.EncodeToString(sum[:]), info.ETag)
	assert.Equal(t, "image/jpeg", info.ContentType)

	// Again: everything is there already. Then one file changes.
	st, err = uploadDir(ctx, objects, "landing", prefix, dir, 2, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 0, st.Uploaded)
	assert.Equal(t, 3, st.Skipped)
	write("a.jpg", "a changed")
	st, err = uploadDir(ctx, objects, "landing", prefix, dir, 2, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Uploaded)
	assert.Equal(t, 2, st.Skipped)
	data, _, err := objects.GetBytes(ctx, "landing", prefix+"a.jpg", "", 0)
	require.NoError(t, err)
	assert.Equal(t, "a changed", string(data))

	_, err = uploadDir(ctx, objects, "no-such-bucket", prefix, dir, 2, io.Discard)
	assert.Error(t, err, "an upload that fails must fail the staging")
}
