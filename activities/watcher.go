package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"photoflow"
	"photoflow/objstore"
	"photoflow/store"
)

// ScanCheckpoint is ScanIncoming's heartbeat: the listing page to resume at and what the
// pages before it counted. It is taken only between pages, so a retried attempt neither
// counts an object twice nor loses the counts of the pages already done.
type ScanCheckpoint struct {
	Token  string               `json:"token"`
	Pages  int                  `json:"pages"`
	Result photoflow.ScanResult `json:"result"`
}

// ScanIncoming lists Incoming/ and starts the run of every settled object that has no record
// of its content, so an upload whose S3 event was lost (or never configured) is processed
// anyway. Objects newer than SettleAge are left alone: still landing, or announced by an
// event a moment from now. Starting is idempotent, so racing an event costs one lookup.
//
// Failures on one object are counted and the scan goes on (the next scan retries it); a
// failed listing fails the attempt, and the retry resumes at the heartbeated page.
func (a *Activities) ScanIncoming(ctx context.Context, in photoflow.ScanInput) (photoflow.ScanResult, error) {
	if in.Bucket == "" || in.SettleAge < 0 || in.PageSize < 0 {
		return photoflow.ScanResult{}, badInput(photoflow.ErrInvalidInput,
			"scan needs a bucket and a non-negative settle age and page size (got %q, %v, %d)", in.Bucket, in.SettleAge, in.PageSize)
	}
	if a.Starter == nil {
		return photoflow.ScanResult{}, badInput(photoflow.ErrInvalidInput, "no run starter configured for ScanIncoming")
	}
	inActivity := activity.IsActivity(ctx)
	var cp ScanCheckpoint
	if inActivity && activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &cp); err != nil {
			// An unreadable checkpoint costs a rescan from the start, never a wrong count.
			activity.GetLogger(ctx).Warn("scan checkpoint unreadable; starting over", "error", err)
			cp = ScanCheckpoint{}
		}
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	cutoff := now.Add(-in.SettleAge)
	for {
		page, err := a.Objects.List(ctx, in.Bucket, photoflow.IncomingPrefix, cp.Token, in.PageSize)
		if err != nil {
			return cp.Result, classify(ctx, "list "+photoflow.IncomingPrefix, err)
		}
		res := cp.Result
		for _, o := range page.Objects {
			if inActivity {
				// The SDK batches heartbeats, so one per object is cheap and keeps a slow
				// page (many starts) from looking like a dead worker.
				activity.RecordHeartbeat(ctx, cp)
			}
			if err := ctx.Err(); err != nil {
				return cp.Result, classify(ctx, "scan", err)
			}
			res.Listed++
			if err := a.scanObject(ctx, in.Bucket, o, cutoff, &res); err != nil {
				return cp.Result, err
			}
		}
		cp = ScanCheckpoint{Token: page.Next, Pages: cp.Pages + 1, Result: res}
		if page.Next == "" {
			return res, nil
		}
		if inActivity {
			activity.RecordHeartbeat(ctx, cp)
		}
	}
}

// scanObject decides one listed object, counting the outcome in res. It returns an error
// only when the attempt itself is over (its context ended).
func (a *Activities) scanObject(ctx context.Context, bucket string, o objstore.ListedObject, cutoff time.Time, res *photoflow.ScanResult) error {
	failed := func(op string, err error) error {
		if ctx.Err() != nil {
			return classify(ctx, op, ctx.Err())
		}
		res.Failed++
		res.LastError = fmt.Sprintf("%s %s: %v", op, o.Key, err)
		if a.TriggerError != nil {
			a.TriggerError("watcher")
		}
		if activity.IsActivity(ctx) {
			activity.GetLogger(ctx).Warn("scan could not handle an object", "key", o.Key, "op", op, "error", err)
		}
		return nil
	}
	switch {
	case !photoflow.IsUploadKey(o.Key):
		res.Skipped++
		return nil
	case o.LastModified.After(cutoff):
		res.TooYoung++
		return nil
	}
	rec, err := a.Store.Get(ctx, photoflow.ImageID(o.Key))
	switch {
	case err == nil && (rec.ETag == o.ETag || rec.ETag == ""):
		// A record without an ETag cannot be compared; re-running it could only repeat it.
		res.AlreadyRecorded++
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return failed("get record", err)
	}
	// The listing may be minutes old by now: an album deletion removes the object before its
	// record, and a run started for it would write the record back as a failure.
	info, err := a.Objects.Head(ctx, bucket, o.Key)
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		res.Vanished++
		return nil
	case err != nil:
		return failed("head", err)
	case info.ETag != o.ETag || info.LastModified.After(cutoff):
		// Overwritten since the listing: the new content is young, and its own event or a
		// later scan takes it.
		res.TooYoung++
		return nil
	}
	started, err := a.Starter.Start(ctx, photoflow.ImageInput{Bucket: bucket, Key: o.Key, ETag: o.ETag,
		UploadTime: o.LastModified.UTC()})
	switch {
	case err != nil:
		return failed("start run", err)
	case started:
		res.Started++
	default:
		res.Duplicates++
	}
	return nil
}
