package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"photoflow"
	"photoflow/media/mediatest"
	"photoflow/pipeline"
	"photoflow/store"
)

// The bulk import tests run the whole stack the way `starter gen-samples` and `starter
// import` do, with the same generator and the same reconciliation as `starter report`.

const (
	importUser   = "stepfunction"
	importPrefix = "camera-roll/"
	importSeed   = 1
)

// importCount is the bulk test's size: PHOTOFLOW_IMPORT_COUNT, or 1000.
func importCount(t *testing.T) int {
	t.Helper()
	s := os.Getenv("PHOTOFLOW_IMPORT_COUNT")
	if s == "" {
		return 1000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("PHOTOFLOW_IMPORT_COUNT=%q: want a positive number", s)
	}
	return n
}

// stageSamples generates count samples and uploads them to a source bucket of the embedded
// S3 under importPrefix, eight at a time, as `starter import DIR` stages a directory.
func stageSamples(t *testing.T, st *stack, bucket string, count int) mediatest.SampleStats {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	began := time.Now()
	samples, err := mediatest.GenerateSamples(dir, count, importSeed)
	require.NoError(t, err)
	generated := time.Since(began)
	require.NoError(t, st.objects.EnsureBucket(ctx, bucket))

	began = time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, 8)
	for _, f := range samples.Files {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
			if err == nil {
				_, err = st.objects.Put(ctx, bucket, importPrefix+f.Name, data, mime.TypeByExtension(path.Ext(f.Name)), nil)
			}
			if err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, fmt.Errorf("stage %s: %w", f.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.NoError(t, firstErr)
	t.Logf("generated %d samples (%.1f MB: %v) in %s; staged them in s3://%s/%s in %s",
		samples.Count, float64(samples.Bytes)/1e6, samples.Kinds, generated.Round(time.Millisecond),
		bucket, importPrefix, time.Since(began).Round(time.Millisecond))
	return samples
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// importedID is the image ID a staged sample gets in the album.
func importedID(t *testing.T, album, name string) string {
	t.Helper()
	file, err := photoflow.ImportFileName(importPrefix, importPrefix+name)
	require.NoError(t, err)
	return importUser + "/" + album + "/" + file
}

// settled means nothing more happens to an image without a reviewer.
func settled(s photoflow.Status) bool {
	switch s {
	case photoflow.StatusSucceeded, photoflow.StatusFailed, photoflow.StatusRejected, photoflow.StatusPendingReview:
		return true
	}
	return false
}

// waitSettled polls the store until the user's album holds want settled records, and returns them
// by image ID.
func waitSettled(t *testing.T, st *stack, user, album string, want int, timeout time.Duration) map[string]photoflow.ImageRecord {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		recs := map[string]photoflow.ImageRecord{}
		done := 0
		err := store.ListAll(ctx, st.store, store.Filter{UserID: user, AlbumID: album}, func(rec photoflow.ImageRecord) error {
			recs[rec.ImageID] = rec
			if settled(rec.Status) {
				done++
			}
			return nil
		})
		require.NoError(t, err)
		if done >= want {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d records settled (%d records in all)", timeout, done, want, len(recs))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkOutcomes holds every record to what its sample is: text files and truncated JPEGs
// fail with their error types, the rest are processed (moderation may hold them for review).
func checkOutcomes(t *testing.T, samples mediatest.SampleStats, album string, recs map[string]photoflow.ImageRecord) map[photoflow.Status]int {
	t.Helper()
	require.Len(t, recs, samples.Count, "exactly one record per imported object")
	split := map[photoflow.Status]int{}
	for _, f := range samples.Files {
		id := importedID(t, album, f.Name)
		rec, ok := recs[id]
		require.True(t, ok, "no record for %s (%s)", id, f.Name)
		split[rec.Status]++
		require.Equal(t, photoflow.IncomingPrefix+id, rec.S3Key)
		switch f.Kind {
		case mediatest.SampleText:
			require.Equal(t, photoflow.StatusFailed, rec.Status, id)
			require.Equal(t, photoflow.ErrFileNotSupported, rec.ErrorType, "%s: %s", id, rec.ErrReason)
		case mediatest.SampleCorrupt:
			require.Equal(t, photoflow.StatusFailed, rec.Status, id)
			require.Equal(t, photoflow.ErrCorruptImage, rec.ErrorType, "%s: %s", id, rec.ErrReason)
		default:
			require.Contains(t, []photoflow.Status{photoflow.StatusSucceeded, photoflow.StatusPendingReview, photoflow.StatusRejected},
				rec.Status, "%s (%s): %s %s", id, f.Kind, rec.ErrorType, rec.ErrReason)
			wantFormat := "JPEG"
			if f.Kind == mediatest.SamplePNG {
				wantFormat = "PNG"
			}
			require.Equal(t, wantFormat, rec.Format, id)
			if rec.Status == photoflow.StatusSucceeded {
				require.NotNil(t, rec.Thumbnail, id)
			}
		}
	}
	require.Equal(t, samples.Kinds[mediatest.SampleText]+samples.Kinds[mediatest.SampleCorrupt], split[photoflow.StatusFailed])
	return split
}

// reconcile runs `starter report`'s check over the album with no grace for anything in
// flight, and requires every object and record to add up.
func reconcile(t *testing.T, st *stack, album string, want int) pipeline.Report {
	t.Helper()
	rep, err := pipeline.Reconcile(context.Background(), st.objects, st.cfg.Bucket, st.store,
		pipeline.ReportOptions{Prefix: photoflow.IncomingPrefix + importUser + "/" + album + "/"})
	require.NoError(t, err)
	require.True(t, rep.AllAccounted(), "unaccounted %+v; records without their object %+v", rep.Unaccounted, rep.MissingObjects)
	require.Equal(t, want, rep.Objects)
	require.Equal(t, want, rep.Records, "one record per object")
	require.Zero(t, rep.InFlight)
	return rep
}

// runsPerImage counts the ImageProcessing executions of each image in the user's album through
// visibility, grouped by the image ID search attribute, waiting until want images are
// visible (visibility trails the runs a little).
func runsPerImage(t *testing.T, st *stack, user, album string, want int) map[string]int {
	t.Helper()
	ctx := context.Background()
	// Only the image ID is set when a run starts; filtering on anything set later could
	// hide a duplicate run that failed early.
	query := fmt.Sprintf("WorkflowType = '%s'", photoflow.ImageProcessingWorkflow)
	dc := converter.GetDefaultDataConverter()
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs := map[string]int{}
		var token []byte
		for {
			resp, err := st.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: st.pipeline.Namespace, PageSize: 1000, NextPageToken: token, Query: query})
			require.NoError(t, err)
			for _, e := range resp.GetExecutions() {
				var id string
				p := e.GetSearchAttributes().GetIndexedFields()[photoflow.ImageIDSearchAttribute.GetName()]
				require.NotNil(t, p, "run %s has no %s", e.GetExecution().GetWorkflowId(), photoflow.ImageIDSearchAttribute.GetName())
				require.NoError(t, dc.FromPayload(p, &id))
				if strings.HasPrefix(id, user+"/"+album+"/") {
					runs[id]++
				}
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		if len(runs) >= want || time.Now().After(deadline) {
			return runs
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// requireOneRunEach holds every sample to exactly one ImageProcessing run.
func requireOneRunEach(t *testing.T, st *stack, samples mediatest.SampleStats, album string) {
	t.Helper()
	runs := runsPerImage(t, st, importUser, album, samples.Count)
	require.Len(t, runs, samples.Count, "images with a run")
	for _, f := range samples.Files {
		id := importedID(t, album, f.Name)
		require.Equal(t, 1, runs[id], "ImageProcessing runs of %s", id)
	}
}

// procStatusKB reads a kB field of /proc/self/status (VmRSS, VmHWM); ok is false off Linux.
func procStatusKB(field string) (kb int64, ok bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), field+":"); found {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// peakRSS is the process's peak resident set (VmHWM), or "unknown" off Linux.
func peakRSS() string {
	kb, ok := procStatusKB("VmHWM")
	if !ok {
		return "unknown"
	}
	return strconv.FormatInt(kb, 10) + " kB"
}

// waitProgress polls the import's progress until ok accepts it. A query can fail while the
// run continues as new, so failures are retried until the deadline.
func waitProgress(t *testing.T, st *stack, importID, what string, ok func(photoflow.SyncProgress) bool) photoflow.SyncProgress {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last photoflow.SyncProgress
	var lastErr error
	for time.Now().Before(deadline) {
		p, err := st.pipeline.ImportProgress(context.Background(), importID)
		if err == nil {
			last = p
			if ok(p) {
				return p
			}
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("import %s: waiting for %s; last progress %+v, last error %v", importID, what, last, lastErr)
	return last
}

// TestBulkImport imports N generated samples (PHOTOFLOW_IMPORT_COUNT, default 1000) from a
// second bucket through BucketSync and checks that every one ends as its kind says, with one
// record each and nothing unaccounted.
func TestBulkImport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	n := importCount(t)
	st := startStack(t, testConfig(t, t.TempDir()))
	defer st.stop()
	ctx := context.Background()
	const album, source, importID = "bulk", "bulk-source", "bulk-test"
	samples := stageSamples(t, st, source, n)

	began := time.Now()
	_, _, err := st.pipeline.StartImport(ctx, photoflow.SyncInput{ImportID: importID, SourceBucket: source,
		SourcePrefix: importPrefix, UserID: importUser, AlbumID: album, Concurrency: 16})
	require.NoError(t, err)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	sum, err := st.pipeline.WaitImport(waitCtx, importID)
	require.NoError(t, err)
	copied := time.Since(began)
	require.False(t, sum.Cancelled)
	// The worker sampled the running import into its metrics.
	resp, err := http.Get("http://" + st.MetricsAddr + "/metrics")
	require.NoError(t, err)
	scrape, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Regexp(t, `photoflow_import_objects\{import_id="`+importID+`",[^}]*state="copied"[^}]*\} [1-9]`, string(scrape))
	require.Equal(t, n, sum.Listed, "listed")
	require.Equal(t, n, sum.Copied, "copied")
	require.Zero(t, sum.Failed, "failed: %v", sum.RecentErrors)
	require.Zero(t, sum.Skipped, "skipped")
	require.Equal(t, (n+photoflow.DefaultSyncMaxPerRun-1)/photoflow.DefaultSyncMaxPerRun, sum.Runs, "runs of the continue-as-new chain")

	recs := waitSettled(t, st, importUser, album, n, 10*time.Minute)
	wall := time.Since(began)
	split := checkOutcomes(t, samples, album, recs)
	rep := reconcile(t, st, album, n)
	require.Equal(t, split, rep.Counts)
	requireOneRunEach(t, st, samples, album)

	t.Logf("imported %d images: copied and started in %s (%d runs started by the import), all settled in %s: %.0f images/min",
		n, copied.Round(time.Millisecond), sum.Started, wall.Round(time.Millisecond), float64(n)/wall.Minutes())
	t.Logf("outcome: %v", split)
	t.Logf("peak RSS of the test process so far %s (it hosts the worker, the Temporal server, the S3 server and SQLite)", peakRSS())
}

// TestBulkImportSurvivesRestart stops the whole stack in the middle of an import, after a
// pause and a resume, and starts it again on the same data dir: the same import finishes,
// every object is accounted for, and no image has two records or two runs.
func TestBulkImportSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	const n = 200
	dataDir := t.TempDir()
	st := startStack(t, testConfig(t, dataDir))
	defer func() { st.stop() }()
	ctx := context.Background()
	const album, source, importID = "restart", "restart-source", "restart-test"
	samples := stageSamples(t, st, source, n)

	began := time.Now()
	// A small run quota makes the chain continue as new across the pause and the restart.
	_, _, err := st.pipeline.StartImport(ctx, photoflow.SyncInput{ImportID: importID, SourceBucket: source,
		SourcePrefix: importPrefix, UserID: importUser, AlbumID: album, Concurrency: 8, MaxPerRun: 40})
	require.NoError(t, err)

	// Pause: the copies in flight finish, then nothing more is copied until the resume.
	waitProgress(t, st, importID, "20 objects done", func(p photoflow.SyncProgress) bool { return p.Done() >= 20 })
	require.NoError(t, st.pipeline.PauseImport(ctx, importID))
	paused := waitProgress(t, st, importID, "paused with nothing in flight", func(p photoflow.SyncProgress) bool {
		return p.Paused && p.InFlight == 0
	})
	require.Less(t, paused.Done(), n, "the import finished before the pause took effect")
	time.Sleep(1200 * time.Millisecond)
	still, err := st.pipeline.ImportProgress(ctx, importID)
	require.NoError(t, err)
	require.True(t, still.Paused)
	require.Equal(t, paused.Copied, still.Copied, "copies went on while paused")
	require.Equal(t, paused.Done(), still.Done())
	require.NoError(t, st.pipeline.ResumeImport(ctx, importID))
	waitProgress(t, st, importID, "copying again", func(p photoflow.SyncProgress) bool {
		return !p.Paused && p.Done() > paused.Done()
	})

	// Stop everything mid-import.
	before := waitProgress(t, st, importID, "more than 50 copied", func(p photoflow.SyncProgress) bool { return p.Copied > 50 })
	require.Less(t, before.Done(), n, "the import finished before the restart")
	stoppedAt := time.Now()
	st.stop()
	st = startStack(t, testConfig(t, dataDir))
	t.Logf("stopped at %d of %d done (run %d of the chain); restarted in %s",
		before.Done(), n, before.Runs, time.Since(stoppedAt).Round(time.Millisecond))

	// The same import ID attaches to the chain that survived in the Temporal database.
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	sum, err := st.pipeline.WaitImport(waitCtx, importID)
	require.NoError(t, err)
	require.False(t, sum.Cancelled)
	require.Equal(t, n, sum.Listed, "listed")
	// A copy whose activity was cut off by the stop is found in place on the retry: skipped.
	require.Equal(t, n, sum.Copied+sum.Skipped, "copied %d + skipped %d", sum.Copied, sum.Skipped)
	require.Zero(t, sum.Failed, "failed: %v", sum.RecentErrors)
	require.GreaterOrEqual(t, sum.Runs, n/40, "runs of the continue-as-new chain")

	recs := waitSettled(t, st, importUser, album, n, 5*time.Minute)
	split := checkOutcomes(t, samples, album, recs)
	rep := reconcile(t, st, album, n)
	require.Equal(t, split, rep.Counts)
	requireOneRunEach(t, st, samples, album)
	t.Logf("%d images through a pause and a restart in %s (copied %d, skipped %d, %d runs started by the import, chain of %d runs); outcome %v",
		n, time.Since(began).Round(time.Millisecond), sum.Copied, sum.Skipped, sum.Started, sum.Runs, split)
}
