// Package pipeline holds the operations on the image pipeline that the starter, the web API and
// the tests share: land an object, start its run idempotently, wait for it, read where it is,
// and deliver a review decision.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"photoflow"
	"photoflow/objstore"
)

// Pipeline reaches Temporal and the landing bucket.
type Pipeline struct {
	Temporal  client.Client
	Objects   *objstore.Store
	Bucket    string
	Namespace string
}

// Submission is what Submit did.
type Submission struct {
	ImageID    string `json:"imageID"`
	Key        string `json:"key"`
	ETag       string `json:"etag"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
	// Started is false when a run for this exact object already existed.
	Started bool `json:"started"`
}

var namePart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckName validates a user or album name: it becomes a key path segment, so no slashes,
// no dot-dot, nothing a shell or URL would mangle.
func CheckName(kind, s string) error {
	if !namePart.MatchString(s) {
		return fmt.Errorf("%s %q: use 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit", kind, s)
	}
	return nil
}

// CleanFileName keeps the base name of an uploaded file, rejecting names that could escape
// the album's prefix.
func CleanFileName(name string) (string, error) {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "." || name == "/" || name == ".." || name == "" || len(name) > 200 {
		return "", fmt.Errorf("file name %q is not usable", name)
	}
	// Object keys and the JSON record are UTF-8: other bytes would be mangled into an ID
	// that no longer finds the object.
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("file name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("file name %q has control characters", name)
		}
	}
	return name, nil
}

// Submit lands data as Incoming/<user>/<album>/<name> with the original's object metadata
// and starts its run. Submitting the same bytes again starts nothing new.
func (p *Pipeline) Submit(ctx context.Context, user, album, name string, data []byte) (Submission, error) {
	if err := CheckName("user", user); err != nil {
		return Submission{}, err
	}
	if err := CheckName("album", album); err != nil {
		return Submission{}, err
	}
	name, err := CleanFileName(name)
	if err != nil {
		return Submission{}, err
	}
	key := photoflow.IncomingKey(user, album, name)
	ctype := mime.TypeByExtension(strings.ToLower(path.Ext(name)))
	meta := map[string]string{photoflow.ObjectMetaUserID: user, photoflow.ObjectMetaAlbumID: album,
		photoflow.ObjectMetaOriginalName: name}
	etag, err := p.Objects.Put(ctx, p.Bucket, key, data, ctype, meta)
	if err != nil {
		return Submission{}, err
	}
	run, started, err := p.Start(ctx, photoflow.ImageInput{Bucket: p.Bucket, Key: key, ETag: etag,
		UserID: user, AlbumID: album, UploadTime: time.Now().UTC()})
	if err != nil {
		return Submission{}, err
	}
	return Submission{ImageID: photoflow.ImageID(key), Key: key, ETag: etag,
		WorkflowID: run.GetID(), RunID: run.GetRunID(), Started: started}, nil
}

// Start starts the run for one object, or finds the one that exists: the workflow ID comes
// from bucket, key and ETag, a running duplicate is joined and a finished one is not
// repeated. started reports whether this call created the run.
func (p *Pipeline) Start(ctx context.Context, in photoflow.ImageInput) (client.WorkflowRun, bool, error) {
	id := photoflow.WorkflowID(in.Bucket, in.Key, in.ETag)
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                photoflow.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			photoflow.ImageIDSearchAttribute.ValueSet(photoflow.ImageID(in.Key)),
			photoflow.StatusSearchAttribute.ValueSet(string(photoflow.StatusProcessing))),
	}
	// Looking first tells the caller whether it started anything; the policies below keep
	// two racing triggers to one run either way.
	desc, err := p.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err == nil {
		return p.Temporal.GetWorkflow(ctx, id, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()), false, nil
	}
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		return nil, false, fmt.Errorf("look up %s: %w", id, err)
	}
	run, err := p.Temporal.ExecuteWorkflow(ctx, opts, photoflow.ImageProcessingWorkflow, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return p.Temporal.GetWorkflow(ctx, id, already.RunId), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("start %s: %w", id, err)
	}
	return run, true, nil
}

// Progress asks a run where it is, and fills the running activity's attempt and last error
// from the server's view of it.
func (p *Pipeline) Progress(ctx context.Context, workflowID, runID string) (photoflow.Progress, error) {
	var prog photoflow.Progress
	v, err := p.Temporal.QueryWorkflow(ctx, workflowID, runID, photoflow.StatusQuery)
	if err != nil {
		return prog, fmt.Errorf("query %s: %w", workflowID, err)
	}
	if err := v.Get(&prog); err != nil {
		return prog, fmt.Errorf("query %s: %w", workflowID, err)
	}
	desc, err := p.Temporal.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return prog, nil
	}
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetAttempt() >= prog.Attempt {
			prog.Attempt = pa.GetAttempt()
			if msg := pa.GetLastFailure().GetMessage(); msg != "" {
				prog.LastError = pa.GetActivityType().GetName() + ": " + msg
			}
		}
	}
	return prog, nil
}

// Wait polls a run until its image is terminal or waiting for review, and returns the
// record as the run holds it.
func (p *Pipeline) Wait(ctx context.Context, workflowID, runID string) (photoflow.ImageRecord, error) {
	delay := 100 * time.Millisecond
	for {
		prog, err := p.Progress(ctx, workflowID, runID)
		// A terminal status counts once the run is Done: its failure is then recorded.
		if err == nil && (prog.Status == photoflow.StatusPendingReview || prog.Status.Terminal() && prog.Stage == photoflow.StageDone) {
			return prog.Record, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return photoflow.ImageRecord{}, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
			}
			return prog.Record, fmt.Errorf("%s still at %s: %w", workflowID, prog.Stage, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*3/2, time.Second)
	}
}

// ErrNoPendingReview means no run of the image is waiting for a decision.
var ErrNoPendingReview = errors.New("no pending review")

// FindRun finds the newest run of an image through the PhotoflowImageID search attribute.
func (p *Pipeline) FindRun(ctx context.Context, imageID string, status photoflow.Status) (workflowID, runID string, err error) {
	q := fmt.Sprintf("%s = %s", photoflow.ImageIDSearchAttribute.GetName(), quote(imageID))
	if status != "" {
		q += fmt.Sprintf(" AND %s = %s", photoflow.StatusSearchAttribute.GetName(), quote(string(status)))
	}
	resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: p.Namespace, Query: q, PageSize: 10})
	if err != nil {
		return "", "", fmt.Errorf("list runs of %s: %w", imageID, err)
	}
	var best *struct{ id, run string }
	var bestStart time.Time
	for _, e := range resp.GetExecutions() {
		if st := e.GetStartTime().AsTime(); best == nil || st.After(bestStart) {
			best, bestStart = &struct{ id, run string }{e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()}, st
		}
	}
	if best == nil {
		if status == photoflow.StatusPendingReview {
			return "", "", fmt.Errorf("image %s: %w", imageID, ErrNoPendingReview)
		}
		return "", "", fmt.Errorf("image %s: no run found", imageID)
	}
	return best.id, best.run, nil
}

// DecisionRejectedError is the workflow's refusal of a decision (its validator's reason).
type DecisionRejectedError struct{ Reason string }

func (e *DecisionRejectedError) Error() string { return "decision rejected: " + e.Reason }

// Decide delivers a review decision by update and returns the workflow's answer.
func (p *Pipeline) Decide(ctx context.Context, workflowID, runID string, d photoflow.ReviewDecision) (photoflow.DecisionResult, error) {
	h, err := p.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, RunID: runID, UpdateName: photoflow.DecisionUpdate,
		Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return photoflow.DecisionResult{}, classifyUpdate(err)
	}
	var res photoflow.DecisionResult
	if err := h.Get(ctx, &res); err != nil {
		return res, classifyUpdate(err)
	}
	return res, nil
}

func classifyUpdate(err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return &DecisionRejectedError{Reason: appErr.Message()}
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("%w: the run has finished", ErrNoPendingReview)
	}
	return err
}

func quote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
