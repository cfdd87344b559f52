// Package workflows holds the ImageProcessing workflow: the Step Functions state machine of the
// image recognition workshop as deterministic Go. Each stage method names the ASL state it
// replaces.
package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"photoflow"
	"photoflow/activities"
)

// a is nil: the workflow only takes method names from it, never calls it.
var a *activities.Activities

// Deadline reviewer names, recorded when nobody decided in time.
const deadlineReviewer = "photoflow:deadline"

// ImageProcessing processes one uploaded image. It returns the final record for SUCCEEDED and
// REJECTED images, and fails with a typed application error (carrying the record as details)
// for FAILED ones, so failed runs are findable by execution status too.
func ImageProcessing(ctx workflow.Context, in photoflow.ImageInput) (photoflow.ImageRecord, error) {
	r, err := setup(ctx, in)
	if err != nil {
		return photoflow.ImageRecord{}, err
	}
	return r.run(ctx)
}

// run is one image's state; the query and update handlers read it.
type run struct {
	in       photoflow.ImageInput
	settings photoflow.Settings
	rec      photoflow.ImageRecord
	progress photoflow.Progress
	log      log.Logger

	awaitingReview bool
	decision       *photoflow.ReviewDecision
	// moreAttributes: the run upserts PhotoflowFormat, PhotoflowFailedStage and
	// PhotoflowModeration. Read once at setup, so the choice is one marker at a fixed point
	// of the history, and runs started before these attributes never add the commands.
	moreAttributes bool
	// failedStage is the stage the run was in when it failed or was rejected.
	failedStage string
}

// failure ends a run: Status FAILED or REJECTED, with the type and reason to record.
type failure struct {
	status  photoflow.Status
	errType string
	reason  string
}

func (f *failure) Error() string { return f.errType + ": " + f.reason }

func setup(ctx workflow.Context, in photoflow.ImageInput) (*run, error) {
	if in.Bucket == "" || in.Key == "" {
		return nil, temporal.NewNonRetryableApplicationError("bucket and key are required", photoflow.ErrInvalidInput, nil)
	}
	if strings.HasPrefix(in.Key, photoflow.ThumbnailPrefix) {
		return nil, temporal.NewNonRetryableApplicationError(
			"refusing to process a thumbnail: "+in.Key, photoflow.ErrInvalidInput, nil)
	}
	info := workflow.GetInfo(ctx)
	imageID := photoflow.ImageID(in.Key)
	user, album := in.UserID, in.AlbumID
	if user == "" || album == "" {
		u, al := pathUserAlbum(imageID)
		user, album = cmp.Or(user, u), cmp.Or(album, al)
	}
	upload := in.UploadTime
	if upload.IsZero() {
		upload = info.WorkflowStartTime
	}
	r := &run{
		in:  in,
		log: log.With(workflow.GetLogger(ctx), "imageID", imageID),
		rec: photoflow.ImageRecord{
			ImageID: imageID, UserID: user, AlbumID: album,
			S3Bucket: in.Bucket, S3Key: in.Key, ETag: strings.Trim(in.ETag, `"`),
			UploadTime: upload.UTC(), Status: photoflow.StatusProcessing,
			WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		},
	}
	r.progress = photoflow.Progress{ImageID: imageID, Status: photoflow.StatusProcessing,
		Stage: photoflow.StageStarting, Stages: []photoflow.StageTiming{}}
	r.moreAttributes = workflow.GetVersion(ctx, "more-search-attributes", workflow.DefaultVersion, 1) == 1

	if err := workflow.SetQueryHandler(ctx, photoflow.StatusQuery, r.status); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, photoflow.DecisionUpdate, r.decide,
		workflow.UpdateHandlerOptions{Validator: r.validateDecision}); err != nil {
		return nil, err
	}
	signals := workflow.GetSignalChannel(ctx, photoflow.DecisionSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var d photoflow.ReviewDecision
			if !signals.Receive(ctx, &d) {
				return
			}
			if err := r.validateDecision(d); err != nil {
				r.log.Warn("review decision ignored", "reviewer", d.Reviewer, "decision", d.Decision, "reason", err)
				continue
			}
			_, _ = r.decide(ctx, d)
		}
	})
	return r, nil
}

func (r *run) run(ctx workflow.Context) (photoflow.ImageRecord, error) {
	err := r.stages(ctx)
	var f *failure
	switch {
	case err == nil:
		r.rec.Status = photoflow.StatusSucceeded
	case errors.As(err, &f):
		r.rec.Status, r.rec.ErrorType, r.rec.ErrReason = f.status, f.errType, f.reason
	case temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled):
		r.rec.Status, r.rec.ErrorType, r.rec.ErrReason = photoflow.StatusFailed, photoflow.ErrCanceled, "run cancelled"
	default:
		r.rec.Status, r.rec.ErrorType, r.rec.ErrReason = photoflow.StatusFailed, photoflow.ErrInternal, err.Error()
	}
	r.progress.Status = r.rec.Status

	if r.rec.Status == photoflow.StatusSucceeded {
		r.progress.LastError = ""
		r.setStatusAttributes(ctx)
		r.finishStage(ctx, nil)
		r.progress.Stage = photoflow.StageDone
		return r.rec, nil
	}

	// Any terminal failure is written down, even when the run was cancelled: a disconnected
	// context still schedules the activity.
	r.log.Warn("image not processed", "status", r.rec.Status, "errorType", r.rec.ErrorType, "errReason", r.rec.ErrReason)
	r.failedStage = r.progress.Stage
	r.progress.LastError = r.rec.ErrorType + ": " + r.rec.ErrReason
	r.setStatusAttributes(ctx)
	rctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	r.startStage(photoflow.StageRecordFailure, rctx)
	r.rec.UpdateTime = workflow.Now(rctx).UTC()
	recErr := r.exec(rctx, photoflow.RecordFailureActivity, a.RecordFailure, r.rec).Get(rctx, nil)
	r.finishStage(rctx, recErr)
	r.progress.Stage = photoflow.StageDone
	if recErr != nil {
		// The failure is in this run's history and search attributes even if the store
		// refused it for a day.
		r.log.Error("failure could not be recorded", "error", recErr)
	}
	if r.rec.Status == photoflow.StatusRejected {
		return r.rec, nil
	}
	return photoflow.ImageRecord{}, temporal.NewNonRetryableApplicationError(r.rec.ErrReason, r.rec.ErrorType, nil, r.rec)
}

// stages runs the machine; a *failure ends it with a recorded outcome.
func (r *run) stages(ctx workflow.Context) error {
	if err := r.loadSettings(ctx); err != nil {
		return err
	}
	r.setStatusAttributes(ctx)
	if err := r.persist(ctx); err != nil {
		return err
	}
	md, err := r.extractMetadata(ctx)
	if err != nil {
		return err
	}
	if err := r.typeCheck(ctx, md); err != nil {
		return err
	}
	if err := r.moderate(ctx, md); err != nil {
		return err
	}
	if err := r.labelsAndThumbnail(ctx, md); err != nil {
		return err
	}
	r.startStage(photoflow.StagePersist, ctx)
	// The record is written as it will end; if the write fails, run() marks it FAILED.
	r.rec.Status = photoflow.StatusSucceeded
	return r.persist(ctx)
}

// loadSettings reads the worker's tunables once (or takes the input's) and checks them.
func (r *run) loadSettings(ctx workflow.Context) error {
	if r.in.Settings != nil {
		r.settings = *r.in.Settings
	} else {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: 10 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
		})
		if err := workflow.ExecuteLocalActivity(lctx, a.LoadSettings).Get(ctx, &r.settings); err != nil {
			return r.activityFailure(photoflow.LoadSettingsActivity, err)
		}
	}
	s := r.settings
	switch {
	case s.ReviewThreshold < 0 || s.RejectThreshold > 100 || s.ReviewThreshold > s.RejectThreshold:
		return &failure{photoflow.StatusFailed, photoflow.ErrInvalidInput, fmt.Sprintf(
			"settings: need 0 ≤ review threshold (%g) ≤ reject threshold (%g) ≤ 100", s.ReviewThreshold, s.RejectThreshold)}
	case s.DefaultDecision != photoflow.DecisionApprove && s.DefaultDecision != photoflow.DecisionReject:
		return &failure{photoflow.StatusFailed, photoflow.ErrInvalidInput, "settings: default decision must be approve or reject, got " + s.DefaultDecision}
	case s.ReviewDeadline <= 0 || s.MaxLabels <= 0 || s.ThumbnailSize <= 0:
		return &failure{photoflow.StatusFailed, photoflow.ErrInvalidInput, "settings: review deadline, max labels and thumbnail size must be positive"}
	}
	return nil
}

// extractMetadata replaces ExtractImageMetadata + TransformMetadata, with the Catch on
// ImageIdentifyError → NotSupportedImageType.
func (r *run) extractMetadata(ctx workflow.Context) (photoflow.ImageMetadata, error) {
	r.startStage(photoflow.StageExtractMetadata, ctx)
	var md photoflow.ImageMetadata
	err := r.exec(ctx, photoflow.ExtractImageMetadataActivity, a.ExtractImageMetadata,
		photoflow.ObjectInput{Bucket: r.in.Bucket, Key: r.in.Key, ETag: r.in.ETag}).Get(ctx, &md)
	r.finishStage(ctx, err)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == photoflow.ErrImageIdentify {
		// The ASL's Catch: ImageIdentifyError → NotSupportedImageType, error FileNotSupported.
		return md, &failure{photoflow.StatusFailed, photoflow.ErrFileNotSupported,
			photoflow.ErrImageIdentify + ": " + appErr.Message()}
	}
	if err != nil {
		return md, r.activityFailure(photoflow.ExtractImageMetadataActivity, err)
	}
	r.rec.Format = md.Format
	r.rec.Dimensions = &photoflow.Dimensions{Width: md.Dimensions.Width, Height: md.Dimensions.Height}
	r.rec.Orientation = md.Orientation
	r.rec.FileSize = md.FileSize
	r.rec.CreationTime = md.CreationTime
	r.rec.Geo = md.Geo
	r.rec.ExifMake, r.rec.ExifModel = md.ExifMake, md.ExifModel
	if r.rec.ETag == "" {
		r.rec.ETag = md.ETag
	}
	// The uploader's metadata (x-amz-meta-userid/albumid) beats the key path.
	if r.in.UserID == "" && md.UserID != "" {
		r.rec.UserID = md.UserID
	}
	if r.in.AlbumID == "" && md.AlbumID != "" {
		r.rec.AlbumID = md.AlbumID
	}
	return md, nil
}

// typeCheck replaces the ImageTypeCheck Choice: JPEG or PNG, else NotSupportedImageType.
func (r *run) typeCheck(ctx workflow.Context, md photoflow.ImageMetadata) error {
	r.startStage(photoflow.StageTypeCheck, ctx)
	r.finishStage(ctx, nil)
	if md.Format == "JPEG" || md.Format == "PNG" {
		return nil
	}
	return &failure{photoflow.StatusFailed, photoflow.ErrFileNotSupported,
		fmt.Sprintf("image type %s is not supported (JPEG and PNG only)", cmp.Or(md.Format, "unknown"))}
}

// moderate replaces DetectInappropriate → IsItAppropriate → SendToApproval.
func (r *run) moderate(ctx workflow.Context, md photoflow.ImageMetadata) error {
	r.startStage(photoflow.StageModeration, ctx)
	var res photoflow.ModerationResult
	err := r.exec(ctx, photoflow.DetectModerationActivity, a.DetectModeration, r.imageRef(md)).Get(ctx, &res)
	r.finishStage(ctx, err)
	if err != nil {
		return r.activityFailure(photoflow.DetectModerationActivity, err)
	}
	r.rec.Moderation = &photoflow.ModerationRecord{Labels: res.Labels, Score: res.Score}
	r.progress.Moderation = r.rec.Moderation
	s := r.settings
	switch {
	case res.Score >= s.RejectThreshold:
		r.rec.Moderation.Decision = photoflow.ModerationAutoRejected
		return &failure{photoflow.StatusRejected, photoflow.ErrInappropriate, fmt.Sprintf(
			"moderation score %.1f (%s) is at or above the reject threshold %.1f", res.Score, labelNames(res.Labels), s.RejectThreshold)}
	case res.Score >= s.ReviewThreshold:
		return r.awaitReview(ctx, res)
	}
	r.rec.Moderation.Decision = photoflow.ModerationAutoApproved
	return nil
}

// awaitReview replaces SendToApproval: the run waits durably for a signal or update, and
// applies the default decision when the deadline passes.
func (r *run) awaitReview(ctx workflow.Context, res photoflow.ModerationResult) error {
	r.startStage(photoflow.StageAwaitingReview, ctx)
	deadline := workflow.Now(ctx).Add(r.settings.ReviewDeadline).UTC()
	r.rec.Moderation.DeadlineAt = &deadline
	r.awaitingReview = true
	r.rec.Status = photoflow.StatusPendingReview
	r.progress.Status = photoflow.StatusPendingReview
	r.setStatusAttributes(ctx)
	if err := r.persist(ctx); err != nil {
		return err
	}
	decided, err := workflow.AwaitWithTimeout(ctx, r.settings.ReviewDeadline, func() bool { return r.decision != nil })
	if err != nil {
		return err
	}
	r.awaitingReview = false
	m := r.rec.Moderation
	if !decided {
		now := workflow.Now(ctx).UTC()
		r.decision = &photoflow.ReviewDecision{Decision: r.settings.DefaultDecision, Reviewer: deadlineReviewer,
			Reason: fmt.Sprintf("no decision within %s; default applied", r.settings.ReviewDeadline)}
		m.DecidedAt = &now
	}
	m.Reviewer, m.Reason = r.decision.Reviewer, r.decision.Reason
	r.rec.Status = photoflow.StatusProcessing
	r.progress.Status = photoflow.StatusProcessing
	approved := r.decision.Decision == photoflow.DecisionApprove
	switch {
	case approved && decided:
		m.Decision = photoflow.ModerationApproved
	case approved:
		m.Decision = photoflow.ModerationDefaultApproved
	case decided:
		m.Decision = photoflow.ModerationRejected
	default:
		m.Decision = photoflow.ModerationDefaultRejected
	}
	r.finishStage(ctx, nil)
	if approved {
		r.setStatusAttributes(ctx)
		// The inbox and the owner see an approval (who, when, why) at once, not only when
		// the run ends; a rejection is written at once by RecordFailure anyway.
		if workflow.GetVersion(ctx, "persist-approval", workflow.DefaultVersion, 1) == 1 {
			return r.persist(ctx)
		}
		return nil
	}
	return &failure{photoflow.StatusRejected, photoflow.ErrInappropriate, fmt.Sprintf(
		"rejected by %s after review (score %.1f): %s", m.Reviewer, res.Score, cmp.Or(m.Reason, "no reason given"))}
}

// validateDecision rejects what must not change the run: unknown decisions, decisions when
// no review is pending, and second decisions.
func (r *run) validateDecision(d photoflow.ReviewDecision) error {
	if d.Decision != photoflow.DecisionApprove && d.Decision != photoflow.DecisionReject {
		return fmt.Errorf("decision must be %q or %q, got %q", photoflow.DecisionApprove, photoflow.DecisionReject, d.Decision)
	}
	if strings.TrimSpace(d.Reviewer) == "" {
		return errors.New("reviewer is required")
	}
	if r.decision != nil {
		return fmt.Errorf("already decided: %s by %s", r.decision.Decision, r.decision.Reviewer)
	}
	if !r.awaitingReview {
		return fmt.Errorf("image is not awaiting review (status %s, stage %s)", r.progress.Status, r.progress.Stage)
	}
	return nil
}

// decide records a validated decision; the review wait sees it and moves on.
func (r *run) decide(ctx workflow.Context, d photoflow.ReviewDecision) (photoflow.DecisionResult, error) {
	if err := r.validateDecision(d); err != nil {
		return photoflow.DecisionResult{}, err
	}
	now := workflow.Now(ctx).UTC()
	r.decision = &d
	r.rec.Moderation.DecidedAt = &now
	next := photoflow.StatusProcessing
	if d.Decision == photoflow.DecisionReject {
		next = photoflow.StatusRejected
	}
	r.log.Info("review decision", "decision", d.Decision, "reviewer", d.Reviewer)
	return photoflow.DecisionResult{Accepted: true, Status: next, Decision: d.Decision, Reviewer: d.Reviewer}, nil
}

// labelsAndThumbnail replaces the Parallel state: both branches start together, and the
// first failure cancels the other.
func (r *run) labelsAndThumbnail(ctx workflow.Context, md photoflow.ImageMetadata) error {
	r.startStage(photoflow.StageLabelsThumbnail, ctx)
	pctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	ref := r.imageRef(md)
	labelsF := r.exec(pctx, photoflow.DetectLabelsActivity, a.DetectLabels, photoflow.LabelsInput{
		ImageRef: ref, MaxLabels: r.settings.MaxLabels, MinConfidence: r.settings.MinConfidence})
	thumbOpts := r.activityOptions(photoflow.GenerateThumbnailActivity)
	if workflow.GetVersion(ctx, "thumbnail-task-queue", workflow.DefaultVersion, 1) == 1 {
		thumbOpts.TaskQueue = photoflow.ThumbnailTaskQueue
	}
	thumbF := workflow.ExecuteActivity(workflow.WithActivityOptions(pctx, thumbOpts), a.GenerateThumbnail, photoflow.ThumbnailInput{
		ImageRef: ref, MaxSize: r.settings.ThumbnailSize, TargetKey: photoflow.ThumbnailKey(r.rec.ImageID)})

	var labels []photoflow.Label
	var thumb photoflow.Thumbnail
	var firstErr error
	var firstName string
	sel := workflow.NewSelector(ctx)
	collect := func(name string, f workflow.Future, out any) {
		sel.AddFuture(f, func(f workflow.Future) {
			if err := f.Get(ctx, out); err != nil && firstErr == nil {
				firstErr, firstName = err, name
				cancel()
			}
		})
	}
	collect(photoflow.DetectLabelsActivity, labelsF, &labels)
	collect(photoflow.GenerateThumbnailActivity, thumbF, &thumb)
	sel.Select(ctx)
	sel.Select(ctx)
	r.finishStage(ctx, firstErr)
	if firstErr != nil {
		return r.activityFailure(firstName, firstErr)
	}
	r.rec.Labels = labels
	r.rec.Tags = make([]string, 0, len(labels))
	for _, l := range labels {
		r.rec.Tags = append(r.rec.Tags, l.Name)
	}
	r.rec.Thumbnail = &thumb
	return nil
}

// persist upserts the record as it stands (PersistDDB).
func (r *run) persist(ctx workflow.Context) error {
	r.rec.UpdateTime = workflow.Now(ctx).UTC()
	err := r.exec(ctx, photoflow.PersistMetadataActivity, a.PersistMetadata, r.rec).Get(ctx, nil)
	if r.progress.Stage == photoflow.StagePersist {
		r.finishStage(ctx, err)
	}
	if err != nil {
		return r.activityFailure(photoflow.PersistMetadataActivity, err)
	}
	return nil
}

// exec runs one activity with its own timeouts and retry policy from the settings.
func (r *run) exec(ctx workflow.Context, name string, fn any, arg any) workflow.Future {
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, r.activityOptions(name)), fn, arg)
}

func (r *run) activityOptions(name string) workflow.ActivityOptions {
	p, ok := r.settings.Activities[name]
	if !ok {
		p = photoflow.DefaultActivityPolicies()[name]
	}
	return workflow.ActivityOptions{
		StartToCloseTimeout:    p.StartToClose,
		ScheduleToCloseTimeout: p.ScheduleToClose,
		HeartbeatTimeout:       p.Heartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        p.InitialInterval,
			BackoffCoefficient:     p.BackoffCoeff,
			MaximumInterval:        p.MaximumInterval,
			MaximumAttempts:        p.MaximumAttempts,
			NonRetryableErrorTypes: photoflow.NonRetryableErrors,
		},
	}
}

// activityFailure turns an activity's final error into a recorded failure: its application
// error type when it has one, Timeout when time ran out, with why the retries stopped.
func (r *run) activityFailure(name string, err error) error {
	if f := (*failure)(nil); errors.As(err, &f) {
		return err
	}
	if temporal.IsCanceledError(err) {
		return err
	}
	errType, reason := photoflow.ErrInternal, err.Error()
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr):
		errType, reason = appErr.Type(), appErr.Message()
	case errors.As(err, &timeoutErr):
		errType = photoflow.ErrTimeout
		reason = fmt.Sprintf("timed out (%s timeout)", strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(timeoutErr.TimeoutType().String(), "TIMEOUT_TYPE_")), "_", "-"))
	}
	var actErr *temporal.ActivityError
	if errors.As(err, &actErr) {
		switch actErr.RetryState() {
		case enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED:
			reason += "; retries exhausted (maximum attempts reached)"
		case enumspb.RETRY_STATE_TIMEOUT:
			reason += "; retries exhausted (schedule-to-close timeout)"
		}
	}
	r.progress.LastError = errType + ": " + reason
	return &failure{photoflow.StatusFailed, errType, name + ": " + reason}
}

func (r *run) imageRef(md photoflow.ImageMetadata) photoflow.ImageRef {
	return photoflow.ImageRef{
		ObjectInput: photoflow.ObjectInput{Bucket: r.in.Bucket, Key: r.in.Key, ETag: r.rec.ETag},
		Format:      md.Format, Orientation: md.Orientation,
	}
}

func (r *run) status() (photoflow.Progress, error) {
	p := r.progress
	p.Record = r.rec
	p.Record.Status = p.Status
	return p, nil
}

func (r *run) startStage(stage string, ctx workflow.Context) {
	r.progress.Stage = stage
	r.progress.Stages = append(r.progress.Stages, photoflow.StageTiming{Stage: stage, Started: workflow.Now(ctx).UTC()})
}

func (r *run) finishStage(ctx workflow.Context, err error) {
	n := len(r.progress.Stages)
	if n == 0 || r.progress.Stages[n-1].Finished != nil {
		return
	}
	now := workflow.Now(ctx).UTC()
	st := &r.progress.Stages[n-1]
	st.Finished = &now
	if err != nil {
		st.Error = err.Error()
		r.progress.LastError = err.Error()
	}
}

// setStatusAttributes keeps the search attributes in step with the record, so
// `PhotoflowStatus="PENDING_REVIEW"` finds the review inbox from the CLI and UI.
func (r *run) setStatusAttributes(ctx workflow.Context) {
	updates := []temporal.SearchAttributeUpdate{
		photoflow.StatusSearchAttribute.ValueSet(string(r.progress.Status)),
		photoflow.ImageIDSearchAttribute.ValueSet(r.rec.ImageID),
	}
	if r.rec.AlbumID != "" {
		updates = append(updates, photoflow.AlbumSearchAttribute.ValueSet(r.rec.AlbumID))
	}
	if r.rec.UserID != "" {
		updates = append(updates, photoflow.UserSearchAttribute.ValueSet(r.rec.UserID))
	}
	if r.rec.ErrorType != "" {
		updates = append(updates, photoflow.ErrorTypeSearchAttribute.ValueSet(r.rec.ErrorType))
	}
	if r.moreAttributes {
		if r.rec.Format != "" {
			updates = append(updates, photoflow.FormatSearchAttribute.ValueSet(r.rec.Format))
		}
		if r.failedStage != "" {
			updates = append(updates, photoflow.FailedStageSearchAttribute.ValueSet(r.failedStage))
		}
		if m := r.moderationDecision(); m != "" {
			updates = append(updates, photoflow.ModerationSearchAttribute.ValueSet(m))
		}
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		r.log.Warn("search attributes not updated", "error", err)
	}
}

// moderationDecision is the PhotoflowModeration value: the record's decision, or pending while
// a review waits (the record has no decision yet then).
func (r *run) moderationDecision() string {
	switch {
	case r.rec.Moderation == nil:
		return ""
	case r.rec.Moderation.Decision != "":
		return r.rec.Moderation.Decision
	case r.awaitingReview:
		return photoflow.ModerationPending
	}
	return ""
}

// pathUserAlbum reads Incoming/<user>/<album>/<file> (the imageID without the prefix).
func pathUserAlbum(imageID string) (string, string) {
	parts := strings.Split(imageID, "/")
	if len(parts) >= 3 {
		return parts[0], parts[1]
	}
	return "", ""
}

func labelNames(ls []photoflow.Label) string {
	names := make([]string, 0, len(ls))
	for _, l := range ls {
		names = append(names, fmt.Sprintf("%s %.1f", l.Name, l.Confidence))
	}
	if len(names) == 0 {
		return "no labels"
	}
	return strings.Join(names, ", ")
}
