package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"photoflow"
)

var importIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// CheckImportID validates an import ID: it names the workflow and the staging prefix.
func CheckImportID(id string) error {
	if !importIDPattern.MatchString(id) {
		return fmt.Errorf("import ID %q: use 1–128 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// StartImport starts the import's BucketSync, or joins it while it runs: the workflow ID
// comes from the import ID, so running the same import again attaches instead of copying
// twice. A finished import may be started again; it then copies only what changed.
// DestBucket defaults to the landing bucket.
func (p *Pipeline) StartImport(ctx context.Context, in photoflow.SyncInput) (workflowID, runID string, err error) {
	if in.DestBucket == "" {
		in.DestBucket = p.Bucket
	}
	if err := CheckImportID(in.ImportID); err != nil {
		return "", "", err
	}
	if err := CheckName("user", in.UserID); err != nil {
		return "", "", err
	}
	if err := CheckName("album", in.AlbumID); err != nil {
		return "", "", err
	}
	if in.SourceBucket == "" {
		return "", "", errors.New("source bucket is required")
	}
	if in.SourceBucket == in.DestBucket && (overlaps(in.SourcePrefix, photoflow.IncomingPrefix) || overlaps(in.SourcePrefix, photoflow.ThumbnailPrefix)) {
		return "", "", fmt.Errorf("source s3://%s/%s overlaps the landing prefixes %s and %s of the same bucket",
			in.SourceBucket, in.SourcePrefix, photoflow.IncomingPrefix, photoflow.ThumbnailPrefix)
	}
	in.State = photoflow.SyncState{}
	opts := client.StartWorkflowOptions{
		ID:                       photoflow.BucketSyncWorkflowID(in.ImportID),
		TaskQueue:                photoflow.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
	run, err := p.Temporal.ExecuteWorkflow(ctx, opts, photoflow.BucketSyncWorkflow, in)
	if err != nil {
		return "", "", fmt.Errorf("start import %s: %w", in.ImportID, err)
	}
	return run.GetID(), run.GetRunID(), nil
}

func overlaps(a, b string) bool { return strings.HasPrefix(a, b) || strings.HasPrefix(b, a) }

// RunningImport reports whether the import's BucketSync is running now.
func (p *Pipeline) RunningImport(ctx context.Context, importID string) (bool, error) {
	desc, err := p.Temporal.DescribeWorkflowExecution(ctx, photoflow.BucketSyncWorkflowID(importID), "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up import %s: %w", importID, err)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// ImportProgress asks the import's current run (the newest of its continue-as-new chain)
// where it is.
func (p *Pipeline) ImportProgress(ctx context.Context, importID string) (photoflow.SyncProgress, error) {
	var prog photoflow.SyncProgress
	v, err := p.Temporal.QueryWorkflow(ctx, photoflow.BucketSyncWorkflowID(importID), "", photoflow.SyncProgressQuery)
	if err != nil {
		return prog, fmt.Errorf("query import %s: %w", importID, err)
	}
	if err := v.Get(&prog); err != nil {
		return prog, fmt.Errorf("query import %s: %w", importID, err)
	}
	return prog, nil
}

// WaitImport waits for the import to end, following its continue-as-new chain, and returns
// its summary.
func (p *Pipeline) WaitImport(ctx context.Context, importID string) (photoflow.SyncSummary, error) {
	var sum photoflow.SyncSummary
	err := p.Temporal.GetWorkflow(ctx, photoflow.BucketSyncWorkflowID(importID), "").Get(ctx, &sum)
	if err != nil {
		return sum, fmt.Errorf("import %s: %w", importID, err)
	}
	return sum, nil
}

// PauseImport stops the import from scheduling copies; those in flight finish.
func (p *Pipeline) PauseImport(ctx context.Context, importID string) error {
	return p.signalImport(ctx, importID, photoflow.SyncPauseSignal)
}

// ResumeImport lets a paused import go on.
func (p *Pipeline) ResumeImport(ctx context.Context, importID string) error {
	return p.signalImport(ctx, importID, photoflow.SyncResumeSignal)
}

// CancelImport stops the import for good once the copies in flight finish; it ends with a
// summary marked cancelled.
func (p *Pipeline) CancelImport(ctx context.Context, importID string) error {
	return p.signalImport(ctx, importID, photoflow.SyncCancelSignal)
}

func (p *Pipeline) signalImport(ctx context.Context, importID, signal string) error {
	if err := CheckImportID(importID); err != nil {
		return err
	}
	err := p.Temporal.SignalWorkflow(ctx, photoflow.BucketSyncWorkflowID(importID), "", signal, nil)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("import %s is not running", importID)
	}
	if err != nil {
		return fmt.Errorf("%s import %s: %w", signal, importID, err)
	}
	return nil
}
