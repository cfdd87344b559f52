package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"photoflow"
	"photoflow/activities"
)

// fakeSource is a listing served in pages keyed by continuation token ("" is the first),
// and a SyncObject that records every call.
type fakeSource struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	pages map[string]photoflow.SourcePage

	mu       sync.Mutex
	calls    []string // SyncObject keys in call order
	attempts map[string]int
	listings []photoflow.ListPageInput
	// onSync, when set, runs inside SyncObject before it answers (with the call's index).
	onSync func(n int, key string)
	// answer decides SyncObject's result per key; nil copies and starts.
	answer func(key string) (photoflow.SyncObjectResult, error)

	inFlight, maxInFlight atomic.Int32
	delay                 time.Duration
}

func newSyncEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeSource) {
	var s testsuite.WorkflowTestSuite
	// Expected failures would otherwise flood the output; assertions carry the detail.
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(BucketSync, workflow.RegisterOptions{Name: photoflow.BucketSyncWorkflow})
	env.RegisterActivity(&activities.Activities{})
	f := &fakeSource{t: t, env: env, pages: map[string]photoflow.SourcePage{}, attempts: map[string]int{}}
	env.OnActivity(photoflow.ListSourcePageActivity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in photoflow.ListPageInput) (photoflow.SourcePage, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.listings = append(f.listings, in)
			p, ok := f.pages[in.ContinuationToken]
			if !ok {
				return p, temporal.NewNonRetryableApplicationError("unknown token "+in.ContinuationToken, photoflow.ErrInvalidInput, nil)
			}
			if in.ContinuationToken == "" && in.StartAfter != "" {
				// What S3 does with StartAfter and no token.
				var rest []photoflow.SourceObject
				for _, o := range f.all() {
					if o.Key > in.StartAfter {
						rest = append(rest, o)
					}
				}
				return photoflow.SourcePage{Objects: rest}, nil
			}
			return p, nil
		}).Maybe()
	env.OnActivity(photoflow.SyncObjectActivity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in photoflow.SyncObjectInput) (photoflow.SyncObjectResult, error) {
			n := f.inFlight.Add(1)
			defer f.inFlight.Add(-1)
			for {
				m := f.maxInFlight.Load()
				if n <= m || f.maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			f.mu.Lock()
			f.calls = append(f.calls, in.Object.Key)
			f.attempts[in.Object.Key]++
			idx := len(f.calls)
			f.mu.Unlock()
			if f.onSync != nil {
				f.onSync(idx, in.Object.Key)
			}
			time.Sleep(f.delay)
			if f.answer != nil {
				return f.answer(in.Object.Key)
			}
			return photoflow.SyncObjectResult{DestKey: photoflow.IncomingKey(in.UserID, in.AlbumID, in.Object.Key),
				Copied: true, Started: true}, nil
		}).Maybe()
	return env, f
}

// all is every object of every page, in page order (callers hold mu).
func (f *fakeSource) all() []photoflow.SourceObject {
	var out []photoflow.SourceObject
	for tok := ""; ; {
		p := f.pages[tok]
		out = append(out, p.Objects...)
		if p.NextContinuationToken == "" {
			return out
		}
		tok = p.NextContinuationToken
	}
}

func (f *fakeSource) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// syncObjects makes n objects k000 … with a fixed prefix.
func syncObjects(from, n int) []photoflow.SourceObject {
	out := make([]photoflow.SourceObject, n)
	for i := range n {
		out[i] = photoflow.SourceObject{Key: fmt.Sprintf("src/k%03d.jpg", from+i), ETag: fmt.Sprintf("e%d", from+i), Size: 100}
	}
	return out
}

func syncInput() photoflow.SyncInput {
	return photoflow.SyncInput{ImportID: "imp1", SourceBucket: "source", SourcePrefix: "src/",
		DestBucket: "photoflow", UserID: "alice", AlbumID: "trip"}
}

func syncResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) photoflow.SyncSummary {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var sum photoflow.SyncSummary
	require.NoError(t, env.GetWorkflowResult(&sum))
	return sum
}

func TestBucketSyncTwoPagesWithinWindow(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 10), NextContinuationToken: "p2"}
	f.pages["p2"] = photoflow.SourcePage{Objects: syncObjects(10, 7)}
	f.delay = 20 * time.Millisecond
	in := syncInput()
	in.Concurrency = 3
	in.PageSize = 10
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, in)

	sum := syncResult(t, env)
	assert.Equal(t, 17, sum.Listed)
	assert.Equal(t, 17, sum.Copied)
	assert.Equal(t, 17, sum.Started)
	assert.Zero(t, sum.Skipped+sum.Failed)
	assert.Equal(t, 2, sum.Pages)
	assert.False(t, sum.Cancelled)
	assert.Equal(t, 1, sum.Runs)
	var want []string
	for _, o := range syncObjects(0, 17) {
		want = append(want, o.Key)
	}
	f.mu.Lock()
	got := slices.Clone(f.calls)
	listings := slices.Clone(f.listings)
	f.mu.Unlock()
	slices.Sort(got)
	assert.Equal(t, want, got, "every object synced exactly once")
	assert.LessOrEqual(t, f.maxInFlight.Load(), int32(3), "window exceeded Concurrency")
	assert.Equal(t, int32(3), f.maxInFlight.Load(), "the window was never full: no parallelism")
	require.Len(t, listings, 2)
	assert.Equal(t, "", listings[0].ContinuationToken)
	assert.Equal(t, "p2", listings[1].ContinuationToken)
	assert.Equal(t, 10, listings[0].PageSize)
	assert.Equal(t, "photoflow", listings[0].DestBucket)
}

func TestBucketSyncCountsSkippedAndFailed(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 6)}
	f.answer = func(key string) (photoflow.SyncObjectResult, error) {
		switch key {
		case "src/k001.jpg", "src/k003.jpg":
			// Unchanged in the album; its run existed already.
			return photoflow.SyncObjectResult{Copied: false, Started: false}, nil
		case "src/k004.jpg":
			// Retryable by flag, but its type is in NonRetryableErrors: one attempt only.
			return photoflow.SyncObjectResult{}, temporal.NewApplicationError("head source: gone", photoflow.ErrObjectNotFound)
		case "src/k005.jpg":
			// Copied, but another trigger had started its run first.
			return photoflow.SyncObjectResult{Copied: true, Started: false}, nil
		}
		return photoflow.SyncObjectResult{Copied: true, Started: true}, nil
	}
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, syncInput())

	sum := syncResult(t, env)
	assert.Equal(t, 6, sum.Listed)
	assert.Equal(t, 2, sum.Skipped)
	assert.Equal(t, 3, sum.Copied)
	assert.Equal(t, 2, sum.Started)
	assert.Equal(t, 1, sum.Failed)
	require.Len(t, sum.RecentErrors, 1)
	assert.Contains(t, sum.RecentErrors[0], "src/k004.jpg")
	assert.Contains(t, sum.RecentErrors[0], photoflow.ErrObjectNotFound)
	f.mu.Lock()
	assert.Equal(t, 1, f.attempts["src/k004.jpg"], "ObjectNotFound must not be retried")
	f.mu.Unlock()
}

func TestBucketSyncRetriesTransientFailures(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 2)}
	f.answer = func(key string) (photoflow.SyncObjectResult, error) {
		f.mu.Lock()
		n := f.attempts[key]
		f.mu.Unlock()
		if key == "src/k000.jpg" && n < 3 {
			return photoflow.SyncObjectResult{}, temporal.NewApplicationError("slow down", photoflow.ErrThrottled)
		}
		return photoflow.SyncObjectResult{Copied: true, Started: true}, nil
	}
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, syncInput())
	sum := syncResult(t, env)
	assert.Equal(t, 2, sum.Copied)
	assert.Zero(t, sum.Failed)
	f.mu.Lock()
	assert.Equal(t, 3, f.attempts["src/k000.jpg"])
	f.mu.Unlock()
}

func TestBucketSyncPauseResume(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 8)}
	// With a window of one, the object in flight when the pause lands is the only one that
	// may still finish.
	f.onSync = func(n int, _ string) {
		if n == 3 {
			env.SignalWorkflow(photoflow.SyncPauseSignal, nil)
		}
	}
	callsAtResume := -1
	var paused photoflow.SyncProgress
	env.RegisterDelayedCallback(func() {
		callsAtResume = f.callCount()
		v, err := env.QueryWorkflow(photoflow.SyncProgressQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&paused))
		env.SignalWorkflow(photoflow.SyncResumeSignal, nil)
	}, time.Hour)
	in := syncInput()
	in.Concurrency = 1
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, in)

	sum := syncResult(t, env)
	assert.Equal(t, 3, callsAtResume, "SyncObject ran while paused (or the pause never held the run)")
	assert.True(t, paused.Paused)
	assert.Zero(t, paused.InFlight)
	assert.Equal(t, 3, paused.Copied)
	assert.Equal(t, 8, paused.Listed)
	assert.True(t, paused.ListingDone)
	assert.Equal(t, 8, sum.Copied, "resume must finish the import")
	assert.False(t, sum.Cancelled)
	assert.GreaterOrEqual(t, sum.Duration, time.Hour, "the pause lasted an hour of workflow time")
}

func TestBucketSyncCancelSignal(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 10), NextContinuationToken: "p2"}
	f.pages["p2"] = photoflow.SourcePage{Objects: syncObjects(10, 10)}
	f.delay = 10 * time.Millisecond
	f.onSync = func(n int, _ string) {
		if n == 4 {
			env.SignalWorkflow(photoflow.SyncCancelSignal, nil)
		}
	}
	in := syncInput()
	in.Concurrency = 2
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, in)

	sum := syncResult(t, env)
	assert.True(t, sum.Cancelled)
	calls := f.callCount()
	assert.GreaterOrEqual(t, calls, 4)
	assert.LessOrEqual(t, calls, 5, "only the window in flight at the cancel may finish")
	assert.Equal(t, calls, sum.Copied, "objects in flight at the cancel finish and are counted")
	assert.Less(t, sum.Copied, 20)
}

func TestBucketSyncContinuesAsNewMidPage(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 8), NextContinuationToken: "p2"}
	f.pages["p2"] = photoflow.SourcePage{Objects: syncObjects(8, 4)}
	in := syncInput()
	in.MaxPerRun = 5
	in.Concurrency = 2
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, in)

	require.True(t, env.IsWorkflowCompleted())
	next := continuedInput(t, env.GetWorkflowError())
	assert.Equal(t, 5, f.callCount(), "a run handles MaxPerRun objects")
	st := next.State
	assert.Equal(t, 5, st.Copied)
	assert.Equal(t, 5, st.Listed, "the 3 unscheduled objects are listed again by the next run")
	assert.Equal(t, "src/k004.jpg", st.StartAfter)
	assert.Empty(t, st.ContinuationToken, "mid-page, the next run resumes after the key, not at the next page")
	assert.False(t, st.ListingDone)
	assert.Equal(t, 1, st.Runs)
	assert.False(t, st.StartedAt.IsZero())
	assert.Equal(t, in.ImportID, next.ImportID)
	assert.Equal(t, 5, next.MaxPerRun)

	// The next run picks up exactly where this one stopped.
	env2, f2 := newSyncEnv(t)
	f2.pages = f.pages
	env2.ExecuteWorkflow(photoflow.BucketSyncWorkflow, next)
	next2 := continuedInput(t, env2.GetWorkflowError())
	f2.mu.Lock()
	calls := slices.Sorted(slices.Values(f2.calls)) // two in flight finish in either order
	assert.Equal(t, []string{"src/k005.jpg", "src/k006.jpg", "src/k007.jpg", "src/k008.jpg", "src/k009.jpg"}, calls)
	assert.Equal(t, "src/k004.jpg", f2.listings[0].StartAfter)
	f2.mu.Unlock()
	assert.Equal(t, 10, next2.State.Copied)
	assert.Equal(t, 2, next2.State.Runs)
	assert.Equal(t, st.StartedAt, next2.State.StartedAt, "the import's start time is carried")
}

func TestBucketSyncContinuesAsNewAtPageBoundary(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 4), NextContinuationToken: "p2"}
	f.pages["p2"] = photoflow.SourcePage{Objects: syncObjects(4, 2)}
	in := syncInput()
	in.MaxPerRun = 4
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, in)
	next := continuedInput(t, env.GetWorkflowError())
	assert.Equal(t, "p2", next.State.ContinuationToken)
	assert.Equal(t, 4, next.State.Listed)
	f.mu.Lock()
	assert.Len(t, f.listings, 1, "nothing beyond the run's quota is listed")
	f.mu.Unlock()

	env2, f2 := newSyncEnv(t)
	f2.pages = f.pages
	env2.ExecuteWorkflow(photoflow.BucketSyncWorkflow, next)
	sum := syncResult(t, env2)
	assert.Equal(t, 6, sum.Copied)
	assert.Equal(t, 6, sum.Listed)
	assert.Equal(t, 2, sum.Runs)
}

func TestBucketSyncPauseSurvivesContinueAsNew(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 6)}
	f.onSync = func(n int, _ string) {
		if n == 2 {
			env.SignalWorkflow(photoflow.SyncPauseSignal, nil)
		}
	}
	in := syncInput()
	in.MaxPerRun = 2
	in.Concurrency = 1
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, in)
	next := continuedInput(t, env.GetWorkflowError())
	assert.True(t, next.State.Paused)
}

func continuedInput(t *testing.T, err error) photoflow.SyncInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	assert.Equal(t, photoflow.BucketSyncWorkflow, can.WorkflowType.Name)
	var next photoflow.SyncInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	return next
}

func TestBucketSyncListingFailureFailsImport(t *testing.T) {
	env, _ := newSyncEnv(t)
	// No pages: the fake answers with a non-retryable error.
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, syncInput())
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an application error, got %v", err)
	assert.Equal(t, photoflow.ErrInvalidInput, appErr.Type())
	assert.Contains(t, appErr.Error(), "unknown token")
}

func TestBucketSyncRefusesBadInput(t *testing.T) {
	for name, mod := range map[string]func(*photoflow.SyncInput){
		"no user":                 func(in *photoflow.SyncInput) { in.UserID = "" },
		"slash in album":          func(in *photoflow.SyncInput) { in.AlbumID = "a/b" },
		"own Incoming":            func(in *photoflow.SyncInput) { in.SourceBucket, in.SourcePrefix = in.DestBucket, "Incoming/bob/" },
		"whole destination":       func(in *photoflow.SyncInput) { in.SourceBucket, in.SourcePrefix = in.DestBucket, "" },
		"own thumbnails":          func(in *photoflow.SyncInput) { in.SourceBucket, in.SourcePrefix = in.DestBucket, "Thumb" },
		"negative concurrency":    func(in *photoflow.SyncInput) { in.Concurrency = -1 },
		"no destination bucket":   func(in *photoflow.SyncInput) { in.DestBucket = "" },
		"no import ID (no chain)": func(in *photoflow.SyncInput) { in.ImportID = "" },
	} {
		t.Run(name, func(t *testing.T) {
			env, f := newSyncEnv(t)
			in := syncInput()
			mod(&in)
			env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, in)
			err := env.GetWorkflowError()
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "want InvalidInput, got %v", err)
			assert.Equal(t, photoflow.ErrInvalidInput, appErr.Type())
			assert.Zero(t, f.callCount())
		})
	}
	// A staging prefix of the destination bucket is the intended same-bucket use.
	_, err := checkSyncInput(photoflow.SyncInput{ImportID: "i", SourceBucket: "b", DestBucket: "b",
		SourcePrefix: photoflow.StagingKeyPrefix("i"), UserID: "u", AlbumID: "a"})
	require.NoError(t, err)
}

func TestBucketSyncProgressQuery(t *testing.T) {
	env, f := newSyncEnv(t)
	f.pages[""] = photoflow.SourcePage{Objects: syncObjects(0, 4), NextContinuationToken: "p2"}
	f.pages["p2"] = photoflow.SourcePage{Objects: syncObjects(4, 4)}
	var mid photoflow.SyncProgress
	f.onSync = func(n int, _ string) {
		if n == 3 {
			env.SignalWorkflow(photoflow.SyncPauseSignal, nil)
		}
	}
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(photoflow.SyncProgressQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&mid))
		env.SignalWorkflow(photoflow.SyncResumeSignal, nil)
	}, 10*time.Minute)
	in := syncInput()
	in.Concurrency = 1
	env.ExecuteWorkflow(photoflow.BucketSyncWorkflow, in)
	syncResult(t, env)
	assert.Equal(t, "imp1", mid.ImportID)
	assert.Equal(t, 3, mid.Copied)
	assert.Equal(t, 4, mid.Listed, "only the first page is listed while the window has work")
	assert.False(t, mid.ListingDone)
	assert.True(t, mid.ETAPartial)
	assert.Equal(t, 1, mid.Pages)

	// After the run, the query answers from its final state.
	v, err := env.QueryWorkflow(photoflow.SyncProgressQuery)
	require.NoError(t, err)
	var end photoflow.SyncProgress
	require.NoError(t, v.Get(&end))
	assert.Equal(t, 8, end.Copied)
	assert.True(t, end.ListingDone)
	assert.False(t, end.ETAPartial)
	assert.Zero(t, end.ETA)
	assert.Positive(t, end.RatePerSec)
	assert.GreaterOrEqual(t, end.Elapsed, 10*time.Minute)
}

func TestSyncProgressRateAndETA(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &syncer{in: photoflow.SyncInput{ImportID: "x"}, inFlight: 2, st: photoflow.SyncState{StartedAt: start,
		SyncCounters: photoflow.SyncCounters{Listed: 100, Copied: 30, Skipped: 10, Failed: 10}}}
	p := s.progress(start.Add(100 * time.Second))
	assert.InDelta(t, 0.5, p.RatePerSec, 1e-9)
	assert.Equal(t, 100*time.Second, p.ETA, "50 left at 0.5/s")
	assert.True(t, p.ETAPartial)
	assert.Equal(t, 2, p.InFlight)
	assert.Equal(t, 100*time.Second, p.Elapsed)

	s.st.ListingDone = true
	p = s.progress(start.Add(100 * time.Second))
	assert.False(t, p.ETAPartial)

	// Nothing finished yet: no rate, no ETA, rather than a division by zero.
	s.st.SyncCounters = photoflow.SyncCounters{Listed: 10}
	p = s.progress(start.Add(time.Minute))
	assert.Zero(t, p.RatePerSec)
	assert.Zero(t, p.ETA)
}
