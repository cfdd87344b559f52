package workflows

import (
	"context"
	"errors"
	"log/slog"
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

func watcherEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	// Expected scan failures would otherwise flood the output; assertions carry the detail.
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(BucketWatcher, workflow.RegisterOptions{Name: photoflow.BucketWatcherWorkflow})
	env.RegisterActivity(&activities.Activities{})
	return env
}

// continuedWith returns the input a run continued as new with.
func continuedWith(t *testing.T, err error) photoflow.WatcherInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	assert.Equal(t, photoflow.BucketWatcherWorkflow, can.WorkflowType.Name)
	var next photoflow.WatcherInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	return next
}

func TestBucketWatcherLoops(t *testing.T) {
	env := watcherEnv(t)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	const interval = 10 * time.Minute

	var scans []time.Time
	env.OnActivity(photoflow.ScanIncomingActivity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in photoflow.ScanInput) (photoflow.ScanResult, error) {
			scans = append(scans, env.Now().UTC())
			if in.Bucket != "photoflow" || in.SettleAge != 3*time.Minute || in.PageSize != 50 {
				return photoflow.ScanResult{}, temporal.NewNonRetryableApplicationError("wrong input", "Test", nil)
			}
			if len(scans) == 2 {
				return photoflow.ScanResult{}, temporal.NewNonRetryableApplicationError("bucket gone", photoflow.ErrObjectNotFound, nil)
			}
			return photoflow.ScanResult{Listed: 10, Started: len(scans), AlreadyRecorded: 10 - len(scans)}, nil
		}).Times(3)
	var sleeps []time.Duration
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { sleeps = append(sleeps, d) })

	// Queried between the second (failed) scan and the third.
	var mid photoflow.WatcherStatus
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(photoflow.WatcherStatusQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&mid))
	}, interval+interval/2)

	carried := photoflow.WatcherStatus{Scans: 7, Totals: photoflow.ScanResult{Listed: 70, Started: 4}}
	env.ExecuteWorkflow(photoflow.BucketWatcherWorkflow, photoflow.WatcherInput{Bucket: "photoflow",
		Interval: interval, SettleAge: 3 * time.Minute, Iterations: 3, PageSize: 50, Status: carried})
	require.True(t, env.IsWorkflowCompleted())
	env.AssertExpectations(t)

	assert.Equal(t, []time.Time{start, start.Add(interval), start.Add(2 * interval)}, scans,
		"one scan, then Interval of sleep, each time")
	assert.Equal(t, []time.Duration{interval, interval, interval}, sleeps)

	assert.Equal(t, 9, mid.Scans, "the carried scans count too")
	assert.Equal(t, 1, mid.FailedScans)
	assert.Contains(t, mid.LastError, "bucket gone")
	assert.Equal(t, start.Add(interval), mid.LastScan.UTC())
	assert.Equal(t, start.Add(2*interval), mid.NextScan.UTC())
	assert.Equal(t, photoflow.ScanResult{Listed: 10, Started: 1, AlreadyRecorded: 9}, mid.Last, "the last successful scan")
	assert.Equal(t, "photoflow", mid.Bucket)

	next := continuedWith(t, env.GetWorkflowError())
	assert.Equal(t, "photoflow", next.Bucket)
	assert.Equal(t, interval, next.Interval)
	assert.Equal(t, 3*time.Minute, next.SettleAge)
	assert.Equal(t, 3, next.Iterations)
	assert.Equal(t, 50, next.PageSize)
	assert.Equal(t, 10, next.Status.Scans)
	assert.Equal(t, 1, next.Status.FailedScans)
	assert.Empty(t, next.Status.LastError, "a successful scan clears the last error")
	assert.Equal(t, photoflow.ScanResult{Listed: 90, Started: 8, AlreadyRecorded: 16}, next.Status.Totals,
		"totals carry the earlier runs' and add this run's successful scans")
	assert.Equal(t, start.Add(2*interval), next.Status.LastScan.UTC())
}

func TestBucketWatcherDefaults(t *testing.T) {
	env := watcherEnv(t)
	scans := 0
	env.OnActivity(photoflow.ScanIncomingActivity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in photoflow.ScanInput) (photoflow.ScanResult, error) {
			scans++
			if in.SettleAge != photoflow.DefaultSettleAge {
				return photoflow.ScanResult{}, temporal.NewNonRetryableApplicationError("settle age not defaulted", "Test", nil)
			}
			return photoflow.ScanResult{}, nil
		})
	var sleeps []time.Duration
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { sleeps = append(sleeps, d) })
	env.ExecuteWorkflow(photoflow.BucketWatcherWorkflow, photoflow.WatcherInput{Bucket: "photoflow"})
	next := continuedWith(t, env.GetWorkflowError())
	assert.Equal(t, photoflow.DefaultWatcherIterations, scans)
	assert.Equal(t, photoflow.DefaultWatcherIterations, next.Status.Scans)
	assert.Zero(t, next.Status.FailedScans)
	require.NotEmpty(t, sleeps)
	assert.Equal(t, photoflow.DefaultWatchInterval, sleeps[0])
}

func TestBucketWatcherNeedsBucket(t *testing.T) {
	env := watcherEnv(t)
	env.ExecuteWorkflow(photoflow.BucketWatcherWorkflow, photoflow.WatcherInput{})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr), "got %v", env.GetWorkflowError())
	assert.Equal(t, photoflow.ErrInvalidInput, appErr.Type())
}
