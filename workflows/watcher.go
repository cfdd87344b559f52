package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"photoflow"
)

// BucketWatcher scans Incoming/ every Interval and starts the runs an S3 event should have
// started, so a lost notification (or none configured at all) only delays an upload. It
// runs forever: after Iterations scans, or when the server suggests it, it continues as new
// carrying its counters. A failed scan is recorded and the next one tries again; the watcher
// itself never fails on a scan.
func BucketWatcher(ctx workflow.Context, in photoflow.WatcherInput) error {
	if in.Bucket == "" {
		return temporal.NewNonRetryableApplicationError("bucket is required", photoflow.ErrInvalidInput, nil)
	}
	if in.Interval <= 0 {
		in.Interval = photoflow.DefaultWatchInterval
	}
	if in.SettleAge <= 0 {
		in.SettleAge = photoflow.DefaultSettleAge
	}
	if in.Iterations <= 0 {
		in.Iterations = photoflow.DefaultWatcherIterations
	}
	status := in.Status
	status.Bucket = in.Bucket
	if err := workflow.SetQueryHandler(ctx, photoflow.WatcherStatusQuery, func() (photoflow.WatcherStatus, error) {
		return status, nil
	}); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// A scan of a large bucket takes a while; the heartbeat, not this, notices a dead
		// worker, and the retry resumes at the heartbeated page.
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 3, NonRetryableErrorTypes: photoflow.NonRetryableErrors},
	})
	log := workflow.GetLogger(ctx)
	for i := 0; i < in.Iterations; i++ {
		status.NextScan = time.Time{}
		var res photoflow.ScanResult
		err := workflow.ExecuteActivity(ctx, a.ScanIncoming, photoflow.ScanInput{
			Bucket: in.Bucket, SettleAge: in.SettleAge, PageSize: in.PageSize}).Get(ctx, &res)
		status.Scans++
		status.LastScan = workflow.Now(ctx)
		if err != nil {
			status.FailedScans++
			status.LastError = err.Error()
			log.Warn("bucket scan failed; the next scan tries again", "bucket", in.Bucket, "error", err)
		} else {
			status.Last, status.LastError = res, ""
			status.Totals = status.Totals.Add(res)
			if res.Started > 0 || res.Failed > 0 {
				log.Info("bucket scan", "bucket", in.Bucket, "started", res.Started, "failed", res.Failed,
					"listed", res.Listed, "lastError", res.LastError)
			}
		}
		status.NextScan = status.LastScan.Add(in.Interval)
		if err := workflow.Sleep(ctx, in.Interval); err != nil {
			return err
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			break
		}
	}
	next := in
	next.Status = status
	return workflow.NewContinueAsNewError(ctx, photoflow.BucketWatcherWorkflow, next)
}
