package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"photoflow"
	"photoflow/media/mediatest"
)

// The orchestration benchmarks: the same images through the whole workflow on the embedded
// stack, and through the same activity code called directly. Their ratio is what Temporal
// costs; see docs/BENCHMARKS.md. PHOTOFLOW_BENCH_IMAGES sets the batch (default 24).

var (
	benchPhotoOnce sync.Once
	benchPhoto     []byte
)

// bench12MP is a 12 MP camera JPEG (4000×3000, EXIF orientation 6), made once.
func bench12MP() []byte {
	benchPhotoOnce.Do(func() { benchPhoto = mediatest.CameraJPEG(4000, 3000, 6) })
	return benchPhoto
}

func benchBatch(b *testing.B) int {
	b.Helper()
	n := 24
	if v := os.Getenv("PHOTOFLOW_BENCH_IMAGES"); v != "" {
		_, err := fmt.Sscan(v, &n)
		require.NoError(b, err)
	}
	return n
}

func benchStack(b *testing.B) *stack {
	b.Helper()
	cfg := testConfig(b, b.TempDir())
	cfg.WatchInterval = 0
	// Review would wait for a human; this measures the machine.
	cfg.Settings.ReviewThreshold, cfg.Settings.RejectThreshold = 100, 100
	st, err := start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(b, err)
	b.Cleanup(st.stop)
	return st
}

// runBatches runs each of b.N rounds as n calls of one(album, i), at most par at once, and
// reports images per second.
func runBatches(b *testing.B, prefix string, n, par int, one func(album string, i int) error) {
	b.Helper()
	round := 0
	b.ResetTimer()
	for b.Loop() {
		round++
		album := fmt.Sprintf("%s%d", prefix, round)
		sem := make(chan struct{}, par)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				errs <- one(album, i)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(b, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkPipelineWorkflow uploads a batch of 12 MP photos and waits until every record is
// SUCCEEDED: upload, the workflow with its seven activities, and the persisted record.
func BenchmarkPipelineWorkflow(b *testing.B) {
	st := benchStack(b)
	data, n := bench12MP(), benchBatch(b)
	ctx := context.Background()
	runBatches(b, "wf", n, n, func(album string, i int) error {
		s, err := st.pipeline.Submit(ctx, "bench", album, fmt.Sprintf("IMG_%04d.jpg", i), data)
		if err != nil {
			return err
		}
		rec, err := st.pipeline.Wait(ctx, s.WorkflowID, s.RunID)
		if err == nil && rec.Status != photoflow.StatusSucceeded {
			err = fmt.Errorf("%s: %s %s", rec.ImageID, rec.Status, rec.ErrReason)
		}
		return err
	})
}

// processDirect is one image through the activity code without Temporal: the calls the
// workflow makes, in its order (a PROCESSING record, metadata, moderation, labels and
// thumbnail side by side, the final record).
func processDirect(ctx context.Context, st *stack, user, album, name string, data []byte) error {
	key := photoflow.IncomingPrefix + user + "/" + album + "/" + name
	etag, err := st.objects.Put(ctx, st.cfg.Bucket, key, data, "image/jpeg",
		map[string]string{photoflow.ObjectMetaUserID: user, photoflow.ObjectMetaAlbumID: album})
	if err != nil {
		return err
	}
	a, s := st.acts, st.cfg.Settings
	in := photoflow.ObjectInput{Bucket: st.cfg.Bucket, Key: key, ETag: etag}
	// The workflow writes a PROCESSING record first, so the gallery shows the upload at once.
	now := time.Now().UTC()
	rec := photoflow.ImageRecord{ImageID: photoflow.ImageID(key), UserID: user, AlbumID: album,
		S3Bucket: in.Bucket, S3Key: key, ETag: etag, UploadTime: now, UpdateTime: now, Status: photoflow.StatusProcessing}
	if err := a.PersistMetadata(ctx, rec); err != nil {
		return err
	}
	md, err := a.ExtractImageMetadata(ctx, in)
	if err != nil {
		return err
	}
	ref := photoflow.ImageRef{ObjectInput: in, Format: md.Format, Orientation: md.Orientation}
	mod, err := a.DetectModeration(ctx, ref)
	if err != nil {
		return err
	}
	var labels []photoflow.Label
	var thumb photoflow.Thumbnail
	var lerr, terr error
	var wg sync.WaitGroup
	wg.Go(func() {
		labels, lerr = a.DetectLabels(ctx, photoflow.LabelsInput{ImageRef: ref, MaxLabels: s.MaxLabels, MinConfidence: s.MinConfidence})
	})
	wg.Go(func() {
		thumb, terr = a.GenerateThumbnail(ctx, photoflow.ThumbnailInput{ImageRef: ref, MaxSize: s.ThumbnailSize,
			TargetKey: photoflow.ThumbnailKey(photoflow.ImageID(key))})
	})
	wg.Wait()
	if lerr != nil || terr != nil {
		return cmpErr(lerr, terr)
	}
	rec.UpdateTime, rec.Status = time.Now().UTC(), photoflow.StatusSucceeded
	rec.Format, rec.Dimensions, rec.Orientation, rec.FileSize = md.Format, &md.Dimensions, md.Orientation, md.FileSize
	rec.Labels, rec.Thumbnail = labels, &thumb
	rec.Moderation = &photoflow.ModerationRecord{Labels: mod.Labels, Score: mod.Score}
	return a.PersistMetadata(ctx, rec)
}

// BenchmarkPipelineDirect runs the same batch through processDirect, as many images at once
// as the machine has cores (the worker's thumbnail concurrency): the loop the workflow is
// measured against.
func BenchmarkPipelineDirect(b *testing.B) {
	st := benchStack(b)
	data, n := bench12MP(), benchBatch(b)
	ctx := context.Background()
	runBatches(b, "direct", n, runtime.GOMAXPROCS(0), func(album string, i int) error {
		return processDirect(ctx, st, "bench", album, fmt.Sprintf("IMG_%04d.jpg", i), data)
	})
}

// BenchmarkLatency12MP is one photo at a time on an idle stack: from the upload's first
// byte to the SUCCEEDED record, reported as p50 and p95 over the iterations.
func BenchmarkLatency12MP(b *testing.B) {
	st := benchStack(b)
	data := bench12MP()
	ctx := context.Background()
	var lat []time.Duration
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		began := time.Now()
		s, err := st.pipeline.Submit(ctx, "bench", "latency", fmt.Sprintf("IMG_%04d.jpg", i), data)
		require.NoError(b, err)
		rec, err := st.pipeline.Wait(ctx, s.WorkflowID, s.RunID)
		require.NoError(b, err)
		require.Equal(b, photoflow.StatusSucceeded, rec.Status, rec.ErrReason)
		lat = append(lat, time.Since(began))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
}
