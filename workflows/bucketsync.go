package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"photoflow"
)

// maxSyncConcurrency caps the window: each slot is an S3 copy plus a workflow start, and
// a bigger window mostly buys throttling.
const maxSyncConcurrency = 64

// BucketSync imports a source prefix into an album: the workshop's "sync-buckets" machine.
// It lists the source page by page and keeps at most Concurrency SyncObject activities in
// flight, each copying one object (unless the album already holds it) and starting its
// ImageProcessing run. It can be paused, resumed and cancelled by signal, answers
// SyncProgressQuery, and continues as new every MaxPerRun objects, carrying its State.
//
// A failed object is counted and its reason kept; only a listing that fails on every
// attempt fails the import. A cancel signal ends the import with a summary marked
// cancelled; a Temporal cancellation request does the same but ends the run cancelled.
func BucketSync(ctx workflow.Context, in photoflow.SyncInput) (photoflow.SyncSummary, error) {
	in, err := checkSyncInput(in)
	if err != nil {
		return photoflow.SyncSummary{}, err
	}
	s := &syncer{in: in, st: in.State, log: log.With(workflow.GetLogger(ctx), "importID", in.ImportID)}
	if s.st.StartedAt.IsZero() {
		s.st.StartedAt = workflow.Now(ctx).UTC()
	}
	if err := workflow.SetQueryHandler(ctx, photoflow.SyncProgressQuery, func() (photoflow.SyncProgress, error) {
		return s.progress(workflow.Now(ctx)), nil
	}); err != nil {
		return photoflow.SyncSummary{}, err
	}
	return s.run(ctx)
}

// checkSyncInput applies the defaults and refuses what no retry could fix.
func checkSyncInput(in photoflow.SyncInput) (photoflow.SyncInput, error) {
	bad := func(format string, args ...any) (photoflow.SyncInput, error) {
		return in, temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), photoflow.ErrInvalidInput, nil)
	}
	switch {
	case in.ImportID == "" || in.SourceBucket == "" || in.DestBucket == "" || in.UserID == "" || in.AlbumID == "":
		return bad("import ID, source bucket, destination bucket, user and album are required")
	case strings.Contains(in.UserID, "/") || strings.Contains(in.AlbumID, "/"):
		return bad("user %q and album %q must not contain '/'", in.UserID, in.AlbumID)
	case in.Concurrency < 0 || in.PageSize < 0 || in.MaxPerRun < 0:
		return bad("concurrency, page size and objects per run must not be negative")
	}
	// Syncing a bucket's own Incoming/ or Thumbnail/ into it would feed on its own output.
	if in.SourceBucket == in.DestBucket {
		for _, p := range []string{photoflow.IncomingPrefix, photoflow.ThumbnailPrefix} {
			if strings.HasPrefix(p, in.SourcePrefix) || strings.HasPrefix(in.SourcePrefix, p) {
				return bad("source prefix %q of the destination bucket overlaps %s: use a prefix outside it (e.g. %s)",
					in.SourcePrefix, p, photoflow.StagingKeyPrefix(in.ImportID))
			}
		}
	}
	if in.Concurrency == 0 {
		in.Concurrency = photoflow.DefaultSyncConcurrency
	}
	in.Concurrency = min(in.Concurrency, maxSyncConcurrency)
	if in.PageSize == 0 || in.PageSize > photoflow.DefaultSyncPageSize {
		in.PageSize = photoflow.DefaultSyncPageSize
	}
	if in.MaxPerRun == 0 {
		in.MaxPerRun = photoflow.DefaultSyncMaxPerRun
	}
	return in, nil
}

// syncer is one run's state; the query reads it.
type syncer struct {
	in  photoflow.SyncInput
	st  photoflow.SyncState
	log log.Logger

	// pending are listed objects not yet scheduled, in key order.
	pending []photoflow.SourceObject
	// ops are the activities in flight: the SyncObject window and at most one listing.
	ops       []*syncOp
	inFlight  int
	listing   bool
	scheduled int // objects scheduled by this run
	// cancelling: a cancel signal (or request) arrived; nothing new is scheduled.
	cancelling   bool
	ctxCancelled bool
	// fatal is a listing failure; the run ends with it once the window drains.
	fatal error
}

type syncOp struct {
	f    workflow.Future
	done func(workflow.Future)
}

func (s *syncer) run(ctx workflow.Context) (photoflow.SyncSummary, error) {
	listCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		// The import cannot go on without its listing: be patient before giving up.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: photoflow.NonRetryableErrors},
	})
	syncCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// A server-side copy of a large object can take minutes; heartbeats notice a lost
		// worker long before that.
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: photoflow.NonRetryableErrors},
	})
	pause := workflow.GetSignalChannel(ctx, photoflow.SyncPauseSignal)
	resume := workflow.GetSignalChannel(ctx, photoflow.SyncResumeSignal)
	cancel := workflow.GetSignalChannel(ctx, photoflow.SyncCancelSignal)
	onPause := func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); s.setPaused(true) }
	onResume := func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); s.setPaused(false) }
	onCancel := func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); s.cancel("signal") }

	for {
		s.schedule(ctx, listCtx, syncCtx)
		if len(s.ops) == 0 {
			switch {
			case s.fatal != nil:
				s.log.Error("import failed: the source could not be listed", "error", s.fatal)
				// The listing's own type (InvalidInput, ObjectNotFound for a missing bucket…) says
				// what to fix, so the run fails with it.
				errType := photoflow.ErrInternal
				var appErr *temporal.ApplicationError
				if errors.As(s.fatal, &appErr) {
					errType = appErr.Type()
				}
				return s.summary(ctx), temporal.NewNonRetryableApplicationError(fmt.Sprintf("list source s3://%s/%s: %s",
					s.in.SourceBucket, s.in.SourcePrefix, failureReason(s.fatal)), errType, s.fatal, s.summary(ctx))
			case s.cancelling || (s.st.ListingDone && len(s.pending) == 0):
				return s.finish(ctx)
			case s.scheduled >= s.in.MaxPerRun:
				// Signals that arrived since the last select would be lost with this run.
				for pause.ReceiveAsync(nil) {
					s.setPaused(true)
				}
				for resume.ReceiveAsync(nil) {
					s.setPaused(false)
				}
				for cancel.ReceiveAsync(nil) {
					s.cancel("signal")
				}
				if s.cancelling {
					return s.finish(ctx)
				}
				return photoflow.SyncSummary{}, s.continueAsNew(ctx)
			}
		}
		// A fresh selector each turn: finished futures and the closed Done channel must not
		// stay selectable.
		sel := workflow.NewSelector(ctx)
		for _, op := range s.ops {
			sel.AddFuture(op.f, func(f workflow.Future) {
				s.remove(op)
				op.done(f)
			})
		}
		sel.AddReceive(pause, onPause)
		sel.AddReceive(resume, onResume)
		sel.AddReceive(cancel, onCancel)
		if !s.ctxCancelled {
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {
				s.ctxCancelled = true
				s.cancel("cancellation request")
			})
		}
		sel.Select(ctx)
	}
}

// schedule fills the window from the pending objects and lists ahead while the window
// could use more, unless paused, cancelling or at this run's quota.
func (s *syncer) schedule(ctx, listCtx, syncCtx workflow.Context) {
	if s.fatal != nil || s.cancelling || s.st.Paused {
		return
	}
	for s.inFlight < s.in.Concurrency && len(s.pending) > 0 && s.scheduled < s.in.MaxPerRun {
		obj := s.pending[0]
		s.pending = s.pending[1:]
		s.inFlight++
		s.scheduled++
		s.st.StartAfter = obj.Key
		f := workflow.ExecuteActivity(syncCtx, a.SyncObject, photoflow.SyncObjectInput{
			ImportID: s.in.ImportID, SourceBucket: s.in.SourceBucket, SourcePrefix: s.in.SourcePrefix,
			Object: obj, DestBucket: s.in.DestBucket, UserID: s.in.UserID, AlbumID: s.in.AlbumID})
		s.ops = append(s.ops, &syncOp{f: f, done: func(f workflow.Future) {
			s.inFlight--
			var res photoflow.SyncObjectResult
			s.record(obj, res, f.Get(ctx, &res))
		}})
	}
	// Listing the next page while the window still has work keeps it full across pages;
	// listing beyond this run's quota would only be listed again by the next run.
	if !s.listing && !s.st.ListingDone && len(s.pending) < s.in.Concurrency &&
		s.scheduled+len(s.pending) < s.in.MaxPerRun {
		s.listing = true
		f := workflow.ExecuteActivity(listCtx, a.ListSourcePage, photoflow.ListPageInput{
			Bucket: s.in.SourceBucket, Prefix: s.in.SourcePrefix, ContinuationToken: s.st.ContinuationToken,
			StartAfter: s.st.StartAfter, PageSize: s.in.PageSize, DestBucket: s.in.DestBucket})
		s.ops = append(s.ops, &syncOp{f: f, done: func(f workflow.Future) {
			s.listing = false
			var page photoflow.SourcePage
			if err := f.Get(ctx, &page); err != nil {
				if !temporal.IsCanceledError(err) {
					s.fatal = err
				}
				return
			}
			s.st.Pages++
			s.st.Listed += len(page.Objects)
			s.pending = append(s.pending, page.Objects...)
			s.st.ContinuationToken = page.NextContinuationToken
			s.st.ListingDone = page.NextContinuationToken == ""
		}})
	}
}

func (s *syncer) remove(op *syncOp) {
	for i, o := range s.ops {
		if o == op {
			s.ops = append(s.ops[:i], s.ops[i+1:]...)
			return
		}
	}
}

// record counts one finished object.
func (s *syncer) record(obj photoflow.SourceObject, res photoflow.SyncObjectResult, err error) {
	c := &s.st.SyncCounters
	switch {
	case err == nil:
		if res.Copied {
			c.Copied++
		} else {
			c.Skipped++
		}
		if res.Started {
			c.Started++
		}
	case temporal.IsCanceledError(err):
		// Only a cancelled import cancels its activities: the object was not tried in full,
		// which is not a fault of the object.
	default:
		c.Failed++
		c.RecentErrors = append(c.RecentErrors, obj.Key+": "+failureReason(err))
		if n := len(c.RecentErrors); n > photoflow.SyncRecentErrors {
			c.RecentErrors = append([]string(nil), c.RecentErrors[n-photoflow.SyncRecentErrors:]...)
		}
		s.log.Warn("object not synced", "key", obj.Key, "error", err)
	}
}

// failureReason is an activity's final error as "Type: message".
func failureReason(err error) string {
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr):
		return appErr.Type() + ": " + appErr.Message()
	case errors.As(err, &timeoutErr):
		return photoflow.ErrTimeout + ": " + timeoutErr.Error()
	}
	return err.Error()
}

func (s *syncer) setPaused(p bool) {
	if s.st.Paused != p {
		s.log.Info("import paused or resumed", "paused", p)
	}
	s.st.Paused = p
}

func (s *syncer) cancel(by string) {
	if !s.cancelling {
		s.log.Info("import cancelled; waiting for the copies in flight", "by", by, "inFlight", s.inFlight)
	}
	s.cancelling = true
}

// continueAsNew hands the state to a fresh run. Objects listed but not yet scheduled are
// listed again by the next run, after the last key scheduled, so they are not counted twice.
func (s *syncer) continueAsNew(ctx workflow.Context) error {
	next := s.in
	next.State = s.st
	next.State.Runs++
	if len(s.pending) > 0 {
		next.State.Listed -= len(s.pending)
		next.State.ContinuationToken = ""
		next.State.ListingDone = false
	}
	s.log.Info("import continues as new", "listed", next.State.Listed, "done", next.State.Done(), "runs", next.State.Runs)
	return workflow.NewContinueAsNewError(ctx, photoflow.BucketSyncWorkflow, next)
}

func (s *syncer) finish(ctx workflow.Context) (photoflow.SyncSummary, error) {
	sum := s.summary(ctx)
	s.log.Info("import finished", "cancelled", sum.Cancelled, "listed", sum.Listed, "copied", sum.Copied,
		"skipped", sum.Skipped, "failed", sum.Failed, "started", sum.Started, "duration", sum.Duration)
	if s.ctxCancelled {
		return sum, temporal.NewCanceledError(sum)
	}
	return sum, nil
}

func (s *syncer) summary(ctx workflow.Context) photoflow.SyncSummary {
	now := workflow.Now(ctx).UTC()
	return photoflow.SyncSummary{ImportID: s.in.ImportID, SyncCounters: s.st.SyncCounters, Pages: s.st.Pages,
		StartedAt: s.st.StartedAt, FinishedAt: now, Duration: now.Sub(s.st.StartedAt),
		Cancelled: s.cancelling, Runs: s.st.Runs + 1}
}

// progress derives rate and ETA from the counters; the clock is the workflow's, which
// moves only when the run has work, so an idle (paused) import shows its last rate.
func (s *syncer) progress(now time.Time) photoflow.SyncProgress {
	p := photoflow.SyncProgress{ImportID: s.in.ImportID, SyncCounters: s.st.SyncCounters,
		InFlight: s.inFlight, Pages: s.st.Pages, ListingDone: s.st.ListingDone, Paused: s.st.Paused,
		Cancelling: s.cancelling, StartedAt: s.st.StartedAt, Runs: s.st.Runs + 1}
	p.RecentErrors = append([]string(nil), s.st.RecentErrors...)
	p.Elapsed = max(now.Sub(s.st.StartedAt), 0)
	if done := p.Done(); done > 0 && p.Elapsed > 0 {
		p.RatePerSec = float64(done) / p.Elapsed.Seconds()
		left := max(p.Listed-done, 0)
		p.ETA = time.Duration(float64(left) / p.RatePerSec * float64(time.Second)).Round(time.Second)
	}
	p.ETAPartial = !p.ListingDone
	return p
}
