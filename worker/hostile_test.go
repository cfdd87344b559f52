package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/interceptor"

	"photoflow"
	"photoflow/media/mediatest"
)

// hostileRSSBound is the stated memory bound: while the worker processes the whole hostile
// catalogue (bombs included), its resident set grows by less than this over what it held
// before. Pixels are allocated only after the header's size passed the pixel limit, so the
// bound is a few decoded images at the limit of this test, not what the files claim.
const hostileRSSBound = 256 << 20

// rssBytes is the process's resident set now (VmRSS).
func rssBytes(t *testing.T) int64 {
	t.Helper()
	kb, ok := procStatusKB("VmRSS")
	if !ok {
		t.Skip("no VmRSS: cannot measure memory")
	}
	return kb << 10
}

// TestHostileFiles pushes the hostile catalogue through the whole pipeline, as objects put
// straight into the bucket (the web app would refuse some of them): zero bytes, markup named
// .jpg, truncated and corrupt JPEGs, CMYK and progressive JPEGs, 16-bit, interlaced and
// paletted PNGs, decompression bombs, hostile EXIF, other formats. Each must end in one of
// its expected outcomes with a typed error and a reason, no activity may panic, and memory
// must stay within hostileRSSBound.
func TestHostileFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	cfg := testConfig(t, t.TempDir())
	cfg.WatchInterval = 0
	// A pixel limit below this test's one large photo shows the limit is the worker's.
	cfg.Limits.MaxPixels = 2_000_000
	log := &attemptLog{}
	cfg.interceptors = []interceptor.WorkerInterceptor{log}
	st := startStack(t, cfg)
	defer st.stop()

	files := mediatest.HostileFiles()
	files = append(files, mediatest.HostileFile{Name: "over-the-limit.jpg", Kind: "pixel-limit",
		Data: mediatest.CameraJPEG(2000, 1200, 1), Expect: []string{mediatest.OutcomeTooLarge}})
	imgs := make([]chaosImage, len(files))
	for i, f := range files {
		imgs[i] = chaosImage{name: f.Name, data: f.Data}
	}

	base := rssBytes(t)
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			peak.Store(max(peak.Load(), rssBytes(t)))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	submitAll(t, st.pipeline, "hostile", "files", imgs)
	recs := waitSettled(t, st, "hostile", "files", len(files), 5*time.Minute)
	close(stop)
	wg.Wait()

	byKind := map[string]map[string]int{}
	for _, f := range files {
		rec, ok := recs["hostile/files/"+f.Name]
		require.True(t, ok, "no record for %s", f.Name)
		outcome := string(rec.Status)
		if rec.Status != photoflow.StatusSucceeded {
			outcome += "/" + rec.ErrorType
			require.NotEmpty(t, rec.ErrReason, "%s: a failure says why", f.Name)
		}
		require.Contains(t, f.Expect, outcome, "%s (%s): %s", f.Name, f.Kind, rec.ErrReason)
		if byKind[f.Kind] == nil {
			byKind[f.Kind] = map[string]int{}
		}
		byKind[f.Kind][outcome]++
	}
	log.check(t)
	log.mu.Lock()
	for _, a := range log.attempts {
		require.NotContains(t, strings.ToLower(a.Err), "panic", "%s of %s", a.Type, a.WorkflowID)
		require.NotEqual(t, photoflow.ErrInternal, a.ErrType, "%s of %s: bad input must be typed: %s", a.Type, a.WorkflowID, a.Err)
	}
	log.mu.Unlock()
	grown := peak.Load() - base
	require.Less(t, grown, int64(hostileRSSBound), "resident set grew by %d MiB", grown>>20)

	var lines []string
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		lines = append(lines, fmt.Sprintf("%s %v", k, byKind[k]))
	}
	t.Logf("hostile files: %d through the pipeline, every outcome expected; RSS %d MiB before, peak %d MiB (+%d MiB, bound %d MiB)\n  %s",
		len(files), base>>20, peak.Load()>>20, grown>>20, hostileRSSBound>>20, strings.Join(lines, "\n  "))
}
